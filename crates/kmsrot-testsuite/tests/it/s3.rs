//! S3 SSE-KMS through aliases, and re-encryption of stored objects, against the emulator.

use std::collections::HashMap;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
use kmsrot_core::s3::{MethodChoice, ReencryptOptions, S3Error, skip};
use kmsrot_core::{AliasKms, KmsError};
use kmsrot_testsuite::TestEnv;
use kmsrot_types::s3::{ObjectEncryption, ReencryptMethod, S3Location};
use kmsrot_types::{AliasName, KeyArn};

use crate::{env, symmetric};

fn at(bucket: &str, key: &str) -> S3Location {
    format!("s3://{bucket}/{key}").parse().unwrap()
}

fn alias(env: &TestEnv, name: &AliasName) -> AliasKms {
    env.kms.alias(name.clone().into())
}

/// HEAD through the raw SDK.
async fn head(
    env: &TestEnv,
    bucket: &str,
    key: &str,
) -> aws_sdk_s3::operation::head_object::HeadObjectOutput {
    env.s3_client()
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
}

async fn body(env: &TestEnv, bucket: &str, key: &str) -> Vec<u8> {
    let out = env
        .s3_client()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().to_vec()
}

async fn tags(env: &TestEnv, bucket: &str, key: &str) -> HashMap<String, String> {
    let out = env
        .s3_client()
        .get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

async fn versions(env: &TestEnv, bucket: &str, key: &str) -> usize {
    let out = env
        .s3_client()
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .unwrap();
    out.versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .count()
}

#[tokio::test]
async fn objects_are_written_under_the_key_arn_the_alias_names_and_report_it() {
    let env = env().await;
    let (name, first) = env.plain_alias("s3-put").await.unwrap();
    let bucket = env.bucket("put", true).await.unwrap();
    let s3 = env.s3();
    let written = s3
        .put(
            &at(&bucket, "a.txt"),
            b"hello".to_vec(),
            Some("text/plain"),
            &alias(&env, &name),
        )
        .await
        .unwrap();
    assert_eq!(written.key_arn, first);
    assert!(written.version_id.is_some());
    // S3 was sent the key ARN, not the alias.
    assert_eq!(
        head(&env, &bucket, "a.txt").await.ssekms_key_id(),
        Some(first.to_string().as_str())
    );

    let (spec, usage) = symmetric();
    let second = env.create_key(spec, usage).await.unwrap();
    env.move_alias(&name, &second).await.unwrap();
    let written = s3
        .put(
            &at(&bucket, "b.txt"),
            b"world".to_vec(),
            None,
            &alias(&env, &name),
        )
        .await
        .unwrap();
    assert_eq!(written.key_arn, second);

    let reports = s3
        .object_keys(&at(&bucket, ""), Some(&second), 4)
        .await
        .unwrap();
    let keys: Vec<_> = reports
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.encryption.key_arn().cloned(),
                r.on_alias_key,
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("a.txt", Some(first.clone()), Some(false)),
            ("b.txt", Some(second.clone()), Some(true))
        ]
    );
    let fetched = s3.get(&at(&bucket, "a.txt")).await.unwrap();
    assert_eq!(fetched.body, b"hello");
    assert_eq!(fetched.encryption.key_arn(), Some(&first));
    assert_eq!(fetched.content_type.as_deref(), Some("text/plain"));
}

#[tokio::test]
async fn a_bucket_default_names_the_alias_arn_and_bare_names_are_warned_about() {
    let env = env().await;
    let (name, key) = env.plain_alias("s3-default").await.unwrap();
    let bucket = env.bucket("default", false).await.unwrap();
    let s3 = env.s3();
    let set = s3
        .set_bucket_default(&bucket, &alias(&env, &name), true)
        .await
        .unwrap();
    let alias_arn = format!("arn:aws:kms:{}:{}:{name}", env.region(), key.account());
    assert_eq!(set.kms_key.as_deref(), Some(alias_arn.as_str()));
    assert_eq!(set.algorithm.as_deref(), Some("aws:kms"));
    assert!(set.bucket_key);
    assert!(set.warnings.is_empty(), "{:?}", set.warnings);

    // Someone else configures the bare alias name: it resolves in each writer's account.
    env.s3_client()
        .put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(
            aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                .rules(
                    aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::AwsKms)
                                .kms_master_key_id(name.as_str())
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let report = s3
        .bucket_encryption(&bucket, Some(key.account()))
        .await
        .unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("account of whoever writes the object"));
}

#[tokio::test]
async fn unusable_keys_and_missing_buckets_are_clear_errors() {
    let env = env().await;
    let s3 = env.s3();
    let bucket = env.bucket("errors", false).await.unwrap();
    let (hmac, _) = env
        .key_with_alias("s3-hmac", KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)
        .await
        .unwrap();
    let err = s3
        .put(&at(&bucket, "x"), vec![1], None, &alias(&env, &hmac))
        .await
        .unwrap_err();
    assert!(
        matches!(err, S3Error::Kms(KmsError::WrongKeyType { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("symmetric encryption keys"),
        "{err}"
    );

    let (disabled, key) = env.plain_alias("s3-disabled").await.unwrap();
    env.disable_key(&key).await.unwrap();
    let err = s3
        .put(&at(&bucket, "x"), vec![1], None, &alias(&env, &disabled))
        .await
        .unwrap_err();
    assert!(
        matches!(err, S3Error::Kms(KmsError::Disabled { .. })),
        "{err:?}"
    );

    let (fine, _) = env.plain_alias("s3-fine").await.unwrap();
    let err = s3
        .put(
            &at("kmsrot-test-no-such-bucket-x", "x"),
            vec![1],
            None,
            &alias(&env, &fine),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::NoSuchBucket { .. }), "{err:?}");
    let err = s3
        .put(&at(&bucket, "dir/"), vec![1], None, &alias(&env, &fine))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("names no object"), "{err}");
}

/// How an object is written: an SSE algorithm and, for SSE-KMS, the key.
type Sse<'a> = Option<(&'a str, Option<&'a KeyArn>)>;

/// Puts an object with everything a copy must keep.
async fn put_rich(env: &TestEnv, bucket: &str, key: &str, data: Vec<u8>, sse: Sse<'_>) {
    let mut put = env
        .s3_client()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(data))
        .content_type("application/json")
        .cache_control("max-age=60")
        .metadata("owner", "team-a")
        .tagging("env=prod&team=a")
        .storage_class(StorageClass::StandardIa);
    if let Some((algorithm, kms)) = sse {
        put = put.server_side_encryption(algorithm.into());
        if let Some(kms) = kms {
            put = put.ssekms_key_id(kms.to_string());
        }
    }
    put.send().await.unwrap();
}

async fn assert_kept(env: &TestEnv, bucket: &str, key: &str, target: &KeyArn, data: &[u8]) {
    let h = head(env, bucket, key).await;
    assert_eq!(
        h.ssekms_key_id(),
        Some(target.to_string().as_str()),
        "{key}"
    );
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms),
        "{key}"
    );
    assert_eq!(h.content_type(), Some("application/json"), "{key}");
    assert_eq!(h.cache_control(), Some("max-age=60"), "{key}");
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("owner"))
            .map(String::as_str),
        Some("team-a"),
        "{key}"
    );
    assert_eq!(h.storage_class(), Some(&StorageClass::StandardIa), "{key}");
    let t = tags(env, bucket, key).await;
    assert_eq!(
        (t["env"].as_str(), t["team"].as_str()),
        ("prod", "a"),
        "{key}"
    );
    assert_eq!(body(env, bucket, key).await, data, "{key}");
}

#[tokio::test]
async fn reencryption_by_copy_keeps_everything_and_moves_only_what_it_should() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let old = env.create_key(spec.clone(), usage.clone()).await.unwrap();
    let third = env.create_key(spec, usage).await.unwrap();
    let (name, target) = env.plain_alias("s3-reencrypt").await.unwrap();
    let bucket = env.bucket("reencrypt", true).await.unwrap();
    let small = b"{\"a\":1}".to_vec();
    // 6 MiB, copied in two parts below.
    let large: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let objects: [(&str, &[u8], Sse); 7] = [
        ("keep/meta.json", &small, Some(("aws:kms", Some(&old)))),
        (
            "keep/with space+plus.json",
            &small,
            Some(("aws:kms", Some(&old))),
        ),
        ("keep/sse-s3.json", &small, Some(("AES256", None))),
        ("keep/none.json", &small, None),
        ("keep/third.json", &small, Some(("aws:kms", Some(&third)))),
        (
            "keep/on-target.json",
            &small,
            Some(("aws:kms", Some(&target))),
        ),
        ("big/large.bin", &large, Some(("aws:kms", Some(&old)))),
    ];
    for (key, data, sse) in objects {
        put_rich(&env, &bucket, key, data.to_vec(), sse).await;
    }
    let s3 = env.s3();
    let alias = alias(&env, &name);
    let everything = at(&bucket, "");
    let options = ReencryptOptions {
        method: MethodChoice::Copy,
        multipart_threshold: 5 * 1024 * 1024,
        part_size: 5 * 1024 * 1024,
        concurrency: 4,
        ..ReencryptOptions::default()
    };

    // A dry run reports and changes nothing.
    let etag = head(&env, &bucket, "keep/meta.json")
        .await
        .e_tag()
        .map(str::to_owned);
    let dry = ReencryptOptions {
        dry_run: true,
        ..options.clone()
    };
    let report = s3.reencrypt(&everything, &alias, &dry, &()).await.unwrap();
    assert_eq!(
        (report.listed, report.moved, report.skipped[skip::ON_TARGET]),
        (7, 6, 1),
        "{report:?}"
    );
    assert!(report.dry_run);
    assert_eq!(
        head(&env, &bucket, "keep/meta.json")
            .await
            .e_tag()
            .map(str::to_owned),
        etag
    );
    assert_eq!(versions(&env, &bucket, "keep/meta.json").await, 1);

    // Only objects under the old key.
    let only_old = ReencryptOptions {
        only_from: vec![old.clone()],
        ..options.clone()
    };
    let report = s3
        .reencrypt(&everything, &alias, &only_old, &())
        .await
        .unwrap();
    assert_eq!(report.method, ReencryptMethod::Copy);
    assert_eq!(report.moved, 3, "{report:?}");
    assert_eq!(report.moved_from[&old.to_string()], 3);
    assert_eq!(report.skipped[skip::NOT_ONLY_FROM], 3, "{report:?}");
    assert_eq!(report.skipped[skip::ON_TARGET], 1, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    for key in ["keep/meta.json", "keep/with space+plus.json"] {
        assert_kept(&env, &bucket, key, &target, &small).await;
        assert_eq!(
            versions(&env, &bucket, key).await,
            2,
            "the old version stays: {key}"
        );
    }
    assert_kept(&env, &bucket, "big/large.bin", &target, &large).await;
    assert_eq!(
        head(&env, &bucket, "keep/third.json").await.ssekms_key_id(),
        Some(third.to_string().as_str()),
        "--only-from left it alone"
    );

    // Then everything else; objects on the target are skipped.
    let report = s3
        .reencrypt(&everything, &alias, &options, &())
        .await
        .unwrap();
    assert_eq!(
        (report.moved, report.skipped[skip::ON_TARGET]),
        (3, 4),
        "{report:?}"
    );
    assert_eq!(report.moved_from["SSE-S3"], 1);
    assert_eq!(report.moved_from["none"], 1);
    for key in ["keep/sse-s3.json", "keep/none.json", "keep/third.json"] {
        assert_kept(&env, &bucket, key, &target, &small).await;
    }
    let keys = s3.object_keys(&everything, Some(&target), 8).await.unwrap();
    assert!(
        keys.iter().all(|k| k.on_alias_key == Some(true)),
        "{keys:?}"
    );
}

#[tokio::test]
async fn reencryption_by_update_object_encryption_moves_no_data() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let old = env.create_key(spec, usage).await.unwrap();
    let (name, target) = env.plain_alias("s3-update").await.unwrap();
    let bucket = env.bucket("update", true).await.unwrap();
    put_rich(
        &env,
        &bucket,
        "a.json",
        b"{}".to_vec(),
        Some(("aws:kms", Some(&old))),
    )
    .await;
    let etag = head(&env, &bucket, "a.json")
        .await
        .e_tag()
        .map(str::to_owned);
    let options = ReencryptOptions {
        method: MethodChoice::Update,
        ..ReencryptOptions::default()
    };
    let report = env
        .s3()
        .reencrypt(&at(&bucket, ""), &alias(&env, &name), &options, &())
        .await
        .unwrap();
    assert_eq!(
        (report.method, report.moved),
        (ReencryptMethod::Update, 1),
        "{report:?}"
    );
    assert_kept(&env, &bucket, "a.json", &target, b"{}").await;
    assert_eq!(
        head(&env, &bucket, "a.json")
            .await
            .e_tag()
            .map(str::to_owned),
        etag
    );
    assert_eq!(
        versions(&env, &bucket, "a.json").await,
        1,
        "no new version: no data moved"
    );
    let fetched = env.s3().get(&at(&bucket, "a.json")).await.unwrap();
    assert!(matches!(
        fetched.encryption,
        ObjectEncryption::SseKms { .. }
    ));
}

#[tokio::test]
async fn a_checkpoint_records_only_objects_that_are_done() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let old = env.create_key(spec.clone(), usage.clone()).await.unwrap();
    let other = env.create_key(spec, usage).await.unwrap();
    let (name, target) = env.plain_alias("s3-checkpoint").await.unwrap();
    let bucket = env.bucket("checkpoint", false).await.unwrap();
    put_rich(
        &env,
        &bucket,
        "old.json",
        b"1".to_vec(),
        Some(("aws:kms", Some(&old))),
    )
    .await;
    put_rich(
        &env,
        &bucket,
        "other.json",
        b"2".to_vec(),
        Some(("aws:kms", Some(&other))),
    )
    .await;
    let checkpoint =
        std::env::temp_dir().join(format!("kmsrot-it-{}.checkpoint", std::process::id()));
    let _ = std::fs::remove_file(&checkpoint);
    let options = ReencryptOptions {
        method: MethodChoice::Copy,
        checkpoint: Some(checkpoint.clone()),
        only_from: vec![old.clone()],
        ..ReencryptOptions::default()
    };
    let s3 = env.s3();
    let report = s3
        .reencrypt(&at(&bucket, ""), &alias(&env, &name), &options, &())
        .await
        .unwrap();
    assert_eq!(
        (report.moved, report.skipped[skip::NOT_ONLY_FROM]),
        (1, 1),
        "{report:?}"
    );
    // Without --only-from, the same checkpoint: the skipped object moves now.
    let all = ReencryptOptions {
        only_from: vec![],
        ..options
    };
    let report = s3
        .reencrypt(&at(&bucket, ""), &alias(&env, &name), &all, &())
        .await
        .unwrap();
    assert_eq!((report.resumed, report.moved), (1, 1), "{report:?}");
    assert_kept(&env, &bucket, "other.json", &target, b"2").await;
    let _ = std::fs::remove_file(&checkpoint);
}

#[tokio::test]
async fn a_dsse_kms_object_moves_to_the_target_key_and_stays_dual_layer() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let old = env.create_key(spec, usage).await.unwrap();
    let (name, target) = env.plain_alias("s3-dsse").await.unwrap();
    let bucket = env.bucket("dsse", true).await.unwrap();
    let data = b"{\"layers\":2}".to_vec();
    put_rich(
        &env,
        &bucket,
        "dual.json",
        data.clone(),
        Some(("aws:kms:dsse", Some(&old))),
    )
    .await;
    put_rich(
        &env,
        &bucket,
        "on-target.json",
        data.clone(),
        Some(("aws:kms:dsse", Some(&target))),
    )
    .await;
    let s3 = env.s3();
    let alias = alias(&env, &name);
    // Even with --method update: UpdateObjectEncryption does not take DSSE-KMS objects, so
    // they are copied.
    let options = ReencryptOptions {
        method: MethodChoice::Update,
        ..ReencryptOptions::default()
    };
    let report = s3
        .reencrypt(&at(&bucket, ""), &alias, &options, &())
        .await
        .unwrap();
    assert_eq!(
        (report.moved, report.skipped[skip::ON_TARGET]),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(
        report.moved_from[&format!("DSSE-KMS {old}")],
        1,
        "{report:?}"
    );
    assert!(report.failed.is_empty(), "{report:?}");

    let h = head(&env, &bucket, "dual.json").await;
    assert_eq!(
        h.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKmsDsse),
        "still dual-layer"
    );
    assert_eq!(h.ssekms_key_id(), Some(target.to_string().as_str()));
    assert_ne!(
        h.bucket_key_enabled(),
        Some(true),
        "no S3 Bucket Key with DSSE-KMS"
    );
    assert_eq!(h.content_type(), Some("application/json"));
    assert_eq!(h.cache_control(), Some("max-age=60"));
    assert_eq!(
        h.metadata()
            .and_then(|m| m.get("owner"))
            .map(String::as_str),
        Some("team-a")
    );
    assert_eq!(h.storage_class(), Some(&StorageClass::StandardIa));
    let t = tags(&env, &bucket, "dual.json").await;
    assert_eq!((t["env"].as_str(), t["team"].as_str()), ("prod", "a"));
    assert_eq!(body(&env, &bucket, "dual.json").await, data);
    assert_eq!(
        versions(&env, &bucket, "dual.json").await,
        2,
        "copied: a new version, and the old one stays"
    );

    // Both are on the target key now, and kmsrot sees it.
    let report = s3
        .reencrypt(&at(&bucket, ""), &alias, &ReencryptOptions::default(), &())
        .await
        .unwrap();
    assert_eq!(
        (report.moved, report.skipped[skip::ON_TARGET]),
        (0, 2),
        "{report:?}"
    );
    let keys = s3
        .object_keys(&at(&bucket, ""), Some(&target), 4)
        .await
        .unwrap();
    assert!(
        keys.iter().all(|k| k.on_alias_key == Some(true)
            && matches!(k.encryption, ObjectEncryption::DsseKms { .. })),
        "{keys:?}"
    );
}

#[tokio::test]
async fn an_object_moved_from_sse_s3_takes_the_bucket_defaults_bucket_key_setting() {
    let env = env().await;
    let (spec, usage) = symmetric();
    let old = env.create_key(spec, usage).await.unwrap();
    let (name, target) = env.plain_alias("s3-bucket-key").await.unwrap();
    let alias = alias(&env, &name);
    let s3 = env.s3();
    for default in [true, false] {
        for method in [MethodChoice::Copy, MethodChoice::Update] {
            let bucket = env.bucket("bucket-key", false).await.unwrap();
            s3.set_bucket_default(&bucket, &alias, default)
                .await
                .unwrap();
            put_rich(
                &env,
                &bucket,
                "sse-s3.json",
                b"1".to_vec(),
                Some(("AES256", None)),
            )
            .await;
            // An SSE-KMS object whose own setting differs from the default keeps it.
            env.s3_client()
                .put_object()
                .bucket(&bucket)
                .key("sse-kms.json")
                .body(ByteStream::from_static(b"2"))
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(old.to_string())
                .bucket_key_enabled(!default)
                .send()
                .await
                .unwrap();
            let options = ReencryptOptions {
                method,
                ..ReencryptOptions::default()
            };
            let report = s3
                .reencrypt(&at(&bucket, ""), &alias, &options, &())
                .await
                .unwrap();
            let case = format!("default {default}, {method:?}: {report:?}");
            assert_eq!((report.moved, report.failed.len()), (2, 0), "{case}");
            assert_eq!(report.moved_from["SSE-S3"], 1, "{case}");

            let moved = head(&env, &bucket, "sse-s3.json").await;
            assert_eq!(
                moved.ssekms_key_id(),
                Some(target.to_string().as_str()),
                "{case}"
            );
            assert_eq!(
                moved.server_side_encryption(),
                Some(&ServerSideEncryption::AwsKms),
                "{case}"
            );
            assert_eq!(
                moved.bucket_key_enabled().unwrap_or(false),
                default,
                "the bucket default's setting: {case}"
            );
            let kept = head(&env, &bucket, "sse-kms.json").await;
            assert_eq!(
                kept.ssekms_key_id(),
                Some(target.to_string().as_str()),
                "{case}"
            );
            assert_eq!(
                kept.bucket_key_enabled().unwrap_or(false),
                !default,
                "the object's own setting: {case}"
            );
        }
    }
}

/// `no_head`: one request per object (a copy conditional on the listed ETag, S3 copying
/// metadata and tags), counted by an interceptor on the client; objects already on the target
/// move again; an object written after the listing is read first, never overwritten with older
/// data; `only_from` is refused.
#[tokio::test]
async fn a_pass_without_head_moves_each_object_with_one_request() {
    use kmsrot_testsuite::FaultInjector;

    let env = env().await;
    let (spec, usage) = symmetric();
    let old = env.create_key(spec, usage).await.unwrap();
    let (name, target) = env.plain_alias("s3-no-head").await.unwrap();
    let bucket = env.bucket("no-head", true).await.unwrap();
    let small = b"{\"a\":1}".to_vec();
    let keys = [
        "one.json",
        "two.json",
        "three.json",
        "sse-s3.json",
        "on-target.json",
    ];
    for key in keys {
        let sse: Sse = match key {
            "sse-s3.json" => Some(("AES256", None)),
            "on-target.json" => Some(("aws:kms", Some(&target))),
            _ => Some(("aws:kms", Some(&old))),
        };
        put_rich(&env, &bucket, key, small.clone(), sse).await;
    }
    let requests = FaultInjector::default();
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&env.config)
            .interceptor(requests.clone())
            .build(),
    );
    let s3 = kmsrot_core::s3::S3::from_client(client, env.region(), false);
    let alias = alias(&env, &name);
    let options = ReencryptOptions {
        method: MethodChoice::Copy,
        no_head: true,
        ..ReencryptOptions::default()
    };
    let refused = s3
        .reencrypt(
            &at(&bucket, ""),
            &alias,
            &ReencryptOptions {
                only_from: vec![old.clone()],
                ..options.clone()
            },
            &(),
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("--only-from"), "{refused}");
    requests.reset();
    let report = s3
        .reencrypt(&at(&bucket, ""), &alias, &options, &())
        .await
        .unwrap();
    assert_eq!(report.moved, 5, "{report:?}");
    assert_eq!(report.moved_from["not read (--no-head)"], 5);
    let calls = requests.calls();
    let copies = calls.iter().filter(|c| *c == "CopyObject").count();
    assert_eq!(copies, 5, "{calls:?}");
    assert!(!calls.iter().any(|c| c == "HeadObject"), "{calls:?}");
    // Beside the copies: the bucket default and one listing page.
    assert_eq!(calls.len(), 5 + 2, "{calls:?}");
    for key in keys {
        assert_kept(&env, &bucket, key, &target, &small).await;
    }

    // An object written after the listing: the listed ETag no longer matches, so the copy is
    // refused, and the object is read and moved as it is now.
    struct Overwrite {
        env: TestEnv,
        bucket: String,
        old: KeyArn,
        newer: Vec<u8>,
    }
    impl kmsrot_core::s3::Progress for Overwrite {
        fn listed(&self, _objects: u64, _bytes: u64) {
            let (env, bucket, old, newer) = (
                self.env.clone(),
                self.bucket.clone(),
                self.old.clone(),
                self.newer.clone(),
            );
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(put_rich(
                        &env,
                        &bucket,
                        "one.json",
                        newer,
                        Some(("aws:kms", Some(&old))),
                    ));
            })
            .join()
            .unwrap();
        }
    }
    let newer = b"{\"a\":2}".to_vec();
    let overwrite = Overwrite {
        env: env.clone(),
        bucket: bucket.clone(),
        old: old.clone(),
        newer: newer.clone(),
    };
    requests.reset();
    let report = s3
        .reencrypt(&at(&bucket, "one"), &alias, &options, &overwrite)
        .await
        .unwrap();
    assert_eq!(report.moved, 1, "{report:?}");
    assert_eq!(report.moved_from[&old.to_string()], 1, "{report:?}");
    assert!(requests.calls().iter().any(|c| c == "HeadObject"));
    assert_kept(&env, &bucket, "one.json", &target, &newer).await;
}

/// Multipart uploads still open in a bucket.
async fn open_uploads(env: &TestEnv, bucket: &str) -> usize {
    env.s3_client()
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .uploads()
        .len()
}

/// Writes `data` through an object writer on a blocking thread, as the envelope streams do.
async fn write_object(
    env: &TestEnv,
    bucket: &str,
    key: &str,
    data: Vec<u8>,
) -> Result<kmsrot_core::s3::Uploaded, S3Error> {
    use std::io::Write;
    let (mut writer, upload) = env.s3().object_writer(&at(bucket, key))?;
    let writer = tokio::task::spawn_blocking(move || {
        // Odd-sized writes, so that parts fill across them.
        for chunk in data.chunks(1_000_003) {
            writer.write_all(chunk).unwrap();
        }
        writer
    })
    .await
    .unwrap();
    upload.complete(writer).await
}

/// Objects as blocking streams: a writer makes an object of several parts only when completed
/// (one PutObject under a part), a reader reads it back as it arrives; a writer dropped or
/// failed leaves neither an object nor an open upload, and says S3's own error.
#[tokio::test]
async fn objects_stream_in_parts_and_appear_only_when_complete() {
    use kmsrot_core::s3::PART_SIZE;
    use std::io::{Read, Write};

    let env = env().await;
    let bucket = env.bucket("stream", false).await.unwrap();
    let data: Vec<u8> = (0..2 * PART_SIZE + 12_345)
        .map(|i| (i % 251) as u8)
        .collect();
    let uploaded = write_object(&env, &bucket, "big.bin", data.clone())
        .await
        .unwrap();
    assert_eq!((uploaded.parts, uploaded.bytes), (3, data.len() as u64));
    assert_eq!(body(&env, &bucket, "big.bin").await, data);
    assert_eq!(open_uploads(&env, &bucket).await, 0);

    let reader = env
        .s3()
        .object_reader(&at(&bucket, "big.bin"))
        .await
        .unwrap();
    assert_eq!(reader.len(), Some(data.len() as u64));
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = reader;
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        read
    })
    .await
    .unwrap();
    assert!(read == data, "the object read back differs");

    for (key, len) in [
        ("small.bin", 10_000),
        ("empty.bin", 0),
        ("part.bin", PART_SIZE),
    ] {
        let data = data[..len].to_vec();
        let uploaded = write_object(&env, &bucket, key, data.clone())
            .await
            .unwrap();
        assert_eq!(uploaded.bytes, len as u64, "{key}");
        assert_eq!(body(&env, &bucket, key).await, data, "{key}");
    }

    // Abandoned once parts went up: the upload is aborted, and no object appears. The third
    // part is taken only after the first was handled, so the upload has started by then.
    let (mut writer, upload) = env.s3().object_writer(&at(&bucket, "dropped.bin")).unwrap();
    let parts = data[..2 * PART_SIZE].repeat(2);
    let writer = tokio::task::spawn_blocking(move || {
        writer.write_all(&parts[..3 * PART_SIZE + 1]).unwrap();
        writer
    })
    .await
    .unwrap();
    assert_eq!(open_uploads(&env, &bucket).await, 1);
    drop(writer);
    assert!(upload.abort().await.is_none());
    assert_eq!(open_uploads(&env, &bucket).await, 0);
    let missing = env
        .s3_client()
        .head_object()
        .bucket(&bucket)
        .key("dropped.bin")
        .send()
        .await;
    assert!(missing.is_err(), "an abandoned upload left an object");

    // An upload S3 refuses says why, whether the writer was completed or abandoned.
    for complete in [true, false] {
        let err = if complete {
            write_object(&env, "kmsrot-no-such-bucket-here", "x.bin", data.clone())
                .await
                .unwrap_err()
        } else {
            let (mut writer, upload) = env
                .s3()
                .object_writer(&at("kmsrot-no-such-bucket-here", "x.bin"))
                .unwrap();
            let part = data[..PART_SIZE].to_vec();
            tokio::task::spawn_blocking(move || {
                // The first part is taken before the upload starts, so the write succeeds.
                writer.write_all(&part).unwrap();
                // Later writes fail once the upload has stopped.
                while writer.write_all(&[0; 4096]).is_ok() {}
            })
            .await
            .unwrap();
            upload.abort().await.expect("the upload's own error")
        };
        assert!(matches!(err, S3Error::NoSuchBucket { .. }), "{err}");
    }

    // A missing object is an error when opened, before any read.
    let err = env
        .s3()
        .object_reader(&at(&bucket, "absent.bin"))
        .await
        .unwrap_err();
    assert!(matches!(err, S3Error::NoSuchKey { .. }), "{err}");
    let err = env.s3().object_writer(&at(&bucket, "folder/")).unwrap_err();
    assert!(err.to_string().contains("names no object"), "{err}");
}
