//! The command line itself: usage errors and exit codes, a closed stdout, `describe`'s
//! output, and shell completions.

use std::process::{Command, Stdio};

use aws_sdk_kms::types::{KeySpec, KeyUsageType};

use crate::{env, expect_failure, kmsrot, stderr};

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

/// The reproduction a new user would try: a multi-Region key (`mrk-` and 32 hex digits) with
/// an alias, then `describe`, `encrypt`, `decrypt`, `adopt` and `status` on that alias.
#[tokio::test]
async fn every_command_names_a_multi_region_key() {
    let env = env().await;
    let key = env.create_key_with(|r| r.multi_region(true)).await.unwrap();
    assert!(key.key_id().is_multi_region(), "{key}");
    let alias = env.unique_alias("cli-mrk");
    env.create_alias(&alias, &key).await.unwrap();
    let key = key.to_string();
    let alias = alias.as_str();
    let out = kmsrot(&["describe", alias, "--output", "json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_arn"], key);
    let sealed = kmsrot(&["encrypt", "--alias", alias], Some(b"across Regions"));
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let opened = kmsrot(&["decrypt", "--alias", alias], Some(&sealed.stdout));
    assert!(opened.status.success(), "{}", stderr(&opened));
    assert_eq!(opened.stdout, b"across Regions");
    for args in [
        &["adopt", alias, "--mode", "manual"][..],
        &["status", alias][..],
    ] {
        let out = kmsrot(args, None);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
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
    // Only kmsrot's own message: no SDK warnings about IMDS before it.
    assert!(!stderr(&out).contains("IMDS"), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
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

/// Messages and exit codes that once misled: each command, the code it exits with, and what
/// its message says (and, where it once did, must not say).
#[tokio::test]
async fn messages_and_exit_codes_say_exactly_what_happened() {
    let env = env().await;
    let (unmanaged, _) = env.plain_alias("cli-unmanaged").await.unwrap();
    let big = std::env::temp_dir().join(format!("kmsrot-big-event-{}.json", std::process::id()));
    std::fs::write(&big, format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024))).unwrap();
    // (arguments, standard input, exit code, what stderr says, what it must not say)
    type Case<'a> = (&'a [&'a str], Option<&'a [u8]>, i32, &'a str, &'a str);
    let cases: [Case<'_>; 8] = [
        (
            &["guard", "not-a-key", "--change", "disabled"],
            None,
            2,
            "is not a key ID or key ARN",
            "ciphertext",
        ),
        (
            &[
                "guard",
                "0d15ea5e-0000-4000-8000-00000000dead",
                "--change",
                "scheduled-deletion",
            ],
            None,
            0,
            "",
            "\u{0}",
        ),
        // A rotation that never started names no rotation ID to finish.
        (
            &["rotate", unmanaged.as_str()],
            None,
            8,
            "nothing was started",
            "--rotation-id",
        ),
        // A rotation ID becomes a tag value.
        (
            &[
                "rotate",
                unmanaged.as_str(),
                "--rotation-id",
                "not a tag value!",
            ],
            None,
            2,
            "rotation ID",
            "\u{0}",
        ),
        (
            &["sweep", "--rate", "0"],
            None,
            2,
            "positive number",
            "\u{0}",
        ),
        // An alias ARN of another Region: refused before any call, naming both Regions.
        (
            &[
                "encrypt",
                "--alias",
                "arn:aws:kms:eu-west-3:123456789012:alias/app",
                "--region",
                "us-east-1",
            ],
            Some(b"payload"),
            2,
            "is in Region eu-west-3, but kmsrot is using us-east-1: pass --region eu-west-3",
            "does not exist",
        ),
        (
            &["decrypt", "--base64"],
            Some(b"!!! not base64 !!!"),
            2,
            "the --base64 input is not valid base64",
            "\u{0}",
        ),
        (
            &["event", big.to_str().unwrap(), "--account", "123456789012"],
            None,
            8,
            "an EventBridge event is at most 262144 bytes",
            "\u{0}",
        ),
    ];
    for (args, stdin, code, says, never) in cases {
        let out = kmsrot(args, stdin);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
        assert!(!text.contains(never), "{args:?}: {text}");
    }

    // Global options have a heading of their own in every command's help.
    let help = String::from_utf8(kmsrot(&["encrypt", "--help"], None).stdout).unwrap();
    let global = help.find("Global options:").expect(&help);
    assert!(help.find("--region").unwrap() > global, "{help}");
    assert!(help.find("--alias").unwrap() < global, "{help}");
}

/// A rollback run again reports that it is done; it never moves the alias forward again.
#[tokio::test]
async fn a_rollback_run_twice_says_it_is_done_and_moves_nothing() {
    let alias = {
        let env = env().await;
        env.unique_alias("cli-rollback-twice")
    };
    let alias = alias.as_str();
    let init = kmsrot(
        &[
            "init",
            alias,
            "--key-spec",
            "SYMMETRIC_DEFAULT",
            "--mode",
            "manual",
            "--output",
            "json",
        ],
        None,
    );
    assert!(init.status.success(), "{}", stderr(&init));
    let first =
        serde_json::from_slice::<serde_json::Value>(&init.stdout).unwrap()["current"]["key_arn"]
            .as_str()
            .unwrap()
            .to_owned();
    let rotated = kmsrot(&["rotate", alias], None);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let once = kmsrot(&["rollback", alias], None);
    assert!(once.status.success(), "{}", stderr(&once));
    assert!(String::from_utf8_lossy(&once.stdout).contains("rolled back from"));
    for _ in 0..2 {
        let again = kmsrot(&["rollback", alias], None);
        assert!(again.status.success(), "{}", stderr(&again));
        let text = String::from_utf8_lossy(&again.stdout);
        assert!(
            text.contains("nothing to do: already rolled back"),
            "{text}"
        );
        let described = kmsrot(&["describe", alias, "--output", "json"], None);
        let json: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
        assert_eq!(json["key_arn"], first);
    }
}

/// An alert in observe mode is not "all well": it has an exit code of its own. A key that is
/// already deleted is nothing to guard.
#[tokio::test]
async fn an_observe_mode_alert_exits_10_and_a_deleted_key_is_nothing_to_guard() {
    let env = env().await;
    let (_, key) = env
        .managed_alias("cli-observe", kmsrot_types::Mode::Manual)
        .await
        .unwrap();
    env.disable_key(&key).await.unwrap();
    let out = kmsrot(
        &[
            "guard",
            &key.to_string(),
            "--change",
            "disabled",
            "--mode",
            "observe",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ALERT"));
    let gone = kmsrot(
        &[
            "guard",
            "0d15ea5e-0000-4000-8000-00000000dead",
            "--change",
            "scheduled-deletion",
        ],
        None,
    );
    assert!(gone.status.success(), "{}", stderr(&gone));
    assert!(
        String::from_utf8_lossy(&gone.stdout).contains("already deleted: nothing to guard"),
        "{}",
        String::from_utf8_lossy(&gone.stdout)
    );
}

/// `encrypt --output json -o FILE`: the file gets the ciphertext, and the JSON leaves the
/// payload out, as the README says.
#[tokio::test]
async fn encrypt_json_with_an_output_file_leaves_the_payload_out() {
    let env = env().await;
    let (alias, key) = env.plain_alias("cli-json-out").await.unwrap();
    let file = std::env::temp_dir().join(format!("kmsrot-json-out-{}.bin", std::process::id()));
    let out = kmsrot(
        &[
            "encrypt",
            "--alias",
            alias.as_str(),
            "--output",
            "json",
            "-o",
            file.to_str().unwrap(),
        ],
        Some(b"secret"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["key_arn"], key.to_string());
    assert!(json.get("ciphertext").is_none(), "{json}");
    assert!(!std::fs::read(&file).unwrap().is_empty());
}
