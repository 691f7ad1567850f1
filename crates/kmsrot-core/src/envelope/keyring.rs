//! Data keys through KMS, as the ESDK's KMS keyring makes and reads them
//! (`framework/aws-kms/aws-kms-keyring.md`): "the key provider id MUST be "aws-kms"", "the key
//! provider information MUST be the response `KeyId`" (always a key ARN), and the encryption
//! context sent to KMS is the message's.
//!
//! A data key is made through an alias ([`AliasKms::envelope_encrypt`]). It is read back only
//! from a key the caller trusts ([`Trust`]): the keys of an alias's history as kmsrot's tags
//! record it, or, for data from other writers, any key of one account and partition. KMS
//! Decrypt is called with that exact key ("`KeyId` MUST be the configured AWS KMS key
//! identifier"), and its answer must name it.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use kmsrot_types::{EncryptionContext, KeyArn, Partition};

use super::{
    CommitmentPolicy, EncryptedDataKey, EnvelopeError, Header, Materials, Signer, encrypt_with,
    open_with, read_header,
};
use crate::{AliasKms, Kms, KmsError, SecretBytes, Subject};

/// The ESDK's provider ID for KMS.
pub const PROVIDER_ID: &str = "aws-kms";

/// Which KMS keys a message's data key may be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Exactly these keys (an alias's history, [`Kms::history_keys`]).
    Keys(Vec<KeyArn>),
    /// Any key of this account and partition (the ESDK's discovery filter).
    Discovery {
        /// The account.
        account: String,
        /// The partition.
        partition: Partition,
    },
}

impl Trust {
    fn admits(&self, key: &KeyArn) -> bool {
        match self {
            Self::Keys(keys) => keys.contains(key),
            Self::Discovery { account, partition } => {
                key.account() == account && key.partition() == *partition
            }
        }
    }
}

/// Why an envelope could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeFailure {
    /// The message itself.
    #[error(transparent)]
    Format(#[from] EnvelopeError),
    /// KMS refused or failed.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// No encrypted data key of the message is wrapped by a key the caller trusts.
    #[error("no data key of the message is wrapped by a key it trusts; the message names {named}")]
    Untrusted {
        /// The keys the message's data keys name.
        named: String,
    },
    /// The message's encryption context lacks a pair the caller requires.
    #[error("the message's encryption context does not hold {key}={value}")]
    Context {
        /// The key.
        key: String,
        /// The value required.
        value: String,
    },
}

fn context_pairs(context: &EncryptionContext) -> Vec<(String, String)> {
    context
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl AliasKms {
    /// Envelope-encrypts `plaintext` into an AWS Encryption SDK message, framed in
    /// `frame_length` bytes: a 32-byte data key from GenerateDataKey through the alias, with
    /// `context` both in the message's header and as the KMS encryption context. `signed`
    /// chooses suite `0x0578` (ECDSA P-384, the ESDK's default; its public key joins the
    /// context) over `0x0478`.
    pub async fn envelope_encrypt(
        &self,
        context: &EncryptionContext,
        frame_length: u32,
        plaintext: &[u8],
        signed: bool,
    ) -> Result<Vec<u8>, EnvelopeFailure> {
        let signer = if signed { Some(Signer::new()?) } else { None };
        let mut pairs = context_pairs(context);
        let mut kms_context = context.clone();
        if let Some(signer) = &signer {
            let (key, value) = signer.context_pair();
            kms_context.insert(key.clone(), value.clone());
            pairs.push((key, value));
        }
        let data_key = self
            .generate_data_key(DataKeySpec::Aes256, &kms_context)
            .await?;
        let materials = Materials {
            plaintext: data_key.plaintext,
            encrypted: vec![EncryptedDataKey {
                provider_id: PROVIDER_ID.into(),
                provider_info: data_key.encrypted.key_arn.to_string().into_bytes(),
                ciphertext: data_key.encrypted.ciphertext.0,
            }],
        };
        Ok(encrypt_with(
            &materials,
            &pairs,
            frame_length,
            plaintext,
            signer.as_ref(),
        )?)
    }
}

impl Kms {
    /// Decrypts an AWS Encryption SDK message whose data key a trusted KMS key wrapped. Every
    /// pair of `required` must be in the message's encryption context. The data keys are tried
    /// in order, each only when its key is trusted; KMS is asked with that key.
    pub async fn envelope_decrypt(
        &self,
        message: &[u8],
        trust: &Trust,
        required: &EncryptionContext,
        policy: CommitmentPolicy,
        max_data_keys: Option<usize>,
    ) -> Result<(Header, Vec<u8>), EnvelopeFailure> {
        let (header, header_len) = read_header(message, policy, max_data_keys)?;
        for (key, value) in required.iter() {
            if !header.context.iter().any(|(k, v)| k == key && v == value) {
                return Err(EnvelopeFailure::Context {
                    key: key.to_owned(),
                    value: value.to_owned(),
                });
            }
        }
        let context: std::collections::HashMap<String, String> =
            header.context.iter().cloned().collect();
        let mut named = Vec::new();
        let mut last_error = None;
        for edk in &header.data_keys {
            let Some(arn) = (edk.provider_id == PROVIDER_ID)
                .then(|| std::str::from_utf8(&edk.provider_info).ok())
                .flatten()
                .and_then(|info| info.parse::<KeyArn>().ok())
            else {
                continue;
            };
            named.push(arn.to_string());
            if !trust.admits(&arn) {
                continue;
            }
            match self.unwrap_data_key(&arn, &edk.ciphertext, &context).await {
                Ok(data_key) => {
                    let plaintext = open_with(message, &header, header_len, &data_key)?;
                    return Ok((header, plaintext));
                }
                Err(err) => last_error = Some(err),
            }
        }
        match last_error {
            Some(err) => Err(err.into()),
            None => Err(EnvelopeFailure::Untrusted {
                named: if named.is_empty() {
                    "no KMS key".into()
                } else {
                    named.join(", ")
                },
            }),
        }
    }

    /// KMS Decrypt of one encrypted data key with exactly `key`, whose answer must name it.
    async fn unwrap_data_key(
        &self,
        key: &KeyArn,
        ciphertext: &[u8],
        context: &std::collections::HashMap<String, String>,
    ) -> Result<SecretBytes, KmsError> {
        const OP: &str = "Decrypt";
        let subject = Subject::Key(key.clone());
        self.same_region(OP, &subject)?;
        let result = self
            .client
            .decrypt()
            .key_id(key.to_string())
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context((!context.is_empty()).then(|| context.clone()))
            .send()
            .await;
        match result {
            Ok(out) => {
                let answered = self.key_arn(OP, out.key_id())?;
                if &answered != key {
                    return Err(
                        self.unexpected(OP, format!("KMS decrypted with {answered}, not {key}"))
                    );
                }
                Ok(SecretBytes::new(
                    out.plaintext.map(Blob::into_inner).unwrap_or_default(),
                ))
            }
            Err(err) => Err(self.fail(OP, &subject, err).await),
        }
    }
}
