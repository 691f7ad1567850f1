//! The `kmsrot` binary end to end, against the local emulator that `cargo xtask test` starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_testsuite::TestEnv;

fn kmsrot(args: &[&str], stdin: Option<&[u8]>) -> Output {
    kmsrot_in(Path::new("."), args, stdin)
}

/// Runs `kmsrot` in `dir`.
fn kmsrot_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmsrot"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kmsrot runs");
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        // kmsrot may exit before reading stdin (a usage error), closing the pipe first.
        match pipe.write_all(stdin.unwrap_or_default()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run failed with `code`, and its stderr says `message`.
fn expect_failure(out: &Output, code: i32, message: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(message), "{}", stderr(out));
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kmsrot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn env() -> TestEnv {
    TestEnv::from_env().await.expect("test environment")
}

#[tokio::test]
async fn files_encrypted_before_a_rotation_decrypt_after_it() {
    let env = env().await;
    let (alias, old_key) = env
        .key_with_alias(
            "cli",
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    let plain = tmp("plain.txt");
    let sealed = tmp("sealed.bin");
    let opened = tmp("opened.txt");
    std::fs::write(&plain, b"database password").unwrap();

    let out = kmsrot(
        &[
            "encrypt",
            "--alias",
            alias.as_str(),
            "--context",
            "app=billing",
            "-i",
            path(&plain),
            "-o",
            path(&sealed),
            "--output",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["alias"], alias.as_str());
    assert_eq!(report["key_arn"], old_key.to_string());

    let new_key = env
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .await
        .unwrap();
    env.move_alias(&alias, &new_key).await.unwrap();

    let out = kmsrot(
        &[
            "decrypt",
            "--context",
            "app=billing",
            "-i",
            path(&sealed),
            "-o",
            path(&opened),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&opened).unwrap(), b"database password");

    // stdin to stdout, base64, through the moved alias: the new key encrypts.
    let out = kmsrot(
        &["encrypt", "--alias", alias.as_str(), "--base64"],
        Some(b"fresh"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out2 = kmsrot(
        &["decrypt", "--base64", "--output", "json"],
        Some(&out.stdout),
    );
    assert!(out2.status.success(), "{}", stderr(&out2));
    let report: serde_json::Value = serde_json::from_slice(&out2.stdout).unwrap();
    assert_eq!(report["key_arn"], new_key.to_string());
    assert_eq!(report["plaintext"], "ZnJlc2g=");
}

#[tokio::test]
async fn wrong_context_exits_5_and_names_the_alias_and_region() {
    let env = env().await;
    let (alias, _) = env
        .key_with_alias(
            "cli-ctx",
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    let sealed = kmsrot(
        &[
            "encrypt",
            "--alias",
            alias.as_str(),
            "-c",
            "app=billing",
            "--base64",
        ],
        Some(b"x"),
    );
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let out = kmsrot(
        &[
            "decrypt",
            "--base64",
            "-c",
            "app=other",
            "--alias",
            alias.as_str(),
        ],
        Some(&sealed.stdout),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(alias.as_str()) && err.contains(env.region()),
        "{err}"
    );
    assert!(err.contains("encryption context (app)"), "{err}");
    assert!(out.stdout.is_empty(), "nothing is written on failure");
}

#[tokio::test]
async fn bad_aliases_exit_with_documented_codes() {
    let env = env().await;
    let out = kmsrot(&["encrypt", "--alias", "alias/aws/s3"], Some(b"x"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("reserved for AWS managed keys"),
        "{}",
        stderr(&out)
    );

    let out = kmsrot(
        &["encrypt", "--alias", "1234abcd-12ab-34cd-56ef-1234567890ab"],
        Some(b"x"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("takes an alias"), "{}", stderr(&out));

    let missing = env.unique_alias("cli-missing");
    let out = kmsrot(
        &["encrypt", "--alias", missing.as_str(), "--base64"],
        Some(b"x"),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(missing.as_str()) && err.contains(env.region()),
        "{err}"
    );

    let (alias, key) = env
        .key_with_alias(
            "cli-disabled",
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    env.disable_key(&key).await.unwrap();
    let out = kmsrot(
        &["encrypt", "--alias", alias.as_str(), "--base64"],
        Some(b"x"),
    );
    expect_failure(&out, 4, "disabled");
}

#[tokio::test]
async fn describe_prints_text_and_json() {
    let env = env().await;
    let (alias, key) = env
        .key_with_alias(
            "cli-describe",
            KeySpec::EccNistP384,
            KeyUsageType::SignVerify,
        )
        .await
        .unwrap();
    let out = kmsrot(&["describe", alias.as_str()], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("key arn       {key}")), "{text}");
    assert!(text.contains("key spec      ECC_NIST_P384"), "{text}");
    assert!(text.contains("rotation      manual only"), "{text}");

    let out = kmsrot(&["describe", alias.as_str(), "--output", "json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_arn"], key.to_string());
    assert_eq!(json["key_usage"], "SIGN_VERIFY");
    assert_eq!(json["rotation"]["status"], "unsupported");
}

#[test]
fn no_region_exits_6_with_advice() {
    let out = Command::new(env!("CARGO_BIN_EXE_kmsrot"))
        .args(["describe", "alias/app"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PROFILE", "none")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("pass --region"), "{}", stderr(&out));
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    // `kmsrot describe … --output json | head -0`: the reader is gone before kmsrot writes.
    let alias = std::env::var("KMSROT_TEST_SEED_ALIAS")
        .expect("KMSROT_TEST_SEED_ALIAS is set by `cargo xtask test`");
    for format in ["json", "text"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kmsrot"))
            .args(["describe", &alias, "--output", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "--output {format}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "--output {format}: {}", stderr(&out));
    }
}

#[test]
fn decrypted_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let alias = std::env::var("KMSROT_TEST_SEED_ALIAS")
        .expect("KMSROT_TEST_SEED_ALIAS is set by `cargo xtask test`");
    let sealed = kmsrot(&["encrypt", "--alias", &alias, "--base64"], Some(b"secret"));
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let opened = tmp("private.txt");
    let _ = std::fs::remove_file(&opened);
    let out = kmsrot(
        &["decrypt", "--base64", "-o", path(&opened)],
        Some(&sealed.stdout),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(&opened).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "mode {mode:o} lets others read the plaintext"
    );
}

/// `cargo xtask emulator --seed-alias` (the README's quick start) leaves an alias ready to use;
/// `cargo xtask test` seeds one and names it in KMSROT_TEST_SEED_ALIAS.
#[test]
fn the_seeded_quick_start_alias_round_trips() {
    let alias = std::env::var("KMSROT_TEST_SEED_ALIAS")
        .expect("KMSROT_TEST_SEED_ALIAS is set by `cargo xtask test`");
    let sealed = kmsrot(&["encrypt", "--alias", &alias, "--base64"], Some(b"hello"));
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let opened = kmsrot(&["decrypt", "--base64"], Some(&sealed.stdout));
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert_eq!(opened.stdout, b"hello");
}

#[test]
fn an_unreachable_endpoint_exits_1_and_says_where() {
    // Port 9 (discard) on loopback has no listener here: the connection is refused at once.
    let out = kmsrot(
        &[
            "describe",
            "alias/app",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--max-attempts",
            "1",
        ],
        None,
    );
    expect_failure(&out, 1, "could not reach KMS in");
}

/// Logs never contain plaintext, data keys or ciphertext bodies, even at the most verbose level.
#[test]
fn the_most_verbose_logs_hold_no_plaintext_or_ciphertext() {
    let alias = std::env::var("KMSROT_TEST_SEED_ALIAS")
        .expect("KMSROT_TEST_SEED_ALIAS is set by `cargo xtask test`");
    let secret = b"correct horse battery staple";
    let sealed = kmsrot(
        &[
            "-vvv",
            "encrypt",
            "--alias",
            &alias,
            "--base64",
            "-c",
            "tenant=acme",
        ],
        Some(secret),
    );
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let ciphertext = String::from_utf8(sealed.stdout.clone()).unwrap();
    let opened = kmsrot(
        &["-vvv", "decrypt", "--base64", "-c", "tenant=acme"],
        Some(&sealed.stdout),
    );
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert_eq!(opened.stdout, secret);

    use base64::Engine as _;
    let plaintext_b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    for (run, logs) in [("encrypt", stderr(&sealed)), ("decrypt", stderr(&opened))] {
        assert!(
            logs.contains("DEBUG") || logs.contains("TRACE"),
            "{run}: -vvv logged nothing"
        );
        assert!(
            !logs.contains("correct horse"),
            "{run} logged the plaintext"
        );
        assert!(
            !logs.contains(&plaintext_b64),
            "{run} logged the plaintext as base64"
        );
        assert!(
            !logs.contains(ciphertext.trim()),
            "{run} logged the ciphertext body"
        );
        assert!(
            !logs.contains(&ciphertext.trim()[..24]),
            "{run} logged part of the ciphertext"
        );
    }
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn init_sign_rotate_verify_status_and_rollback() {
    let env = env().await;
    let alias = env.unique_alias("cli-rsa");
    let alias = alias.as_str();
    let created = json(&kmsrot(
        &[
            "init",
            alias,
            "--key-spec",
            "RSA_2048",
            "--key-usage",
            "SIGN_VERIFY",
            "--output",
            "json",
        ],
        None,
    ));
    assert_eq!(
        created["policy"]["mode"], "manual",
        "asymmetric keys default to manual"
    );
    let first = created["current"]["key_arn"].as_str().unwrap().to_owned();

    let message = tmp("message.txt");
    let signature = tmp("signature.json");
    std::fs::write(&message, b"release 1.0").unwrap();
    let out = kmsrot(
        &[
            "sign",
            "--alias",
            alias,
            "-i",
            path(&message),
            "-o",
            path(&signature),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let plan = json(&kmsrot(
        &["rotate", alias, "--dry-run", "--output", "json"],
        None,
    ));
    assert_eq!(plan["actions"][0]["action"], "rotate");
    assert!(plan["actions"][0]["new_key"].is_null());
    let done = json(&kmsrot(&["rotate", alias, "--output", "json"], None));
    let second = done["actions"][0]["new_key"].as_str().unwrap().to_owned();
    assert_ne!(second, first);

    // The signature made before the rotation names its key and still verifies.
    let out = kmsrot(
        &[
            "verify",
            "--signature",
            path(&signature),
            "-i",
            path(&message),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&first));

    let status = json(&kmsrot(&["status", alias, "--output", "json"], None));
    assert_eq!(status[0]["current"]["key_arn"], second.as_str());
    assert_eq!(status[0]["previous"]["key_arn"], first.as_str());
    assert_eq!(status[0]["previous"]["stage"], "previous");
    assert_eq!(status[0]["compliance"]["overdue"], false);
    let table = kmsrot(&["status", alias], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("ALIAS"), "{text}");
    assert!(
        text.contains("RSA_2048") && text.contains("(previous, Enabled)"),
        "{text}"
    );

    let back = json(&kmsrot(&["rollback", alias, "--output", "json"], None));
    assert_eq!(back["actions"][0]["to"], first.as_str());
    let (target, _) = env.alias_target(&alias.parse().unwrap()).await.unwrap();
    assert_eq!(target.to_string(), first);
}

#[tokio::test]
async fn the_guard_command_restores_a_current_key_scheduled_for_deletion() {
    let env = env().await;
    let alias = env.unique_alias("cli-guard");
    let created = json(&kmsrot(&["init", alias.as_str(), "--output", "json"], None));
    assert_eq!(
        created["policy"]["mode"], "automatic",
        "symmetric keys default to automatic"
    );
    let key: kmsrot_types::KeyArn = created["current"]["key_arn"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    env.schedule_deletion(&key).await.unwrap();
    let out = kmsrot(
        &[
            "guard",
            &key.to_string(),
            "--change",
            "scheduled-deletion",
            "--mode",
            "observe",
        ],
        None,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ALERT"),
        "{}",
        stderr(&out)
    );
    let verdict = json(&kmsrot(
        &[
            "guard",
            &key.to_string(),
            "--change",
            "scheduled-deletion",
            "--output",
            "json",
        ],
        None,
    ));
    assert_eq!(verdict["verdict"], "restored");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "Enabled");
}

#[tokio::test]
async fn refusals_exit_with_their_codes_and_change_nothing() {
    let env = env().await;
    // A policy out of bounds is a usage error, and nothing is created.
    let alias = env.unique_alias("cli-bounds");
    let out = kmsrot(
        &["init", alias.as_str(), "--deletion-window-days", "3"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--deletion-window-days is 3, and it must be between 7 and 30 days")
    );
    assert!(env.alias_target(&alias).await.is_err());
    // Malformed and reserved aliases.
    for bad in ["alias/aws/s3", "not-an-alias", "alias/has space"] {
        let out = kmsrot(&["rotate", bad], None);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
    }
    // An alias kmsrot does not manage is refused (exit 8), and so is rolling back without a
    // previous key.
    let (plain, key) = env
        .key_with_alias(
            "cli-plain",
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    let out = kmsrot(&["rotate", plain.as_str()], None);
    expect_failure(&out, 8, "kmsrot adopt");
    let adopted = json(&kmsrot(
        &[
            "adopt",
            plain.as_str(),
            "--mode",
            "manual",
            "--output",
            "json",
        ],
        None,
    ));
    assert_eq!(adopted["current"]["key_arn"], key.to_string().as_str());
    let out = kmsrot(&["rollback", plain.as_str()], None);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert_eq!(env.alias_target(&plain).await.unwrap().0, key);
}

#[tokio::test]
async fn sweep_reports_every_alias_and_exits_8_when_one_fails() {
    // A region of its own, so that the sweep sees only these aliases.
    const REGION: &str = "eu-west-2";
    let env = TestEnv::in_region(REGION).await.unwrap();
    let good = env.unique_alias("cli-sweep-good");
    let overdue = env.unique_alias("cli-sweep-overdue");
    let broken = env.unique_alias("cli-sweep-broken");
    for alias in [&good, &overdue, &broken] {
        let out = kmsrot(
            &[
                "--region",
                REGION,
                "init",
                alias.as_str(),
                "--mode",
                "manual",
            ],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let key = |alias: &kmsrot_types::AliasName| {
        let env = env.clone();
        let alias = alias.clone();
        async move { env.alias_target(&alias).await.unwrap().0 }
    };
    let old = key(&overdue).await;
    env.set_tags(&old, &[("kmsrot:created-at", "2020-01-01T00:00:00Z")])
        .await
        .unwrap();
    env.set_tags(&key(&broken).await, &[("kmsrot:mode", "sometimes")])
        .await
        .unwrap();

    let out = kmsrot(
        &[
            "--region",
            REGION,
            "sweep",
            "--rate",
            "100",
            "--output",
            "json",
            "--metrics",
            "cloudwatch",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    // The pinned emulator cannot read PutMetricData in the SDK's RPC v2 CBOR protocol
    // (getmoto/moto#9195; the batches are tested with mocks in kmsrot-core): here it shows
    // that a failure to publish metrics is reported and never fails the sweep.
    assert!(
        stderr(&out).contains("PutMetricData failed; these metrics are dropped"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_alias = |alias: &kmsrot_types::AliasName| {
        report["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["alias"] == alias.as_str())
            .cloned()
            .unwrap()
    };
    assert_eq!(by_alias(&good)["actions"], serde_json::json!([]));
    assert_eq!(by_alias(&overdue)["actions"][0]["action"], "rotate");
    let error = by_alias(&broken)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("unknown mode `sometimes`"), "{error}");
    assert_ne!(key(&overdue).await, old, "the overdue alias was rotated");

    let out = kmsrot(&["--region", REGION, "sweep", "--dry-run"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{good}: nothing due")), "{text}");
    assert!(text.contains(&format!("{broken}: FAILED")), "{text}");
}

#[tokio::test]
async fn event_replays_a_cloudtrail_event_through_the_lambda_handler() {
    // Events name their region; this test has one of its own.
    const REGION: &str = "us-west-2";
    let env = TestEnv::in_region(REGION).await.unwrap();
    let alias = env.unique_alias("event");
    let out = kmsrot(
        &[
            "init",
            alias.as_str(),
            "--mode",
            "manual",
            "--region",
            REGION,
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (key, _) = env.alias_target(&alias).await.unwrap();
    env.schedule_deletion(&key).await.unwrap();
    let event = kmsrot_testsuite::events::key_call(REGION, "ScheduleKeyDeletion", &key);
    let file = tmp("dlq-event.json");
    std::fs::write(&file, event.to_string()).unwrap();

    // Observe mode reports and changes nothing; the account comes from STS.
    let out = kmsrot(
        &[
            "event",
            path(&file),
            "--guard",
            "observe",
            "--region",
            REGION,
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ScheduleKeyDeletion: ALERT:"), "{text}");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "PendingDeletion");

    // Enforce (the default), from stdin, as JSON: the deletion is undone.
    let out = kmsrot(
        &["event", "-", "--region", REGION, "--output", "json"],
        Some(event.to_string().as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome = json(&out);
    assert_eq!(outcome["outcome"], "guarded");
    assert_eq!(outcome["verdict"]["verdict"], "restored");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "Enabled");

    // An event of another account, a forged one, and one that is not JSON: refused (8).
    let out = kmsrot(
        &[
            "event",
            path(&file),
            "--region",
            REGION,
            "--account",
            "111122223333",
        ],
        None,
    );
    expect_failure(
        &out,
        8,
        "from account 123456789012, but this function acts only on account 111122223333",
    );
    let mut forged = event.clone();
    forged["source"] = "com.example.attacker".into();
    let out = kmsrot(
        &["event", "-", "--region", REGION],
        Some(forged.to_string().as_bytes()),
    );
    expect_failure(&out, 8, "claims source `com.example.attacker`");
    let out = kmsrot(&["event", "-", "--region", REGION], Some(b"{not json"));
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    let out = kmsrot(
        &[
            "event",
            path(&file),
            "--region",
            REGION,
            "--account",
            "12345",
        ],
        None,
    );
    expect_failure(&out, 2, "not an AWS account ID");
    // The wrong region (the CLI's, not the event's) is refused too.
    let out = kmsrot(&["event", path(&file), "--region", "eu-west-1"], None);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
}

#[tokio::test]
async fn a_mac_made_before_a_rotation_verifies_after_it_with_its_own_key() {
    let env = env().await;
    let alias = env.unique_alias("cli-hmac");
    let alias = alias.as_str();
    let created = json(&kmsrot(
        &[
            "init",
            alias,
            "--key-spec",
            "HMAC_256",
            "--key-usage",
            "GENERATE_VERIFY_MAC",
            "--output",
            "json",
        ],
        None,
    ));
    let first = created["current"]["key_arn"].as_str().unwrap().to_owned();
    let mac = tmp("message.mac.json");
    let out = kmsrot(
        &["mac", "--alias", alias, "-o", path(&mac)],
        Some(b"webhook payload"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&mac).unwrap()).unwrap();
    assert_eq!(document["key_arn"], first.as_str());
    assert_eq!(document["mac_algorithm"], "HMAC_SHA_256");

    let done = json(&kmsrot(&["rotate", alias, "--output", "json"], None));
    assert_ne!(done["actions"][0]["new_key"].as_str().unwrap(), first);

    let out = kmsrot(
        &["verify-mac", "--mac", path(&mac)],
        Some(b"webhook payload"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("valid: made by {first}\n")
    );
    let out = kmsrot(
        &["verify-mac", "--mac", path(&mac), "--output", "json"],
        Some(b"webhook payload"),
    );
    assert_eq!(json(&out)["valid"], true);
    let out = kmsrot(
        &["verify-mac", "--mac", path(&mac)],
        Some(b"webhook payload, altered"),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[test]
fn completions_cover_every_command() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = kmsrot(&["completions", shell], None);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        for command in ["verify-mac", "rollback", "event", "completions"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    let out = kmsrot(&["completions", "tcsh"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// A source tree with keys planted in it, a look-alike, and an ignored file.
fn planted_tree(name: &str, arn: &str, id: &str) -> PathBuf {
    let root = tmp(name);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::create_dir_all(root.join("deploy")).unwrap();
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    let files = [
        (
            "app/crypto.py",
            format!(
                "import boto3\nkms = boto3.client('kms')\nkms.encrypt(KeyId='{arn}', Plaintext=b'x')\n"
            ),
        ),
        (
            "deploy/settings.env",
            format!("# settings\nDATA_KMS_KEY_ID={id}\nLOG_LEVEL=info\n"),
        ),
        (
            "app/notes.md",
            "Support ticket\n\n\nrequest 0f8fad5b-d9cb-469f-a165-70867728950e was slow\n"
                .to_owned(),
        ),
        (
            "app/clean.rs",
            "let alias = \"alias/payments\";\n".to_owned(),
        ),
        ("secret.env", format!("KMS={arn}\n")),
        (
            ".github/workflows/deploy.yml",
            format!("env:\n  KMS_KEY: {arn}\n"),
        ),
        (".gitignore", "secret.env\n".to_owned()),
    ];
    for (path, text) in files {
        std::fs::write(root.join(path), text).unwrap();
    }
    std::fs::write(root.join("app/blob.bin"), [0u8, 1, 2, 3]).unwrap();
    root
}

#[test]
fn audit_code_finds_planted_keys_and_reports_look_alikes_at_low_confidence() {
    let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let id = "9f8e7d6c-5b4a-4321-8fed-cba987654321";
    let root = planted_tree("audit-offline", arn, id);
    let out = kmsrot_in(&root, &["audit", "code", ".", "--no-lookup"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    expect_test::expect![[r#"
        ./.github/workflows/deploy.yml:2:12: [high] arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (a key ARN)
        ./app/crypto.py:3:20: [high] arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (a key ARN)
        ./app/notes.md:4:9: [low] 0f8fad5b-d9cb-469f-a165-70867728950e (a UUID with no KMS context nearby: maybe another identifier)
        ./deploy/settings.env:2:17: [high] 9f8e7d6c-5b4a-4321-8fed-cba987654321 (a key ID next to KMS context)
        3 hard-coded key reference(s), 1 low-confidence look-alike(s)
    "#]]
    .assert_eq(&String::from_utf8_lossy(&out.stdout));
    assert!(stderr(&out).contains("3 hard-coded KMS key reference(s) found"));

    let out = kmsrot_in(
        &root,
        &[
            "audit",
            "code",
            "app/notes.md",
            "--no-lookup",
            "--output",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "only a look-alike: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["high_confidence"], 0);
    assert_eq!(report["findings"][0]["confidence"], "low");
}

#[tokio::test]
async fn audit_code_names_the_managed_alias_that_should_replace_a_key() {
    let env = env().await;
    let (alias, key) = env
        .managed_alias("audited", kmsrot_types::Mode::Manual)
        .await
        .unwrap();
    let root = planted_tree("audit-lookup", &key.to_string(), key.key_id().as_str());
    let out = kmsrot_in(&root, &["audit", "code", ".", "--output", "json"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["high_confidence"], 3);
    for finding in report["findings"].as_array().unwrap() {
        if finding["confidence"] == "high" {
            assert_eq!(finding["key_arn"], key.to_string());
            assert_eq!(finding["aliases"][0]["alias"], alias.as_str());
            assert_eq!(finding["aliases"][0]["managed"], true);
        } else {
            assert!(
                finding["lookup"].as_str().unwrap().contains("no such key"),
                "{finding}"
            );
        }
    }
    let out = kmsrot_in(&root, &["audit", "code", "app"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("    name `{alias}` instead (managed by kmsrot)")),
        "{text}"
    );
}

#[tokio::test]
async fn audit_account_reports_what_is_wrong_in_the_region() {
    // The audit reads every key and alias of a region; this test has one of its own.
    const REGION: &str = "ap-northeast-2";
    let env = TestEnv::in_region(REGION).await.unwrap();
    let (overdue, overdue_key) = env
        .managed_alias("overdue", kmsrot_types::Mode::Manual)
        .await
        .unwrap();
    env.set_tags(
        &overdue_key,
        &[(kmsrot_types::tags::CREATED_AT, "2024-01-01T00:00:00Z")],
    )
    .await
    .unwrap();
    let (fine, _) = env
        .managed_alias("fine", kmsrot_types::Mode::Automatic)
        .await
        .unwrap();
    let (disabled, disabled_key) = env.plain_alias("disabled").await.unwrap();
    env.disable_key(&disabled_key).await.unwrap();
    let (doomed, doomed_key) = env.plain_alias("doomed").await.unwrap();
    env.schedule_deletion(&doomed_key).await.unwrap();
    let loose = env
        .create_key(KeySpec::SymmetricDefault, KeyUsageType::EncryptDecrypt)
        .await
        .unwrap();
    let hmac = env
        .create_key(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)
        .await
        .unwrap();

    let out = kmsrot(
        &["--region", REGION, "audit", "account", "--output", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let has = |issue: &str,
               alias: Option<&kmsrot_types::AliasName>,
               key: Option<&kmsrot_types::KeyArn>| {
        report["findings"].as_array().unwrap().iter().any(|f| {
            f["issue"] == issue
                && alias.is_none_or(|a| f["alias"] == a.as_str())
                && key.is_none_or(|k| f["key"] == k.to_string())
        })
    };
    assert!(has("overdue", Some(&overdue), None), "{report}");
    assert!(
        has("alias_names_unusable_key", Some(&disabled), None),
        "{report}"
    );
    assert!(
        has("alias_names_key_pending_deletion", Some(&doomed), None),
        "{report}"
    );
    assert!(has("unmanaged_alias", Some(&disabled), None), "{report}");
    assert!(has("rotation_disabled", None, Some(&loose)), "{report}");
    assert!(has("no_rotation", None, Some(&hmac)), "{report}");
    assert!(
        !report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["alias"] == fine.as_str()),
        "a compliant managed alias has no finding: {report}"
    );
    let out = kmsrot(&["--region", REGION, "audit", "account"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("OVERDUE: `{overdue}`'s key is")),
        "{text}"
    );
}

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
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    assert_eq!(manifest.lines().count(), 2, "{manifest}");
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
