//! Results made through an alias stay usable after the alias moves to a new key: the failure
//! AWS's own client libraries are known for.

use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType};
use kmsrot_types::{AsymmetricCiphertext, EncryptionContext, Mac, Signature};

use crate::{env, symmetric};

fn context() -> EncryptionContext {
    EncryptionContext::from_pairs(["tenant=acme", "purpose=it"]).unwrap()
}

#[tokio::test]
async fn symmetric_ciphertext_decrypts_after_the_alias_moves() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, old_key) = env
        .key_with_alias("sym", spec.clone(), usage.clone())
        .await
        .unwrap();
    let kms = env.kms.alias(alias.clone().into());

    let old = kms.encrypt(b"before rotation", &context()).await.unwrap();
    assert_eq!(old.key_arn, old_key);
    let data_key = kms
        .generate_data_key(DataKeySpec::Aes256, &context())
        .await
        .unwrap();
    assert_eq!(data_key.plaintext.len(), 32);
    assert_eq!(data_key.encrypted.key_arn, old_key);

    let new_key = env.create_key(spec, usage).await.unwrap();
    env.move_alias(&alias, &new_key).await.unwrap();

    let new = kms.encrypt(b"after rotation", &context()).await.unwrap();
    assert_eq!(new.key_arn, new_key, "new encryption reports the new key");

    // Through the alias, only keys of its history decrypt: an alias moved by hand, which
    // kmsrot does not manage, has no recorded history, so its old key is refused…
    let refused = kms
        .decrypt(old.ciphertext.as_slice(), &context())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, kmsrot_core::KmsError::NotInHistory { key, .. } if *key == old_key),
        "{refused}"
    );
    // …and without an alias KMS finds the key from the ciphertext.
    let decrypted = env
        .kms
        .decrypt(old.ciphertext.as_slice(), &context())
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext.expose(), b"before rotation");
    assert_eq!(decrypted.key_arn, old_key);
    let decrypted = env
        .kms
        .decrypt(new.ciphertext.as_slice(), &context())
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext.expose(), b"after rotation");
    assert_eq!(decrypted.key_arn, new_key);

    // The data key made before the move still opens.
    let reopened = env
        .kms
        .decrypt(data_key.encrypted.ciphertext.as_slice(), &context())
        .await
        .unwrap();
    assert_eq!(reopened.plaintext.expose(), data_key.plaintext.expose());

    // Re-encryption moves the old ciphertext onto the new key without exposing the plaintext.
    let moved = kms
        .reencrypt(old.ciphertext.as_slice(), &context(), &context())
        .await
        .unwrap();
    assert_eq!(moved.source_key_arn, old_key);
    assert_eq!(moved.ciphertext.key_arn, new_key);
    let decrypted = kms
        .decrypt(moved.ciphertext.ciphertext.as_slice(), &context())
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext.expose(), b"before rotation");
    assert_eq!(decrypted.key_arn, new_key);

    let wrapped = kms
        .generate_data_key_without_plaintext(DataKeySpec::Aes128, &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(wrapped.key_arn, new_key);
    let unwrapped = kms
        .decrypt(wrapped.ciphertext.as_slice(), &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(unwrapped.plaintext.len(), 16);
}

/// Stores a result as JSON and reads it back, as an application would between making a result
/// and using it after a rotation.
fn stored<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

#[tokio::test]
async fn rsa_ciphertext_decrypts_after_the_alias_moves() {
    let env = env().await;
    let (spec, usage) = (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt);
    let (alias, old_key) = env
        .key_with_alias("rsa", spec.clone(), usage.clone())
        .await
        .unwrap();
    let kms = env.kms.alias(alias.clone().into());

    let old: AsymmetricCiphertext = stored(&kms.encrypt_asymmetric(b"rsa secret").await.unwrap());
    assert_eq!(old.key_arn, old_key);
    assert_eq!(old.encryption_algorithm, "RSAES_OAEP_SHA_256");

    let new_key = env.create_key(spec, usage).await.unwrap();
    env.move_alias(&alias, &new_key).await.unwrap();

    let plaintext = env.kms.decrypt_asymmetric(&old).await.unwrap();
    assert_eq!(plaintext.expose(), b"rsa secret");
    let new = kms.encrypt_asymmetric(b"rsa secret 2").await.unwrap();
    assert_eq!(new.key_arn, new_key);
    let plaintext = env.kms.decrypt_asymmetric(&new).await.unwrap();
    assert_eq!(plaintext.expose(), b"rsa secret 2");
}

#[tokio::test]
async fn ecc_signature_verifies_after_the_alias_moves() {
    let env = env().await;
    let (spec, usage) = (KeySpec::EccNistP256, KeyUsageType::SignVerify);
    let (alias, old_key) = env
        .key_with_alias("ecc", spec.clone(), usage.clone())
        .await
        .unwrap();
    let kms = env.kms.alias(alias.clone().into());

    let old: Signature = stored(&kms.sign(b"release 1.0").await.unwrap());
    assert_eq!(old.key_arn, old_key);
    assert_eq!(old.signing_algorithm, "ECDSA_SHA_256");

    let new_key = env.create_key(spec, usage).await.unwrap();
    env.move_alias(&alias, &new_key).await.unwrap();

    env.kms.verify(b"release 1.0", &old).await.unwrap();
    let err = env.kms.verify(b"release 1.1", &old).await.unwrap_err();
    assert!(
        matches!(err, kmsrot_core::KmsError::InvalidSignature { .. }),
        "{err:?}"
    );
    let new = kms.sign(b"release 2.0").await.unwrap();
    assert_eq!(new.key_arn, new_key);
    env.kms.verify(b"release 2.0", &new).await.unwrap();
}

#[tokio::test]
async fn hmac_verifies_after_the_alias_moves() {
    let env = env().await;
    let (spec, usage) = (KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac);
    let (alias, old_key) = env
        .key_with_alias("hmac", spec.clone(), usage.clone())
        .await
        .unwrap();
    let kms = env.kms.alias(alias.clone().into());

    let old: Mac = stored(&kms.generate_mac(b"session 42").await.unwrap());
    assert_eq!(old.key_arn, old_key);
    assert_eq!(old.mac_algorithm, "HMAC_SHA_256");

    let new_key = env.create_key(spec, usage).await.unwrap();
    env.move_alias(&alias, &new_key).await.unwrap();

    env.kms.verify_mac(b"session 42", &old).await.unwrap();
    let err = env.kms.verify_mac(b"session 43", &old).await.unwrap_err();
    assert!(
        matches!(err, kmsrot_core::KmsError::InvalidMac { .. }),
        "{err:?}"
    );
    let new = kms.generate_mac(b"session 44").await.unwrap();
    assert_eq!(new.key_arn, new_key);
    env.kms.verify_mac(b"session 44", &new).await.unwrap();
}

/// `audit account` does not tell anyone to adopt what `adopt` refuses (here, a key with
/// imported material): it says why kmsrot cannot manage it, as `adopt` does.
#[tokio::test]
async fn the_audit_does_not_suggest_adopting_a_key_that_adopt_refuses() {
    let env = kmsrot_testsuite::TestEnv::in_region("ap-south-2")
        .await
        .unwrap();
    let key = env
        .create_key_with(|r| r.origin(aws_sdk_kms::types::OriginType::External))
        .await
        .unwrap();
    let alias = env.unique_alias("imported");
    env.create_alias(&alias, &key).await.unwrap();
    let report = env.rotator().audit_account().await.unwrap();
    let finding = report
        .findings
        .iter()
        .find(|f| {
            f.alias.as_ref() == Some(&alias)
                && f.issue == kmsrot_types::audit::AccountIssue::UnmanagedAlias
        })
        .unwrap_or_else(|| panic!("{:?}", report.findings));
    assert!(
        finding.detail.contains("imported") && !finding.detail.contains("kmsrot adopt"),
        "{}",
        finding.detail
    );
    let err = env
        .rotator()
        .adopt(
            &alias,
            kmsrot_types::Policy::new(kmsrot_types::Mode::Manual),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("imported"), "{err}");
}
