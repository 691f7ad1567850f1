//! Pins the emulator's fidelity patches (tools/emulator/kmsrot_emulator.py): each test checks
//! through the raw SDK that the emulator now behaves as the quoted AWS documentation says.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::types::{
    ChangeAction, ChangeSetStatus, ChangeSetType, ExecutionStatus, Parameter, ResourceStatus,
    Stack, StackStatus,
};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    KeyMetadata, KeySpec, KeyState, KeyUsageType, MessageType, RotationType, SigningAlgorithmSpec,
};
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
    signature_verifies_and_another_message_does_not(&env, &key, SigningAlgorithmSpec::EcdsaSha256)
        .await;
}

/// Signs "m" (MessageType RAW) with the raw SDK, naming the key; the signature verifies for
/// "m", and Verify of another message fails with KMSInvalidSignatureException (patch 3).
async fn signature_verifies_and_another_message_does_not(
    env: &kmsrot_testsuite::TestEnv,
    key: &KeyArn,
    algorithm: SigningAlgorithmSpec,
) {
    let signature = env
        .client
        .sign()
        .key_id(key.to_string())
        .message(Blob::new("m"))
        .message_type(MessageType::Raw)
        .signing_algorithm(algorithm.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{algorithm:?}: {e:?}"))
        .signature
        .unwrap();
    let verify = |message: &'static str| {
        env.client
            .verify()
            .key_id(key.to_string())
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signature(signature.clone())
            .signing_algorithm(algorithm.clone())
            .send()
    };
    assert!(verify("m").await.unwrap().signature_valid, "{algorithm:?}");
    let err = verify("other").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some("KMSInvalidSignatureException"),
        "{algorithm:?}"
    );
}

/// Patch 18: CreateKey, KeySpec: "ECC_NIST_EDWARDS25519 (ed25519) - signing and verification
/// only"; "Asymmetric ML-DSA key pairs (signing and verification): ML_DSA_44, ML_DSA_65,
/// ML_DSA_87". Each signs a RAW message, the signature verifies, and another message does not.
#[tokio::test]
async fn patch_ed25519_and_ml_dsa_keys_sign_and_verify() {
    let env = env().await;
    for (spec, algorithm) in [
        (
            KeySpec::EccNistEdwards25519,
            SigningAlgorithmSpec::Ed25519Sha512,
        ),
        (KeySpec::MlDsa44, SigningAlgorithmSpec::MlDsaShake256),
        (KeySpec::MlDsa65, SigningAlgorithmSpec::MlDsaShake256),
        (KeySpec::MlDsa87, SigningAlgorithmSpec::MlDsaShake256),
    ] {
        let key = env
            .create_key(spec.clone(), KeyUsageType::SignVerify)
            .await
            .unwrap_or_else(|e| panic!("{spec:?}: {e:?}"));
        let metadata = env
            .client
            .describe_key()
            .key_id(key.to_string())
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(metadata.key_spec(), Some(&spec));
        assert_eq!(
            metadata.signing_algorithms(),
            std::slice::from_ref(&algorithm)
        );
        signature_verifies_and_another_message_does_not(&env, &key, algorithm.clone()).await;
        let public = env
            .client
            .get_public_key()
            .key_id(key.to_string())
            .send()
            .await
            .unwrap();
        assert!(public.public_key().is_some_and(|k| !k.as_ref().is_empty()));
    }
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

// ---------------------------------------------------------------------------------------------
// CloudFormation (patches 8 to 16). Stacks live in their own region, so that no other test's
// keys or change sets mix with theirs; each test names its stacks uniquely.
// ---------------------------------------------------------------------------------------------

const CFN_REGION: &str = "me-central-1";

async fn cfn_env() -> (kmsrot_testsuite::TestEnv, aws_sdk_cloudformation::Client) {
    let env = kmsrot_testsuite::TestEnv::in_region(CFN_REGION)
        .await
        .expect("test environment");
    let cfn = aws_sdk_cloudformation::Client::new(&env.config);
    (env, cfn)
}

/// A stack name no other test (or earlier run against the same emulator) uses.
fn stack_name(label: &str) -> String {
    format!("kmsrot-{label}-{:08x}", fastrand::u32(..))
}

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

fn previous(key: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .use_previous_value(true)
        .build()
}

/// CreateStack, waited for (the emulator completes stack operations at once).
async fn create_stack(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    template: impl Into<String>,
    parameters: Vec<Parameter>,
) {
    cfn.create_stack()
        .stack_name(name)
        .template_body(template)
        .set_parameters(Some(parameters))
        .send()
        .await
        .unwrap();
}

async fn describe_stack(cfn: &aws_sdk_cloudformation::Client, name: &str) -> Stack {
    cfn.describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap()
        .stacks()
        .first()
        .cloned()
        .unwrap()
}

fn outputs(stack: &Stack) -> BTreeMap<String, String> {
    stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect()
}

async fn key_metadata(env: &kmsrot_testsuite::TestEnv, key_id: &str) -> KeyMetadata {
    env.client
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
}

fn tag_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

const KEY_PROPERTIES_TEMPLATE: &str = r#"
Parameters:
  Rotate:
    Type: String
    Default: "true"
Resources:
  Signing:
    Type: AWS::KMS::Key
    Properties:
      Description: kmsrot signing key
      KeySpec: ECC_NIST_P256
      KeyUsage: SIGN_VERIFY
      Enabled: false
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Sid: root
            Effect: Allow
            Principal:
              AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"
            Action: "kms:*"
            Resource: "*"
      Tags:
        - Key: app
          Value: kmsrot
        - Key: env
          Value: test
  Rotating:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: !Ref Rotate
      RotationPeriodInDays: 180
Outputs:
  SigningArn:
    Value: !GetAtt Signing.Arn
  SigningId:
    Value: !GetAtt Signing.KeyId
  RotatingId:
    Value: !Ref Rotating
"#;

/// Patch 8: AWS::KMS::Key takes Tags as {Key, Value}, KeyPolicy as an object or not at all,
/// KeySpec, KeyUsage, Enabled ("When Enabled is false, the key state of the KMS key is
/// Disabled."), EnableKeyRotation with RotationPeriodInDays, and Fn::GetAtt KeyId.
#[tokio::test]
async fn patch_cloudformation_key_takes_its_properties() {
    let (env, cfn) = cfn_env().await;
    let name = stack_name("key-properties");
    create_stack(&cfn, &name, KEY_PROPERTIES_TEMPLATE, vec![]).await;
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));
    let out = outputs(&stack);
    let signing_id = &out["SigningId"];
    assert!(
        out["SigningArn"].ends_with(&format!(":key/{signing_id}")),
        "{out:?}"
    );

    let signing = key_metadata(&env, &out["SigningArn"]).await;
    assert_eq!(signing.key_spec(), Some(&KeySpec::EccNistP256));
    assert_eq!(signing.key_usage(), Some(&KeyUsageType::SignVerify));
    assert_eq!(signing.description(), Some("kmsrot signing key"));
    assert_eq!(signing.key_state(), Some(&KeyState::Disabled));
    assert!(!signing.enabled());
    // Disabled for real: patch 1 refuses to sign with it.
    let err = env
        .client
        .sign()
        .key_id(signing_id)
        .message(Blob::new("m"))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));
    assert_eq!(
        env.tags(signing_id).await.unwrap(),
        tag_map(&[("app", "kmsrot"), ("env", "test")])
    );
    // The policy object is stored as the JSON document the API hands out.
    let policy = env
        .client
        .get_key_policy()
        .key_id(signing_id)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(policy["Statement"][0]["Sid"], "root");
    let principal = policy["Statement"][0]["Principal"]["AWS"].as_str().unwrap();
    assert!(
        principal.starts_with("arn:aws:iam::") && principal.ends_with(":root"),
        "{principal}"
    );

    // No KeyPolicy: the default policy; no KeySpec or KeyUsage: a symmetric encryption key.
    let rotating_id = &out["RotatingId"];
    let rotating = key_metadata(&env, rotating_id).await;
    assert_eq!(rotating.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(rotating.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(rotating.key_state(), Some(&KeyState::Enabled));
    let policy = env
        .client
        .get_key_policy()
        .key_id(rotating_id)
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    serde_json::from_str::<serde_json::Value>(&policy).unwrap();
    // EnableKeyRotation from a parameter (the string "true"), with its period.
    let status = env
        .client
        .get_key_rotation_status()
        .key_id(rotating_id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days(), Some(180));

    // RotationPeriodInDays out of range (90 to 2560): refused.
    let err = cfn
        .create_stack()
        .stack_name(stack_name("key-bad-period"))
        .template_body(
            KEY_PROPERTIES_TEMPLATE
                .replace("RotationPeriodInDays: 180", "RotationPeriodInDays: 30"),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
}

const KEY_UPDATE_TEMPLATE: &str = r#"
Parameters:
  Enabled:
    Type: String
    Default: "true"
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: __DESCRIPTION__
      Enabled: !Ref Enabled
      EnableKeyRotation: true
      RotationPeriodInDays: __PERIOD__
      KeySpec: __SPEC__
      Tags:
        - Key: team
          Value: __TEAM__
  Alias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: !Sub "alias/kmsrot-test/${AWS::StackName}"
      TargetKeyId: !Ref Key
Outputs:
  KeyId:
    Value: !Ref Key
"#;

fn key_update_template(description: &str, period: u32, spec: &str, team: &str) -> String {
    KEY_UPDATE_TEMPLATE
        .replace("__DESCRIPTION__", description)
        .replace("__PERIOD__", &period.to_string())
        .replace("__SPEC__", spec)
        .replace("__TEAM__", team)
}

/// Patch 9: a stack update changes an AWS::KMS::Key in place ("Update requires: No
/// interruption"), and "If you change the value of the KeySpec, KeyUsage, Origin, or
/// MultiRegion properties of an existing KMS key, the update request fails".
#[tokio::test]
async fn patch_cloudformation_key_updates_in_place() {
    let (env, cfn) = cfn_env().await;
    let name = stack_name("key-update");
    create_stack(
        &cfn,
        &name,
        key_update_template("one", 180, "SYMMETRIC_DEFAULT", "sec"),
        vec![],
    )
    .await;
    let key_id = outputs(&describe_stack(&cfn, &name).await)["KeyId"].clone();
    let alias = format!("alias/kmsrot-test/{name}");
    // A tag set outside the stack.
    env.client
        .tag_resource()
        .key_id(&key_id)
        .tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key("kmsrot:note")
                .tag_value("outside")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    cfn.update_stack()
        .stack_name(&name)
        .template_body(key_update_template(
            "two",
            365,
            "SYMMETRIC_DEFAULT",
            "platform",
        ))
        .parameters(parameter("Enabled", "false"))
        .send()
        .await
        .unwrap();
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::UpdateComplete));
    // The same key, changed in place.
    assert_eq!(outputs(&stack)["KeyId"], key_id);
    let key = key_metadata(&env, &key_id).await;
    assert_eq!(key.description(), Some("two"));
    assert_eq!(key.key_state(), Some(&KeyState::Disabled));
    let status = env
        .client
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days(), Some(365));
    // Exactly the template's tags, as AWS's resource handler leaves them.
    assert_eq!(
        env.tags(&key_id).await.unwrap(),
        tag_map(&[("team", "platform")])
    );
    // The alias on the key survives the update and still points at it.
    let aliases = env
        .client
        .list_aliases()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = aliases
        .aliases()
        .iter()
        .filter_map(|a| a.alias_name())
        .collect();
    assert_eq!(names, [alias.as_str()]);

    // Enabled again through the parameter.
    cfn.update_stack()
        .stack_name(&name)
        .template_body(key_update_template(
            "three",
            365,
            "SYMMETRIC_DEFAULT",
            "platform",
        ))
        .parameters(parameter("Enabled", "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        key_metadata(&env, &key_id).await.key_state(),
        Some(&KeyState::Enabled)
    );

    // Another KeySpec: the update fails and the key keeps its spec.
    let err = cfn
        .update_stack()
        .stack_name(&name)
        .template_body(key_update_template("four", 365, "HMAC_256", "platform"))
        .parameters(parameter("Enabled", "true"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
    let key = key_metadata(&env, &key_id).await;
    assert_eq!(key.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(key.description(), Some("three"));
}

const KEY_REMOVAL_TEMPLATE: &str = r#"
Resources:
  Kept:
    Type: AWS::KMS::Key
  Dropped:
    Type: AWS::KMS::Key
    Properties:
      PendingWindowInDays: 7
Outputs:
  Kept:
    Value: !Ref Kept
  Dropped:
    Value: !Ref Dropped
"#;

const KEY_REMOVAL_UPDATE_TEMPLATE: &str = r#"
Resources:
  Kept:
    Type: AWS::KMS::Key
Outputs:
  Kept:
    Value: !Ref Kept
"#;

/// Patch 10: "When you remove a KMS key from a CloudFormation stack, KMS schedules the KMS key
/// for deletion and starts the mandatory waiting period", PendingWindowInDays long ("The
/// default value is 30 days.").
#[tokio::test]
async fn patch_cloudformation_key_removal_schedules_deletion() {
    let (env, cfn) = cfn_env().await;
    let name = stack_name("key-removal");
    create_stack(&cfn, &name, KEY_REMOVAL_TEMPLATE, vec![]).await;
    let out = outputs(&describe_stack(&cfn, &name).await);
    let days_until_deletion = |key: &KeyMetadata| {
        let date = key.deletion_date().expect("a deletion date").as_secs_f64();
        (date - unix_now()) / 86_400.0
    };

    // An update that drops a key: scheduled for deletion in its own window.
    cfn.update_stack()
        .stack_name(&name)
        .template_body(KEY_REMOVAL_UPDATE_TEMPLATE)
        .send()
        .await
        .unwrap();
    let dropped = key_metadata(&env, &out["Dropped"]).await;
    assert_eq!(dropped.key_state(), Some(&KeyState::PendingDeletion));
    let days = days_until_deletion(&dropped);
    assert!((6.9..=7.1).contains(&days), "{days}");
    let kept = key_metadata(&env, &out["Kept"]).await;
    assert_eq!(kept.key_state(), Some(&KeyState::Enabled));

    // DeleteStack: the default window.
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
    let kept = key_metadata(&env, &out["Kept"]).await;
    assert_eq!(kept.key_state(), Some(&KeyState::PendingDeletion));
    let days = days_until_deletion(&kept);
    assert!((29.9..=30.1).contains(&days), "{days}");
    // The stack is gone by name, as on AWS.
    let err = cfn
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
}

const CHANGE_SET_TEMPLATE: &str = r#"
Description: __DESCRIPTION__
Parameters:
  Env:
    Type: String
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Sub "kmsrot ${Env} key"
Outputs:
  KeyArn:
    Value: !GetAtt Key.Arn
    Export:
      Name: !Sub "${AWS::StackName}-KeyArn"
  Env:
    Value: !Ref Env
"#;

/// Patch 11: ExecuteChangeSet "Updates a stack using the input information that was provided
/// when the specified change set was created": after a CREATE or an UPDATE change set the stack
/// has that template's Outputs, exports and Description; "CloudFormation deletes all other
/// change sets associated with the stack". Also pins DescribeChangeSet's statuses and
/// DescribeStackEvents.
#[tokio::test]
async fn patch_change_set_execution_takes_its_template() {
    let (env, cfn) = cfn_env().await;
    let name = stack_name("change-set");
    let created = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("create")
        .change_set_type(ChangeSetType::Create)
        .template_body(CHANGE_SET_TEMPLATE.replace("__DESCRIPTION__", "first"))
        .parameters(parameter("Env", "prod"))
        .send()
        .await
        .unwrap();
    let create_id = created.id().unwrap().to_owned();
    let change_set = cfn
        .describe_change_set()
        .change_set_name(&create_id)
        .send()
        .await
        .unwrap();
    assert_eq!(change_set.status(), Some(&ChangeSetStatus::CreateComplete));
    assert_eq!(
        change_set.execution_status(),
        Some(&ExecutionStatus::Available)
    );
    let actions: Vec<_> = change_set
        .changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| (r.action().cloned(), r.logical_resource_id()))
        .collect();
    assert_eq!(actions, [(Some(ChangeAction::Add), Some("Key"))]);
    assert_eq!(
        describe_stack(&cfn, &name).await.stack_status(),
        Some(&StackStatus::ReviewInProgress)
    );

    cfn.execute_change_set()
        .change_set_name(&create_id)
        .send()
        .await
        .unwrap();
    let change_set = cfn
        .describe_change_set()
        .change_set_name(&create_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        change_set.execution_status(),
        Some(&ExecutionStatus::ExecuteComplete)
    );
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));
    assert_eq!(stack.description(), Some("first"));
    let out = outputs(&stack);
    assert_eq!(out["Env"], "prod");
    let key_arn = out["KeyArn"].clone();
    assert!(
        key_arn.starts_with(&format!("arn:aws:kms:{CFN_REGION}:")),
        "{key_arn}"
    );
    assert_eq!(
        key_metadata(&env, &key_arn).await.description(),
        Some("kmsrot prod key")
    );
    let export_name = format!("{name}-KeyArn");
    let export = |exports: &aws_sdk_cloudformation::operation::list_exports::ListExportsOutput| {
        exports
            .exports()
            .iter()
            .find(|e| e.name() == Some(export_name.as_str()))
            .and_then(|e| e.value().map(str::to_owned))
    };
    let exports = cfn.list_exports().send().await.unwrap();
    assert_eq!(export(&exports), Some(key_arn.clone()));
    let events = cfn
        .describe_stack_events()
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    assert!(
        events
            .stack_events()
            .iter()
            .any(|e| e.logical_resource_id() == Some(name.as_str())
                && e.resource_status() == Some(&ResourceStatus::CreateComplete)),
        "{:?}",
        events.stack_events()
    );

    // Two UPDATE change sets; executing one deletes the other.
    let update = |change_set: &'static str, description: &'static str| {
        cfn.create_change_set()
            .stack_name(&name)
            .change_set_name(change_set)
            .change_set_type(ChangeSetType::Update)
            .template_body(
                CHANGE_SET_TEMPLATE.replace("__DESCRIPTION__", description)
                    + "  Extra:\n    Value: extra\n",
            )
            .parameters(previous("Env"))
            .send()
    };
    update("update", "second").await.unwrap();
    update("other", "third").await.unwrap();
    cfn.execute_change_set()
        .change_set_name("update")
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::UpdateComplete));
    assert_eq!(stack.description(), Some("second"));
    let out = outputs(&stack);
    assert_eq!(out["Extra"], "extra");
    assert_eq!(out["Env"], "prod");
    assert_eq!(out["KeyArn"], key_arn);
    let exports = cfn.list_exports().send().await.unwrap();
    assert_eq!(export(&exports), Some(key_arn));
    let listed = cfn
        .list_change_sets()
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = listed
        .summaries()
        .iter()
        .filter_map(|s| s.change_set_name())
        .collect();
    assert!(!names.contains(&"other"), "{names:?}");
    let err = cfn
        .describe_change_set()
        .change_set_name("other")
        .stack_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ChangeSetNotFound"));

    cfn.delete_stack().stack_name(&name).send().await.unwrap();
}

const NAMED_CHANGE_SET_TEMPLATE: &str = r#"
Parameters:
  Label:
    Type: String
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Ref Label
Outputs:
  Label:
    Value: !Ref Label
"#;

/// Patch 12: "If you specified the name of a change set, specify the stack name or ID (ARN) of
/// the change set": two stacks' change sets of the same name stay apart, and ListChangeSets
/// "Returns the ID and status of each active change set for a stack."
#[tokio::test]
async fn patch_change_sets_belong_to_their_stack() {
    let (_env, cfn) = cfn_env().await;
    let first = stack_name("named-first");
    let second = stack_name("named-second");
    for stack in [&first, &second] {
        cfn.create_change_set()
            .stack_name(stack.as_str())
            .change_set_name("deploy")
            .change_set_type(ChangeSetType::Create)
            .template_body(NAMED_CHANGE_SET_TEMPLATE)
            .parameters(parameter("Label", stack))
            .send()
            .await
            .unwrap();
    }
    let listed = cfn
        .list_change_sets()
        .stack_name(&first)
        .send()
        .await
        .unwrap();
    let stacks: Vec<_> = listed.summaries().iter().map(|s| s.stack_name()).collect();
    assert_eq!(stacks, [Some(first.as_str())]);
    let described = cfn
        .describe_change_set()
        .change_set_name("deploy")
        .stack_name(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(described.stack_name(), Some(second.as_str()));

    cfn.execute_change_set()
        .change_set_name("deploy")
        .stack_name(&second)
        .send()
        .await
        .unwrap();
    let stack = describe_stack(&cfn, &second).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));
    assert_eq!(outputs(&stack)["Label"], second);
    assert_eq!(
        describe_stack(&cfn, &first).await.stack_status(),
        Some(&StackStatus::ReviewInProgress)
    );

    cfn.delete_change_set()
        .change_set_name("deploy")
        .stack_name(&first)
        .send()
        .await
        .unwrap();
    let listed = cfn
        .list_change_sets()
        .stack_name(&first)
        .send()
        .await
        .unwrap();
    assert!(listed.summaries().is_empty(), "{:?}", listed.summaries());
    let err = cfn
        .describe_change_set()
        .change_set_name("deploy")
        .stack_name(&first)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ChangeSetNotFound"));
    // The other stack's change set is still there.
    cfn.describe_change_set()
        .change_set_name("deploy")
        .stack_name(&second)
        .send()
        .await
        .unwrap();
    cfn.delete_stack().stack_name(&second).send().await.unwrap();
}

const NO_CHANGE_TEMPLATE: &str = r#"
Parameters:
  Label:
    Type: String
    Default: same
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Ref Label
"#;

/// Patch 13: an UPDATE change set that changes nothing is created and FAILED, with the
/// StatusReason "The submitted information didn't contain changes. Submit different
/// information to create a change set."; it cannot be executed.
#[tokio::test]
async fn patch_change_set_without_changes_fails() {
    let (_env, cfn) = cfn_env().await;
    let name = stack_name("no-change");
    create_stack(&cfn, &name, NO_CHANGE_TEMPLATE, vec![]).await;
    for (label, parameters) in [
        ("implicit", vec![]),
        ("previous", vec![previous("Label")]),
        ("explicit", vec![parameter("Label", "same")]),
    ] {
        let created = cfn
            .create_change_set()
            .stack_name(&name)
            .change_set_name(format!("no-change-{label}"))
            .change_set_type(ChangeSetType::Update)
            .template_body(NO_CHANGE_TEMPLATE)
            .set_parameters(Some(parameters))
            .send()
            .await
            .unwrap();
        let id = created.id().unwrap();
        let change_set = cfn
            .describe_change_set()
            .change_set_name(id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            change_set.status(),
            Some(&ChangeSetStatus::Failed),
            "{label}"
        );
        assert_eq!(
            change_set.execution_status(),
            Some(&ExecutionStatus::Unavailable),
            "{label}"
        );
        assert_eq!(
            change_set.status_reason(),
            Some(
                "The submitted information didn't contain changes. Submit different information to create a change set."
            ),
            "{label}"
        );
        let err = cfn
            .execute_change_set()
            .change_set_name(id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidChangeSetStatus"), "{label}");
    }
    // A new value is a change.
    let created = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("a-change")
        .change_set_type(ChangeSetType::Update)
        .template_body(NO_CHANGE_TEMPLATE)
        .parameters(parameter("Label", "different"))
        .send()
        .await
        .unwrap();
    let change_set = cfn
        .describe_change_set()
        .change_set_name(created.id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(change_set.status(), Some(&ChangeSetStatus::CreateComplete));
    // UpdateStack answers the error itself, as on AWS (moto's own behaviour, pinned).
    let err = cfn
        .update_stack()
        .stack_name(&name)
        .template_body(NO_CHANGE_TEMPLATE)
        .parameters(previous("Label"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
    assert_eq!(err.message(), Some("No updates are to be performed."));
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
}

const ALIAS_TEMPLATE: &str = r#"
Parameters:
  AliasName:
    Type: String
Resources:
  Key:
    Type: AWS::KMS::Key
  Alias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: !Ref AliasName
      TargetKeyId: !GetAtt Key.Arn
Outputs:
  KeyId:
    Value: !Ref Key
  Alias:
    Value: !Ref Alias
"#;

/// Patch 14: AWS::KMS::Alias: "If you change the value of the AliasName property, the existing
/// alias is deleted and a new alias is created for the specified KMS key."
#[tokio::test]
async fn patch_cloudformation_alias_rename_replaces_it() {
    let (env, cfn) = cfn_env().await;
    let name = stack_name("alias-rename");
    let old = format!("alias/kmsrot-test/{name}-old");
    let new = format!("alias/kmsrot-test/{name}-new");
    create_stack(
        &cfn,
        &name,
        ALIAS_TEMPLATE,
        vec![parameter("AliasName", &old)],
    )
    .await;
    let key_id = outputs(&describe_stack(&cfn, &name).await)["KeyId"].clone();
    let aliases_of_key = || async {
        let out = env
            .client
            .list_aliases()
            .key_id(&key_id)
            .send()
            .await
            .unwrap();
        out.aliases()
            .iter()
            .filter_map(|a| a.alias_name().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(aliases_of_key().await, std::slice::from_ref(&old));

    cfn.update_stack()
        .stack_name(&name)
        .template_body(ALIAS_TEMPLATE)
        .parameters(parameter("AliasName", &new))
        .send()
        .await
        .unwrap();
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::UpdateComplete));
    assert_eq!(outputs(&stack)["Alias"], new);
    assert_eq!(aliases_of_key().await, std::slice::from_ref(&new));

    cfn.delete_stack().stack_name(&name).send().await.unwrap();
    assert!(aliases_of_key().await.is_empty());
}

const PARAMETER_TEMPLATE: &str = r#"
Parameters:
  Env:
    Type: String
  # Left at its default: it does not change, so neither does the log group.
  Retention:
    Type: Number
    Default: 30
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Sub "kmsrot ${Env} key"
      EnableKeyRotation: !If [IsProd, true, false]
      # A policy statement's Condition is a mapping, not a condition's name.
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"
            Action: kms:*
            Resource: "*"
            Condition:
              StringEquals:
                aws:PrincipalAccount: !Ref AWS::AccountId
      Tags:
        - Key: tier
          Value: !If [IsProd, gold, bronze]
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref Retention
Outputs:
  KeyId:
    Value: !Ref Key
"#;

/// Patch 15: a changed parameter reaches the resources that use it through Fn::Sub and Fn::If,
/// in an UPDATE change set (which lists the change, and only it: a parameter left at its
/// default is unchanged) and in UpdateStack.
#[tokio::test]
async fn patch_parameter_changes_reach_resources() {
    let (env, cfn) = cfn_env().await;
    let name = stack_name("parameters");
    create_stack(
        &cfn,
        &name,
        PARAMETER_TEMPLATE,
        vec![parameter("Env", "dev")],
    )
    .await;
    let key_id = outputs(&describe_stack(&cfn, &name).await)["KeyId"].clone();
    let state = || async {
        let description = key_metadata(&env, &key_id)
            .await
            .description()
            .map(str::to_owned);
        let rotation = env
            .client
            .get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .unwrap()
            .key_rotation_enabled;
        let tags = env.tags(&key_id).await.unwrap();
        (description, rotation, tags)
    };
    assert_eq!(
        state().await,
        (
            Some("kmsrot dev key".to_owned()),
            false,
            tag_map(&[("tier", "bronze")])
        )
    );

    let created = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("prod")
        .change_set_type(ChangeSetType::Update)
        .template_body(PARAMETER_TEMPLATE)
        .parameters(parameter("Env", "prod"))
        .send()
        .await
        .unwrap();
    let id = created.id().unwrap().to_owned();
    let change_set = cfn
        .describe_change_set()
        .change_set_name(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(change_set.status(), Some(&ChangeSetStatus::CreateComplete));
    let actions: Vec<_> = change_set
        .changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| (r.action().cloned(), r.logical_resource_id()))
        .collect();
    assert_eq!(actions, [(Some(ChangeAction::Modify), Some("Key"))]);
    cfn.execute_change_set()
        .change_set_name(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state().await,
        (
            Some("kmsrot prod key".to_owned()),
            true,
            tag_map(&[("tier", "gold")])
        )
    );

    cfn.update_stack()
        .stack_name(&name)
        .template_body(PARAMETER_TEMPLATE)
        .parameters(parameter("Env", "dev"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        state().await,
        (
            Some("kmsrot dev key".to_owned()),
            false,
            tag_map(&[("tier", "bronze")])
        )
    );
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
}

const LOG_GROUP_TEMPLATE: &str = r#"
Parameters:
  Retention:
    Type: Number
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref Retention
Outputs:
  LogGroupArn:
    Value: !GetAtt Logs.Arn
"#;

/// Patch 16: "When you submit an update, AWS CloudFormation updates resources based on
/// differences between what you submit and the stack's current template."; a resource of a type
/// moto cannot update (here AWS::Logs::LogGroup) stays in the stack, with its physical ID, and
/// the outputs that use it still resolve.
#[tokio::test]
async fn patch_update_keeps_resources_moto_cannot_update() {
    let (_env, cfn) = cfn_env().await;
    let name = stack_name("log-group");
    create_stack(
        &cfn,
        &name,
        LOG_GROUP_TEMPLATE,
        vec![parameter("Retention", "30")],
    )
    .await;
    let resources = || async {
        let out = cfn
            .describe_stack_resources()
            .stack_name(&name)
            .send()
            .await
            .unwrap();
        out.stack_resources()
            .iter()
            .map(|r| {
                (
                    r.logical_resource_id().map(str::to_owned),
                    r.physical_resource_id().map(str::to_owned),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = resources().await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].0.as_deref(), Some("Logs"));
    let arn = outputs(&describe_stack(&cfn, &name).await)["LogGroupArn"].clone();

    cfn.update_stack()
        .stack_name(&name)
        .template_body(LOG_GROUP_TEMPLATE)
        .parameters(parameter("Retention", "90"))
        .send()
        .await
        .unwrap();
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_status(), Some(&StackStatus::UpdateComplete));
    assert_eq!(outputs(&stack)["LogGroupArn"], arn);
    assert_eq!(resources().await, before);
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
}

/// Patch 17: S3 UpdateObjectEncryption "preserves all object metadata properties, including
/// the storage class, creation date, last modified date, ETag, and checksum properties", and
/// takes only a full key ARN ("The KMS key ID and KMS key alias aren't supported.").
#[tokio::test]
async fn patch_update_object_encryption_changes_only_the_encryption() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{ObjectEncryption, SsekmsEncryption, StorageClass};
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let bucket = env.bucket("patch17", false).await.unwrap();
    let s3 = env.s3_client();
    s3.put_object()
        .bucket(&bucket)
        .key("o")
        .body(ByteStream::from_static(b"data"))
        .metadata("m", "1")
        .storage_class(StorageClass::StandardIa)
        .send()
        .await
        .unwrap();
    let before = s3
        .head_object()
        .bucket(&bucket)
        .key("o")
        .send()
        .await
        .unwrap();
    let update = |arn: String| {
        s3.update_object_encryption()
            .bucket(&bucket)
            .key("o")
            .object_encryption(ObjectEncryption::Ssekms(
                SsekmsEncryption::builder()
                    .kms_key_arn(arn)
                    .bucket_key_enabled(true)
                    .build()
                    .unwrap(),
            ))
            .send()
    };
    let err = update("alias/some-alias".into()).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequest"), "{err:?}");
    update(key.to_string()).await.unwrap();
    let after = s3
        .head_object()
        .bucket(&bucket)
        .key("o")
        .send()
        .await
        .unwrap();
    assert_eq!(after.ssekms_key_id(), Some(key.to_string().as_str()));
    assert_eq!(after.bucket_key_enabled(), Some(true));
    assert_eq!(after.e_tag(), before.e_tag());
    assert_eq!(after.last_modified(), before.last_modified());
    assert_eq!(after.storage_class(), Some(&StorageClass::StandardIa));
    assert_eq!(after.metadata(), before.metadata());
    let data = s3
        .get_object()
        .bucket(&bucket)
        .key("o")
        .send()
        .await
        .unwrap();
    assert_eq!(data.body.collect().await.unwrap().to_vec(), b"data");
    let missing = s3
        .update_object_encryption()
        .bucket(&bucket)
        .key("nope")
        .object_encryption(ObjectEncryption::Ssekms(
            SsekmsEncryption::builder()
                .kms_key_arn(key.to_string())
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("NoSuchKey"), "{missing:?}");
}

/// Patch 19: grants as AWS documents them. CreateGrant takes a `GranteeServicePrincipal` ("When
/// you specify a GranteeServicePrincipal, you must also specify a SourceArn grant
/// constraint"), ListGrants reports it ("if the grantee principal is an Amazon Web Services
/// service, the GranteePrincipal field contains an Amazon Web Services service principal"),
/// and a named grant is created once: "if the grant already exists, the original GrantId is
/// returned without creating a new grant".
#[tokio::test]
async fn patch_grants_report_service_principals_and_names_are_idempotent() {
    use aws_sdk_kms::types::{GrantConstraints, GrantOperation};
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let without_source = env
        .client
        .create_grant()
        .key_id(key.to_string())
        .grantee_service_principal("rds.amazonaws.com")
        .retiring_service_principal("rds.amazonaws.com")
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        without_source.into_service_error().meta().code(),
        Some("ValidationException")
    );
    let service = env
        .client
        .create_grant()
        .key_id(key.to_string())
        .grantee_service_principal("rds.amazonaws.com")
        .retiring_service_principal("rds.amazonaws.com")
        .operations(GrantOperation::Decrypt)
        .constraints(
            GrantConstraints::builder()
                .source_arn("arn:aws:rds:us-east-1:123456789012:db:orders")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap();
    let named = || {
        env.client
            .create_grant()
            .key_id(key.to_string())
            .name("app")
            .grantee_principal("arn:aws:iam::123456789012:role/app")
            .operations(GrantOperation::Encrypt)
            .send()
    };
    let first = named().await.unwrap();
    let again = named().await.unwrap();
    assert_eq!(first.grant_id, again.grant_id);
    assert_ne!(first.grant_token, again.grant_token);
    let grants = env.grants(&key).await.unwrap();
    assert_eq!(grants.len(), 2, "{grants:?}");
    let rds = grants
        .iter()
        .find(|g| g.grant_id() == Some(service.as_str()))
        .unwrap();
    assert_eq!(rds.grantee_principal(), Some("rds.amazonaws.com"));
    assert_eq!(rds.grantee_service_principal(), Some("rds.amazonaws.com"));
    assert_eq!(rds.key_id(), Some(key.to_string().as_str()));
    assert!(rds.creation_date().is_some() && rds.issuing_account().is_some());
    assert!(rds.name().is_none());
}

/// Patch 20: GetKeyLastUsage: "Contains usage information about the last time the KMS key was
/// used for a successful cryptographic operation. If the key has not been used since tracking
/// began, this response element is empty."
#[tokio::test]
async fn patch_get_key_last_usage_records_successful_cryptographic_operations() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec, usage).await.unwrap();
    let last = || async {
        env.client
            .get_key_last_usage()
            .key_id(key.to_string())
            .send()
            .await
            .unwrap()
    };
    let fresh = last().await;
    assert!(
        fresh
            .key_last_usage()
            .is_none_or(|u| u.operation().is_none()),
        "{fresh:?}"
    );
    assert!(fresh.tracking_start_date().is_some());
    let blob = raw_ciphertext(&env, key.to_string()).await;
    let after_encrypt = last().await;
    let usage = after_encrypt.key_last_usage().unwrap();
    assert_eq!(usage.operation().map(|o| o.as_str()), Some("Encrypt"));
    assert!(usage.timestamp().is_some() && usage.cloud_trail_event_id().is_some());
    env.client
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap();
    let after_decrypt = last().await;
    assert_eq!(
        after_decrypt
            .key_last_usage()
            .and_then(|u| u.operation())
            .map(|o| o.as_str()),
        Some("Decrypt")
    );
    // A refused use is not a successful one.
    env.disable_key(&key).await.unwrap();
    env.client
        .decrypt()
        .ciphertext_blob(blob)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        last()
            .await
            .key_last_usage()
            .unwrap()
            .cloud_trail_event_id(),
        after_decrypt
            .key_last_usage()
            .unwrap()
            .cloud_trail_event_id()
    );
}

/// Patch 21: S3 reports the KMS key of a DSSE-KMS object: PutObject's SSEKMSKeyId "If you
/// specify x-amz-server-side-encryption with aws:kms or aws:kms:dsse, this header specifies the
/// ID (Key ID, Key ARN, or Key Alias) of the KMS key to use"; HeadObject's SSEKMSKeyId "If
/// present, indicates the ID of the KMS key that was used for object encryption."
#[tokio::test]
async fn patch_dsse_kms_objects_report_their_key() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::ServerSideEncryption;
    let env = env().await;
    let (spec, usage) = symmetric();
    let key = env.create_key(spec.clone(), usage.clone()).await.unwrap();
    let other = env.create_key(spec, usage).await.unwrap();
    let bucket = env.bucket("patch21", false).await.unwrap();
    let s3 = env.s3_client();
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key("o")
        .body(ByteStream::from_static(b"data"))
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .ssekms_key_id(key.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKmsDsse)
    );
    assert_eq!(put.ssekms_key_id(), Some(key.to_string().as_str()));
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("o")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKmsDsse)
    );
    assert_eq!(head.ssekms_key_id(), Some(key.to_string().as_str()));
    let copy = s3
        .copy_object()
        .bucket(&bucket)
        .key("o")
        .copy_source(format!("{bucket}/o"))
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .ssekms_key_id(other.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(copy.ssekms_key_id(), Some(other.to_string().as_str()));
    let get = s3
        .get_object()
        .bucket(&bucket)
        .key("o")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKmsDsse)
    );
    assert_eq!(get.ssekms_key_id(), Some(other.to_string().as_str()));
    assert_eq!(get.body.collect().await.unwrap().to_vec(), b"data");
}

/// Patch 22: "RSASSA_PSS_SHA_256: … RSA signature with PSS padding using SHA-256 for both the
/// message digest and the MGF1 mask generation function along with a 256-bit salt": a
/// verifier that requires a digest-length salt accepts the emulator's signatures.
#[tokio::test]
async fn patch_rsa_pss_signatures_use_a_digest_length_salt() {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
    let env = env().await;
    let key = env
        .create_key(KeySpec::Rsa2048, KeyUsageType::SignVerify)
        .await
        .unwrap();
    let message = b"salted as AWS salts";
    let signature = env
        .client
        .sign()
        .key_id(key.to_string())
        .message(Blob::new(message.as_slice()))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap();
    let public = env
        .client
        .get_public_key()
        .key_id(key.to_string())
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap();
    kmsrot_core::offline::verify(
        public.as_ref(),
        "RSA_2048",
        "RSASSA_PSS_SHA_256",
        message,
        signature.as_ref(),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Multi-Region keys (patches 23 to 25). Primaries are made in the default region; replicas go
// to regions no other test uses, so that no listing or sweep elsewhere meets them.
// ---------------------------------------------------------------------------------------------

const REPLICA_REGION: &str = "us-east-2";
const OTHER_REPLICA_REGION: &str = "us-west-1";

async fn replica_env(region: &str) -> kmsrot_testsuite::TestEnv {
    kmsrot_testsuite::TestEnv::in_region(region)
        .await
        .expect("test environment")
}

/// Creates a symmetric multi-Region primary key with the raw SDK; returns its ARN.
async fn multi_region_key(env: &kmsrot_testsuite::TestEnv) -> KeyArn {
    env.client
        .create_key()
        .multi_region(true)
        .description("kmsrot integration test")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
        .parse()
        .unwrap()
}

/// Replicates a primary key into `region` with the raw SDK.
async fn replicate(env: &kmsrot_testsuite::TestEnv, primary: &KeyArn, region: &str) {
    env.client
        .replicate_key()
        .key_id(primary.to_string())
        .replica_region(region)
        .send()
        .await
        .unwrap();
}

/// Patch 23: "Notice that multi-Region keys have a distinctive key ID that begins with mrk-";
/// "The key IDs of multi-Region keys begin with the mrk- prefix." (mrk- and 32 hex digits, as
/// in mrk-1234abcd12ab34cd56ef1234567890ab); what such a key encrypts decrypts.
#[tokio::test]
async fn patch_multi_region_key_ids_are_mrk_and_32_hex_digits() {
    let env = env().await;
    // The ARN parses as a KeyArn, whose key ID takes only a UUID or mrk- and 32 hex digits.
    let key = multi_region_key(&env).await;
    assert!(key.key_id().is_multi_region(), "{key}");
    let id = key.key_id().as_str();
    let hex = id.strip_prefix("mrk-").unwrap();
    assert!(
        hex.len() == 32
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{id}"
    );
    // The raw key ID names the key, and the ciphertext names it whole.
    assert_eq!(key_metadata(&env, id).await.key_id(), id);
    let ct = raw_ciphertext(&env, id).await;
    let out = env
        .client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id(), Some(key.to_string().as_str()));
    assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(b"x".as_slice()));
}

/// Patch 24: ReplicateKey: replicas "have the same key ID and key material"; "If the Region
/// already includes a replica of the key you're trying to replicate, ReplicateKey returns an
/// AlreadyExistsException error"; "The primary key is the only key that can be replicated."
/// DescribeKey's MultiRegionConfiguration names the primary and every replica, in every Region.
#[tokio::test]
async fn patch_replicate_key_makes_an_interoperable_replica() {
    use aws_sdk_kms::types::{MultiRegionKeyType, Tag};
    let env = env().await;
    let west = replica_env(REPLICA_REGION).await;
    let primary = multi_region_key(&env).await;
    let id = primary.key_id().as_str();
    let out = env
        .client
        .replicate_key()
        .key_id(primary.to_string())
        .replica_region(REPLICA_REGION)
        .description("replica")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("west")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let metadata = out.replica_key_metadata().unwrap();
    let replica: KeyArn = metadata.arn().unwrap().parse().unwrap();
    assert_eq!(replica.key_id(), primary.key_id());
    assert_eq!(replica.region(), REPLICA_REGION);
    assert_eq!(metadata.key_state(), Some(&KeyState::Creating));
    assert_eq!(out.replica_tags().len(), 1, "{out:?}");
    assert!(out.replica_policy().is_some());
    assert_eq!(west.tags(id).await.unwrap(), tag_map(&[("team", "west")]));
    assert!(env.tags(id).await.unwrap().is_empty());

    for (side, kind) in [
        (&env, MultiRegionKeyType::Primary),
        (&west, MultiRegionKeyType::Replica),
    ] {
        let metadata = key_metadata(side, id).await;
        let config = metadata.multi_region_configuration().unwrap();
        assert_eq!(config.multi_region_key_type(), Some(&kind));
        assert_eq!(
            config.primary_key().and_then(|k| k.arn()),
            Some(primary.to_string().as_str())
        );
        let replicas: Vec<&str> = config
            .replica_keys()
            .iter()
            .filter_map(|k| k.arn())
            .collect();
        assert_eq!(replicas, [replica.to_string().as_str()], "{kind:?}");
    }
    let in_west = key_metadata(&west, id).await;
    assert_eq!(in_west.key_state(), Some(&KeyState::Enabled));
    assert_eq!(in_west.description(), Some("replica"));

    // The same key material: each Region decrypts what the other encrypted.
    let ct = raw_ciphertext(&env, id).await;
    let out = west
        .client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id(), Some(replica.to_string().as_str()));
    let ct = raw_ciphertext(&west, id).await;
    env.client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap();

    // One replica per Region, made from the primary only; a key ARN names its own Region.
    let err = env
        .client
        .replicate_key()
        .key_id(id)
        .replica_region(REPLICA_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AlreadyExistsException"));
    let err = west
        .client
        .replicate_key()
        .key_id(id)
        .replica_region(OTHER_REPLICA_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnsupportedOperationException"));
    let err = west
        .client
        .describe_key()
        .key_id(primary.to_string())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFoundException"));
}

/// Patch 24: "All other properties of multi-Region keys are independent properties, including
/// the description, key policy, grants, enabled and disabled key states, aliases, and tags.";
/// automatic key rotation is shared: "To enable or disable automatic rotation of a set of
/// related multi-Region keys, set the property on the primary key."
#[tokio::test]
async fn patch_replica_keys_have_their_own_aliases_and_state() {
    let env = env().await;
    let west = replica_env(OTHER_REPLICA_REGION).await;
    let primary = multi_region_key(&env).await;
    let id = primary.key_id().as_str();
    replicate(&env, &primary, OTHER_REPLICA_REGION).await;

    // An alias lives in its Region: the same name can name the replica in the other.
    let alias = env.unique_alias("mrk");
    let create_alias = |side: &kmsrot_testsuite::TestEnv| {
        side.client
            .create_alias()
            .alias_name(alias.as_str())
            .target_key_id(id)
            .send()
    };
    create_alias(&env).await.unwrap();
    let listed = west.client.list_aliases().key_id(id).send().await.unwrap();
    assert!(listed.aliases().is_empty(), "{listed:?}");
    let err = west
        .client
        .describe_key()
        .key_id(alias.as_str())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFoundException"));
    create_alias(&west).await.unwrap();
    let (replica, _) = west.alias_target(&alias).await.unwrap();
    assert_eq!(replica.region(), OTHER_REPLICA_REGION);
    assert_eq!(env.alias_target(&alias).await.unwrap().0, primary);

    // Disabling the replica leaves the primary enabled.
    west.disable_key(&replica).await.unwrap();
    assert_eq!(env.key_state(&primary).await.unwrap(), "Enabled");
    raw_ciphertext(&env, id).await;
    let err = west
        .client
        .encrypt()
        .key_id(id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("DisabledException"));

    // Rotation is set on the primary, and the replica reports it.
    let err = west
        .client
        .enable_key_rotation()
        .key_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnsupportedOperationException"));
    let err = west
        .client
        .rotate_key_on_demand()
        .key_id(id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnsupportedOperationException"));
    env.client
        .enable_key_rotation()
        .key_id(id)
        .rotation_period_in_days(180)
        .send()
        .await
        .unwrap();
    let status = west
        .client
        .get_key_rotation_status()
        .key_id(id)
        .send()
        .await
        .unwrap();
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(180));
}

/// Patch 25: ScheduleKeyDeletion: "If you schedule the deletion of a primary key with replicas,
/// its key state changes to PendingReplicaDeletion and it cannot be replicated or used in
/// cryptographic operations."; DeletionDate: "If the KMS key is a multi-Region primary key with
/// replica keys, this field does not appear."
#[tokio::test]
async fn patch_primary_with_replicas_is_pending_replica_deletion() {
    let env = env().await;
    let west = replica_env(REPLICA_REGION).await;
    let primary = multi_region_key(&env).await;
    let id = primary.key_id().as_str();
    let ct = raw_ciphertext(&env, id).await;
    replicate(&env, &primary, REPLICA_REGION).await;

    let out = env
        .client
        .schedule_key_deletion()
        .key_id(id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_state(), Some(&KeyState::PendingReplicaDeletion));
    assert_eq!(out.pending_window_in_days(), Some(7));
    assert!(out.deletion_date().is_none(), "{out:?}");
    let metadata = key_metadata(&env, id).await;
    assert_eq!(
        metadata.key_state(),
        Some(&KeyState::PendingReplicaDeletion)
    );
    assert_eq!(metadata.pending_deletion_window_in_days(), Some(7));
    assert!(metadata.deletion_date().is_none(), "{metadata:?}");

    let err = env
        .client
        .encrypt()
        .key_id(id)
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidStateException"));
    let err = env
        .client
        .replicate_key()
        .key_id(id)
        .replica_region(OTHER_REPLICA_REGION)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("KMSInvalidStateException"));
    // The replica is unaffected.
    west.client
        .decrypt()
        .ciphertext_blob(ct)
        .send()
        .await
        .unwrap();

    env.client
        .cancel_key_deletion()
        .key_id(id)
        .send()
        .await
        .unwrap();
    let metadata = key_metadata(&env, id).await;
    assert_eq!(metadata.key_state(), Some(&KeyState::Disabled));
    assert_eq!(metadata.pending_deletion_window_in_days(), None);
}

// ---------------------------------------------------------------------------------------------
// CloudFormation again (patch 26), with the helpers and region of patches 8 to 16.
// ---------------------------------------------------------------------------------------------

const IN_REVIEW_TEMPLATE: &str = r#"
Parameters:
  Label:
    Type: String
    Default: default
Resources:
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  Label:
    Value: !Ref Label
  TopicArn:
    Value: !Ref Topic
"#;

fn stack_tag(key: &str, value: &str) -> aws_sdk_cloudformation::types::Tag {
    aws_sdk_cloudformation::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
}

/// Patch 26: ChangeSetType: "If you create a change set for a new stack, CloudFormation creates a
/// stack with a unique stack ID, but no template or resources. The stack will be in the
/// REVIEW_IN_PROGRESS state until you execute the change set."; a second CREATE change set is
/// added to that stack, and executing it creates the stack with that change set's parameters and
/// tags. "You can't use ... the CREATE type to create a change set for an existing stack": once
/// the stack is created, CreateChangeSet answers ValidationError. A deleted stack of the same
/// name does not count.
#[tokio::test]
async fn patch_a_create_change_set_reuses_a_stack_in_review() {
    let (_env, cfn) = cfn_env().await;
    let name = stack_name("in-review");
    let first = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("first")
        .change_set_type(ChangeSetType::Create)
        .template_body(IN_REVIEW_TEMPLATE)
        .parameters(parameter("Label", "first"))
        .tags(stack_tag("team", "first"))
        .send()
        .await
        .unwrap();
    let stack_id = first.stack_id().unwrap().to_owned();
    assert_eq!(
        describe_stack(&cfn, &name).await.stack_status(),
        Some(&StackStatus::ReviewInProgress)
    );

    // Never executed, the first change set leaves the stack in review; the next CREATE change
    // set (Label left at its default) belongs to that stack.
    let second = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("second")
        .change_set_type(ChangeSetType::Create)
        .template_body(IN_REVIEW_TEMPLATE)
        .tags(stack_tag("team", "second"))
        .send()
        .await
        .unwrap();
    assert_eq!(second.stack_id(), Some(stack_id.as_str()));
    let listed = cfn
        .list_change_sets()
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    let change_sets: Vec<_> = listed
        .summaries()
        .iter()
        .map(|s| (s.change_set_name(), s.stack_id()))
        .collect();
    assert_eq!(
        change_sets,
        [
            (Some("first"), Some(stack_id.as_str())),
            (Some("second"), Some(stack_id.as_str()))
        ]
    );
    let change_set = cfn
        .describe_change_set()
        .change_set_name("second")
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(change_set.stack_id(), Some(stack_id.as_str()));
    assert_eq!(change_set.status(), Some(&ChangeSetStatus::CreateComplete));
    assert_eq!(
        change_set.execution_status(),
        Some(&ExecutionStatus::Available)
    );
    let actions: Vec<_> = change_set
        .changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|r| (r.action().cloned(), r.logical_resource_id()))
        .collect();
    assert_eq!(actions, [(Some(ChangeAction::Add), Some("Topic"))]);

    cfn.execute_change_set()
        .change_set_name("second")
        .stack_name(&name)
        .send()
        .await
        .unwrap();
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_id(), Some(stack_id.as_str()));
    assert_eq!(stack.stack_status(), Some(&StackStatus::CreateComplete));
    let out = outputs(&stack);
    assert_eq!(out["Label"], "default");
    assert!(
        out["TopicArn"].starts_with(&format!("arn:aws:sns:{CFN_REGION}:")),
        "{out:?}"
    );
    let tags: Vec<_> = stack.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [(Some("team"), Some("second"))]);
    let stacks = cfn.list_stacks().send().await.unwrap();
    let ids: Vec<_> = stacks
        .stack_summaries()
        .iter()
        .filter(|s| s.stack_name() == Some(name.as_str()))
        .map(|s| s.stack_id())
        .collect();
    assert_eq!(ids, [Some(stack_id.as_str())]);
    // Executing a change set deletes the stack's others (patch 11).
    let err = cfn
        .describe_change_set()
        .change_set_name("first")
        .stack_name(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ChangeSetNotFound"));

    // The stack exists now: CREATE is refused, and the stack is left as it was.
    let err = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("again")
        .change_set_type(ChangeSetType::Create)
        .template_body(IN_REVIEW_TEMPLATE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationError"));
    assert_eq!(
        err.message(),
        Some(
            format!(
                "Stack [{name}] already exists and cannot be created again with the changeSet [again]."
            )
            .as_str()
        )
    );
    assert_eq!(
        describe_stack(&cfn, &name).await.stack_status(),
        Some(&StackStatus::CreateComplete)
    );

    // A stack of that name in DELETE_COMPLETE does not count: CREATE makes a new stack, and
    // DescribeStacks by name answers the live one.
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
    let again = cfn
        .create_change_set()
        .stack_name(&name)
        .change_set_name("again")
        .change_set_type(ChangeSetType::Create)
        .template_body(IN_REVIEW_TEMPLATE)
        .send()
        .await
        .unwrap();
    let new_id = again.stack_id().unwrap().to_owned();
    assert_ne!(new_id, stack_id);
    let stack = describe_stack(&cfn, &name).await;
    assert_eq!(stack.stack_id(), Some(new_id.as_str()));
    assert_eq!(stack.stack_status(), Some(&StackStatus::ReviewInProgress));
    assert_eq!(
        describe_stack(&cfn, &stack_id).await.stack_status(),
        Some(&StackStatus::DeleteComplete)
    );
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
}

/// Patch 27: ListAliases, AliasListEntry `CreationDate`: "Date and time that the alias was most
/// recently created in the account and Region."; `LastUpdatedDate`: "Date and time that the
/// alias was most recently associated with a KMS key in the account and Region."
#[tokio::test]
async fn patch_list_aliases_dates_each_alias() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let first = env.create_key(spec.clone(), usage.clone()).await.unwrap();
    let second = env.create_key(spec, usage).await.unwrap();
    let alias = env.unique_alias("dated");
    let before = unix_now();
    env.create_alias(&alias, &first).await.unwrap();
    let entry = |key: KeyArn| {
        let env = env.clone();
        let alias = alias.clone();
        async move {
            env.client
                .list_aliases()
                .key_id(key.to_string())
                .send()
                .await
                .unwrap()
                .aliases()
                .iter()
                .find(|a| a.alias_name() == Some(alias.as_str()))
                .cloned()
                .unwrap()
        }
    };
    let created = entry(first.clone()).await;
    let creation = created.creation_date().unwrap().as_secs_f64();
    assert!(creation >= before.floor(), "{created:?}");
    assert_eq!(created.last_updated_date(), created.creation_date());
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    env.move_alias(&alias, &second).await.unwrap();
    let moved = entry(second).await;
    assert_eq!(moved.creation_date(), created.creation_date());
    assert!(
        moved.last_updated_date().unwrap().as_secs_f64() > creation,
        "{moved:?}"
    );
}

/// Patch 28: CopyObject copies only if the source's ETag matches `x-amz-copy-source-if-match`
/// and the destination's matches `If-Match`; otherwise 412 PreconditionFailed.
#[tokio::test]
async fn patch_copy_object_honours_its_etag_conditions() {
    let env = env().await;
    let s3 = env.s3_client();
    let bucket = env.bucket("copy-conditions", false).await.unwrap();
    let put = |key: &'static str, body: &'static [u8]| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.to_vec().into())
                .send()
                .await
                .unwrap()
                .e_tag()
                .unwrap()
                .to_owned()
        }
    };
    let first = put("object", b"first").await;
    let second = put("object", b"second").await;
    assert_ne!(first, second);
    let copy = |source_etag: &str, dest_etag: &str| {
        s3.copy_object()
            .bucket(&bucket)
            .key("object")
            .copy_source(format!("{bucket}/object"))
            .copy_source_if_match(source_etag)
            .if_match(dest_etag)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
    };
    let stale_source = copy(&first, &second).await.unwrap_err();
    assert_eq!(
        stale_source.raw_response().map(|r| r.status().as_u16()),
        Some(412)
    );
    let stale_destination = copy(&second, &first).await.unwrap_err();
    assert_eq!(
        stale_destination
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(412)
    );
    copy(&second, &second).await.unwrap();
}
