//! Verification that cannot be forged: the signer must be the key the caller trusts (an
//! alias's history, or one key), the signer reported is the one KMS verified with, and old
//! signatures verify offline once their key is disabled or deleted.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
};
use kmsrot_testsuite::TestEnv;
use kmsrot_types::KeyArn;

use crate::{env, expect_failure, json, kmsrot, path, stderr, tmp};

/// A managed alias of `spec`; returns its key ARN.
fn init(alias: &str, spec: &str, usage: &str) -> String {
    let created = json(&kmsrot(
        &[
            "init",
            alias,
            "--key-spec",
            spec,
            "--key-usage",
            usage,
            "--output",
            "json",
        ],
        None,
    ));
    created["current"]["key_arn"].as_str().unwrap().to_owned()
}

/// Signs with the raw SDK, by key: what anyone with `kms:Sign` on another key can do.
async fn raw_signature(env: &TestEnv, key: &KeyArn, algorithm: &str, message: &[u8]) -> Vec<u8> {
    env.client
        .sign()
        .key_id(key.to_string())
        .message(Blob::new(message))
        .message_type(MessageType::Raw)
        .signing_algorithm(SigningAlgorithmSpec::from(algorithm))
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner()
}

/// What `verify` adds when it checked offline against the public key kmsrot recorded.
const RECORDED: &str = " (offline: KMS no longer verifies with this key; checked with the public key kmsrot recorded for it)";

fn write_json(name: &str, value: &serde_json::Value) -> std::path::PathBuf {
    let file = tmp(name);
    std::fs::write(&file, serde_json::to_vec(value).unwrap()).unwrap();
    file
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn another_keys_signature_or_mac_is_refused_when_the_signer_is_given() {
    let env = env().await;
    let alias = env.unique_alias("cli-forge");
    let alias = alias.as_str();
    let trusted = init(alias, "RSA_2048", "SIGN_VERIFY");
    // Another RSA key in the account, which the caller may also use.
    let other = env
        .create_key(KeySpec::Rsa2048, KeyUsageType::SignVerify)
        .await
        .unwrap();
    let message = b"pay 100 to mallory";
    let forged = raw_signature(&env, &other, "RSASSA_PSS_SHA_256", message).await;
    let doc = write_json(
        "forged.sig.json",
        &serde_json::json!({
            "key_arn": other.to_string(),
            "signing_algorithm": "RSASSA_PSS_SHA_256",
            "signature": b64(&forged),
        }),
    );
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--signature", path(&doc)];
        args.extend_from_slice(extra);
        kmsrot(&args, Some(message))
    };
    expect_failure(&verify(&["--alias", alias]), 5, "is not a key of");
    expect_failure(&verify(&["--key", &trusted]), 5, "is not a key of");
    // Without a trusted signer it still verifies, and says plainly that nobody was checked.
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signer NOT checked"));
    assert!(stderr(&out).contains("signer was not checked"));
    // A document rewritten to name the trusted key ID in another Region or account.
    for arn in [
        trusted.replace(env.region(), "eu-west-3"),
        trusted.replace("123456789012", "210987654321"),
    ] {
        let doc = write_json(
            "moved.sig.json",
            &serde_json::json!({
                "key_arn": arn,
                "signing_algorithm": "RSASSA_PSS_SHA_256",
                "signature": b64(&forged),
            }),
        );
        let out = kmsrot(
            &["verify", "--signature", path(&doc), "--alias", alias],
            Some(message),
        );
        expect_failure(&out, 5, "is not a key of");
    }

    // The same for MACs.
    let mac_alias = env.unique_alias("cli-forge-mac");
    let mac_alias = mac_alias.as_str();
    let mac_key = init(mac_alias, "HMAC_256", "GENERATE_VERIFY_MAC");
    let other_hmac = env
        .create_key(KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac)
        .await
        .unwrap();
    let mac = env
        .client
        .generate_mac()
        .key_id(other_hmac.to_string())
        .message(Blob::new(message.as_slice()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap()
        .mac
        .unwrap()
        .into_inner();
    let doc = write_json(
        "forged.mac.json",
        &serde_json::json!({
            "key_arn": other_hmac.to_string(),
            "mac_algorithm": "HMAC_SHA_256",
            "mac": b64(&mac),
        }),
    );
    for trust in [["--alias", mac_alias], ["--key", mac_key.as_str()]] {
        let out = kmsrot(
            &["verify-mac", "--mac", path(&doc), trust[0], trust[1]],
            Some(message),
        );
        expect_failure(&out, 5, "is not a key of");
    }
    let out = kmsrot(&["verify-mac", "--mac", path(&doc)], Some(message));
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
}

#[tokio::test]
async fn decrypt_with_an_alias_refuses_another_keys_ciphertext() {
    let env = env().await;
    let alias = env.unique_alias("cli-decrypt-trust");
    let alias = alias.as_str();
    init(alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT");
    let (_, other) = env.plain_alias("cli-decrypt-other").await.unwrap();
    let blob = env
        .client
        .encrypt()
        .key_id(other.to_string())
        .plaintext(Blob::new("not yours to read"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner();
    let out = kmsrot(&["decrypt", "--alias", alias], Some(&blob));
    expect_failure(&out, 5, "is not a key of");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not yours"));
    // Without --alias, KMS decides alone, as before.
    let out = kmsrot(&["decrypt"], Some(&blob));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// One signature per signing algorithm kmsrot uses, made through the alias, checked offline
/// with the public key KMS gives, after the key is disabled and scheduled for deletion; a
/// tampered message or signature fails. KMS gave the same verdict while it could.
#[tokio::test]
async fn old_signatures_verify_offline_once_their_key_is_gone() {
    let env = env().await;
    for (spec, algorithm) in [
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ("ML_DSA_44", "ML_DSA_SHAKE_256"),
    ] {
        let alias = env.unique_alias(&format!("cli-offline-{}", spec.to_lowercase()));
        let alias = alias.as_str();
        let key = init(alias, spec, "SIGN_VERIFY");
        let key_arn: KeyArn = key.parse().unwrap();
        let message = format!("signed with {spec}");
        // kmsrot signs with the spec's default algorithm; the others are signed by key with
        // the SDK and carry the public key kmsrot would write.
        let out = kmsrot(
            &["sign", "--alias", alias, "--output", "json"],
            Some(message.as_bytes()),
        );
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        let mut doc = json(&out);
        assert_eq!(doc["key_spec"], spec, "{spec}");
        assert!(doc["public_key"].is_string(), "{spec}: {doc}");
        if doc["signing_algorithm"] != algorithm {
            let signature = raw_signature(&env, &key_arn, algorithm, message.as_bytes()).await;
            doc["signing_algorithm"] = algorithm.into();
            doc["signature"] = b64(&signature).into();
        }
        let file = write_json("offline.sig.json", &doc);
        let public = env.public_key(&key_arn).await.unwrap();
        let public_file = tmp("offline.pub.der");
        std::fs::write(&public_file, &public).unwrap();
        let online = kmsrot(
            &["verify", "--signature", path(&file), "--alias", alias],
            Some(message.as_bytes()),
        );
        assert!(online.status.success(), "{spec}: {}", stderr(&online));

        env.disable_key(&key_arn).await.unwrap();
        env.schedule_deletion(&key_arn).await.unwrap();
        // KMS refuses the key now; `init` recorded its public key, which the document's must
        // match, so the trusted signer still verifies, offline, by itself.
        for trust in ["--alias", "--key"] {
            let trusted = if trust == "--alias" { alias } else { &key };
            let out = kmsrot(
                &["verify", "--signature", path(&file), trust, trusted],
                Some(message.as_bytes()),
            );
            assert!(out.status.success(), "{spec} {trust}: {}", stderr(&out));
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("valid: signed by {key}{RECORDED}\n"),
                "{spec} {trust}"
            );
            expect_failure(
                &kmsrot(
                    &["verify", "--signature", path(&file), trust, trusted],
                    Some(b"another message"),
                ),
                5,
                "",
            );
        }
        let offline = |message: &[u8], file: &std::path::Path| {
            kmsrot(
                &[
                    "verify",
                    "--signature",
                    path(file),
                    "--offline",
                    "--key",
                    &key,
                    "--public-key",
                    path(&public_file),
                ],
                Some(message),
            )
        };
        let out = offline(message.as_bytes(), &file);
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("valid: signed by {key}\n"),
            "{spec}"
        );
        expect_failure(&offline(b"another message", &file), 5, "");
        let mut tampered = doc.clone();
        let mut signature =
            kmsrot_types::Base64Bytes::from_base64(doc["signature"].as_str().unwrap())
                .unwrap()
                .as_slice()
                .to_vec();
        let middle = signature.len() / 2;
        signature[middle] ^= 0x01;
        tampered["signature"] = b64(&signature).into();
        let tampered_file = write_json("tampered.sig.json", &tampered);
        expect_failure(&offline(message.as_bytes(), &tampered_file), 5, "");
    }
}

/// The public key kmsrot records is what decides once KMS refuses a key: a rotation records
/// both keys' fingerprints, a document carrying another public key is refused, and a key that
/// KMS deleted (its tags with it) verifies through its successor's record.
#[tokio::test]
async fn a_retired_keys_signatures_verify_against_the_recorded_public_key() {
    use kmsrot_core::offline::fingerprint;
    use kmsrot_types::tags;
    let env = env().await;
    let alias = env.unique_alias("cli-recorded");
    let alias = alias.as_str();
    let first = init(alias, "ECC_NIST_P256", "SIGN_VERIFY");
    let first_arn: KeyArn = first.parse().unwrap();
    let message = b"signed before the rotation";
    let out = kmsrot(
        &["sign", "--alias", alias, "--output", "json"],
        Some(message),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out);
    let file = write_json("recorded.sig.json", &doc);

    let rotated = json(&kmsrot(&["rotate", alias, "--output", "json"], None));
    let second = rotated["actions"][0]["new_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_arn: KeyArn = second.parse().unwrap();
    let first_sha = fingerprint(&env.public_key(&first_arn).await.unwrap());
    let second_sha = fingerprint(&env.public_key(&second_arn).await.unwrap());
    let first_tags = env.tags(&first).await.unwrap();
    let second_tags = env.tags(&second).await.unwrap();
    assert_eq!(first_tags[tags::PUBLIC_KEY_SHA256], first_sha);
    assert_eq!(second_tags[tags::PUBLIC_KEY_SHA256], second_sha);
    assert_eq!(
        second_tags[tags::PREVIOUS_PUBLIC_KEY_SHA256],
        format!("{}:{first_sha}", first_arn.key_id().as_str())
    );

    env.disable_key(&first_arn).await.unwrap();
    let verify = |file: &std::path::Path| {
        kmsrot(
            &["verify", "--signature", path(file), "--alias", alias],
            Some(message),
        )
    };
    let out = verify(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("valid: signed by {first}{RECORDED}\n")
    );

    // Forged: another key's signature and public key in a document naming the retired key.
    let other = env
        .create_key(KeySpec::EccNistP256, KeyUsageType::SignVerify)
        .await
        .unwrap();
    let mut forged = doc.clone();
    forged["signature"] = b64(&raw_signature(&env, &other, "ECDSA_SHA_256", message).await).into();
    let other_der = env.public_key(&other).await.unwrap();
    forged["public_key"] = b64(&other_der).into();
    expect_failure(
        &verify(&write_json("forged.sig.json", &forged)),
        5,
        "is not the one kmsrot recorded",
    );
    // A document without its public key cannot be checked offline: the caller is told how.
    let mut bare = doc.clone();
    bare.as_object_mut().unwrap().remove("public_key");
    expect_failure(&verify(&write_json("bare.sig.json", &bare)), 2, "--offline");

    // KMS deleted a key, and its tags with it: what the successor recorded still names it.
    // (The emulator never deletes a key, so the deletion is written as kmsrot's deletion
    // handler leaves it, for a key that does not exist.)
    let gone_id = "0d15ea5e-0000-4000-8000-00000000dead";
    let gone = first_arn.sibling(gone_id.parse().unwrap());
    env.client
        .untag_resource()
        .key_id(&second)
        .tag_keys(tags::PREVIOUS_KEY)
        .send()
        .await
        .unwrap();
    env.set_tags(
        &second_arn,
        &[
            (tags::DELETED_PREVIOUS_KEY, gone_id),
            (
                tags::PREVIOUS_PUBLIC_KEY_SHA256,
                &format!("{gone_id}:{first_sha}"),
            ),
        ],
    )
    .await
    .unwrap();
    let mut old = doc.clone();
    old["key_arn"] = gone.to_string().into();
    let old_file = write_json("gone.sig.json", &old);
    let out = verify(&old_file);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("valid: signed by {gone}{RECORDED}\n")
    );
    // A record that names another key is not this key's.
    env.set_tags(
        &second_arn,
        &[(
            tags::PREVIOUS_PUBLIC_KEY_SHA256,
            &format!("{}:{first_sha}", first_arn.key_id().as_str()),
        )],
    )
    .await
    .unwrap();
    let out = verify(&old_file);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("recorded no public key") && stderr(&out).contains("--offline"),
        "{}",
        stderr(&out)
    );
}
