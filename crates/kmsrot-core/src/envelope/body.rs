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

const FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_FRAME: &[u8] = b"AWSKMSEncryptionClient Final Frame";
const SINGLE_BLOCK: &[u8] = b"AWSKMSEncryptionClient Single Block";
pub(crate) const FINAL_MARK: u32 = 0xFFFF_FFFF;
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

/// A frame's AAD, on the stack: the message ID (at most 32 bytes), the kind (at most 35), the
/// sequence number and the length.
struct FrameAad {
    bytes: [u8; 96],
    len: usize,
}

impl FrameAad {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn aad(message_id: &[u8], kind: &[u8], sequence: u32, length: u64) -> FrameAad {
    let mut bytes = [0; 96];
    let mut len = 0;
    for part in [
        message_id,
        kind,
        &sequence.to_be_bytes()[..],
        &length.to_be_bytes()[..],
    ] {
        bytes[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    FrameAad { bytes, len }
}

/// Seals a regular frame in place: `slot` is the frame as it is written (sequence number, IV,
/// content, tag), its content already filled with plaintext.
pub(crate) fn seal_regular_in_place(
    key: &LessSafeKey,
    message_id: &[u8],
    sequence: u32,
    slot: &mut [u8],
) -> Result<(), EnvelopeError> {
    let content_len = slot.len() - 16 - TAG_LEN;
    let iv = frame_iv(sequence);
    slot[..4].copy_from_slice(&sequence.to_be_bytes());
    slot[4..16].copy_from_slice(&iv);
    let aad = aad(message_id, FRAME, sequence, content_len as u64);
    let (content, tag) = slot[16..].split_at_mut(content_len);
    let sealed = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(aad.as_slice()),
            content,
        )
        .map_err(|_| EnvelopeError::Malformed("AES-GCM refused to seal a frame".into()))?;
    tag.copy_from_slice(sealed.as_ref());
    Ok(())
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

/// Opens frame `sequence` in place.
pub(crate) fn open_frame(
    key: &LessSafeKey,
    message_id: &[u8],
    sequence: u32,
    last: bool,
    iv: &[u8; 12],
    content: &mut [u8],
    tag: &[u8],
) -> Result<(), EnvelopeError> {
    let kind = if last { FINAL_FRAME } else { FRAME };
    let aad = aad(message_id, kind, sequence, content.len() as u64);
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(*iv),
        Aad::from(aad.as_slice()),
        tag,
        content,
    )
    .map(|_| ())
    .map_err(|_| EnvelopeError::FrameTag { sequence })
}

/// Opens a non-framed body in place.
pub(crate) fn open_single(
    key: &LessSafeKey,
    message_id: &[u8],
    iv: &[u8; 12],
    content: &mut [u8],
    tag: &[u8],
) -> Result<(), EnvelopeError> {
    let aad = aad(message_id, SINGLE_BLOCK, 1, content.len() as u64);
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(*iv),
        Aad::from(aad.as_slice()),
        tag,
        content,
    )
    .map(|_| ())
    .map_err(|_| EnvelopeError::FrameTag { sequence: 1 })
}
