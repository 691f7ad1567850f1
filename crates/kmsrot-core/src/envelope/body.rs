//! The message body: frames sealed and opened with AES-GCM (`data-format/message-body.md`,
//! `message-body-aad.md`).
//!
//! A regular frame is its sequence number, its IV, exactly the frame length of ciphertext and
//! a tag. The final frame starts with `FF FF FF FF`, then its sequence number, IV, content
//! length, content and tag; there is exactly one, and it is last (empty when the plaintext
//! fills the frames before it, as the ESDKs write it). Sequence numbers start at 1. Each
//! frame's AAD is the message ID, `AWSKMSEncryptionClient Frame` (or `… Final Frame`), the
//! sequence number (u32) and the content length (u64); its IV is the sequence number, padded
//! to 12 bytes with zeros in front. A frame is opened with the IV it carries, as the ESDKs do.

use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::EnvelopeError;
use super::header::{Cursor, FRAMED, Header};

const FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_FRAME: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const SINGLE_BLOCK: &[u8] = b"AWSKMSEncryptionClient Single Block";
const FINAL_MARK: u32 = 0xFFFF_FFFF;
/// AES-GCM's tag.
pub(crate) const TAG_LEN: usize = 16;

/// An AES-GCM key of 16, 24 or 32 bytes.
pub(crate) fn aead_key(key: &[u8]) -> Result<LessSafeKey, EnvelopeError> {
    let algorithm = match key.len() {
        16 => &AES_128_GCM,
        24 => &AES_192_GCM,
        32 => &AES_256_GCM,
        n => return Err(EnvelopeError::Malformed(format!("an AES key of {n} bytes"))),
    };
    UnboundKey::new(algorithm, key)
        .map(LessSafeKey::new)
        .map_err(|_| EnvelopeError::Malformed("the content key was refused".into()))
}

fn aad(message_id: &[u8], kind: &[u8], sequence: u32, length: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(message_id.len() + kind.len() + 12);
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(kind);
    aad.extend_from_slice(&sequence.to_be_bytes());
    aad.extend_from_slice(&length.to_be_bytes());
    aad
}

/// The IV of frame `sequence`: its number, right-aligned in 12 bytes.
pub(crate) fn frame_iv(sequence: u32) -> [u8; 12] {
    let mut iv = [0; 12];
    iv[8..].copy_from_slice(&sequence.to_be_bytes());
    iv
}

/// Appends frame `sequence` of `plaintext` to `out`: regular, or the final frame.
pub(crate) fn seal_frame(
    key: &LessSafeKey,
    message_id: &[u8],
    sequence: u32,
    plaintext: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> Result<(), EnvelopeError> {
    let iv = frame_iv(sequence);
    let kind = if last { FINAL_FRAME } else { FRAME };
    let aad = aad(message_id, kind, sequence, plaintext.len() as u64);
    if last {
        out.extend_from_slice(&FINAL_MARK.to_be_bytes());
    }
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&iv);
    if last {
        let len = u32::try_from(plaintext.len())
            .map_err(|_| EnvelopeError::Malformed("a frame over 4 GiB".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
    }
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(aad.as_slice()),
            &mut out[start..],
        )
        .map_err(|_| EnvelopeError::Malformed("AES-GCM refused to seal a frame".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

fn open(
    key: &LessSafeKey,
    iv: &[u8],
    aad: &[u8],
    sealed: &[u8],
    tag: &[u8],
    sequence: u32,
) -> Result<Vec<u8>, EnvelopeError> {
    let nonce = Nonce::try_assume_unique_for_key(iv)
        .map_err(|_| EnvelopeError::Malformed("a frame IV is not 12 bytes".into()))?;
    let mut plaintext = sealed.to_vec();
    key.open_in_place_separate_tag(nonce, Aad::from(aad), tag, &mut plaintext)
        .map_err(|_| EnvelopeError::FrameTag { sequence })?;
    Ok(plaintext)
}

/// Opens the body that follows `header` in `c`, into `out`. Nothing is kept from a frame
/// that fails its tag.
pub(crate) fn open_body(
    c: &mut Cursor<'_>,
    header: &Header,
    key: &LessSafeKey,
    out: &mut Vec<u8>,
) -> Result<(), EnvelopeError> {
    let message_id = &header.message_id;
    if header.content_type != FRAMED {
        let iv = c.take(12, "body IV")?;
        let length = c.u64("body length")?;
        let length = usize::try_from(length)
            .ok()
            .filter(|n| *n as u64 <= (1u64 << 36) - 32)
            .ok_or_else(|| {
                EnvelopeError::Malformed("the body is longer than 2^36 - 32 bytes".into())
            })?;
        let sealed = c.take(length, "body")?;
        let tag = c.take(TAG_LEN, "body tag")?;
        let aad = aad(message_id, SINGLE_BLOCK, 1, length as u64);
        out.extend_from_slice(&open(key, iv, &aad, sealed, tag, 1)?);
        return Ok(());
    }
    let frame_length = header.frame_length as usize;
    let mut expected: u32 = 1;
    loop {
        let first = c.u32("frame sequence number")?;
        let last = first == FINAL_MARK;
        let sequence = if last {
            c.u32("final frame sequence number")?
        } else {
            first
        };
        if sequence != expected {
            return Err(EnvelopeError::Malformed(format!(
                "frame {sequence} where frame {expected} was due"
            )));
        }
        let iv = c.take(12, "frame IV")?;
        let length = if last {
            let length = c.u32("final frame length")? as usize;
            if length > frame_length {
                return Err(EnvelopeError::Malformed(format!(
                    "the final frame holds {length} bytes, more than the frame length {frame_length}"
                )));
            }
            length
        } else {
            frame_length
        };
        let sealed = c.take(length, "frame content")?;
        let tag = c.take(TAG_LEN, "frame tag")?;
        let kind = if last { FINAL_FRAME } else { FRAME };
        let aad = aad(message_id, kind, sequence, length as u64);
        out.extend_from_slice(&open(key, iv, &aad, sealed, tag, sequence)?);
        if last {
            return Ok(());
        }
        expected = expected
            .checked_add(1)
            .filter(|n| *n != FINAL_MARK)
            .ok_or_else(|| EnvelopeError::Malformed("more than 2^32 - 1 frames".into()))?;
    }
}
