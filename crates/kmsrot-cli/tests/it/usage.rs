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
