//! Envelope encryption in the AWS Encryption SDK's message format (issue 17, first part): the
//! format itself, on aws-lc-rs, and data keys through KMS ([`keyring`]). Streaming, the
//! data-key cache, rewrap and the CLI build on it.
//!
//! - [`encrypt_with`] writes a version 2 message, framed, in a committing suite: `0x0478`, or
//!   `0x0578` with a [`Signer`] (ECDSA P-384, its public key in the context, a footer);
//! - [`decrypt_with`] (or [`read_header`], then [`open_with`]) reads framed and non-framed
//!   messages of every suite, version 1 and 2, under a [`CommitmentPolicy`] (by default only
//!   committing suites) and a limit on encrypted data keys. The commit key is checked (in
//!   constant time) before the header's tag, the header's tag before any frame, the signature
//!   after the last frame, and nothing is returned unless all of them held.
//!
//! The specification is `awslabs/aws-encryption-sdk-specification` (`data-format/`,
//! `framework/algorithm-suites.md`, `framework/transitive-requirements.md`,
//! `client-apis/encrypt.md` and `decrypt.md`); the sentences quoted in these modules are its.

mod body;
pub mod header;
pub mod keyring;
mod keys;
pub mod suite;

use aws_lc_rs::aead::{Aad, Nonce};

pub use header::{EncryptedDataKey, Header};
pub use keyring::{EnvelopeFailure, PROVIDER_ID, Trust};
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

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(&rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| EnvelopeError::Malformed("the message could not be signed".into()))
    }
}

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
    let suite = match signer {
        Some(_) => Suite::COMMITTING_SIGNED,
        None => Suite::COMMITTING,
    };
    if frame_length == 0 {
        return Err(EnvelopeError::Malformed("a frame length of 0".into()));
    }
    let own = signer.map(Signer::context_pair);
    if own.as_ref().is_some_and(|pair| !context.contains(pair)) {
        return Err(EnvelopeError::Malformed(
            "the signer's public key is not in the encryption context".into(),
        ));
    }
    if let Some((key, _)) = context
        .iter()
        .filter(|pair| Some(*pair) != own.as_ref())
        .find(|(k, _)| k.starts_with(RESERVED_PREFIX))
    {
        return Err(EnvelopeError::Malformed(format!(
            "encryption context key `{key}` uses the prefix `{RESERVED_PREFIX}`, which the AWS Encryption SDK reserves"
        )));
    }
    if materials.encrypted.is_empty() {
        return Err(EnvelopeError::DataKey(
            "no encrypted copy of the data key".into(),
        ));
    }
    let mut message_id = vec![0; suite.message_id_len()];
    aws_lc_rs::rand::fill(&mut message_id)
        .map_err(|_| EnvelopeError::Malformed("no random message ID".into()))?;
    let derived = keys::derive(&suite, materials.plaintext.expose(), &message_id)?;
    let commitment = derived.commitment.unwrap_or_default();
    let mut out = Header::write_body(
        suite,
        &message_id,
        context,
        &materials.encrypted,
        frame_length,
        &commitment,
    )?;
    let key = body::aead_key(derived.content.expose())?;
    let tag = header_tag(&key, [0; 12], &out)?;
    out.extend_from_slice(&tag);
    let frame = frame_length as usize;
    let mut chunks = plaintext.chunks(frame).peekable();
    let mut sequence: u32 = 1;
    // Full frames, then the final frame: the rest, or empty when the plaintext fills the
    // frames exactly (as the ESDKs write it).
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none() && chunk.len() < frame;
        body::seal_frame(&key, &message_id, sequence, chunk, last, &mut out)?;
        if last {
            return footer(out, signer);
        }
        sequence = sequence
            .checked_add(1)
            .filter(|n| *n != u32::MAX)
            .ok_or_else(|| EnvelopeError::Malformed("more than 2^32 - 1 frames".into()))?;
    }
    body::seal_frame(&key, &message_id, sequence, &[], true, &mut out)?;
    footer(out, signer)
}

/// Appends the footer of a signed message: the signature's length and the signature, "over
/// both the message header and the message body, in the order of serialization".
fn footer(mut message: Vec<u8>, signer: Option<&Signer>) -> Result<Vec<u8>, EnvelopeError> {
    if let Some(signer) = signer {
        let signature = signer.sign(&message)?;
        let len = u16::try_from(signature.len())
            .map_err(|_| EnvelopeError::Malformed("a signature over 65535 bytes".into()))?;
        message.extend_from_slice(&len.to_be_bytes());
        message.extend_from_slice(&signature);
    }
    Ok(message)
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
    let derived = keys::derive(&header.suite, data_key.expose(), &header.message_id)?;
    if let Some(commitment) = &derived.commitment
        && aws_lc_rs::constant_time::verify_slices_are_equal(commitment, &header.commitment)
            .is_err()
    {
        return Err(EnvelopeError::Commitment);
    }
    let key = body::aead_key(derived.content.expose())?;
    let nonce = Nonce::assume_unique_for_key(header.iv);
    key.open_in_place_separate_tag(
        nonce,
        Aad::from(header.body.as_slice()),
        &header.tag,
        &mut [],
    )
    .map_err(|_| EnvelopeError::HeaderTag)?;
    let mut c = header::Cursor::new(&message[header_len..]);
    let mut plaintext = Vec::new();
    body::open_body(&mut c, header, &key, &mut plaintext)?;
    let signed_len = header_len + c.position();
    if header.suite.signing != suite::Signing::None {
        // No plaintext leaves before the signature is verified.
        let len = usize::from(c.u16("signature length")?);
        let signature = c.take(len, "signature")?;
        verify_signature(header, &message[..signed_len], signature)?;
    }
    let rest = message.len() - header_len - c.position();
    if rest > 0 {
        return Err(EnvelopeError::Trailing(rest));
    }
    Ok(plaintext)
}

fn verify_signature(header: &Header, signed: &[u8], signature: &[u8]) -> Result<(), EnvelopeError> {
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
        .verify(signed, signature)
        .map_err(|_| EnvelopeError::Signature)
}

#[cfg(test)]
mod tests;
