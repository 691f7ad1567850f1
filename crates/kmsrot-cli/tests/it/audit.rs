//! `kmsrot audit code` (keys hard-coded in a planted source tree) and `kmsrot audit account`
//! (what is wrong in a region).

use std::path::PathBuf;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_testsuite::TestEnv;

use crate::{env, json, kmsrot, kmsrot_in, stderr, tmp};

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
