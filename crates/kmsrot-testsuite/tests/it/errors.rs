//! Each failure ends in its own error variant, and the message names the alias and region.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_core::KmsError;
use kmsrot_types::{EncryptionContext, ParseError, RotationStatus};

use crate::{env, symmetric};

fn assert_names(err: &KmsError, alias: &str, region: &str) {
    let message = err.to_string();
    assert!(
        message.contains(alias),
        "message does not name {alias}: {message}"
    );
    assert!(
        message.contains(region),
        "message does not name {region}: {message}"
    );
}

#[tokio::test]
async fn tampered_ciphertext_is_invalid_ciphertext() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, _) = env.key_with_alias("tamper", spec, usage).await.unwrap();
    let kms = env.kms.alias(alias.clone().into());
    let ct = kms
        .encrypt(b"payload", &EncryptionContext::new())
        .await
        .unwrap();
    let mut tampered = ct.ciphertext.0.clone();
    *tampered.last_mut().unwrap() ^= 0x01;
    let err = kms
        .decrypt(&tampered, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::InvalidCiphertext { .. }), "{err:?}");
    assert_names(&err, alias.as_str(), env.region());
}

#[tokio::test]
async fn wrong_encryption_context_is_a_context_mismatch() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, _) = env.key_with_alias("ctx", spec, usage).await.unwrap();
    let kms = env.kms.alias(alias.clone().into());
    let good = EncryptionContext::from_pairs(["tenant=acme"]).unwrap();
    let bad = EncryptionContext::from_pairs(["tenant=globex"]).unwrap();
    let ct = kms.encrypt(b"payload", &good).await.unwrap();
    let err = kms
        .decrypt(ct.ciphertext.as_slice(), &bad)
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::ContextMismatch { .. }), "{err:?}");
    assert_names(&err, alias.as_str(), env.region());
    assert!(
        !err.to_string().contains("globex"),
        "context values stay out of messages"
    );
    // The right context still works: nothing was consumed by the failure.
    let ok = kms.decrypt(ct.ciphertext.as_slice(), &good).await.unwrap();
    assert_eq!(ok.plaintext.expose(), b"payload");
}

#[tokio::test]
async fn disabled_key_is_refused() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, key) = env.key_with_alias("disabled", spec, usage).await.unwrap();
    let kms = env.kms.alias(alias.clone().into());
    let ct = kms
        .encrypt(b"payload", &EncryptionContext::new())
        .await
        .unwrap();
    env.disable_key(&key).await.unwrap();

    let err = kms
        .encrypt(b"payload", &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::Disabled { .. }), "{err:?}");
    assert_names(&err, alias.as_str(), env.region());
    let err = kms
        .decrypt(ct.ciphertext.as_slice(), &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::Disabled { .. }), "{err:?}");
    assert_names(&err, alias.as_str(), env.region());
}

#[tokio::test]
async fn key_pending_deletion_is_refused() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, key) = env.key_with_alias("pending", spec, usage).await.unwrap();
    let kms = env.kms.alias(alias.clone().into());
    env.schedule_deletion(&key).await.unwrap();
    let err = kms
        .encrypt(b"payload", &EncryptionContext::new())
        .await
        .unwrap_err();
    match &err {
        KmsError::PendingDeletion {
            key: Some(named), ..
        } => assert_eq!(named, &key),
        other => panic!("expected PendingDeletion naming the key, got {other:?}"),
    }
    assert_names(&err, alias.as_str(), env.region());
}

#[tokio::test]
async fn missing_alias_is_not_found() {
    let env = env().await;
    let alias = env.unique_alias("missing");
    let err = env
        .kms
        .alias(alias.clone().into())
        .encrypt(b"payload", &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::NotFound { .. }), "{err:?}");
    assert_names(&err, alias.as_str(), env.region());
    let err = env
        .kms
        .alias(alias.clone().into())
        .describe()
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn reserved_alias_and_raw_keys_are_refused_before_any_call() {
    let env = env().await;
    let err = env.kms.alias_from_str("alias/aws/s3").unwrap_err();
    assert!(
        matches!(
            err,
            KmsError::InvalidAlias {
                source: ParseError::AliasReserved(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, "alias/aws/s3", env.region());

    let key = env
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .await
        .unwrap();
    let err = env.kms.alias_from_str(&key.to_string()).unwrap_err();
    assert!(
        matches!(
            err,
            KmsError::InvalidAlias {
                source: ParseError::NotAnAlias(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn signing_with_an_encryption_key_is_a_wrong_key_type() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, _) = env.key_with_alias("wrongtype", spec, usage).await.unwrap();
    let err = env
        .kms
        .alias(alias.clone().into())
        .sign(b"m")
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::WrongKeyType { .. }), "{err:?}");
    assert_names(&err, alias.as_str(), env.region());
}

#[tokio::test]
async fn describe_reports_type_state_and_rotation() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, key) = env.key_with_alias("describe", spec, usage).await.unwrap();
    let kms = env.kms.alias(alias.clone().into());
    let info = kms.describe().await.unwrap();
    assert_eq!(info.alias.as_ref(), Some(&alias));
    assert_eq!(info.key_arn, key);
    assert_eq!(&info.key_id, key.key_id());
    assert_eq!(info.key_spec, "SYMMETRIC_DEFAULT");
    assert_eq!(info.key_usage, "ENCRYPT_DECRYPT");
    assert_eq!(info.key_state, "Enabled");
    assert_eq!(info.origin, "AWS_KMS");
    assert_eq!(info.rotation, RotationStatus::Disabled);

    env.client
        .enable_key_rotation()
        .key_id(key.to_string())
        .send()
        .await
        .unwrap();
    let info = kms.describe().await.unwrap();
    assert!(
        matches!(info.rotation, RotationStatus::Enabled { .. }),
        "{:?}",
        info.rotation
    );

    let (rsa_alias, _) = env
        .key_with_alias("describe-rsa", KeySpec::Rsa3072, KeyUsageType::SignVerify)
        .await
        .unwrap();
    let info = env.kms.alias(rsa_alias.into()).describe().await.unwrap();
    assert_eq!(info.key_spec, "RSA_3072");
    assert_eq!(info.key_usage, "SIGN_VERIFY");
    assert_eq!(info.rotation, RotationStatus::Unsupported);

    // Describe also takes a key ARN.
    let by_arn = env.kms.describe(&key.clone().into()).await.unwrap();
    assert_eq!(by_arn.key_arn, key);
    assert_eq!(by_arn.alias, None);
}

#[tokio::test]
async fn rsa_ciphertext_with_a_forged_key_arn_is_incorrect_key() {
    let env = env().await;
    let (spec, usage) = (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt);
    let (alias, _) = env
        .key_with_alias("forged", spec.clone(), usage.clone())
        .await
        .unwrap();
    let other = env.create_key(spec, usage).await.unwrap();
    let mut ct = env
        .kms
        .alias(alias.into())
        .encrypt_asymmetric(b"payload")
        .await
        .unwrap();
    ct.key_arn = other.clone();
    let err = env.kms.decrypt_asymmetric(&ct).await.unwrap_err();
    assert!(matches!(err, KmsError::IncorrectKey { .. }), "{err:?}");
    assert_names(&err, &other.to_string(), env.region());
}

/// An alias moved on, and its old key was then scheduled for deletion: decrypting data made
/// under the old key must blame that key, not the alias's new (healthy) one.
#[tokio::test]
async fn old_ciphertext_whose_key_is_pending_deletion_names_that_key() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, old_key) = env
        .key_with_alias("old-pending", spec.clone(), usage.clone())
        .await
        .unwrap();
    let kms = env.kms.alias(alias.clone().into());
    let ct = kms
        .encrypt(b"payload", &EncryptionContext::new())
        .await
        .unwrap();
    let new_key = env.create_key(spec, usage).await.unwrap();
    env.move_alias(&alias, &new_key).await.unwrap();
    env.schedule_deletion(&old_key).await.unwrap();

    let err = kms
        .decrypt(ct.ciphertext.as_slice(), &EncryptionContext::new())
        .await
        .unwrap_err();
    match &err {
        KmsError::PendingDeletion {
            key: Some(named), ..
        } => assert_eq!(named, &old_key),
        other => panic!("expected PendingDeletion naming the old key, got {other:?}"),
    }
    assert_names(&err, alias.as_str(), env.region());
    assert!(err.to_string().contains("cancel the deletion"), "{err}");
}

/// An alias ARN or a document's key ARN of another Region is refused before any call, naming
/// both Regions: KMS keys are Regional, and KMS would only say that the key does not exist.
#[tokio::test]
async fn arns_of_another_region_are_refused_before_any_call() {
    let env = env().await;
    let faults = kmsrot_testsuite::FaultInjector::default();
    let kms = kmsrot_core::Kms::from_client(env.faulty_client(&faults));
    let elsewhere = if env.region() == "eu-west-3" {
        "eu-west-2"
    } else {
        "eu-west-3"
    };
    let key: kmsrot_types::KeyArn =
        format!("arn:aws:kms:{elsewhere}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .parse()
            .unwrap();
    let alias: kmsrot_types::AliasRef = format!("arn:aws:kms:{elsewhere}:123456789012:alias/app")
        .parse()
        .unwrap();
    let signature = kmsrot_types::Signature {
        key_arn: key.clone(),
        signing_algorithm: "ECDSA_SHA_256".into(),
        signature: vec![1, 2, 3].into(),
        key_spec: None,
        public_key: None,
    };
    let mac = kmsrot_types::Mac {
        key_arn: key.clone(),
        mac_algorithm: "HMAC_SHA_256".into(),
        mac: vec![1, 2, 3].into(),
    };
    let failures = [
        kms.alias(alias)
            .encrypt(b"payload", &EncryptionContext::new())
            .await
            .map(drop)
            .unwrap_err(),
        kms.verify(b"payload", &signature)
            .await
            .map(drop)
            .unwrap_err(),
        kms.verify_mac(b"payload", &mac)
            .await
            .map(drop)
            .unwrap_err(),
        kms.public_key(&key).await.map(drop).unwrap_err(),
    ];
    for err in failures {
        assert!(matches!(err, KmsError::OtherRegion { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "is in Region {elsewhere}, but kmsrot is using {}",
                env.region()
            )) && message.contains(&format!("pass --region {elsewhere}")),
            "{message}"
        );
    }
    assert_eq!(faults.calls(), Vec::<String>::new(), "no call was made");
}
