//! `kmsrot s3` and `kmsrot reencrypt`: objects under an alias's key, bulk re-encryption that
//! survives interruption, Batch Operations jobs, and progress on a terminal.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_testsuite::TestEnv;

use crate::{env, expect_failure, json, kmsrot, path, stderr, tmp};

/// Puts `n` objects of 4 KiB under `key`, across four prefixes, with metadata and tags.
async fn fill_bucket(env: &TestEnv, bucket: &str, n: usize, key: &kmsrot_types::KeyArn) {
    use futures_util::StreamExt;
    let s3 = env.s3_client();
    let puts = futures_util::stream::iter(0..n)
        .map(|i| {
            let s3 = s3.clone();
            let key = key.to_string();
            let bucket = bucket.to_owned();
            async move {
                let prefix = ["a", "b", "c/d", "e"][i % 4];
                s3.put_object()
                    .bucket(bucket)
                    .key(format!("{prefix}/object-{i:04}.bin"))
                    .body(aws_sdk_s3::primitives::ByteStream::from(vec![
                        (i % 256)
                            as u8;
                        4096
                    ]))
                    .content_type("application/octet-stream")
                    .metadata("index", i.to_string())
                    .tagging(format!("index={i}"))
                    .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
                    .ssekms_key_id(key)
                    .send()
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(32);
    puts.collect::<Vec<()>>().await;
}

/// A bucket of `n` objects under an alias's old key, and the alias then moved to a new key:
/// the state after a rotation. Returns the alias, the bucket and the new key.
async fn rotated_bucket(
    env: &TestEnv,
    label: &str,
    n: usize,
    versioned: bool,
) -> (kmsrot_types::AliasName, String, kmsrot_types::KeyArn) {
    let (alias, old) = env.plain_alias(label).await.unwrap();
    let bucket = env.bucket(label, versioned).await.unwrap();
    fill_bucket(env, &bucket, n, &old).await;
    let target = env
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .await
        .unwrap();
    env.move_alias(&alias, &target).await.unwrap();
    (alias, bucket, target)
}

/// The number of versions of every object in the bucket.
async fn version_counts(env: &TestEnv, bucket: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = env
            .s3_client()
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .unwrap();
        for v in page.versions() {
            *counts.entry(v.key().unwrap().to_owned()).or_default() += 1;
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        version_marker = page.next_version_id_marker().map(str::to_owned);
    }
    counts
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Starts `kmsrot reencrypt` and stops it (with `signal`) once the checkpoint has `after`
/// more lines than `before`; returns the output.
fn interrupt_reencrypt(args: &[&str], checkpoint: &Path, after: usize, signal: &str) -> Output {
    let before = lines(checkpoint);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmsrot"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while lines(checkpoint) < before + after {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        assert!(std::time::Instant::now() < deadline, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn reencrypt_of_1000_objects_survives_ctrl_c_and_a_kill_and_moves_each_exactly_once() {
    let env = env().await;
    let (alias, bucket, target) = rotated_bucket(&env, "bulk", 1000, true).await;
    let url = format!("s3://{bucket}");
    let checkpoint = tmp("bulk.checkpoint");
    let _ = std::fs::remove_file(&checkpoint);

    // A dry run changes nothing.
    let out = kmsrot(
        &[
            "reencrypt",
            &url,
            "--alias",
            alias.as_str(),
            "--dry-run",
            "--output",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(
        (report["listed"].as_u64(), report["moved"].as_u64()),
        (Some(1000), Some(1000))
    );
    assert_eq!(report["dry_run"], true);
    assert!(
        version_counts(&env, &bucket)
            .await
            .values()
            .all(|&n| n == 1)
    );

    // Ctrl-C: the objects in flight finish, the report says what is left, exit code 130.
    let args = [
        "reencrypt",
        &url,
        "--alias",
        alias.as_str(),
        "--resume",
        path(&checkpoint),
        "--concurrency",
        "2",
        "--output",
        "json",
    ];
    let out = interrupt_reencrypt(&args, &checkpoint, 150, "-INT");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    let first = report["moved"].as_u64().unwrap();
    assert!((150..1000).contains(&first), "{report}");
    assert!(
        stderr(&out).contains("resume with --resume"),
        "{}",
        stderr(&out)
    );

    // A kill: nothing is reported, and the checkpoint holds what finished.
    let out = interrupt_reencrypt(&args, &checkpoint, 150, "-KILL");
    assert_eq!(out.status.code(), None, "killed by a signal");

    // Resumed to completion.
    let out = kmsrot(&args, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    let resumed = report["resumed"].as_u64().unwrap();
    // The checkpoint also holds its header and a blank line per reopening.
    assert!(
        resumed >= first + 140,
        "the killed run made progress: {report}"
    );
    let in_flight = report["skipped"]["already under the target key"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        resumed + report["moved"].as_u64().unwrap() + in_flight,
        1000,
        "{report}"
    );
    assert_eq!(report["failed"].as_array().unwrap().len(), 0);

    // Exactly once: every object has its original version and one copy.
    let counts = version_counts(&env, &bucket).await;
    assert_eq!(counts.len(), 1000);
    assert!(counts.values().all(|&n| n == 2), "{counts:?}");
    let keys = env
        .s3()
        .object_keys(&url.parse().unwrap(), Some(&target), 32)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| k.on_alias_key == Some(true)));
    // Metadata and tags kept (a sample: every 97th object).
    for i in (0..1000).step_by(97) {
        let key = format!("{}/object-{i:04}.bin", ["a", "b", "c/d", "e"][i % 4]);
        let head = env
            .s3_client()
            .head_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.metadata().unwrap()["index"], i.to_string());
        assert_eq!(head.content_type(), Some("application/octet-stream"));
        let tags = env
            .s3_client()
            .get_object_tagging()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(tags.tag_set()[0].value(), i.to_string());
    }

    // Run again: everything is already on the target key.
    let out = kmsrot(
        &[
            "reencrypt",
            &url,
            "--alias",
            alias.as_str(),
            "--output",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["moved"], 0);
    assert_eq!(report["skipped"]["already under the target key"], 1000);
}

#[tokio::test]
async fn s3_commands_put_get_report_keys_and_set_the_bucket_default() {
    let env = env().await;
    let (alias, key) = env.plain_alias("s3-cli").await.unwrap();
    let bucket = env.bucket("cli", false).await.unwrap();
    let object = format!("s3://{bucket}/docs/readme.txt");
    let out = kmsrot(
        &[
            "s3",
            "put",
            &object,
            "--alias",
            alias.as_str(),
            "--content-type",
            "text/plain",
        ],
        Some(b"hello"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&key.to_string()));
    let out = kmsrot(
        &["s3", "get", &object, "-o", path(&tmp("readme.txt"))],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(tmp("readme.txt")).unwrap(), b"hello");

    let out = kmsrot(
        &[
            "s3",
            "keys",
            &format!("s3://{bucket}"),
            "--alias",
            alias.as_str(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("docs/readme.txt") && text.contains(&key.to_string()),
        "{text}"
    );

    let out = kmsrot(
        &[
            "s3",
            "default-encryption",
            &format!("s3://{bucket}"),
            "--alias",
            alias.as_str(),
            "--output",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json(&out)["kms_key"],
        format!("arn:aws:kms:{}:{}:{alias}", env.region(), key.account())
    );

    // Errors: a missing bucket exits 3, a MAC key 4, a malformed location 2.
    let out = kmsrot(
        &[
            "s3",
            "put",
            "s3://kmsrot-no-such-bucket-here/x",
            "--alias",
            alias.as_str(),
        ],
        Some(b"x"),
    );
    expect_failure(&out, 3, "does not exist");
    let (hmac, _) = env
        .key_with_alias(
            "s3-cli-hmac",
            KeySpec::Hmac256,
            KeyUsageType::GenerateVerifyMac,
        )
        .await
        .unwrap();
    let out = kmsrot(
        &["s3", "put", &object, "--alias", hmac.as_str()],
        Some(b"x"),
    );
    expect_failure(&out, 4, "symmetric encryption keys");
    let out = kmsrot(
        &[
            "reencrypt",
            "bucket-without-scheme",
            "--alias",
            alias.as_str(),
        ],
        None,
    );
    expect_failure(&out, 2, "does not start with s3://");
}

#[tokio::test]
async fn reencrypt_emits_a_batch_operations_job_and_changes_nothing() {
    let env = env().await;
    let (alias, bucket, target) = rotated_bucket(&env, "batch", 8, false).await;
    // A DSSE-KMS object: UpdateObjectEncryption does not take it, so the job leaves it out.
    let other = env
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .await
        .unwrap();
    env.s3_client()
        .put_object()
        .bucket(&bucket)
        .key("a/dual-layer.bin")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"dsse"))
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKmsDsse)
        .ssekms_key_id(other.to_string())
        .send()
        .await
        .unwrap();
    let dir = tmp("batch-job");
    let _ = std::fs::remove_dir_all(&dir);
    let out = kmsrot(
        &[
            "reencrypt",
            &format!("s3://{bucket}/a/"),
            "--alias",
            alias.as_str(),
            "--emit-batch-job",
            path(&dir),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 DSSE-KMS object(s) are left out"), "{text}");
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    assert_eq!(manifest.lines().count(), 2, "{manifest}");
    assert!(!manifest.contains("dual-layer"), "{manifest}");
    assert!(
        manifest.starts_with(&format!("{bucket},a/object-0000.bin\n")),
        "{manifest}"
    );
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("job.json")).unwrap()).unwrap();
    assert_eq!(
        job["Operation"]["S3UpdateObjectEncryption"]["ObjectEncryption"]["SSEKMS"]["KMSKeyArn"],
        target.to_string()
    );
    let keys = env
        .s3()
        .object_keys(&format!("s3://{bucket}").parse().unwrap(), Some(&target), 8)
        .await
        .unwrap();
    assert!(
        keys.iter().all(|k| k.on_alias_key == Some(false)),
        "nothing moved"
    );
}

#[tokio::test]
async fn reencrypt_draws_a_progress_bar_on_a_terminal_and_plain_lines_otherwise() {
    let env = env().await;
    let (alias, bucket, _) = rotated_bucket(&env, "tty", 40, false).await;
    let checkpoint = tmp("tty.checkpoint");
    let _ = std::fs::remove_file(&checkpoint);
    // `script` runs kmsrot on a pseudo-terminal (util-linux).
    let command = format!(
        "{} reencrypt s3://{bucket}/a/ --alias {alias} --concurrency 1 --resume {}",
        env!("CARGO_BIN_EXE_kmsrot"),
        path(&checkpoint)
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("/10 objects") && text.contains("ETA"),
        "{text}"
    );
    assert!(
        !text.contains("kmsrot: 10/10 objects"),
        "no plain lines: {text}"
    );
    assert!(text.contains("objects/s, ETA"), "{text}");
    assert!(
        text.contains("re-encrypted s3://") && text.contains("10  40.0 KiB"),
        "the report follows: {text}"
    );

    // Not a terminal: plain lines on stderr, the report on stdout.
    let out = kmsrot(
        &[
            "reencrypt",
            &format!("s3://{bucket}/b/"),
            "--alias",
            alias.as_str(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kmsrot: 10/10 objects"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("ETA"), "{}", stderr(&out));
}
