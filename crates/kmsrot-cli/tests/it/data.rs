//! The data plane: encrypt and decrypt across a rotation, a wrong encryption context,
//! private plaintext files, logs that hold no secrets, and MACs that verify after a rotation.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};

use crate::{env, json, kmsrot, path, stderr, tmp};

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
        &["verify-mac", "--mac", path(&mac), "--alias", alias],
        Some(b"webhook payload"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("valid: made by {first}\n")
    );
    let out = kmsrot(
        &[
            "verify-mac",
            "--mac",
            path(&mac),
            "--key",
            &first,
            "--output",
            "json",
        ],
        Some(b"webhook payload"),
    );
    assert_eq!(json(&out)["valid"], true);
    assert_eq!(json(&out)["signer_checked"], true);
    let out = kmsrot(
        &["verify-mac", "--mac", path(&mac), "--alias", alias],
        Some(b"webhook payload, altered"),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}
