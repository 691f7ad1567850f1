//! Envelope encryption in the AWS Encryption SDK's message format, on aws-lc-rs: data of any
//! size, its data key made through an alias; read back only from keys the caller trusts; moved
//! to the alias's current key after a rotation without touching the data (rewrap).
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use kmsrot_core::Kms;
//! use kmsrot_core::envelope::{
//!     CacheLimits, DataKeyCache, DecryptOptions, EncryptOptions, RewrapOutcome, Trust,
//! };
//! use kmsrot_types::EncryptionContext;
//!
//! # async fn example(config: &aws_config::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
//! let kms = Kms::new(config);
//! let alias = kms.alias_from_str("alias/backups")?;
//! let mut context = EncryptionContext::new();
//! context.insert("tenant", "acme");
//!
//! // Small messages in memory, sharing data keys for up to five minutes.
//! let cache = Arc::new(DataKeyCache::new(CacheLimits::new(Duration::from_secs(300)), 64));
//! let options = EncryptOptions { cache: Some(cache), ..EncryptOptions::default() };
//! let message = alias.envelope_encrypt(&context, b"a record", &options).await?;
//!
//! // A file of any size, in constant memory.
//! let input = std::fs::File::open("dump.sql")?;
//! let output = std::fs::File::create("dump.sql.esdk")?;
//! alias
//!     .envelope_encrypt_stream(&context, input, output, None, &EncryptOptions::default())
//!     .await?;
//!
//! // Or straight into S3: the object appears only once the whole message is written.
//! let s3 = kmsrot_core::s3::S3::new(config);
//! let (writer, upload) = s3.object_writer(&"s3://backups/dump.sql.esdk".parse()?)?;
//! let input = std::fs::File::open("dump.sql")?;
//! match alias.envelope_encrypt_stream(&context, input, writer, None, &EncryptOptions::default()).await {
//!     Ok((_, writer)) => { upload.complete(writer).await?; }
//!     Err(err) => { upload.abort().await; return Err(err.into()); }
//! }
//!
//! // Read back only from the keys of the alias's history, whichever made it.
//! let history = kms.history(alias.alias().name()).await?;
//! let options = DecryptOptions { required: context, ..DecryptOptions::new(Trust::Keys(history.clone())) };
//! let (_, plaintext) = kms
//!     .envelope_decrypt_stream(std::io::Cursor::new(message), Vec::new(), &options)
//!     .await?;
//!
//! // After a rotation: move the file to the alias's new key, in place.
//! let outcome = alias
//!     .envelope_rewrap_file(std::path::Path::new("dump.sql.esdk"), &history, None)
//!     .await?;
//! if let RewrapOutcome::Moved { from, to } = outcome {
//!     println!("moved from {from} to {to}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The parts:
//!
//! - [`Encryptor`] ([`stream`]) writes a version 2 message, framed, in a committing suite:
//!   `0x0478`, or `0x0578` with a [`Signer`] (ECDSA P-384, its public key in the context, a
//!   footer); [`encrypt_with`] is its whole-message form;
//! - [`stream::open`] (after [`stream::read_header_from`]) and [`decrypt_with`] (or
//!   [`read_header`], then [`open_with`]) read framed and non-framed messages of every suite,
//!   version 1 and 2, under a [`CommitmentPolicy`] (by default only committing suites) and a
//!   limit on encrypted data keys. The commit key is checked (in constant time) before the
//!   header's tag, the header's tag before any frame, the signature after the last frame;
//! - [`keyring`] makes and reads data keys through KMS, [`cache`] shares them between
//!   messages, and [`rewrap`] moves messages to a new key.
//!
//! The specification is `awslabs/aws-encryption-sdk-specification` (`data-format/`,
//! `framework/algorithm-suites.md`, `framework/transitive-requirements.md`,
//! `client-apis/encrypt.md` and `decrypt.md`); the sentences quoted in these modules are its.

mod body;
pub mod cache;
pub mod header;
pub mod keyring;
mod keys;
pub mod rewrap;
pub mod stream;
pub mod suite;

use aws_lc_rs::aead::{Aad, Nonce};

pub use cache::{CacheLimits, CacheStats, DataKeyCache};
pub use header::{EncryptedDataKey, Header};
pub use keyring::{
    DecryptOptions, EncryptOptions, Encrypted, EncryptionMaterials, EnvelopeFailure, Opened,
    PROVIDER_ID, Release, Trust,
};
pub use rewrap::{Rewrap, RewrapOutcome, RewrapPlan};
pub use stream::Encryptor;
pub use suite::{CommitmentPolicy, Suite};

use crate::SecretBytes;

/// Why a message could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The message ends before a field does.
    #[error("the message is truncated: it ends inside the {what}")]
    Truncated {
        /// The field.
        what: &'static str,
    },
    /// A field holds what the format does not allow.
    #[error("the message is malformed: {0}")]
    Malformed(String),
    /// A suite ID the ESDK does not define.
    #[error("algorithm suite {0:#06x} is not one the AWS Encryption SDK defines")]
    UnknownSuite(u16),
    /// A suite the commitment policy refuses.
    #[error(
        "the message is in algorithm suite {0:#06x}, which does not commit to its key; the commitment policy (require-encrypt-require-decrypt) refuses it. Read it under require-encrypt-allow-decrypt if you trust its source"
    )]
    NotCommitting(u16),
    /// The message's signature does not verify.
    #[error("the message's signature does not verify: it was changed after it was signed")]
    Signature,
    /// More encrypted data keys than the caller allows.
    #[error("the message has {count} encrypted data keys, more than the {max} allowed")]
    TooManyDataKeys {
        /// In the message.
        count: usize,
        /// Allowed.
        max: usize,
    },
    /// The data key does not match the message's commit key.
    #[error(
        "the data key does not match the message's key commitment: the message or its data key was tampered with"
    )]
    Commitment,
    /// The header's tag does not match.
    #[error(
        "the message header failed its authentication: it was changed, or the encryption context differs"
    )]
    HeaderTag,
    /// A frame's tag does not match.
    #[error("frame {sequence} failed its authentication: the message was changed")]
    FrameTag {
        /// The frame's sequence number.
        sequence: u32,
    },
    /// Bytes after the end of the message.
    #[error("{0} bytes follow the end of the message")]
    Trailing(usize),
    /// No data key could be had for the message.
    #[error("no data key: {0}")]
    DataKey(String),
    /// Reading the message or writing its output failed.
    #[error("{0}")]
    Io(String),
}

impl EnvelopeError {
    pub(crate) fn io(what: &str, err: &std::io::Error) -> Self {
        Self::Io(format!("{what}: {err}"))
    }
}

/// A message's data key: its plaintext, and the encrypted copies the header carries.
#[derive(Debug)]
pub struct Materials {
    /// The data key (32 bytes for the committing suites).
    pub plaintext: SecretBytes,
    /// Its encrypted copies, one per wrapping key.
    pub encrypted: Vec<EncryptedDataKey>,
}

/// The default frame length, as the ESDK's: "This value MUST default to 4096 bytes."
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;

/// The reserved prefix of encryption context keys: "If the input encryption context contains
/// any entries with a key beginning with this prefix, the encryption operation MUST fail."
const RESERVED_PREFIX: &str = "aws-crypto-";

fn header_tag(
    key: &aws_lc_rs::aead::LessSafeKey,
    iv: [u8; 12],
    body: &[u8],
) -> Result<[u8; 16], EnvelopeError> {
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(body), &mut [])
        .map_err(|_| EnvelopeError::Malformed("AES-GCM refused the header".into()))?;
    let mut out = [0; 16];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// A message's signing key (suite `0x0578`): made for one message, its public key stored in
/// the encryption context under `aws-crypto-public-key` ("base64-encoded public verification
/// key", the point compressed as SEC 1 §2.3.3 says), which the data key's KMS call sees too.
pub struct Signer {
    key: aws_lc_rs::signature::EcdsaKeyPair,
    public_key: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// The encryption context key of a signed message's public key.
pub const PUBLIC_KEY_CONTEXT: &str = "aws-crypto-public-key";

impl Signer {
    /// A fresh ECDSA P-384 key.
    pub fn new() -> Result<Self, EnvelopeError> {
        use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
        use aws_lc_rs::signature::{ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
        use base64::Engine;
        let key = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_ASN1_SIGNING)
            .map_err(|_| EnvelopeError::Malformed("no signing key could be made".into()))?;
        let point: EcPublicKeyCompressedBin<'_> = key
            .public_key()
            .as_be_bytes()
            .map_err(|_| EnvelopeError::Malformed("no public key".into()))?;
        let public_key = base64::engine::general_purpose::STANDARD.encode(point.as_ref());
        Ok(Self { key, public_key })
    }

    /// The context pair that carries its public key.
    pub fn context_pair(&self) -> (String, String) {
        (PUBLIC_KEY_CONTEXT.to_owned(), self.public_key.clone())
    }

    /// Signs the SHA-384 digest of the header and body. The signature is DER, made again until
    /// it is 103 bytes long, the length the ESDKs give every P-384 signature, so that a
    /// message's length is known before it is signed.
    fn sign_digest(&self, digest: &aws_lc_rs::digest::Digest) -> Result<Vec<u8>, EnvelopeError> {
        for _ in 0..64 {
            let signature = self
                .key
                .sign_digest(digest)
                .map_err(|_| EnvelopeError::Malformed("the message could not be signed".into()))?;
            if signature.as_ref().len() == SIGNATURE_LEN {
                return Ok(signature.as_ref().to_vec());
            }
        }
        Err(EnvelopeError::Malformed(
            "no signature of the fixed length could be made".into(),
        ))
    }
}

/// The length of a P-384 signature as the ESDKs write it (DER, padded by trying again).
pub const SIGNATURE_LEN: usize = 103;

/// Encrypts `plaintext` into a version 2 message, framed in `frame_length` bytes, under
/// `materials`, with `context` in its header: suite `0x0478` without `signer`, `0x0578` (the
/// ESDK's default) with it, whose public key must then be in `context` already (it is part of
/// what the data key's KMS call was given).
pub fn encrypt_with(
    materials: &Materials,
    context: &[(String, String)],
    frame_length: u32,
    plaintext: &[u8],
    signer: Option<&Signer>,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut encryptor = Encryptor::new(Vec::new(), materials, context, frame_length, signer)?;
    encryptor.update(plaintext)?;
    encryptor.finish()
}

/// Decrypts a whole message. `unwrap` gives the plaintext data key from the header's encrypted
/// data keys (and refuses those it does not trust). Returns the header and the plaintext.
pub fn decrypt_with(
    message: &[u8],
    policy: CommitmentPolicy,
    max_data_keys: Option<usize>,
    unwrap: impl FnOnce(&Header) -> Result<SecretBytes, EnvelopeError>,
) -> Result<(Header, Vec<u8>), EnvelopeError> {
    let (header, header_len) = read_header(message, policy, max_data_keys)?;
    let data_key = unwrap(&header)?;
    let plaintext = open_with(message, &header, header_len, &data_key)?;
    Ok((header, plaintext))
}

/// Reads a message's header under the commitment policy (the suite is checked first, before
/// anything else is read) and the limit on encrypted data keys. Returns it with its length.
pub fn read_header(
    message: &[u8],
    policy: CommitmentPolicy,
    max_data_keys: Option<usize>,
) -> Result<(Header, usize), EnvelopeError> {
    if message.len() >= 4 {
        let id = if message[0] == 1 {
            u16::from_be_bytes([message[2], message[3]])
        } else {
            u16::from_be_bytes([message[1], message[2]])
        };
        if let Some(suite) = Suite::from_id(id)
            && !policy.allows_decrypt(&suite)
        {
            return Err(EnvelopeError::NotCommitting(id));
        }
    }
    let (header, header_len) = Header::read(message, max_data_keys)?;
    if !policy.allows_decrypt(&header.suite) {
        return Err(EnvelopeError::NotCommitting(header.suite.id));
    }
    let public_key = header.context.iter().any(|(k, _)| k == PUBLIC_KEY_CONTEXT);
    match header.suite.signing {
        suite::Signing::None if public_key => {
            return Err(EnvelopeError::Malformed(format!(
                "an unsigned message carries `{PUBLIC_KEY_CONTEXT}` in its encryption context"
            )));
        }
        suite::Signing::None => {}
        _ if !public_key => {
            return Err(EnvelopeError::Malformed(format!(
                "a signed message has no `{PUBLIC_KEY_CONTEXT}` in its encryption context"
            )));
        }
        _ => {}
    }
    Ok((header, header_len))
}

/// Opens the message whose header [`read_header`] read, with its data key: the commit key
/// first, then the header's tag, then every frame. Returns the plaintext.
pub fn open_with(
    message: &[u8],
    header: &Header,
    header_len: usize,
    data_key: &SecretBytes,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut plaintext = Vec::new();
    stream::open(
        header,
        &message[..header_len],
        data_key,
        &message[header_len..],
        &mut plaintext,
    )?;
    Ok(plaintext)
}

/// Verifies a message's signature over the digest of its header and body.
fn verify_signature(
    header: &Header,
    digest: &aws_lc_rs::digest::Digest,
    signature: &[u8],
) -> Result<(), EnvelopeError> {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, UnparsedPublicKey};
    use base64::Engine;
    let algorithm = match header.suite.signing {
        suite::Signing::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
        suite::Signing::EcdsaP384 => &ECDSA_P384_SHA384_ASN1,
        suite::Signing::None => return Ok(()),
    };
    let encoded = header
        .context
        .iter()
        .find(|(k, _)| k == PUBLIC_KEY_CONTEXT)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let point = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| EnvelopeError::Malformed(format!("`{PUBLIC_KEY_CONTEXT}` is not base64")))?;
    UnparsedPublicKey::new(algorithm, point)
        .verify_digest(digest, signature)
        .map_err(|_| EnvelopeError::Signature)
}

#[cfg(test)]
mod tests;
