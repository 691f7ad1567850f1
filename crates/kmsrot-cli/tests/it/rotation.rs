//! Aliases under a rotation policy: `init`, `adopt`, `rotate`, `status`, `rollback` and
//! `sweep`, and the refusals that change nothing.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_testsuite::TestEnv;

use crate::{env, expect_failure, json, kmsrot, path, stderr, tmp};

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
            "--alias",
            alias,
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

/// `kmsrot init` with every key spec KMS offers and no `--key-usage` creates a key of that spec
/// with the usage KMS allows for it (issue 13: ML_DSA_65 used to be asked for ENCRYPT_DECRYPT),
/// under manual rotation unless KMS can rotate it itself; usages KMS does not offer for a spec,
/// and key agreement, are refused with the reason, and create nothing.
#[tokio::test]
async fn init_with_every_key_spec_and_no_usage_creates_the_right_key() {
    let env = env().await;
    let expected = [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "automatic"),
        ("RSA_2048", "ENCRYPT_DECRYPT", "manual"),
        ("RSA_3072", "ENCRYPT_DECRYPT", "manual"),
        ("RSA_4096", "ENCRYPT_DECRYPT", "manual"),
        ("ECC_NIST_P256", "SIGN_VERIFY", "manual"),
        ("ECC_NIST_P384", "SIGN_VERIFY", "manual"),
        ("ECC_NIST_P521", "SIGN_VERIFY", "manual"),
        ("ECC_SECG_P256K1", "SIGN_VERIFY", "manual"),
        ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY", "manual"),
        ("ML_DSA_44", "SIGN_VERIFY", "manual"),
        ("ML_DSA_65", "SIGN_VERIFY", "manual"),
        ("ML_DSA_87", "SIGN_VERIFY", "manual"),
        ("SM2", "ENCRYPT_DECRYPT", "manual"),
        ("HMAC_224", "GENERATE_VERIFY_MAC", "manual"),
        ("HMAC_256", "GENERATE_VERIFY_MAC", "manual"),
        ("HMAC_384", "GENERATE_VERIFY_MAC", "manual"),
        ("HMAC_512", "GENERATE_VERIFY_MAC", "manual"),
    ];
    let offered: Vec<&str> = kmsrot_types::key_kind::SPECS
        .iter()
        .map(|s| s.spec)
        .collect();
    let listed: Vec<&str> = expected.iter().map(|(spec, ..)| *spec).collect();
    assert_eq!(listed, offered, "one row per spec KMS offers");
    for (spec, usage, mode) in expected {
        let alias = env.unique_alias(&format!("cli-{}", spec.to_lowercase().replace('_', "-")));
        let out = kmsrot(
            &[
                "init",
                alias.as_str(),
                "--key-spec",
                spec,
                "--output",
                "json",
            ],
            None,
        );
        let created = json(&out);
        assert_eq!(created["policy"]["mode"], mode, "{spec}");
        let key = created["current"]["key_arn"].as_str().unwrap();
        let metadata = env
            .client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(metadata.key_spec().map(|s| s.as_str()), Some(spec));
        assert_eq!(
            metadata.key_usage().map(|u| u.as_str()),
            Some(usage),
            "{spec}"
        );
    }

    let refused = [
        (
            "ML_DSA_65",
            "ENCRYPT_DECRYPT",
            "KMS does not offer ENCRYPT_DECRYPT for ML_DSA_65 keys; ML_DSA_65 keys are for SIGN_VERIFY",
        ),
        (
            "ECC_NIST_P256",
            "KEY_AGREEMENT",
            "ECC_NIST_P256 for KEY_AGREEMENT is not supported; kmsrot manages",
        ),
        (
            "RSA_1024",
            "ENCRYPT_DECRYPT",
            "KMS has no key spec RSA_1024",
        ),
    ];
    for (spec, usage, message) in refused {
        let alias = env.unique_alias("cli-refused");
        let out = kmsrot(
            &[
                "init",
                alias.as_str(),
                "--key-spec",
                spec,
                "--key-usage",
                usage,
            ],
            None,
        );
        expect_failure(&out, 8, message);
        let out = kmsrot(&["describe", alias.as_str()], None);
        expect_failure(&out, 3, "does not exist");
    }
}
