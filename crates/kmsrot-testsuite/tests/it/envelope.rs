//! Envelope messages (the AWS Encryption SDK's format) through KMS: a data key made through an
//! alias, read back only from a key the caller trusts, after the alias rotated too.

use kmsrot_core::RotateOptions;
use kmsrot_core::envelope::{CommitmentPolicy, EnvelopeFailure, Header, Trust};
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
        .envelope_encrypt(&context, 1024, &data, false)
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
        .envelope_encrypt(&EncryptionContext::new(), 4096, b"signed payload", true)
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
