//! What the local emulator cannot show: throttling, access denial and unusual key states,
//! tested through `aws-smithy-mocks` with the real SDK's deserializers and retry loop.

use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Region;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::types::{KeyMetadata, KeyState};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use kmsrot_core::{Kms, KmsError};
use kmsrot_types::EncryptionContext;

const KEY_ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"{code}","message":"{message}"}}"#))
}

fn kms(client: Client) -> kmsrot_core::AliasKms {
    Kms::from_client(client).alias("alias/app".parse().unwrap())
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_succeeds() {
    let encrypt = mock!(Client::encrypt)
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(|| {
            aws_sdk_kms::operation::encrypt::EncryptOutput::builder()
                .key_id(KEY_ARN)
                .ciphertext_blob(aws_sdk_kms::primitives::Blob::new("ct"))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&encrypt], |c| c
        .region(Region::new("eu-west-1"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    let ct = kms(client)
        .encrypt(b"x", &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(ct.key_arn.to_string(), KEY_ARN);
    assert_eq!(
        encrypt.num_calls(),
        3,
        "two throttled attempts, then success"
    );
}

#[tokio::test]
async fn throttling_past_the_retry_budget_is_throttled() {
    let encrypt = mock!(Client::encrypt)
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&encrypt], |c| c
        .region(Region::new("eu-west-1"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    let err = kms(client)
        .encrypt(b"x", &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::Throttled { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(encrypt.num_calls(), 4);
    let message = err.to_string();
    assert!(
        message.contains("alias `alias/app` in eu-west-1"),
        "{message}"
    );
}

#[tokio::test]
async fn access_denied_names_the_operation_and_alias() {
    let encrypt = mock!(Client::encrypt)
        .sequence()
        .http_status(
            400,
            error_body(
                "AccessDeniedException",
                "User: arn:aws:iam::111122223333:user/x is not authorized to perform: kms:Encrypt",
            ),
        )
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&encrypt], |c| c
        .region(Region::new("eu-west-1")));
    let err = kms(client)
        .encrypt(b"x", &EncryptionContext::new())
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::AccessDenied { .. }), "{err:?}");
    assert!(!err.is_retryable());
    let message = err.to_string();
    assert!(
        message.starts_with("access denied: Encrypt on alias `alias/app` in eu-west-1"),
        "{message}"
    );
}

#[tokio::test]
async fn invalid_state_is_refined_from_the_key_state() {
    let encrypt = mock!(Client::encrypt)
        .sequence()
        .http_status(
            400,
            error_body("KMSInvalidStateException", "the key is not usable"),
        )
        .build();
    let describe = mock!(Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                    .arn(KEY_ARN)
                    .key_state(KeyState::PendingImport)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&encrypt, &describe],
        |c| c.region(Region::new("eu-west-1"))
    );
    let err = kms(client)
        .encrypt(b"x", &EncryptionContext::new())
        .await
        .unwrap_err();
    match &err {
        KmsError::InvalidState { state, .. } => assert_eq!(state, "PendingImport"),
        other => panic!("expected InvalidState, got {other:?}"),
    }
    assert_eq!(describe.num_calls(), 1);
}

/// The emulator decrypts RSA ciphertexts however they are named, so the request shapes that
/// AWS insists on are pinned here: symmetric Decrypt sends no KeyId (the key comes from the
/// ciphertext); asymmetric Decrypt, Verify and VerifyMac send the stored key ARN and algorithm.
#[tokio::test]
async fn requests_name_keys_exactly_as_aws_requires() {
    use aws_sdk_kms::operation::decrypt::DecryptOutput;
    use aws_sdk_kms::operation::verify::VerifyOutput;
    use aws_sdk_kms::operation::verify_mac::VerifyMacOutput;
    use aws_sdk_kms::types::{EncryptionAlgorithmSpec, MacAlgorithmSpec, SigningAlgorithmSpec};
    use kmsrot_types::{AsymmetricCiphertext, Mac, Signature};

    let symmetric = mock!(Client::decrypt)
        .match_requests(|r| r.key_id().is_none() && r.encryption_algorithm().is_none())
        .then_output(|| {
            DecryptOutput::builder()
                .key_id(KEY_ARN)
                .plaintext(aws_sdk_kms::primitives::Blob::new("p"))
                .build()
        });
    let asymmetric = mock!(Client::decrypt)
        .match_requests(|r| {
            r.key_id() == Some(KEY_ARN)
                && r.encryption_algorithm() == Some(&EncryptionAlgorithmSpec::RsaesOaepSha256)
        })
        .then_output(|| {
            DecryptOutput::builder()
                .key_id(KEY_ARN)
                .plaintext(aws_sdk_kms::primitives::Blob::new("p"))
                .build()
        });
    let verify = mock!(Client::verify)
        .match_requests(|r| {
            r.key_id() == Some(KEY_ARN)
                && r.signing_algorithm() == Some(&SigningAlgorithmSpec::EcdsaSha256)
        })
        .then_output(|| VerifyOutput::builder().signature_valid(true).build());
    let verify_mac = mock!(Client::verify_mac)
        .match_requests(|r| {
            r.key_id() == Some(KEY_ARN) && r.mac_algorithm() == Some(&MacAlgorithmSpec::HmacSha256)
        })
        .then_output(|| VerifyMacOutput::builder().mac_valid(true).build());
    let client = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&symmetric, &asymmetric, &verify, &verify_mac],
        |c| c.region(Region::new("eu-west-1"))
    );
    let kms = Kms::from_client(client);
    let key_arn: kmsrot_types::KeyArn = KEY_ARN.parse().unwrap();

    kms.decrypt(b"ciphertext", &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(symmetric.num_calls(), 1);
    kms.alias("alias/app".parse().unwrap())
        .decrypt(b"ciphertext", &EncryptionContext::new())
        .await
        .unwrap();
    assert_eq!(
        symmetric.num_calls(),
        2,
        "decrypting through an alias sends no KeyId either"
    );

    let rsa = AsymmetricCiphertext {
        key_arn: key_arn.clone(),
        encryption_algorithm: "RSAES_OAEP_SHA_256".into(),
        ciphertext: vec![1, 2, 3].into(),
    };
    kms.decrypt_asymmetric(&rsa).await.unwrap();
    assert_eq!(asymmetric.num_calls(), 1);

    let signature = Signature {
        key_arn: key_arn.clone(),
        signing_algorithm: "ECDSA_SHA_256".into(),
        signature: vec![1].into(),
    };
    kms.verify(b"m", &signature).await.unwrap();
    assert_eq!(verify.num_calls(), 1);

    let mac = Mac {
        key_arn,
        mac_algorithm: "HMAC_SHA_256".into(),
        mac: vec![1].into(),
    };
    kms.verify_mac(b"m", &mac).await.unwrap();
    assert_eq!(verify_mac.num_calls(), 1);
}
