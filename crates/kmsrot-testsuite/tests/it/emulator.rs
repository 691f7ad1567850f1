//! Pins the emulator's fidelity patches (tools/emulator/kmsrot_emulator.py): each test checks
//! through the raw SDK that the emulator now behaves as the quoted AWS documentation says.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, RotationType, SigningAlgorithmSpec};
use kmsrot_types::KeyArn;

use crate::{env, symmetric};

/// Encrypts one byte with the raw SDK, naming the key directly.
async fn raw_ciphertext(env: &kmsrot_testsuite::TestEnv, key_id: impl Into<String>) -> Blob {
    env.client
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
}

/// Patch 1: "DisableKey … temporarily prevents use of the KMS key for cryptographic
/// operations"; the operations fail with DisabledException.
#[tokio::test]
async fn patch_disabled_keys_refuse_cryptographic_operations() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let id = key.to_string();
    let ct = raw_ciphertext(&env, &id).await;
    env.disable_key(&key).await.unwrap();

    let err = env
        .client
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
    assert_eq!(err.message(), Some(format!("{key} is disabled.").as_str()));
    let err = env
        .client
        .decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
    let err = env
        .client
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));

    // Enabled again, the key works again: the patch reads the state, it does not latch.
    env.client.enable_key().key_id(&id).send().await.unwrap();
    env.client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap();

    let signing = env
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .await
        .unwrap();
    env.disable_key(&signing).await.unwrap();
    let err = env
        .client
        .sign()
        .key_id(signing.to_string())
        .message(Blob::new("m"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));

    let hmac = env
        .create_key(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)
        .await
        .unwrap();
    env.disable_key(&hmac).await.unwrap();
    let err = env
        .client
        .generate_mac()
        .key_id(hmac.to_string())
        .message(Blob::new("m"))
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
}

/// Patch 1: a key pending deletion cannot be used in cryptographic operations; KMS answers
/// KMSInvalidStateException.
#[tokio::test]
async fn patch_keys_pending_deletion_refuse_cryptographic_operations() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let ct = raw_ciphertext(&env, key.to_string()).await;
    env.schedule_deletion(&key).await.unwrap();
    let err = env
        .client
        .encrypt()
        .key_id(key.to_string())
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidStateException"));
    assert_eq!(
        err.message(),
        Some(format!("{key} is pending deletion.").as_str())
    );
    let err = env
        .client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidStateException"));
}

/// Patch 2: CreateKey, KeyUsage: "The default value is ENCRYPT_DECRYPT."
#[tokio::test]
async fn patch_create_key_defaults_to_encrypt_decrypt() {
    let env = env().await;
    let out = env.client.create_key().send().await.unwrap();
    let usage = out.key_metadata().and_then(|m| m.key_usage()).cloned();
    assert_eq!(usage, Some(KeyUsageType::EncryptDecrypt));
    // Only the symmetric default is filled in: other key specs must name their usage.
    let out = env
        .client
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .send()
        .await
        .unwrap();
    let usage = out.key_metadata().and_then(|m| m.key_usage()).cloned();
    assert_ne!(usage, Some(KeyUsageType::EncryptDecrypt));
}

/// Patch 3: "If the signature verification fails, the Verify operation fails with an
/// KMSInvalidSignatureException exception."
#[tokio::test]
async fn patch_verify_fails_with_invalid_signature_exception() {
    let env = env().await;
    let key = env
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .await
        .unwrap();
    let signature = env
        .client
        .sign()
        .key_id(key.to_string())
        .message(Blob::new("m"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap();
    let verify = |message: &'static str| {
        env.client
            .verify()
            .key_id(key.to_string())
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signature(signature.clone())
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
    };
    assert!(verify("m").await.unwrap().signature_valid);
    let err = verify("other").await.unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidSignatureException"));
}

/// Patch 4: DisableKey, EnableKey, ScheduleKeyDeletion and CancelKeyDeletion: "Specify the key
/// ID or key ARN of the KMS key."
#[tokio::test]
async fn patch_key_state_operations_accept_a_key_arn() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let arn = key.to_string();
    let state = || async {
        env.client
            .describe_key()
            .key_id(&arn)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state
            .unwrap()
    };
    env.client.disable_key().key_id(&arn).send().await.unwrap();
    assert_eq!(state().await.as_str(), "Disabled");
    env.client.enable_key().key_id(&arn).send().await.unwrap();
    assert_eq!(state().await.as_str(), "Enabled");
    env.client
        .schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(state().await.as_str(), "PendingDeletion");
    env.client
        .cancel_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(state().await.as_str(), "Disabled");
}

/// Patch 5: Decrypt with a KeyId that did not encrypt the ciphertext: "IncorrectKeyException:
/// The request was rejected because the specified KMS key cannot decrypt the data."
#[tokio::test]
async fn patch_decrypt_with_another_key_is_incorrect_key() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec.clone(), usage.clone()).await.unwrap();
    let other = env.create_key(spec, usage).await.unwrap();
    let ct = raw_ciphertext(&env, key.to_string()).await;
    let err = env
        .client
        .decrypt()
        .key_id(other.to_string())
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("IncorrectKeyException"));
    // Naming the right key still works.
    env.client
        .decrypt()
        .key_id(key.to_string())
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap();
}

/// Patch 1, through the operations that reach moto's guarded methods indirectly: ReEncrypt
/// (decrypt, then encrypt) and VerifyMac (generate_mac).
#[tokio::test]
async fn patch_disabled_keys_refuse_reencrypt_and_verify_mac() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let source = env.create_key(spec.clone(), usage.clone()).await.unwrap();
    let destination = env.create_key(spec, usage).await.unwrap();
    let ct = raw_ciphertext(&env, source.to_string()).await;
    env.disable_key(&destination).await.unwrap();
    let reencrypt = |ct: Blob| {
        env.client
            .re_encrypt()
            .ciphertext_blob(ct)
            .destination_key_id(destination.to_string())
            .send()
    };
    let err = reencrypt(ct.clone()).await.unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
    env.client
        .enable_key()
        .key_id(destination.to_string())
        .send()
        .await
        .unwrap();
    env.disable_key(&source).await.unwrap();
    let err = reencrypt(ct).await.unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));

    let hmac = env
        .create_key(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)
        .await
        .unwrap();
    let mac = env
        .client
        .generate_mac()
        .key_id(hmac.to_string())
        .message(Blob::new("m"))
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap()
        .mac
        .unwrap();
    env.disable_key(&hmac).await.unwrap();
    let err = env
        .client
        .verify_mac()
        .key_id(hmac.to_string())
        .message(Blob::new("m"))
        .mac(mac)
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
}

/// Patch 6: EnableKeyRotation, RotationPeriodInDays: "If no value is specified, the default
/// value is 365 days." (90 to 2560); GetKeyRotationStatus reports RotationPeriodInDays and
/// NextRotationDate.
#[tokio::test]
async fn patch_key_rotation_keeps_its_period() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let arn = key.to_string();
    let status = || async {
        env.client
            .get_key_rotation_status()
            .key_id(&arn)
            .send()
            .await
            .unwrap()
    };
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let out = status().await;
    assert!(!out.key_rotation_enabled);
    assert_eq!(out.rotation_period_in_days(), None);
    assert_eq!(out.next_rotation_date(), None);

    // By key ARN, with a period: the next rotation is that many days after enabling.
    let before = now();
    env.client
        .enable_key_rotation()
        .key_id(&arn)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let after = now();
    let out = status().await;
    assert!(out.key_rotation_enabled);
    assert_eq!(out.rotation_period_in_days(), Some(180));
    let next = out.next_rotation_date().unwrap().as_secs_f64();
    let period = 180.0 * 86_400.0;
    assert!(
        before + period - 1.0 <= next && next <= after + period + 1.0,
        "{next} is not 180 days after {before}..{after}"
    );

    // Out of range: refused, and the period stays.
    for days in [89, 2561] {
        let err = env
            .client
            .enable_key_rotation()
            .key_id(&arn)
            .rotation_period_in_days(days)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"), "{days}");
    }
    assert_eq!(status().await.rotation_period_in_days(), Some(180));

    // By key ID, without a period: the default.
    env.client
        .enable_key_rotation()
        .key_id(key.key_id().as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(status().await.rotation_period_in_days(), Some(365));

    env.client
        .disable_key_rotation()
        .key_id(&arn)
        .send()
        .await
        .unwrap();
    let out = status().await;
    assert!(!out.key_rotation_enabled);
    assert_eq!(out.rotation_period_in_days(), None);

    // moto itself takes a key ARN in RotateKeyOnDemand and ListKeyRotations; pinned here so
    // that an upgrade losing it shows.
    env.client
        .rotate_key_on_demand()
        .key_id(&arn)
        .send()
        .await
        .unwrap();
    let out = env
        .client
        .list_key_rotations()
        .key_id(&arn)
        .send()
        .await
        .unwrap();
    let rotations = out.rotations();
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0].rotation_type(), Some(&RotationType::OnDemand));
}

/// Patch 7: UpdateAlias: "The current and new KMS key must be the same type (both symmetric or
/// both asymmetric or both HMAC), and they must have the same key usage."
#[tokio::test]
async fn patch_update_alias_refuses_another_key_type_or_usage() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let (alias, key) = env
        .key_with_alias("update-kind", spec.clone(), usage.clone())
        .await
        .unwrap();
    let update = |alias: &str, to: &KeyArn| {
        env.client
            .update_alias()
            .alias_name(alias)
            .target_key_id(to.to_string())
            .send()
    };
    for (other_spec, other_usage) in [
        (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt),
        (KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac),
    ] {
        let other = env
            .create_key(other_spec.clone(), other_usage)
            .await
            .unwrap();
        let err = update(alias.as_str(), &other).await.unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"), "{other_spec}");
    }
    assert_eq!(env.alias_target(&alias).await.unwrap().0, key);
    // A key of the same type and usage: the alias moves, as before.
    let next = env.create_key(spec, usage).await.unwrap();
    update(alias.as_str(), &next).await.unwrap();
    assert_eq!(env.alias_target(&alias).await.unwrap().0, next);

    // Asymmetric keys of another family but the same usage are the same type; another usage is
    // not.
    let (signing, _) = env
        .key_with_alias(
            "update-kind-sign",
            KeySpec::Rsa2048,
            KeyUsageType::SignVerify,
        )
        .await
        .unwrap();
    let ecc = env
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .await
        .unwrap();
    update(signing.as_str(), &ecc).await.unwrap();
    let decrypting = env
        .create_key(KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt)
        .await
        .unwrap();
    let err = update(signing.as_str(), &decrypting).await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(env.alias_target(&signing).await.unwrap().0, ecc);
}
