//! What the local emulator cannot show about S3: an AWS endpoint that does not implement
//! `UpdateObjectEncryption`, and what kmsrot sends AWS's own endpoint, tested through
//! `aws-smithy-mocks` with the real SDK.

use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::types::{
    KeyManagerType, KeyMetadata, KeySpec, KeyState, KeyUsageType, OriginType,
};
use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::update_object_encryption::UpdateObjectEncryptionOutput;
use aws_sdk_s3::types::{
    Object, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use kmsrot_core::s3::{MethodChoice, ReencryptOptions, S3, S3Error};
use kmsrot_core::{AliasKms, Kms};
use kmsrot_types::s3::ReencryptMethod;

const NEW: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OLD: &str = "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab";

fn alias() -> AliasKms {
    let describe = mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        DescribeKeyOutput::builder()
            .key_metadata(
                KeyMetadata::builder()
                    .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
                    .arn(NEW)
                    .key_state(KeyState::Enabled)
                    .key_spec(KeySpec::SymmetricDefault)
                    .key_usage(KeyUsageType::EncryptDecrypt)
                    .origin(OriginType::AwsKms)
                    .key_manager(KeyManagerType::Customer)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status).then_output(|| {
        GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(false)
            .build()
    });
    let client = mock_client!(
        aws_sdk_kms,
        RuleMode::MatchAny,
        [&describe, &rotation],
        |c| c.region(aws_sdk_kms::config::Region::new("eu-west-1"))
    );
    Kms::from_client(client).alias("alias/data".parse().unwrap())
}

/// ListObjectsV2 answering these keys, 4 bytes each.
fn listing(keys: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_s3::Client::list_objects_v2).then_output(move || {
        keys.iter()
            .fold(ListObjectsV2Output::builder(), |out, key| {
                out.contents(Object::builder().key(*key).size(4).build())
            })
            .is_truncated(false)
            .build()
    })
}

/// GetBucketEncryption: SSE-KMS under the alias by default, with S3 Bucket Keys as given.
fn bucket_default(bucket_key: bool) -> Rule {
    mock!(aws_sdk_s3::Client::get_bucket_encryption).then_output(move || {
        GetBucketEncryptionOutput::builder()
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(ServerSideEncryption::AwsKms)
                                    .kms_master_key_id(
                                        "arn:aws:kms:eu-west-1:111122223333:alias/data",
                                    )
                                    .build()
                                    .unwrap(),
                            )
                            .bucket_key_enabled(bucket_key)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

/// HEAD of a 4-byte object under the old key.
fn under_old_key() -> HeadObjectOutput {
    HeadObjectOutput::builder()
        .content_length(4)
        .e_tag("\"etag\"")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(OLD)
        .build()
}

/// An S3 error response.
fn s3_error(status: u16, code: &str, message: &str) -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(format!(
            "<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        )),
    )
}

/// Two objects under the old key; `UpdateObjectEncryption` answers `update`.
fn bucket(update: Rule) -> (S3, [Rule; 3]) {
    let list = listing(&["a", "b"]);
    let default = bucket_default(false);
    let head = mock!(aws_sdk_s3::Client::head_object).then_output(under_old_key);
    let copy = mock!(aws_sdk_s3::Client::copy_object)
        .match_requests(|r| {
            r.ssekms_key_id() == Some(NEW) && r.copy_source_if_match() == Some("\"etag\"")
        })
        .then_output(|| CopyObjectOutput::builder().ssekms_key_id(NEW).build());
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&list, &head, &copy, &update, &default],
        |c| c
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    );
    (
        S3::from_client(client, "eu-west-1", true),
        [list, head, copy],
    )
}

fn not_implemented() -> Rule {
    mock!(aws_sdk_s3::Client::update_object_encryption).then_http_response(|| {
        s3_error(
            501,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
        )
    })
}

#[tokio::test]
async fn on_aws_update_object_encryption_is_used_and_nothing_is_copied() {
    let update = mock!(aws_sdk_s3::Client::update_object_encryption)
        .match_requests(|r| {
            matches!(
                r.object_encryption(),
                Some(aws_sdk_s3::types::ObjectEncryption::Ssekms(e)) if e.kms_key_arn() == NEW
            )
        })
        .then_output(|| UpdateObjectEncryptionOutput::builder().build());
    let (s3, [_, _, copy]) = bucket(update.clone());
    let report = s3
        .reencrypt(
            &"s3://data".parse().unwrap(),
            &alias(),
            &ReencryptOptions::default(),
            &(),
        )
        .await
        .unwrap();
    assert_eq!(report.method, ReencryptMethod::Update);
    assert_eq!((report.moved, report.failed.len()), (2, 0), "{report:?}");
    assert_eq!(update.num_calls(), 2);
    assert_eq!(copy.num_calls(), 0);
}

#[tokio::test]
async fn an_endpoint_without_update_object_encryption_falls_back_to_copying() {
    let update = not_implemented();
    let (s3, [_, _, copy]) = bucket(update.clone());
    let options = ReencryptOptions {
        concurrency: 1,
        ..ReencryptOptions::default()
    };
    let report = s3
        .reencrypt(&"s3://data".parse().unwrap(), &alias(), &options, &())
        .await
        .unwrap();
    assert_eq!(report.method, ReencryptMethod::Copy);
    assert_eq!((report.moved, report.failed.len()), (2, 0), "{report:?}");
    assert_eq!(update.num_calls(), 1, "asked once, then copied");
    assert_eq!(copy.num_calls(), 2);
    assert_eq!(report.moved_from[OLD], 2);
}

#[tokio::test]
async fn method_update_on_an_endpoint_without_it_stops_and_says_so() {
    let update = not_implemented();
    let (s3, [_, _, copy]) = bucket(update.clone());
    let options = ReencryptOptions {
        concurrency: 1,
        method: MethodChoice::Update,
        ..ReencryptOptions::default()
    };
    let err = s3
        .reencrypt(&"s3://data".parse().unwrap(), &alias(), &options, &())
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::UpdateUnsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("--method copy"), "{err}");
    assert_eq!(update.num_calls(), 1, "no second object was started");
    assert_eq!(copy.num_calls(), 0);
}

#[tokio::test]
async fn an_endpoint_that_takes_the_update_for_a_write_stops_the_run() {
    let list = listing(&["a", "b"]);
    // Read, then (after the "update") read again with other data: what moto did unpatched.
    let head = mock!(aws_sdk_s3::Client::head_object)
        .sequence()
        .output(under_old_key)
        .output(|| {
            HeadObjectOutput::builder()
                .content_length(180)
                .e_tag("\"other\"")
                .build()
        })
        .build();
    let update = mock!(aws_sdk_s3::Client::update_object_encryption)
        .then_output(|| UpdateObjectEncryptionOutput::builder().build());
    let default = bucket_default(false);
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&list, &head, &update, &default],
        |c| c
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    );
    // Not AWS's endpoint, and --method update.
    let s3 = S3::from_client(client, "eu-west-1", false);
    let options = ReencryptOptions {
        concurrency: 1,
        method: MethodChoice::Update,
        ..ReencryptOptions::default()
    };
    let err = s3
        .reencrypt(&"s3://data".parse().unwrap(), &alias(), &options, &())
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::UpdateUnsupported { .. }), "{err:?}");
    assert_eq!(update.num_calls(), 1, "the second object was never touched");
}

#[tokio::test]
async fn throttling_past_the_retries_stops_starting_objects() {
    let list = listing(&["a", "b", "c"]);
    let head = mock!(aws_sdk_s3::Client::head_object).then_output(under_old_key);
    let copy = mock!(aws_sdk_s3::Client::copy_object)
        .then_http_response(|| s3_error(503, "SlowDown", "Please reduce your request rate."));
    let default = bucket_default(false);
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&list, &head, &copy, &default],
        |c| c
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .retry_config(
                aws_sdk_s3::config::retry::RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(std::time::Duration::from_millis(1))
            )
    );
    let s3 = S3::from_client(client, "eu-west-1", false);
    let options = ReencryptOptions {
        concurrency: 1,
        ..ReencryptOptions::default()
    };
    let report = s3
        .reencrypt(&"s3://data".parse().unwrap(), &alias(), &options, &())
        .await
        .unwrap();
    assert!(report.throttled && report.interrupted, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].reason.contains("throttled"), "{report:?}");
    assert_eq!(report.pending(), 2);
    assert_eq!(
        copy.num_calls(),
        2,
        "one object, retried once, then no more"
    );
}

#[tokio::test]
async fn on_aws_bucket_keys_follow_the_default_from_sse_s3_and_dsse_kms_objects_are_copied() {
    let list = listing(&["sse-s3", "sse-kms", "dsse"]);
    fn head(key: &'static str, out: fn() -> HeadObjectOutput) -> Rule {
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(move |r| r.key() == Some(key))
            .then_output(out)
    }
    let sse_s3 = head("sse-s3", || {
        HeadObjectOutput::builder()
            .content_length(4)
            .e_tag("\"etag\"")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .build()
    });
    let sse_kms = head("sse-kms", || {
        HeadObjectOutput::builder()
            .content_length(4)
            .e_tag("\"etag\"")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(OLD)
            .bucket_key_enabled(false)
            .build()
    });
    let dsse = head("dsse", || {
        HeadObjectOutput::builder()
            .content_length(4)
            .e_tag("\"etag\"")
            .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
            .ssekms_key_id(OLD)
            .build()
    });
    // Only the requests below are answered: anything else fails the test.
    fn update(key: &'static str, bucket_key: bool) -> Rule {
        mock!(aws_sdk_s3::Client::update_object_encryption)
            .match_requests(move |r| {
                r.key() == Some(key)
                    && matches!(
                        r.object_encryption(),
                        Some(aws_sdk_s3::types::ObjectEncryption::Ssekms(e))
                            if e.kms_key_arn() == NEW && e.bucket_key_enabled() == Some(bucket_key)
                    )
            })
            .then_output(|| UpdateObjectEncryptionOutput::builder().build())
    }
    // From SSE-S3: the bucket default's setting (on), which UpdateObjectEncryption would
    // otherwise take as off.
    let from_sse_s3 = update("sse-s3", true);
    // From SSE-KMS: the object's own setting (off).
    let from_sse_kms = update("sse-kms", false);
    let copy = mock!(aws_sdk_s3::Client::copy_object)
        .match_requests(|r| {
            r.key() == Some("dsse")
                && r.server_side_encryption() == Some(&ServerSideEncryption::AwsKmsDsse)
                && r.ssekms_key_id() == Some(NEW)
                && r.bucket_key_enabled().is_none()
                && r.copy_source_if_match() == Some("\"etag\"")
        })
        .then_output(|| CopyObjectOutput::builder().ssekms_key_id(NEW).build());
    let default = bucket_default(true);
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [
            &list,
            &sse_s3,
            &sse_kms,
            &dsse,
            &from_sse_s3,
            &from_sse_kms,
            &copy,
            &default
        ],
        |c| c
            .region(aws_sdk_s3::config::Region::new("eu-west-1"))
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    );
    let s3 = S3::from_client(client, "eu-west-1", true);
    let report = s3
        .reencrypt(
            &"s3://data".parse().unwrap(),
            &alias(),
            &ReencryptOptions::default(),
            &(),
        )
        .await
        .unwrap();
    assert_eq!((report.moved, report.failed.len()), (3, 0), "{report:?}");
    assert_eq!(report.method, ReencryptMethod::Update);
    assert_eq!(report.moved_from[&format!("DSSE-KMS {OLD}")], 1);
    assert_eq!(
        (
            from_sse_s3.num_calls(),
            from_sse_kms.num_calls(),
            copy.num_calls()
        ),
        (1, 1, 1)
    );
}
