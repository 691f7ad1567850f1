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

use std::io::{Read, Seek, Write};

use super::cache::DataKeyCache;
use super::stream::{self, Encryptor, read_header_from};
use super::{
    CommitmentPolicy, DEFAULT_FRAME_LENGTH, EncryptedDataKey, EnvelopeError, Header, Materials,
    Signer, open_with, read_header,
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
    /// Whether a data key wrapped by `key` may be read.
    pub fn admits(&self, key: &KeyArn) -> bool {
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
    /// The message cannot be rewrapped, and why.
    #[error("the message cannot be rewrapped: {0}")]
    NotRewrappable(String),
    /// The message's encryption context lacks a pair the caller requires.
    #[error("the message's encryption context does not hold {key}={value}")]
    Context {
        /// The key.
        key: String,
        /// The value required.
        value: String,
    },
}

/// The KMS key an encrypted data key names, when KMS wrapped it.
pub(crate) fn kms_key(edk: &EncryptedDataKey) -> Option<KeyArn> {
    (edk.provider_id == PROVIDER_ID)
        .then(|| std::str::from_utf8(&edk.provider_info).ok())
        .flatten()
        .and_then(|info| info.parse::<KeyArn>().ok())
}

pub(crate) fn context_pairs(context: &EncryptionContext) -> Vec<(String, String)> {
    context
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// How [`AliasKms::envelope_encrypt`] writes a message.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    /// The frame length ([`DEFAULT_FRAME_LENGTH`] by default).
    pub frame_length: u32,
    /// Suite `0x0578` (ECDSA P-384, the ESDK's default, and kmsrot's) over `0x0478`.
    pub signed: bool,
    /// A data-key cache; without one, each message has its own data key.
    pub cache: Option<std::sync::Arc<DataKeyCache>>,
}

impl Default for EncryptOptions {
    fn default() -> Self {
        Self {
            frame_length: DEFAULT_FRAME_LENGTH,
            signed: true,
            cache: None,
        }
    }
}

/// When a signed message's plaintext may leave [`Kms::envelope_decrypt_stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// Only after the signature is verified: the plaintext of a signed message is staged in an
    /// unnamed temporary file (deleted when closed), then copied out. Unsigned messages, whose
    /// frames are each authenticated, stream directly.
    #[default]
    Verified,
    /// As each frame's tag holds, before a signed message's signature is checked (the ESDK's
    /// streaming mode): the caller must discard what it received if the call fails.
    Unverified,
}

/// How [`Kms::envelope_decrypt_stream`] reads a message.
#[derive(Debug, Clone)]
pub struct DecryptOptions {
    /// The keys a data key may be read from.
    pub trust: Trust,
    /// Pairs the message's encryption context must hold.
    pub required: EncryptionContext,
    /// The commitment policy.
    pub policy: CommitmentPolicy,
    /// The most encrypted data keys a message may carry (`None`: no limit, the ESDK's default).
    pub max_data_keys: Option<usize>,
    /// When a signed message's plaintext is released.
    pub release: Release,
}

impl DecryptOptions {
    /// Trusting `trust`, with the defaults: no required pairs, the default commitment
    /// policy, no limit on data keys, plaintext released once verified.
    pub fn new(trust: Trust) -> Self {
        Self {
            trust,
            required: EncryptionContext::default(),
            policy: CommitmentPolicy::default(),
            max_data_keys: None,
            release: Release::Verified,
        }
    }
}

/// A message [`AliasKms::envelope_encrypt_stream`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypted {
    /// The key that wrapped its data key.
    pub key: KeyArn,
    /// Its suite.
    pub suite: super::Suite,
    /// The plaintext's length.
    pub plaintext_len: u64,
}

/// A message [`Kms::envelope_decrypt_stream`] opened.
#[derive(Debug)]
pub struct Opened {
    /// Its header.
    pub header: Header,
    /// The key whose data key was read.
    pub key: KeyArn,
    /// The plaintext's length.
    pub plaintext_len: u64,
}

/// A message's data key and what its header carries, ready for an [`Encryptor`].
#[derive(Debug)]
pub struct EncryptionMaterials {
    /// The data key and its encrypted copy.
    pub materials: Materials,
    /// The header's encryption context (with the public key of a signed message).
    pub context: Vec<(String, String)>,
    /// The signing key of a signed message.
    pub signer: Option<Signer>,
}

impl AliasKms {
    /// A data key for one message: GenerateDataKey through the alias with `context` (and, for
    /// a signed message, the public key of a fresh signing key) as the KMS encryption context.
    /// The encrypted copy's provider is `aws-kms`, its provider info the key ARN.
    pub async fn envelope_materials(
        &self,
        context: &EncryptionContext,
        signed: bool,
    ) -> Result<EncryptionMaterials, EnvelopeFailure> {
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
        Ok(EncryptionMaterials {
            materials: Materials {
                plaintext: data_key.plaintext,
                encrypted: vec![EncryptedDataKey {
                    provider_id: PROVIDER_ID.into(),
                    provider_info: data_key.encrypted.key_arn.to_string().into_bytes(),
                    ciphertext: data_key.encrypted.ciphertext.0,
                }],
            },
            context: pairs,
            signer,
        })
    }

    /// Materials from the options' cache when it has some for this alias and context and
    /// `length` (`None`: unknown, which the cache does not serve, as the ESDK's) fits its
    /// limits; from KMS otherwise.
    async fn materials_for(
        &self,
        context: &EncryptionContext,
        length: Option<u64>,
        options: &EncryptOptions,
    ) -> Result<std::sync::Arc<EncryptionMaterials>, EnvelopeFailure> {
        match (&options.cache, length) {
            (Some(cache), Some(length)) => {
                cache.materials(self, context, options.signed, length).await
            }
            _ => Ok(std::sync::Arc::new(
                self.envelope_materials(context, options.signed).await?,
            )),
        }
    }

    /// Envelope-encrypts `plaintext` into an AWS Encryption SDK message (version 2, framed),
    /// `context` in its header and given to KMS.
    pub async fn envelope_encrypt(
        &self,
        context: &EncryptionContext,
        plaintext: &[u8],
        options: &EncryptOptions,
    ) -> Result<Vec<u8>, EnvelopeFailure> {
        let made = self
            .materials_for(context, Some(plaintext.len() as u64), options)
            .await?;
        let mut encryptor = Encryptor::new(
            Vec::with_capacity(plaintext.len() + 1024),
            &made.materials,
            &made.context,
            options.frame_length,
            made.signer.as_ref(),
        )?;
        encryptor.update(plaintext)?;
        Ok(encryptor.finish()?)
    }

    /// Envelope-encrypts a stream in constant memory: the data key first (one KMS call, or the
    /// cache when `length` is known), then `input` frame by frame into `output`
    /// ([`Encryptor::read_from`]). The reading and writing run on Tokio's blocking threads
    /// (`spawn_blocking`), so any blocking stream will do, S3's included
    /// ([`crate::s3::S3::object_reader`], [`crate::s3::S3::object_writer`]). Returns `output`
    /// once the message is written and flushed.
    pub async fn envelope_encrypt_stream<R, W>(
        &self,
        context: &EncryptionContext,
        mut input: R,
        output: W,
        length: Option<u64>,
        options: &EncryptOptions,
    ) -> Result<(Encrypted, W), EnvelopeFailure>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        let made = self.materials_for(context, length, options).await?;
        let key = made
            .materials
            .encrypted
            .first()
            .and_then(kms_key)
            .ok_or_else(|| EnvelopeError::DataKey("no KMS-wrapped data key".into()))?;
        let suite = if made.signer.is_some() {
            super::Suite::COMMITTING_SIGNED
        } else {
            super::Suite::COMMITTING
        };
        let frame_length = options.frame_length;
        let (plaintext_len, output) = blocking(move || {
            let mut encryptor = Encryptor::new(
                output,
                &made.materials,
                &made.context,
                frame_length,
                made.signer.as_ref(),
            )?;
            let plaintext_len = encryptor.read_from(&mut input)?;
            Ok((plaintext_len, encryptor.finish()?))
        })
        .await?;
        Ok((
            Encrypted {
                key,
                suite,
                plaintext_len,
            },
            output,
        ))
    }
}

/// Runs blocking stream work on Tokio's blocking threads, where readers and writers that wait
/// on the runtime (S3's) may block.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EnvelopeError> + Send + 'static,
) -> Result<T, EnvelopeError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => Err(EnvelopeError::io(
            "streaming the message",
            &std::io::Error::other("the runtime shut down"),
        )),
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
        let (_, data_key) = self.envelope_data_key(&header, trust, required).await?;
        let plaintext = open_with(message, &header, header_len, &data_key)?;
        Ok((header, plaintext))
    }

    /// Decrypts a message from `input` into `output` in constant memory. A signed message's
    /// plaintext is released as [`DecryptOptions::release`] says. The reading and writing run
    /// on Tokio's blocking threads, as [`AliasKms::envelope_encrypt_stream`]'s do. Returns
    /// `output`, flushed.
    pub async fn envelope_decrypt_stream<R, W>(
        &self,
        mut input: R,
        mut output: W,
        options: &DecryptOptions,
    ) -> Result<(Opened, W), EnvelopeFailure>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        let (policy, max_data_keys) = (options.policy, options.max_data_keys);
        let (header, header_bytes, rest, input) = blocking(move || {
            let (header, header_bytes, rest) = read_header_from(&mut input, policy, max_data_keys)?;
            Ok((header, header_bytes, rest, input))
        })
        .await?;
        let (key, data_key) = self
            .envelope_data_key(&header, &options.trust, &options.required)
            .await?;
        let staged = header.suite.signing != super::suite::Signing::None
            && options.release == Release::Verified;
        let (header, plaintext_len, output) = blocking(move || {
            let body = std::io::Cursor::new(rest).chain(input);
            let written = if staged {
                let mut stage = tempfile::tempfile().map_err(|e| {
                    EnvelopeError::io("making a temporary file for the plaintext", &e)
                })?;
                let written = {
                    let mut staging = std::io::BufWriter::new(&mut stage);
                    stream::open(&header, &header_bytes, &data_key, body, &mut staging)?
                };
                stage
                    .seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| EnvelopeError::io("reading the staged plaintext", &e))?;
                std::io::copy(&mut stage, &mut output)
                    .map_err(|e| EnvelopeError::io("writing the plaintext", &e))?;
                written
            } else {
                stream::open(&header, &header_bytes, &data_key, body, &mut output)?
            };
            output
                .flush()
                .map_err(|e| EnvelopeError::io("writing the plaintext", &e))?;
            Ok((header, written, output))
        })
        .await?;
        Ok((
            Opened {
                header,
                key,
                plaintext_len,
            },
            output,
        ))
    }

    /// The data key of a message: the first encrypted data key wrapped by a trusted key that
    /// KMS decrypts (asked with that key), once every pair of `required` is in the message's
    /// context. Returns the key that wrapped it, and the data key.
    pub async fn envelope_data_key(
        &self,
        header: &Header,
        trust: &Trust,
        required: &EncryptionContext,
    ) -> Result<(KeyArn, SecretBytes), EnvelopeFailure> {
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
            let Some(arn) = kms_key(edk) else {
                continue;
            };
            named.push(arn.to_string());
            if !trust.admits(&arn) {
                continue;
            }
            match self.unwrap_data_key(&arn, &edk.ciphertext, &context).await {
                Ok(data_key) => return Ok((arn, data_key)),
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
