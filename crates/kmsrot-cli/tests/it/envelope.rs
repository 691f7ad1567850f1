//! `kmsrot envelope` beside the pinned `aws-encryption-cli` (the AWS Encryption SDK for Python),
//! both against the same emulator: each reads the other's messages in both committing suites,
//! at the frame sizes and lengths where framing can go wrong; rewrapped messages are read by
//! aws-encryption-cli under the new key alone; and each kind of tampering is refused with its
//! own error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kmsrot_core::RotateOptions;
use kmsrot_core::envelope::Header;
use kmsrot_types::Mode;

use crate::{env, expect_failure, json, kmsrot, path, stderr, tmp};

/// The ESDK's names of the two committing suites.
const SIGNED: &str = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384";
const UNSIGNED: &str = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY";
/// A context with characters outside ASCII, in keys and values.
const CONTEXT: [&str; 2] = ["tenant=Zürich 東京", "clé=värde"];

/// aws-encryption-cli, installed pinned by `cargo xtask test`.
fn esdk_cli() -> PathBuf {
    std::env::var_os("KMSROT_TEST_ESDK_CLI")
        .map(PathBuf::from)
        .expect(
            "KMSROT_TEST_ESDK_CLI names aws-encryption-cli: run the tests with `cargo xtask test`",
        )
}

fn esdk(args: &[&str]) -> Output {
    // The emulator's environment names a profile for the Rust SDK, in an empty config file;
    // botocore refuses a profile it cannot find, and the keys in the environment suffice.
    let out = Command::new(esdk_cli())
        .env_remove("AWS_PROFILE")
        .args(args)
        .output()
        .expect("aws-encryption-cli runs");
    assert!(
        out.status.success(),
        "aws-encryption-cli {args:?}: {}",
        stderr(&out)
    );
    out
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = tmp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn data(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

/// The lengths that matter for frame length `f`: empty, one byte, a byte short of a frame, a
/// frame, and several frames.
fn lengths(f: usize) -> Vec<usize> {
    let mut lengths = vec![0, 1, f - 1, f, 3 * f + 7];
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

fn header(path: &Path) -> Header {
    Header::read(&std::fs::read(path).unwrap(), None).unwrap().0
}

fn context_args() -> Vec<&'static str> {
    CONTEXT.iter().flat_map(|c| ["--context", c]).collect()
}

#[tokio::test]
async fn kmsrot_and_aws_encryption_cli_read_each_others_messages() {
    let env = env().await;
    let (alias, key) = env.managed_alias("interop", Mode::Manual).await.unwrap();
    let strict = format!("key={key}");
    for (suite, algorithm) in [(0x0578u16, SIGNED), (0x0478, UNSIGNED)] {
        // kmsrot writes, aws-encryption-cli reads: frame lengths 1, 4096 and 1 MiB.
        for frame in [1usize, 4096, 1 << 20] {
            let plain = fresh_dir(&format!("k2e-{suite:x}-{frame}-plain"));
            let sealed = fresh_dir(&format!("k2e-{suite:x}-{frame}-sealed"));
            let opened = fresh_dir(&format!("k2e-{suite:x}-{frame}-opened"));
            for len in lengths(frame) {
                let input = plain.join(format!("{len}"));
                std::fs::write(&input, data(len, frame)).unwrap();
                let output = sealed.join(format!("{len}"));
                let frame_text = frame.to_string();
                let mut args = vec![
                    "envelope",
                    "encrypt",
                    "--alias",
                    alias.as_str(),
                    "--frame-length",
                    &frame_text,
                    "-i",
                    path(&input),
                    "-o",
                    path(&output),
                ];
                args.extend(context_args());
                if suite == 0x0478 {
                    args.push("--unsigned");
                }
                let out = kmsrot(&args, None);
                assert!(out.status.success(), "{}", stderr(&out));
                let h = header(&output);
                assert_eq!((h.suite.id, h.frame_length), (suite, frame as u32));
            }
            let mut args = vec![
                "--decrypt",
                "-S",
                "-r",
                "-i",
                path(&sealed),
                "-o",
                path(&opened),
                "--wrapping-keys",
                &strict,
                "--commitment-policy",
                "require-encrypt-require-decrypt",
                "--encryption-context",
            ];
            args.extend(CONTEXT);
            esdk(&args);
            for len in lengths(frame) {
                let read = std::fs::read(opened.join(format!("{len}.decrypted"))).unwrap();
                assert_eq!(
                    read,
                    data(len, frame),
                    "suite {suite:#x}, frame {frame}, {len} bytes"
                );
            }
        }
        // aws-encryption-cli writes, kmsrot reads. The Python ESDK writes no frame shorter than
        // 128 bytes ("Frame size must be a non-negative multiple of the block size of the
        // crypto algorithm: 128"), so its smallest frame stands in for 1.
        for frame in [128usize, 4096, 1 << 20] {
            let plain = fresh_dir(&format!("e2k-{suite:x}-{frame}-plain"));
            let sealed = fresh_dir(&format!("e2k-{suite:x}-{frame}-sealed"));
            for len in lengths(frame) {
                std::fs::write(plain.join(format!("{len}")), data(len, frame + 1)).unwrap();
            }
            let frame_text = frame.to_string();
            let mut args = vec![
                "--encrypt",
                "-S",
                "-r",
                "-i",
                path(&plain),
                "-o",
                path(&sealed),
                "--wrapping-keys",
                &strict,
                "--algorithm",
                algorithm,
                "--frame-length",
                &frame_text,
                "--commitment-policy",
                "require-encrypt-require-decrypt",
                "--encryption-context",
            ];
            args.extend(CONTEXT);
            esdk(&args);
            for len in lengths(frame) {
                let message = sealed.join(format!("{len}.encrypted"));
                assert_eq!(header(&message).suite.id, suite);
                let mut args = vec![
                    "envelope",
                    "decrypt",
                    "--alias",
                    alias.as_str(),
                    "-i",
                    path(&message),
                ];
                args.extend(context_args());
                let out = kmsrot(&args, None);
                assert!(out.status.success(), "{}", stderr(&out));
                assert_eq!(
                    out.stdout,
                    data(len, frame + 1),
                    "suite {suite:#x}, frame {frame}, {len} bytes"
                );
            }
        }
    }
}

/// The key ARNs of a message's encrypted data keys.
fn wrapping_keys(path: &Path) -> Vec<String> {
    header(path)
        .data_keys
        .iter()
        .map(|k| String::from_utf8(k.provider_info.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn rewrapped_messages_move_to_the_new_key_and_aws_encryption_cli_reads_them() {
    let env = env().await;
    let (alias, old) = env.managed_alias("rewrap", Mode::Manual).await.unwrap();
    let dir = fresh_dir("rewrap");
    let plaintext = data(50_000, 3);
    let plain_file = dir.join("plain");
    std::fs::write(&plain_file, &plaintext).unwrap();
    let unsigned = dir.join("unsigned.msg");
    let signed = dir.join("signed.msg");
    let theirs = dir.join("theirs.msg");
    let tampered = dir.join("tampered.msg");
    for (out, extra) in [(&unsigned, Some("--unsigned")), (&signed, None)] {
        let mut args = vec![
            "envelope",
            "encrypt",
            "--alias",
            alias.as_str(),
            "-i",
            path(&plain_file),
            "-o",
            path(out),
        ];
        args.extend(context_args());
        args.extend(extra);
        let run = kmsrot(&args, None);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let strict_old = format!("key={old}");
    let mut args = vec![
        "--encrypt",
        "-S",
        "-i",
        path(&plain_file),
        "-o",
        path(&theirs),
        "--wrapping-keys",
        &strict_old,
        "--encryption-context",
    ];
    args.extend(CONTEXT);
    esdk(&args);
    // A signed message whose frame a data-key holder changed and re-sealed is beyond this
    // test; a changed byte anywhere is enough for the old signature to fail.
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&tampered, &bytes).unwrap();
    let unsigned_before = std::fs::read(&unsigned).unwrap();
    let unsigned_header_len = Header::read(&unsigned_before, None).unwrap().1;

    env.rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let (new, _) = env.alias_target(&alias).await.unwrap();
    assert_ne!(new, old);
    let files = [&unsigned, &signed, &theirs];

    let dry = json(&kmsrot(
        &[
            "--output",
            "json",
            "envelope",
            "rewrap",
            "--alias",
            alias.as_str(),
            "--dry-run",
            path(files[0]),
            path(files[1]),
            path(files[2]),
        ],
        None,
    ));
    assert_eq!(dry["moved"], 3, "{dry}");
    assert_eq!(std::fs::read(&unsigned).unwrap(), unsigned_before);

    let report = json(&kmsrot(
        &[
            "--output",
            "json",
            "envelope",
            "rewrap",
            "--alias",
            alias.as_str(),
            path(files[0]),
            path(files[1]),
            path(files[2]),
        ],
        None,
    ));
    assert_eq!(report["moved"], 3, "{report}");
    assert_eq!(report["moved_from"][old.to_string()], 3, "{report}");
    for file in files {
        assert_eq!(wrapping_keys(file), [new.to_string()], "{}", file.display());
    }
    // The unsigned message's frames are the same bytes: only its header changed.
    let unsigned_after = std::fs::read(&unsigned).unwrap();
    let header_len = Header::read(&unsigned_after, None).unwrap().1;
    assert_eq!(
        unsigned_after[header_len..],
        unsigned_before[unsigned_header_len..]
    );
    // aws-encryption-cli reads every one with the new key alone.
    let strict_new = format!("key={new}");
    for file in files {
        let opened = dir.join("opened");
        let mut args = vec![
            "--decrypt",
            "-S",
            "-i",
            path(file),
            "-o",
            path(&opened),
            "--wrapping-keys",
            &strict_new,
            "--encryption-context",
        ];
        args.extend(CONTEXT);
        esdk(&args);
        assert_eq!(std::fs::read(&opened).unwrap(), plaintext);
    }
    // Again: nothing left to move.
    let again = json(&kmsrot(
        &[
            "--output",
            "json",
            "envelope",
            "rewrap",
            "--alias",
            alias.as_str(),
            path(files[0]),
            path(files[1]),
            path(files[2]),
        ],
        None,
    ));
    assert_eq!(again["moved"], 0, "{again}");
    assert_eq!(again["skipped"]["already under the current key"], 3);
    // A changed signed message is refused, never signed afresh, and left as it was.
    let out = kmsrot(
        &[
            "envelope",
            "rewrap",
            "--alias",
            alias.as_str(),
            path(&tampered),
        ],
        None,
    );
    expect_failure(&out, 8, "signature does not verify");
    assert_eq!(std::fs::read(&tampered).unwrap(), bytes);
}

#[tokio::test]
async fn rewrap_over_an_s3_prefix_keeps_what_objects_carry_and_resumes() {
    let env = env().await;
    let (alias, old) = env.managed_alias("rewrap-s3", Mode::Manual).await.unwrap();
    let bucket = env.bucket("rewrap", true).await.unwrap();
    let s3 = env.s3_client();
    let dir = fresh_dir("rewrap-s3");
    let plaintext = data(20_000, 5);
    let plain_file = dir.join("plain");
    std::fs::write(&plain_file, &plaintext).unwrap();
    let mut messages = Vec::new();
    for signed in [true, false] {
        let out = dir.join(format!("{signed}.msg"));
        let mut args = vec![
            "envelope",
            "encrypt",
            "--alias",
            alias.as_str(),
            "-i",
            path(&plain_file),
            "-o",
            path(&out),
        ];
        if !signed {
            args.push("--unsigned");
        }
        let run = kmsrot(&args, None);
        assert!(run.status.success(), "{}", stderr(&run));
        messages.push(std::fs::read(&out).unwrap());
    }
    let objects = [
        ("data/signed.msg", messages[0].clone()),
        ("data/unsigned.msg", messages[1].clone()),
        ("data/readme.txt", b"not a message".to_vec()),
    ];
    for (key, body) in &objects {
        s3.put_object()
            .bucket(&bucket)
            .key(*key)
            .body(body.clone().into())
            .content_type("application/x-esdk")
            .metadata("owner", "team-a")
            .tagging("class=secret")
            .send()
            .await
            .unwrap();
    }
    env.rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let (new, _) = env.alias_target(&alias).await.unwrap();
    let checkpoint = dir.join("checkpoint");
    let location = format!("s3://{bucket}/data/");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--output",
            "json",
            "envelope",
            "rewrap",
            "--alias",
            alias.as_str(),
            &location,
        ];
        args.extend(extra);
        json(&kmsrot(&args, None))
    };
    let report = run(&["--resume", path(&checkpoint)]);
    assert_eq!(report["moved"], 2, "{report}");
    assert_eq!(report["moved_from"][old.to_string()], 2, "{report}");
    assert_eq!(report["skipped"]["not an AWS Encryption SDK message"], 1);
    for (key, before) in &objects[..2] {
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(*key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_type(), Some("application/x-esdk"));
        assert_eq!(
            got.metadata()
                .and_then(|m| m.get("owner"))
                .map(String::as_str),
            Some("team-a")
        );
        let body = got.body.collect().await.unwrap().to_vec();
        assert_ne!(&body, before);
        let (header, _) = Header::read(&body, None).unwrap();
        assert_eq!(header.data_keys.len(), 1);
        assert_eq!(
            header.data_keys[0].provider_info,
            new.to_string().into_bytes()
        );
        let tags = s3
            .get_object_tagging()
            .bucket(&bucket)
            .key(*key)
            .send()
            .await
            .unwrap();
        assert_eq!(tags.tag_set()[0].key(), "class");
        // The old message is the previous version, as it was.
        let versions = s3
            .list_object_versions()
            .bucket(&bucket)
            .prefix(*key)
            .send()
            .await
            .unwrap();
        assert_eq!(versions.versions().len(), 2);
        let path = dir.join("object");
        std::fs::write(&path, &body).unwrap();
        let out = kmsrot(
            &[
                "envelope",
                "decrypt",
                "--alias",
                alias.as_str(),
                "-i",
                crate::path(&path),
            ],
            None,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(out.stdout, plaintext);
    }
    // The same checkpoint: every object was finished.
    let resumed = run(&["--resume", path(&checkpoint)]);
    assert_eq!(resumed["resumed"], 3, "{resumed}");
    // Without it: each is found done.
    let again = run(&[]);
    assert_eq!(
        again["skipped"]["already under the current key"], 2,
        "{again}"
    );
}

/// Makes a message with aws-encryption-cli, with `extra` arguments.
fn esdk_message(
    dir: &Path,
    name: &str,
    plaintext: &[u8],
    keys: &[&str],
    extra: &[&str],
) -> PathBuf {
    let input = dir.join(format!("{name}.plain"));
    std::fs::write(&input, plaintext).unwrap();
    let output = dir.join(name);
    let mut args = vec![
        "--encrypt",
        "-S",
        "-i",
        path(&input),
        "-o",
        path(&output),
        "--wrapping-keys",
    ];
    args.extend(keys);
    args.extend(extra);
    esdk(&args);
    output
}

#[tokio::test]
async fn tampering_is_refused_with_a_clear_error_each_case() {
    let env = env().await;
    let (alias, key) = env.managed_alias("tamper", Mode::Manual).await.unwrap();
    let (_, other) = env
        .managed_alias("tamper-other", Mode::Manual)
        .await
        .unwrap();
    let dir = fresh_dir("tamper");
    let plaintext = data(10_000, 9);
    let plain_file = dir.join("plain");
    std::fs::write(&plain_file, &plaintext).unwrap();
    let encrypt = |name: &str, signed: bool| {
        let out = dir.join(name);
        let mut args = vec![
            "envelope",
            "encrypt",
            "--alias",
            alias.as_str(),
            "-c",
            "app=billing",
            "-i",
            crate::path(&plain_file),
            "-o",
            crate::path(&out),
        ];
        if !signed {
            args.push("--unsigned");
        }
        let run = kmsrot(&args, None);
        assert!(run.status.success(), "{}", stderr(&run));
        std::fs::read(&out).unwrap()
    };
    let unsigned = encrypt("unsigned", false);
    let signed = encrypt("signed", true);
    let decrypt = |name: &str, bytes: &[u8], extra: &[&str]| {
        let input = dir.join(format!("{name}.msg"));
        std::fs::write(&input, bytes).unwrap();
        let output = dir.join(format!("{name}.out"));
        let _ = std::fs::remove_file(&output);
        let mut args = vec![
            "envelope",
            "decrypt",
            "--alias",
            alias.as_str(),
            "-i",
            crate::path(&input),
            "-o",
            crate::path(&output),
        ];
        args.extend(extra);
        let out = kmsrot(&args, None);
        // Whatever failed, no plaintext file appeared.
        if !out.status.success() {
            assert!(!output.exists(), "{name}: a plaintext file was left");
        }
        out
    };
    assert!(decrypt("intact", &signed, &[]).status.success());
    let header_len = Header::read(&unsigned, None).unwrap().1;
    let changed = |bytes: &[u8], at: usize| {
        let mut bytes = bytes.to_vec();
        bytes[at] ^= 1;
        bytes
    };

    // The header: its tag, and its commit key (the 32 bytes before the tag).
    expect_failure(
        &decrypt("header-tag", &changed(&unsigned, header_len - 1), &[]),
        5,
        "header failed its authentication",
    );
    expect_failure(
        &decrypt("commit-key", &changed(&unsigned, header_len - 17), &[]),
        5,
        "key commitment",
    );
    // A frame.
    expect_failure(
        &decrypt("frame", &changed(&unsigned, header_len + 30), &[]),
        5,
        "frame 1 failed its authentication",
    );
    // The final frame's length: 10,000 bytes in 4,096-byte frames leave 1,808 in the last.
    let final_len = header_len + 2 * (4 + 12 + 4096 + 16) + 4 + 4 + 12;
    assert_eq!(
        u32::from_be_bytes(unsigned[final_len..final_len + 4].try_into().unwrap()),
        1808
    );
    let mut longer = unsigned.clone();
    longer[final_len..final_len + 4].copy_from_slice(&5000u32.to_be_bytes());
    expect_failure(
        &decrypt("final-length", &longer, &[]),
        5,
        "more than the frame length",
    );
    let mut shorter = unsigned.clone();
    shorter[final_len..final_len + 4].copy_from_slice(&1807u32.to_be_bytes());
    expect_failure(
        &decrypt("final-shorter", &shorter, &[]),
        5,
        "failed its authentication",
    );
    // The footer: the signature.
    expect_failure(
        &decrypt("footer", &changed(&signed, signed.len() - 1), &[]),
        5,
        "signature does not verify",
    );
    expect_failure(
        &decrypt("cut", &signed[..signed.len() - 10], &[]),
        5,
        "truncated",
    );
    // A swapped data key: another message's, under the same key and context. KMS decrypts it;
    // the key commitment refuses it.
    let second = encrypt("second", false);
    let h1 = Header::read(&unsigned, None).unwrap().0;
    let h2 = Header::read(&second, None).unwrap().0;
    let edk = &h1.data_keys[0].ciphertext;
    let at = unsigned
        .windows(edk.len())
        .position(|w| w == edk.as_slice())
        .unwrap();
    let mut swapped = unsigned.clone();
    swapped[at..at + edk.len()].copy_from_slice(&h2.data_keys[0].ciphertext);
    expect_failure(&decrypt("swapped", &swapped, &[]), 5, "key commitment");
    // The wrong context.
    expect_failure(
        &decrypt("context", &unsigned, &["-c", "app=payroll"]),
        5,
        "does not hold app=payroll",
    );
    // A message without key commitment: refused under the default policy, read when allowed.
    let strict = format!("key={key}");
    let legacy = esdk_message(
        &dir,
        "legacy",
        b"old data",
        &[&strict],
        &[
            "--algorithm",
            "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
            "--commitment-policy",
            "forbid-encrypt-allow-decrypt",
        ],
    );
    let legacy = std::fs::read(legacy).unwrap();
    expect_failure(
        &decrypt("legacy", &legacy, &[]),
        8,
        "does not commit to its key",
    );
    let out = decrypt("legacy-allowed", &legacy, &["--allow-non-committing"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // More data keys than the limit.
    let strict_other = format!("key={other}");
    let two = esdk_message(&dir, "two", b"two keys", &[&strict, &strict_other], &[]);
    let two = std::fs::read(two).unwrap();
    expect_failure(
        &decrypt("two", &two, &["--max-encrypted-data-keys", "1"]),
        8,
        "2 encrypted data keys, more than the 1 allowed",
    );
    assert!(decrypt("two-allowed", &two, &[]).status.success());
}

/// `-i` and `-o` take S3 objects: a file is encrypted into an object (uploaded in parts, read
/// by aws-encryption-cli), which is decrypted object to object and object to stdout. A message
/// that fails leaves no object and no open upload behind; a missing object and a location
/// that names no object are clear errors.
#[tokio::test]
async fn envelope_streams_read_and_write_s3_objects() {
    let env = env().await;
    let (alias, key) = env
        .managed_alias("envelope-s3", Mode::Manual)
        .await
        .unwrap();
    let bucket = env.bucket("envelope-s3", false).await.unwrap();
    let s3 = env.s3_client();
    let dir = fresh_dir("envelope-s3");
    // More than one part of the upload.
    let plaintext = data(kmsrot_core::s3::PART_SIZE + 4099, 9);
    let plain_file = dir.join("plain");
    std::fs::write(&plain_file, &plaintext).unwrap();
    let message = format!("s3://{bucket}/in/plain.esdk");
    let report = json(&kmsrot(
        &[
            "--output",
            "json",
            "envelope",
            "encrypt",
            "--alias",
            alias.as_str(),
            "--context",
            CONTEXT[0],
            "-i",
            path(&plain_file),
            "-o",
            &message,
        ],
        None,
    ));
    assert_eq!(report["key_arn"], key.to_string());
    assert_eq!(report["object"]["location"], message);
    assert_eq!(report["object"]["parts"], 2, "{report}");

    let object = |key: String| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            s3.get_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map(|o| o.body)
        }
    };
    let written = object("in/plain.esdk".into())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
        .to_vec();
    let downloaded = dir.join("plain.esdk");
    std::fs::write(&downloaded, &written).unwrap();
    let by_esdk = dir.join("by-esdk");
    esdk(&[
        "--decrypt",
        "--wrapping-keys",
        &format!("key={key}"),
        "--commitment-policy",
        "require-encrypt-require-decrypt",
        "-i",
        path(&downloaded),
        "-o",
        path(&by_esdk),
        "-S",
    ]);
    assert!(std::fs::read(&by_esdk).unwrap() == plaintext);

    let plain_object = format!("s3://{bucket}/out/plain");
    let report = json(&kmsrot(
        &[
            "--output",
            "json",
            "envelope",
            "decrypt",
            "--alias",
            alias.as_str(),
            "--context",
            CONTEXT[0],
            "-i",
            &message,
            "-o",
            &plain_object,
        ],
        None,
    ));
    assert_eq!(report["plaintext_bytes"], plaintext.len());
    let read = object("out/plain".into())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
        .to_vec();
    assert!(read == plaintext, "the decrypted object differs");
    let to_stdout = kmsrot(
        &[
            "envelope",
            "decrypt",
            "--alias",
            alias.as_str(),
            "-i",
            &message,
        ],
        None,
    );
    assert!(to_stdout.status.success(), "{}", stderr(&to_stdout));
    assert!(to_stdout.stdout == plaintext);

    // A changed signature: the plaintext was uploading as frames opened, and is aborted.
    let mut changed = written.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    s3.put_object()
        .bucket(&bucket)
        .key("in/changed.esdk")
        .body(changed.into())
        .send()
        .await
        .unwrap();
    let failed = kmsrot(
        &[
            "envelope",
            "decrypt",
            "--alias",
            alias.as_str(),
            "-i",
            &format!("s3://{bucket}/in/changed.esdk"),
            "-o",
            &format!("s3://{bucket}/out/changed"),
        ],
        None,
    );
    expect_failure(&failed, 5, "signature does not verify");
    assert!(
        object("out/changed".into()).await.is_err(),
        "a message that failed left an object"
    );
    let uploads = s3
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{uploads:?}");

    let missing = kmsrot(
        &[
            "envelope",
            "decrypt",
            "-i",
            &format!("s3://{bucket}/in/absent.esdk"),
            "-o",
            path(&dir.join("absent")),
        ],
        None,
    );
    expect_failure(&missing, 3, "does not exist");
    let folder = kmsrot(
        &[
            "envelope",
            "encrypt",
            "--alias",
            alias.as_str(),
            "-i",
            path(&plain_file),
            "-o",
            &format!("s3://{bucket}/out/"),
        ],
        None,
    );
    expect_failure(&folder, 2, "names no object");
}
