//! Envelope messages (the AWS Encryption SDK's format) through KMS: a data key made through an
//! alias, read back only from a key the caller trusts, after the alias rotated too.

use kmsrot_core::RotateOptions;
use kmsrot_core::envelope::{CommitmentPolicy, EncryptOptions, EnvelopeFailure, Header, Trust};
use kmsrot_types::{EncryptionContext, KeyArn, Mode};

use crate::env;

#[tokio::test]
async fn envelopes_made_through_an_alias_open_through_its_history() {
    let env = env().await;
    let (alias, first) = env.managed_alias("envelope", Mode::Manual).await.unwrap();
    let mut context = EncryptionContext::new();
    context.insert("purpose", "backups");
    context.insert("tenant", "Zürich");
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let message = env
        .kms
        .alias(alias.clone().into())
        .envelope_encrypt(
            &context,
            &data,
            &EncryptOptions {
                frame_length: 1024,
                signed: false,
                cache: None,
            },
        )
        .await
        .unwrap();
    // The ESDK's KMS keyring: provider `aws-kms`, and the key ARN as provider info.
    let (header, _) = Header::read(&message, None).unwrap();
    assert_eq!(header.data_keys.len(), 1);
    assert_eq!(header.data_keys[0].provider_id, "aws-kms");
    assert_eq!(
        header.data_keys[0].provider_info,
        first.to_string().into_bytes()
    );
    assert_eq!(header.context.len(), 2);

    // The alias moves on; its history still opens the message.
    env.rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let history: Vec<KeyArn> = env
        .kms
        .history_keys(&alias)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.arn)
        .collect();
    assert!(
        history.contains(&first) && history.len() == 2,
        "{history:?}"
    );
    let mut required = EncryptionContext::new();
    required.insert("purpose", "backups");
    let open = |trust: Trust, required: EncryptionContext| {
        let env = env.clone();
        let message = message.clone();
        async move {
            env.kms
                .envelope_decrypt(
                    &message,
                    &trust,
                    &required,
                    CommitmentPolicy::default(),
                    Some(1),
                )
                .await
        }
    };
    let (_, plaintext) = open(Trust::Keys(history.clone()), required.clone())
        .await
        .unwrap();
    assert_eq!(plaintext, data);

    // A key outside the trust is never asked.
    let err = open(Trust::Keys(vec![history[0].clone()]), required.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EnvelopeFailure::Untrusted { named } if named.contains(first.key_id().as_str())),
        "{err}"
    );
    // Discovery: this account opens it, another does not.
    let ours = Trust::Discovery {
        account: first.account().to_owned(),
        partition: first.partition(),
    };
    assert!(open(ours, EncryptionContext::new()).await.is_ok());
    let theirs = Trust::Discovery {
        account: "210987654321".into(),
        partition: first.partition(),
    };
    assert!(matches!(
        open(theirs, EncryptionContext::new()).await.unwrap_err(),
        EnvelopeFailure::Untrusted { .. }
    ));
    // A required pair the message does not hold.
    let mut wrong = EncryptionContext::new();
    wrong.insert("purpose", "payroll");
    assert!(matches!(
        open(Trust::Keys(history), wrong).await.unwrap_err(),
        EnvelopeFailure::Context { .. }
    ));
}

/// The ESDK's default suite, `0x0578`: the public key joins the context KMS sees, and the
/// message opens through the alias's key.
#[tokio::test]
async fn signed_envelopes_open_through_kms() {
    let env = env().await;
    let (alias, first) = env
        .managed_alias("signed-envelope", Mode::Manual)
        .await
        .unwrap();
    let message = env
        .kms
        .alias(alias.clone().into())
        .envelope_encrypt(
            &EncryptionContext::new(),
            b"signed payload",
            &EncryptOptions::default(),
        )
        .await
        .unwrap();
    let (header, _) = Header::read(&message, None).unwrap();
    assert_eq!(header.suite.id, 0x0578);
    assert_eq!(header.context[0].0, "aws-crypto-public-key");
    let (_, plaintext) = env
        .kms
        .envelope_decrypt(
            &message,
            &Trust::Keys(vec![first]),
            &EncryptionContext::new(),
            CommitmentPolicy::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(plaintext, b"signed payload");
}

/// The data-key cache: a data key serves messages up to its limits, only under its own alias,
/// suite and context; messages longer than the byte limit bypass it; every message still opens
/// and has its own message ID.
#[tokio::test]
async fn the_data_key_cache_serves_within_its_limits_and_partitions() {
    use std::sync::Arc;
    use std::time::Duration;

    use kmsrot_core::envelope::{CacheLimits, CacheStats, DataKeyCache};

    let env = env().await;
    let (alias, key) = env.managed_alias("cache", Mode::Manual).await.unwrap();
    let (other, _) = env
        .managed_alias("cache-other", Mode::Manual)
        .await
        .unwrap();
    let cache = Arc::new(DataKeyCache::new(
        CacheLimits {
            max_age: Duration::from_secs(3600),
            max_messages: 3,
            max_bytes: 100,
        },
        16,
    ));
    let options = EncryptOptions {
        signed: false,
        cache: Some(cache.clone()),
        ..EncryptOptions::default()
    };
    let mut a = EncryptionContext::new();
    a.insert("tenant", "a");
    let mut b = EncryptionContext::new();
    b.insert("tenant", "b");
    let kms = env.kms.alias(alias.clone().into());
    let mut messages = Vec::new();
    for _ in 0..5 {
        messages.push(kms.envelope_encrypt(&a, &[7; 10], &options).await.unwrap());
    }
    // Three messages per data key: two data keys for five messages.
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 3,
            misses: 2,
            bypassed: 0
        }
    );
    let headers: Vec<Header> = messages
        .iter()
        .map(|m| Header::read(m, None).unwrap().0)
        .collect();
    assert_eq!(headers[0].data_keys, headers[2].data_keys);
    assert_ne!(headers[0].data_keys, headers[3].data_keys);
    assert_ne!(headers[0].message_id, headers[1].message_id);
    // Another context, another alias, the signed suite: each its own data key.
    kms.envelope_encrypt(&b, b"x", &options).await.unwrap();
    env.kms
        .alias(other.clone().into())
        .envelope_encrypt(&a, b"x", &options)
        .await
        .unwrap();
    let signed = EncryptOptions {
        signed: true,
        ..options.clone()
    };
    let s1 = kms.envelope_encrypt(&a, b"x", &signed).await.unwrap();
    let s2 = kms.envelope_encrypt(&a, b"y", &signed).await.unwrap();
    assert_eq!(cache.stats().misses, 5);
    // Longer than the byte limit: never cached.
    kms.envelope_encrypt(&a, &[0; 101], &options).await.unwrap();
    assert_eq!(cache.stats().bypassed, 1);
    for message in messages.iter().chain([&s1, &s2]) {
        env.kms
            .envelope_decrypt(
                message,
                &Trust::Keys(vec![key.clone()]),
                &EncryptionContext::new(),
                CommitmentPolicy::default(),
                None,
            )
            .await
            .unwrap();
    }
    // A maximum age of zero: every message asks KMS.
    let cold = Arc::new(DataKeyCache::new(CacheLimits::new(Duration::ZERO), 16));
    let options = EncryptOptions {
        cache: Some(cold.clone()),
        ..options
    };
    for _ in 0..3 {
        kms.envelope_encrypt(&a, b"x", &options).await.unwrap();
    }
    assert_eq!(cold.stats().misses, 3);
}

/// The stream API through KMS: a signed message's plaintext reaches the output only once its
/// signature verified (staged meanwhile), and a changed one leaves the output empty.
#[tokio::test]
async fn signed_streams_release_plaintext_only_once_verified() {
    use kmsrot_core::envelope::{DecryptOptions, Release};

    let env = env().await;
    let (alias, key) = env.managed_alias("stream", Mode::Manual).await.unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 249) as u8).collect();
    let (written, message) = env
        .kms
        .alias(alias.clone().into())
        .envelope_encrypt_stream(
            &EncryptionContext::new(),
            std::io::Cursor::new(data.clone()),
            Vec::new(),
            None,
            &EncryptOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(written.plaintext_len, data.len() as u64);
    let options = DecryptOptions::new(Trust::Keys(vec![key.clone()]));
    let (opened, out) = env
        .kms
        .envelope_decrypt_stream(std::io::Cursor::new(message.clone()), Vec::new(), &options)
        .await
        .unwrap();
    assert_eq!((opened.key, opened.plaintext_len), (key, data.len() as u64));
    assert_eq!(out, data);
    let mut changed = message.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    // The output is shared so that what reached it can be seen after the call failed.
    let out = Shared::default();
    let err = env
        .kms
        .envelope_decrypt_stream(std::io::Cursor::new(changed.clone()), out.clone(), &options)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );
    assert!(
        out.bytes().is_empty(),
        "plaintext left before the signature verified"
    );
    // Opted in: frames leave as they open, and the caller must drop them on failure.
    let unverified = DecryptOptions {
        release: Release::Unverified,
        ..options
    };
    let out = Shared::default();
    assert!(
        env.kms
            .envelope_decrypt_stream(std::io::Cursor::new(changed), out.clone(), &unverified)
            .await
            .is_err()
    );
    assert_eq!(out.bytes(), data);
}

/// A writer whose bytes stay readable after it was moved into a call.
#[derive(Debug, Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Shared {
    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
