//! The message header: read in both versions, written in version 2.
//!
//! Big-endian throughout ("The message header is a sequence of bytes that MUST be in big-endian
//! format."). Version 2: version `02`, suite ID, a 32-byte message ID, the encryption context,
//! the encrypted data keys, the content type, the frame length and the suite data (the commit
//! key), then a 16-byte tag and no IV. Version 1: version `01`, type `80`, suite ID, a 16-byte
//! message ID, context, data keys, content type, four reserved zero bytes, the IV length (12),
//! the frame length, then the IV and the tag.
//!
//! The raw bytes of the header body are kept: the header is authenticated (and signed) as it
//! was written, never as a reader would serialize it again. Real messages carry encryption
//! contexts that are not sorted, and the ESDKs read them.

use super::EnvelopeError;
use super::suite::Suite;

/// Framed content, the only kind written.
pub const FRAMED: u8 = 0x02;
/// Non-framed content (read only).
pub const NON_FRAMED: u8 = 0x01;

/// One encrypted data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Who wrapped it: `aws-kms` for KMS.
    pub provider_id: String,
    /// For KMS, the ARN of the key that wrapped it.
    pub provider_info: Vec<u8>,
    /// The wrapped data key.
    pub ciphertext: Vec<u8>,
}

/// A message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The algorithm suite.
    pub suite: Suite,
    /// The message ID (32 bytes in version 2, 16 in version 1).
    pub message_id: Vec<u8>,
    /// The encryption context, in the order it is stored.
    pub context: Vec<(String, String)>,
    /// The encrypted data keys.
    pub data_keys: Vec<EncryptedDataKey>,
    /// [`FRAMED`] or [`NON_FRAMED`].
    pub content_type: u8,
    /// The frame length (0 for non-framed content).
    pub frame_length: u32,
    /// The suite data: the commit key in version 2, empty in version 1.
    pub commitment: Vec<u8>,
    /// The header's IV: stored in version 1, twelve zero bytes in version 2.
    pub iv: [u8; 12],
    /// The header's authentication tag.
    pub tag: [u8; 16],
    /// The header body as read or written, which the tag authenticates.
    pub body: Vec<u8>,
}

/// A cursor over the bytes of a message, failing with [`EnvelopeError::Truncated`] past the end.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EnvelopeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(EnvelopeError::Truncated { what })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, EnvelopeError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, EnvelopeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, EnvelopeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn text(&mut self, what: &'static str) -> Result<String, EnvelopeError> {
        let len = usize::from(self.u16(what)?);
        String::from_utf8(self.take(len, what)?.to_vec())
            .map_err(|_| EnvelopeError::Malformed(format!("the {what} is not UTF-8")))
    }

    fn field(&mut self, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
        let len = usize::from(self.u16(what)?);
        Ok(self.take(len, what)?.to_vec())
    }
}

/// The serialization of an encryption context: empty when it is, otherwise the pair count and
/// each key and value, sorted by key ("These entries MUST be sorted, by key, in ascending order
/// according to the UTF-8 encoded binary value.").
pub fn serialize_context(context: &[(String, String)]) -> Result<Vec<u8>, EnvelopeError> {
    if context.is_empty() {
        return Ok(Vec::new());
    }
    let mut pairs: Vec<&(String, String)> = context.iter().collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(EnvelopeError::Malformed(
            "the encryption context has a key twice".into(),
        ));
    }
    let mut out = Vec::new();
    put_u16(&mut out, pairs.len(), "encryption context pairs")?;
    for (key, value) in pairs {
        put_field(&mut out, key.as_bytes(), "encryption context key")?;
        put_field(&mut out, value.as_bytes(), "encryption context value")?;
    }
    Ok(out)
}

fn put_u16(out: &mut Vec<u8>, n: usize, what: &str) -> Result<(), EnvelopeError> {
    let n = u16::try_from(n)
        .map_err(|_| EnvelopeError::Malformed(format!("the {what} is over 65535 bytes")))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8], what: &str) -> Result<(), EnvelopeError> {
    put_u16(out, bytes.len(), what)?;
    out.extend_from_slice(bytes);
    Ok(())
}

impl Header {
    /// Reads a header from the start of `bytes` (version 1 or 2), refusing more than
    /// `max_data_keys` encrypted data keys as soon as their count is read. Returns the header
    /// and its length in bytes.
    pub fn read(
        bytes: &[u8],
        max_data_keys: Option<usize>,
    ) -> Result<(Self, usize), EnvelopeError> {
        let mut c = Cursor::new(bytes);
        let version = c.u8("version")?;
        if version == 1 && c.u8("type")? != 0x80 {
            return Err(EnvelopeError::Malformed(
                "a version 1 header's type is not 0x80".into(),
            ));
        }
        if !matches!(version, 1 | 2) {
            return Err(EnvelopeError::Malformed(format!(
                "version {version:#04x} is not a message format version (1 or 2): not an AWS Encryption SDK message"
            )));
        }
        let id = c.u16("algorithm suite ID")?;
        let suite = Suite::from_id(id).ok_or(EnvelopeError::UnknownSuite(id))?;
        if suite.version() != version {
            return Err(EnvelopeError::Malformed(format!(
                "suite {id:#06x} belongs to version {}, not {version}",
                suite.version()
            )));
        }
        let message_id = c.take(suite.message_id_len(), "message ID")?.to_vec();
        let context_len = usize::from(c.u16("encryption context length")?);
        let context = if context_len == 0 {
            Vec::new()
        } else {
            let mut ec = Cursor::new(c.take(context_len, "encryption context")?);
            let count = ec.u16("encryption context pairs")?;
            let mut pairs = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                pairs.push((
                    ec.text("encryption context key")?,
                    ec.text("encryption context value")?,
                ));
            }
            if ec.position() != context_len {
                return Err(EnvelopeError::Malformed(
                    "the encryption context is longer than its pairs".into(),
                ));
            }
            pairs
        };
        let count = usize::from(c.u16("encrypted data key count")?);
        if count == 0 {
            return Err(EnvelopeError::Malformed(
                "the message has no encrypted data key".into(),
            ));
        }
        if let Some(max) = max_data_keys
            && count > max
        {
            return Err(EnvelopeError::TooManyDataKeys { count, max });
        }
        let mut data_keys = Vec::with_capacity(count);
        for _ in 0..count {
            data_keys.push(EncryptedDataKey {
                provider_id: c.text("key provider ID")?,
                provider_info: c.field("key provider info")?,
                ciphertext: c.field("encrypted data key")?,
            });
        }
        let content_type = c.u8("content type")?;
        if !matches!(content_type, FRAMED | NON_FRAMED) {
            return Err(EnvelopeError::Malformed(format!(
                "content type {content_type:#04x} is neither framed nor non-framed"
            )));
        }
        if version == 1 {
            if c.take(4, "reserved bytes")? != [0; 4] {
                return Err(EnvelopeError::Malformed(
                    "the reserved bytes are not zero".into(),
                ));
            }
            if c.u8("IV length")? != 12 {
                return Err(EnvelopeError::Malformed("the IV length is not 12".into()));
            }
        }
        let frame_length = c.u32("frame length")?;
        if (content_type == FRAMED) == (frame_length == 0) {
            return Err(EnvelopeError::Malformed(format!(
                "frame length {frame_length} for {} content",
                if content_type == FRAMED {
                    "framed"
                } else {
                    "non-framed"
                }
            )));
        }
        let commitment = c.take(suite.suite_data_len(), "commit key")?.to_vec();
        let body = bytes[..c.position()].to_vec();
        let mut iv = [0; 12];
        if version == 1 {
            iv.copy_from_slice(c.take(12, "header IV")?);
        }
        let mut tag = [0; 16];
        tag.copy_from_slice(c.take(16, "header tag")?);
        Ok((
            Self {
                suite,
                message_id,
                context,
                data_keys,
                content_type,
                frame_length,
                commitment,
                iv,
                tag,
                body,
            },
            c.position(),
        ))
    }

    /// The version 2 header body of a framed message, without the tag: the bytes the tag
    /// authenticates. The context is sorted.
    pub fn write_body(
        suite: Suite,
        message_id: &[u8],
        context: &[(String, String)],
        data_keys: &[EncryptedDataKey],
        frame_length: u32,
        commitment: &[u8],
    ) -> Result<Vec<u8>, EnvelopeError> {
        let mut out = vec![2];
        out.extend_from_slice(&suite.id.to_be_bytes());
        out.extend_from_slice(message_id);
        let context = serialize_context(context)?;
        put_field(&mut out, &context, "encryption context")?;
        put_u16(&mut out, data_keys.len(), "encrypted data key count")?;
        for key in data_keys {
            put_field(&mut out, key.provider_id.as_bytes(), "key provider ID")?;
            put_field(&mut out, &key.provider_info, "key provider info")?;
            put_field(&mut out, &key.ciphertext, "encrypted data key")?;
        }
        out.push(FRAMED);
        out.extend_from_slice(&frame_length.to_be_bytes());
        out.extend_from_slice(commitment);
        Ok(out)
    }
}
