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
        .then_output(|| {
            VerifyOutput::builder()
                .key_id(KEY_ARN)
                .signature_valid(true)
                .build()
        });
    let verify_mac = mock!(Client::verify_mac)
        .match_requests(|r| {
            r.key_id() == Some(KEY_ARN) && r.mac_algorithm() == Some(&MacAlgorithmSpec::HmacSha256)
        })
        .then_output(|| {
            VerifyMacOutput::builder()
                .key_id(KEY_ARN)
                .mac_valid(true)
                .build()
        });
    // Decrypting through an alias reads the alias's history: its key, and that key's tags.
    let describe = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some("alias/app"))
        .then_output(|| {
            aws_sdk_kms::operation::describe_key::DescribeKeyOutput::builder()
                .key_metadata(
                    aws_sdk_kms::types::KeyMetadata::builder()
                        .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                        .arn(KEY_ARN)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let tags = mock!(Client::list_resource_tags)
        .match_requests(|r| r.key_id() == Some(KEY_ARN))
        .then_output(|| {
            aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput::builder().build()
        });
    let client = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [
            &symmetric,
            &asymmetric,
            &verify,
            &verify_mac,
            &describe,
            &tags
        ],
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
        key_spec: None,
        public_key: None,
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

/// A managed symmetric key as DescribeKey and ListResourceTags show it.
fn managed_key_rules(mode: &str) -> Vec<aws_smithy_mocks::Rule> {
    let describe = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some("alias/app"))
        .then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                        .arn(KEY_ARN)
                        .key_state(KeyState::Enabled)
                        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
                        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
                        .origin(aws_sdk_kms::types::OriginType::AwsKms)
                        .key_manager(aws_sdk_kms::types::KeyManagerType::Customer)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let mode = mode.to_owned();
    let tags = mock!(Client::list_resource_tags).then_output(move || {
        let mut tags = vec![
            ("kmsrot:alias", "alias/app".to_owned()),
            ("kmsrot:stage", "current".to_owned()),
        ];
        let mut policy = kmsrot_types::Policy::new(mode.parse().unwrap()).to_tags();
        tags.append(&mut policy);
        aws_sdk_kms::operation::list_resource_tags::ListResourceTagsOutput::builder()
            .set_tags(Some(
                tags.into_iter()
                    .map(|(k, v)| {
                        aws_sdk_kms::types::Tag::builder()
                            .tag_key(k)
                            .tag_value(v)
                            .build()
                            .unwrap()
                    })
                    .collect(),
            ))
            .truncated(false)
            .build()
    });
    vec![describe, tags]
}

#[tokio::test]
async fn used_up_on_demand_rotations_are_a_clear_error() {
    let rotations = mock!(Client::list_key_rotations).then_output(|| {
        let entry = aws_sdk_kms::types::RotationsListEntry::builder()
            .key_id(KEY_ARN)
            .rotation_type(aws_sdk_kms::types::RotationType::OnDemand)
            .rotation_date(aws_smithy_types::DateTime::from_secs(1_780_000_000))
            .build();
        aws_sdk_kms::operation::list_key_rotations::ListKeyRotationsOutput::builder()
            .set_rotations(Some(vec![entry; 25]))
            .truncated(false)
            .build()
    });
    let rotate = mock!(Client::rotate_key_on_demand)
        .match_requests(|r| r.key_id() == Some(KEY_ARN))
        .then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    error_body("LimitExceededException", "On-demand rotation limit reached")
                        .unwrap(),
                ),
            )
        });
    // The alias's lock, taken and released around the rotation.
    let lock = mock!(Client::create_alias)
        .match_requests(|r| r.alias_name() == Some("alias/kmsrot-lock/app"))
        .then_output(|| aws_sdk_kms::operation::create_alias::CreateAliasOutput::builder().build());
    let unlock = mock!(Client::delete_alias)
        .match_requests(|r| r.alias_name() == Some("alias/kmsrot-lock/app"))
        .then_output(|| aws_sdk_kms::operation::delete_alias::DeleteAliasOutput::builder().build());
    let mut rules = managed_key_rules("automatic");
    rules.extend([rotations, rotate, lock.clone(), unlock.clone()]);
    let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &rules, |c| c
        .region(Region::new("eu-west-1")));
    let engine = kmsrot_core::Rotator::new(Kms::from_client(client));
    let err = engine
        .rotate(
            &"alias/app".parse().unwrap(),
            kmsrot_core::RotateOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            kmsrot_core::RotationError::OnDemandLimit { used: 25, .. }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("`alias/app` in eu-west-1"), "{message}");
    assert!(message.contains("25 done"), "{message}");
    assert_eq!(
        (lock.num_calls(), unlock.num_calls()),
        (1, 1),
        "the lock is released"
    );
}

#[tokio::test]
async fn the_sweep_backs_off_and_retries_an_alias_kms_throttles() {
    let aliases = mock!(Client::list_aliases).then_output(|| {
        aws_sdk_kms::operation::list_aliases::ListAliasesOutput::builder()
            .aliases(
                aws_sdk_kms::types::AliasListEntry::builder()
                    .alias_name("alias/app")
                    .target_key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                    .build(),
            )
            .truncated(false)
            .build()
    });
    let throttled = mock!(Client::describe_key)
        .match_requests(|r| r.key_id() == Some("alias/app"))
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .build();
    let status = mock!(Client::get_key_rotation_status).then_output(|| {
        aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(false)
            .build()
    });
    // The region's keys, read for orphans after the aliases: only the alias's own.
    let keys = mock!(Client::list_keys).then_output(|| {
        aws_sdk_kms::operation::list_keys::ListKeysOutput::builder()
            .keys(
                aws_sdk_kms::types::KeyListEntry::builder()
                    .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                    .key_arn(KEY_ARN)
                    .build(),
            )
            .truncated(false)
            .build()
    });
    let by_arn = mock!(Client::describe_key)
        .match_requests(|r| {
            r.key_id() == Some(KEY_ARN)
                || r.key_id() == Some("1234abcd-12ab-34cd-56ef-1234567890ab")
        })
        .then_output(|| {
            DescribeKeyOutput::builder()
                .key_metadata(
                    KeyMetadata::builder()
                        .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                        .arn(KEY_ARN)
                        .key_state(KeyState::Enabled)
                        .key_manager(aws_sdk_kms::types::KeyManagerType::Customer)
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let mut rules = vec![aliases, throttled.clone()];
    rules.extend(managed_key_rules("manual"));
    rules.extend([status, keys, by_arn]);
    let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, &rules, |c| c
        .region(Region::new("eu-west-1"))
        .retry_config(RetryConfig::disabled()));
    let engine = kmsrot_core::Rotator::new(Kms::from_client(client));
    let report = engine
        .sweep(kmsrot_core::SweepOptions {
            attempts: 2,
            backoff: Duration::from_millis(1),
            ..kmsrot_core::SweepOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(throttled.num_calls(), 1, "the first attempt was throttled");
    assert_eq!(report.aliases.len(), 1);
    let outcome = &report.aliases[0];
    assert!(
        outcome.actions.is_empty() && outcome.reason.is_none(),
        "{outcome:?}"
    );
    assert!(outcome.compliance.as_ref().unwrap().ok(), "{outcome:?}");
    assert!(report.orphans.is_empty(), "{report:?}");
}

/// moto 5.2 does not speak the Smithy RPC v2 CBOR protocol of the current CloudWatch SDK
/// (getmoto/moto#9195), so `PutMetricData` is checked here, through the real SDK's
/// serializer.
mod metrics {
    use std::sync::{Arc, Mutex};

    use aws_sdk_cloudwatch::Client;
    use aws_sdk_cloudwatch::operation::put_metric_data::{
        PutMetricDataError, PutMetricDataInput, PutMetricDataOutput,
    };
    use aws_sdk_cloudwatch::types::StandardUnit;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use kmsrot_core::Metrics;
    use kmsrot_types::metrics::{Datum, MetricName};

    fn data(n: usize) -> Vec<Datum> {
        let alias = "alias/app".parse().unwrap();
        (0..n)
            .map(|i| match i % 3 {
                0 => Datum::alias(MetricName::KeyAgeDays, &alias, i as f64),
                1 => Datum::alias(MetricName::StepLatency, &alias, 12.5),
                _ => Datum::fleet(MetricName::RejectedEvents, 1.0),
            })
            .collect()
    }

    #[tokio::test]
    async fn put_metric_data_sends_batches_of_at_most_1000() {
        let seen: Arc<Mutex<Vec<PutMetricDataInput>>> = Arc::default();
        let record = seen.clone();
        let put = mock!(Client::put_metric_data)
            .match_requests(move |input| {
                record.lock().unwrap().push(input.clone());
                true
            })
            .sequence()
            .output(|| PutMetricDataOutput::builder().build())
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&put]);
        Metrics::CloudWatch(client)
            .publish(&data(2345), 1_700_000_000_000)
            .await;
        let seen = seen.lock().unwrap();
        let sizes: Vec<usize> = seen.iter().map(|i| i.metric_data().len()).collect();
        assert_eq!(sizes, [1000, 1000, 345]);
        for input in seen.iter() {
            assert_eq!(input.namespace(), Some("KMSRotation"));
        }
        let first = &seen[0].metric_data()[0];
        assert_eq!(first.metric_name(), Some("KeyAgeDays"));
        assert_eq!(first.unit(), Some(&StandardUnit::None));
        assert_eq!(first.dimensions()[0].name(), Some("Alias"));
        assert_eq!(first.dimensions()[0].value(), Some("alias/app"));
        assert_eq!(
            first.timestamp().map(|t| t.to_millis().unwrap()),
            Some(1_700_000_000_000)
        );
        let latency = &seen[0].metric_data()[1];
        assert_eq!(latency.unit(), Some(&StandardUnit::Milliseconds));
        assert_eq!(latency.value(), Some(12.5));
        let fleet = &seen[0].metric_data()[2];
        assert_eq!(fleet.metric_name(), Some("RejectedEvents"));
        assert!(fleet.dimensions().is_empty());
    }

    #[tokio::test]
    async fn a_failed_put_is_logged_and_never_fails_the_caller() {
        let put = mock!(Client::put_metric_data)
            .sequence()
            .error(|| {
                PutMetricDataError::InternalServiceFault(
                    aws_sdk_cloudwatch::types::error::InternalServiceFault::builder()
                        .message("boom")
                        .build(),
                )
            })
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&put], |c| c
            .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::disabled()));
        // Returns (), whatever happens; both batches are attempted.
        Metrics::CloudWatch(client).publish(&data(1500), 0).await;
        assert_eq!(put.num_calls(), 2);
    }
}

/// Tag-based authorization may lag "up to five minutes" after CreateKey wrote the tags, so
/// AccessDenied on a key created moments ago is retried with backoff for that long: first
/// retried until it succeeds, then until the five minutes are over. A key created long ago is
/// not retried. (Tokio's clock is paused: the waits take no real time.)
#[tokio::test(start_paused = true)]
async fn access_denied_on_a_fresh_key_is_retried_while_its_tags_settle() {
    use kmsrot_core::retry::{TAG_AUTHORIZATION_LAG, while_tags_settle};
    let denied = |e: &KmsError| matches!(e, KmsError::AccessDenied { .. });
    let encrypt_ok = || {
        aws_sdk_kms::operation::encrypt::EncryptOutput::builder()
            .key_id(KEY_ARN)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new("ct"))
            .build()
    };
    let now = std::time::SystemTime::now();
    let context = EncryptionContext::new();

    let settles = mock!(Client::encrypt)
        .sequence()
        .http_status(400, error_body("AccessDeniedException", "not authorized"))
        .times(2)
        .output(encrypt_ok)
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&settles], |c| c
        .region(Region::new("eu-west-1")));
    let data = kms(client);
    let started = tokio::time::Instant::now();
    let ct = while_tags_settle(now, denied, || data.encrypt(b"x", &context))
        .await
        .unwrap();
    assert_eq!(ct.key_arn.to_string(), KEY_ARN);
    assert_eq!(settles.num_calls(), 3, "denied twice, then allowed");
    assert_eq!(started.elapsed(), Duration::from_secs(1 + 2));

    let never = mock!(Client::encrypt)
        .sequence()
        .http_status(400, error_body("AccessDeniedException", "not authorized"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&never], |c| c
        .region(Region::new("eu-west-1")));
    let data = kms(client);
    let started = tokio::time::Instant::now();
    let err = while_tags_settle(now, denied, || data.encrypt(b"x", &context))
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::AccessDenied { .. }), "{err:?}");
    assert!(never.num_calls() > 5, "{}", never.num_calls());
    assert!(
        started.elapsed() <= TAG_AUTHORIZATION_LAG,
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() >= TAG_AUTHORIZATION_LAG - Duration::from_secs(30));

    let old = mock!(Client::encrypt)
        .sequence()
        .http_status(400, error_body("AccessDeniedException", "not authorized"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&old], |c| c
        .region(Region::new("eu-west-1")));
    let data = kms(client);
    let long_ago = now - Duration::from_secs(3600);
    let err = while_tags_settle(long_ago, denied, || data.encrypt(b"x", &context))
        .await
        .unwrap_err();
    assert!(matches!(err, KmsError::AccessDenied { .. }), "{err:?}");
    assert_eq!(old.num_calls(), 1, "a key past the lag is not retried");
}

/// An answer that is not KMS's JSON (a proxy's error page) is reported with its HTTP status,
/// not as "Unknown: " with nothing after it.
#[tokio::test]
async fn a_non_json_error_names_its_http_status() {
    let encrypt = mock!(Client::encrypt)
        .sequence()
        .http_status(503, Some("<html>Service Unavailable</html>".to_owned()))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_kms, RuleMode::Sequential, [&encrypt], |c| c
        .region(Region::new("eu-west-1"))
        .retry_config(RetryConfig::standard().with_max_attempts(1)));
    let err = kms(client)
        .encrypt(b"x", &EncryptionContext::new())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("HTTP 503"), "{message}");
    assert!(!message.contains("Unknown"), "{message}");
}
