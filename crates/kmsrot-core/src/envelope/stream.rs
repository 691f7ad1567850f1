//! Messages as streams, in constant memory: an [`Encryptor`] is written to and writes a message
//! frame by frame, and [`open`] reads a body frame by frame and writes its plaintext as each
//! frame's tag holds. Memory is a frame and a few buffers, whatever the message's length.
//!
//! A signed message is hashed as it goes (SHA-384 for P-384, SHA-256 for P-256), and the
//! signature is made or checked over that digest at the end. [`open`] writes a frame's
//! plaintext as soon as its tag holds, so the caller of a signed message must keep what it
//! wrote until `open` returns: [`read_header_from`]'s callers in [`super::keyring`] stage it
//! (the ESDK's rule: no plaintext is released before the signature is verified).

use std::io::{ErrorKind, Read, Write};

use aws_lc_rs::aead::LessSafeKey;
use aws_lc_rs::digest;

use super::header::{FRAMED, Header};
use super::suite::{Signing, Suite};
use super::{
    EnvelopeError, Materials, RESERVED_PREFIX, Signer, body, header_tag, keys, read_header,
    verify_signature,
};
use crate::SecretBytes;

/// The longest header read from a stream. Real headers are a few hundred bytes; one with the
/// largest context and many data keys is refused here instead of growing without bound.
pub const MAX_HEADER: usize = 16 * 1024 * 1024;

/// The longest non-framed body read (kmsrot never writes one; the ESDKs wrote them for small
/// messages). It is opened in one piece, so it is held in memory.
pub const MAX_NON_FRAMED: u64 = 256 * 1024 * 1024;

fn hasher(signing: Signing) -> Option<digest::Context> {
    match signing {
        Signing::None => None,
        Signing::EcdsaP256 => Some(digest::Context::new(&digest::SHA256)),
        Signing::EcdsaP384 => Some(digest::Context::new(&digest::SHA384)),
    }
}

/// Writes one message to `out` as plaintext is given to it: the header at once, each frame as
/// it fills, and the final frame (and a signed message's footer) at [`Encryptor::finish`].
/// It is also a [`Write`], so `std::io::copy(&mut input, &mut encryptor)` encrypts a stream.
pub struct Encryptor<'s, W: Write> {
    out: W,
    key: LessSafeKey,
    message_id: Vec<u8>,
    frame_length: usize,
    /// The plaintext of the frame being filled.
    pending: Vec<u8>,
    /// A sealed frame, on its way out.
    sealed: Vec<u8>,
    sequence: u32,
    signing: Option<(&'s Signer, digest::Context)>,
}

impl<W: Write> std::fmt::Debug for Encryptor<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("frame_length", &self.frame_length)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl<'s, W: Write> Encryptor<'s, W> {
    /// Starts a version 2 message under `materials` with `context` in its header, framed in
    /// `frame_length` bytes: suite `0x0478`, or `0x0578` with `signer`, whose public key must
    /// be in `context` already (the data key's KMS call was given it). Writes the header.
    pub fn new(
        out: W,
        materials: &Materials,
        context: &[(String, String)],
        frame_length: u32,
        signer: Option<&'s Signer>,
    ) -> Result<Self, EnvelopeError> {
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
        let (key, header) = seal_header(
            suite,
            &message_id,
            context,
            &materials.encrypted,
            frame_length,
            &materials.plaintext,
        )?;
        let mut encryptor = Self {
            out,
            key,
            message_id,
            frame_length: frame_length as usize,
            pending: Vec::with_capacity((frame_length as usize).min(1 << 20)),
            sealed: Vec::new(),
            sequence: 1,
            signing: signer.map(|s| (s, digest::Context::new(&digest::SHA384))),
        };
        encryptor.emit(&header)?;
        Ok(encryptor)
    }

    /// Encrypts more plaintext: every frame it fills is written.
    pub fn update(&mut self, mut data: &[u8]) -> Result<(), EnvelopeError> {
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= self.frame_length {
                let (frame, rest) = data.split_at(self.frame_length);
                self.seal(frame, false)?;
                data = rest;
                continue;
            }
            let take = (self.frame_length - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == self.frame_length {
                let pending = std::mem::take(&mut self.pending);
                self.seal(&pending, false)?;
                self.pending = pending;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Encrypts everything `input` gives, reading each frame's plaintext straight into its
    /// place in a batch of sealed frames (about 1 MiB), which is written in one piece: one copy
    /// in, one out. Returns the bytes read. Then call [`Encryptor::finish`].
    pub fn read_from(&mut self, input: &mut impl Read) -> Result<u64, EnvelopeError> {
        if !self.pending.is_empty() {
            return std::io::copy(input, self)
                .map_err(|e| EnvelopeError::io("reading the plaintext", &e));
        }
        let f = self.frame_length;
        let per = 16 + f + body::TAG_LEN;
        let slots = ((1usize << 20) / per).max(1);
        let mut batch = std::mem::take(&mut self.sealed);
        batch.resize(slots * per, 0);
        let mut total = 0u64;
        let result = loop {
            let mut used = 0;
            let mut end = false;
            while used < batch.len() {
                let slot = &mut batch[used..used + per];
                let n = match read_full(input, &mut slot[16..16 + f]) {
                    Ok(n) => n,
                    Err(e) => {
                        self.sealed = batch;
                        return Err(e);
                    }
                };
                total += n as u64;
                if n < f {
                    self.pending.extend_from_slice(&slot[16..16 + n]);
                    end = true;
                    break;
                }
                if let Err(e) =
                    body::seal_regular_in_place(&self.key, &self.message_id, self.sequence, slot)
                {
                    self.sealed = batch;
                    return Err(e);
                }
                self.sequence = match self.sequence.checked_add(1).filter(|n| *n != u32::MAX) {
                    Some(n) => n,
                    None => {
                        self.sealed = batch;
                        return Err(EnvelopeError::Malformed("more than 2^32 - 1 frames".into()));
                    }
                };
                used += per;
            }
            if let Err(e) = self.emit(&batch[..used]) {
                break Err(e);
            }
            if end {
                break Ok(total);
            }
        };
        batch.clear();
        self.sealed = batch;
        result
    }

    /// Writes the final frame (the rest of the plaintext, empty when it filled the frames, as
    /// the ESDKs write it) and a signed message's footer. Returns the output.
    pub fn finish(mut self) -> Result<W, EnvelopeError> {
        let pending = std::mem::take(&mut self.pending);
        self.seal(&pending, true)?;
        if let Some((signer, context)) = self.signing.take() {
            let signature = signer.sign_digest(&context.finish())?;
            write_all(&mut self.out, &(signature.len() as u16).to_be_bytes())?;
            write_all(&mut self.out, &signature)?;
        }
        self.out
            .flush()
            .map_err(|e| EnvelopeError::io("writing the message", &e))?;
        Ok(self.out)
    }

    fn seal(&mut self, plaintext: &[u8], last: bool) -> Result<(), EnvelopeError> {
        let mut sealed = std::mem::take(&mut self.sealed);
        sealed.clear();
        body::seal_frame(
            &self.key,
            &self.message_id,
            self.sequence,
            plaintext,
            last,
            &mut sealed,
        )?;
        let emitted = self.emit(&sealed);
        self.sealed = sealed;
        emitted?;
        if !last {
            self.sequence = self
                .sequence
                .checked_add(1)
                .filter(|n| *n != u32::MAX)
                .ok_or_else(|| EnvelopeError::Malformed("more than 2^32 - 1 frames".into()))?;
        }
        Ok(())
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<(), EnvelopeError> {
        if let Some((_, context)) = &mut self.signing {
            context.update(bytes);
        }
        write_all(&mut self.out, bytes)
    }
}

impl<W: Write> Write for Encryptor<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_all(out: &mut impl Write, bytes: &[u8]) -> Result<(), EnvelopeError> {
    out.write_all(bytes)
        .map_err(|e| EnvelopeError::io("writing the message", &e))
}

/// A version 2 header (body and tag) for these fields, and the content key it was sealed with.
pub(crate) fn seal_header(
    suite: Suite,
    message_id: &[u8],
    context: &[(String, String)],
    data_keys: &[super::EncryptedDataKey],
    frame_length: u32,
    data_key: &SecretBytes,
) -> Result<(LessSafeKey, Vec<u8>), EnvelopeError> {
    let derived = keys::derive(&suite, data_key.expose(), message_id)?;
    let commitment = derived.commitment.unwrap_or_default();
    let mut header = Header::write_body(
        suite,
        message_id,
        context,
        data_keys,
        frame_length,
        &commitment,
    )?;
    let key = body::aead_key(derived.content.expose())?;
    let tag = header_tag(&key, [0; 12], &header)?;
    header.extend_from_slice(&tag);
    Ok((key, header))
}

/// Reads a message's header from a stream, under the commitment policy and the limit on data
/// keys ([`read_header`]). Returns the header, its bytes, and the bytes read past it (the
/// body's start).
pub fn read_header_from(
    input: &mut impl Read,
    policy: super::CommitmentPolicy,
    max_data_keys: Option<usize>,
) -> Result<(Header, Vec<u8>, Vec<u8>), EnvelopeError> {
    let mut buffer = Vec::new();
    let mut end = false;
    loop {
        match read_header(&buffer, policy, max_data_keys) {
            Ok((header, len)) => {
                let rest = buffer.split_off(len);
                return Ok((header, buffer, rest));
            }
            Err(EnvelopeError::Truncated { what }) => {
                if end {
                    return Err(EnvelopeError::Truncated { what });
                }
                if buffer.len() >= MAX_HEADER {
                    return Err(EnvelopeError::Malformed(format!(
                        "the header is longer than {MAX_HEADER} bytes"
                    )));
                }
            }
            Err(err) => return Err(err),
        }
        let want = buffer
            .len()
            .clamp(4096, MAX_HEADER - buffer.len().min(MAX_HEADER));
        let start = buffer.len();
        buffer.resize(start + want, 0);
        let n = read_some(input, &mut buffer[start..])?;
        buffer.truncate(start + n);
        end = n == 0;
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, EnvelopeError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(EnvelopeError::io("reading the plaintext", &e)),
        }
    }
    Ok(filled)
}

fn read_some(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, EnvelopeError> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(EnvelopeError::io("reading the message", &e)),
        }
    }
}

/// Reads the body that follows a header, hashing what it reads for a signed message.
struct BodyReader<R> {
    input: R,
    digest: Option<digest::Context>,
}

impl<R: Read> BodyReader<R> {
    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), EnvelopeError> {
        self.raw(buf, what)?;
        if let Some(digest) = &mut self.digest {
            digest.update(buf);
        }
        Ok(())
    }

    fn raw(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), EnvelopeError> {
        self.input.read_exact(buf).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => EnvelopeError::Truncated { what },
            _ => EnvelopeError::io("reading the message", &e),
        })
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, EnvelopeError> {
        let mut b = [0; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, EnvelopeError> {
        let mut b = [0; 8];
        self.exact(&mut b, what)?;
        Ok(u64::from_be_bytes(b))
    }
}

/// The content key of a message, once its data key has passed the key commitment (checked in
/// constant time) and the header's tag.
pub(crate) fn content_key(
    header: &Header,
    data_key: &SecretBytes,
) -> Result<LessSafeKey, EnvelopeError> {
    use aws_lc_rs::aead::{Aad, Nonce};
    let derived = keys::derive(&header.suite, data_key.expose(), &header.message_id)?;
    if let Some(commitment) = &derived.commitment
        && aws_lc_rs::constant_time::verify_slices_are_equal(commitment, &header.commitment)
            .is_err()
    {
        return Err(EnvelopeError::Commitment);
    }
    let key = body::aead_key(derived.content.expose())?;
    key.open_in_place_separate_tag(
        Nonce::assume_unique_for_key(header.iv),
        Aad::from(header.body.as_slice()),
        &header.tag,
        &mut [],
    )
    .map_err(|_| EnvelopeError::HeaderTag)?;
    Ok(key)
}

/// Opens the body that follows `header` (whose bytes, as read, are `header_bytes`) with its
/// data key: the commit key, then the header's tag, then each frame, whose plaintext is written
/// to `out` as its tag holds; a signed message's signature last. Returns the plaintext's length.
///
/// For a signed message, what was written to `out` is not verified until this returns `Ok`.
pub fn open(
    header: &Header,
    header_bytes: &[u8],
    data_key: &SecretBytes,
    body: impl Read,
    out: &mut impl Write,
) -> Result<u64, EnvelopeError> {
    let key = content_key(header, data_key)?;
    let mut digest = hasher(header.suite.signing);
    if let Some(d) = &mut digest {
        d.update(header_bytes);
    }
    let mut reader = BodyReader {
        input: body,
        digest,
    };
    let written = open_body(&mut reader, header, &key, out)?;
    if let Some(digest) = reader.digest.take() {
        let mut len = [0; 2];
        reader.raw(&mut len, "signature length")?;
        let mut signature = vec![0; usize::from(u16::from_be_bytes(len))];
        reader.raw(&mut signature, "signature")?;
        verify_signature(header, &digest.finish(), &signature)?;
    }
    let rest = std::io::copy(&mut reader.input, &mut std::io::sink())
        .map_err(|e| EnvelopeError::io("reading the message", &e))?;
    if rest > 0 {
        return Err(EnvelopeError::Trailing(rest as usize));
    }
    out.flush()
        .map_err(|e| EnvelopeError::io("writing the plaintext", &e))?;
    Ok(written)
}

fn open_body<R: Read>(
    reader: &mut BodyReader<R>,
    header: &Header,
    key: &LessSafeKey,
    out: &mut impl Write,
) -> Result<u64, EnvelopeError> {
    let mut put = |plaintext: &[u8]| {
        out.write_all(plaintext)
            .map_err(|e| EnvelopeError::io("writing the plaintext", &e))
    };
    let mut buffer = Vec::new();
    let mut iv = [0; 12];
    if header.content_type != FRAMED {
        let mut tag = [0; body::TAG_LEN];
        reader.exact(&mut iv, "body IV")?;
        let length = reader.u64("body length")?;
        if length > MAX_NON_FRAMED {
            return Err(EnvelopeError::Malformed(format!(
                "a non-framed body of {length} bytes; kmsrot reads non-framed bodies of up to {MAX_NON_FRAMED} bytes"
            )));
        }
        buffer.resize(length as usize, 0);
        reader.exact(&mut buffer, "body")?;
        reader.exact(&mut tag, "body tag")?;
        body::open_single(key, &header.message_id, &iv, &mut buffer, &tag)?;
        put(&buffer)?;
        return Ok(length);
    }
    let frame_length = header.frame_length as usize;
    let mut expected: u32 = 1;
    let mut written = 0u64;
    loop {
        let first = reader.u32("frame sequence number")?;
        let last = first == body::FINAL_MARK;
        let sequence = if last {
            reader.u32("final frame sequence number")?
        } else {
            first
        };
        if sequence != expected {
            return Err(EnvelopeError::Malformed(format!(
                "frame {sequence} where frame {expected} was due"
            )));
        }
        let (length, start) = if last {
            reader.exact(&mut iv, "frame IV")?;
            let length = reader.u32("final frame length")? as usize;
            if length > frame_length {
                return Err(EnvelopeError::Malformed(format!(
                    "the final frame holds {length} bytes, more than the frame length {frame_length}"
                )));
            }
            buffer.resize(length + body::TAG_LEN, 0);
            reader.exact(&mut buffer, "frame content")?;
            (length, 0)
        } else {
            // A regular frame's IV, content and tag, in one read.
            buffer.resize(12 + frame_length + body::TAG_LEN, 0);
            reader.exact(&mut buffer, "frame content")?;
            iv.copy_from_slice(&buffer[..12]);
            (frame_length, 12)
        };
        let (content, tag) = buffer[start..].split_at_mut(length);
        body::open_frame(key, &header.message_id, sequence, last, &iv, content, tag)?;
        put(content)?;
        written += length as u64;
        if last {
            return Ok(written);
        }
        expected = expected
            .checked_add(1)
            .filter(|n| *n != body::FINAL_MARK)
            .ok_or_else(|| EnvelopeError::Malformed("more than 2^32 - 1 frames".into()))?;
    }
}

/// Walks a framed body without opening it, copying its bytes to `out` (and to `digest`), and
/// returns what follows it: the footer's signature for a signed message. Rewrap moves a body
/// this way.
pub(crate) fn copy_body(
    header: &Header,
    input: impl Read,
    out: &mut impl Write,
    digests: &mut [&mut digest::Context],
) -> Result<(u64, Option<Vec<u8>>), EnvelopeError> {
    if header.content_type != FRAMED {
        return Err(EnvelopeError::Malformed(
            "a non-framed message (kmsrot rewraps framed messages only)".into(),
        ));
    }
    let mut reader = BodyReader {
        input,
        digest: None,
    };
    let frame_length = header.frame_length as usize;
    let mut copied = 0u64;
    let mut expected: u32 = 1;
    let mut buffer = vec![0; 8 + 12 + 4];
    let mut chunk = vec![0; (frame_length + body::TAG_LEN).min(1 << 20)];
    let mut put = |bytes: &[u8], digests: &mut [&mut digest::Context]| {
        for d in digests.iter_mut() {
            d.update(bytes);
        }
        copied += bytes.len() as u64;
        write_all(out, bytes)
    };
    loop {
        let mut first = [0; 4];
        reader.raw(&mut first, "frame sequence number")?;
        let last = u32::from_be_bytes(first) == body::FINAL_MARK;
        // Sequence number (and the final mark), IV, and the final frame's length.
        let fixed = if last { 4 + 12 + 4 } else { 12 };
        buffer.resize(4 + fixed, 0);
        buffer[..4].copy_from_slice(&first);
        reader.raw(&mut buffer[4..], "frame")?;
        let sequence = if last {
            u32::from_be_bytes(buffer[4..8].try_into().unwrap_or_default())
        } else {
            u32::from_be_bytes(first)
        };
        if sequence != expected {
            return Err(EnvelopeError::Malformed(format!(
                "frame {sequence} where frame {expected} was due"
            )));
        }
        let length = if last {
            let at = buffer.len() - 4;
            let length = u32::from_be_bytes(buffer[at..].try_into().unwrap_or_default()) as usize;
            if length > frame_length {
                return Err(EnvelopeError::Malformed(format!(
                    "the final frame holds {length} bytes, more than the frame length {frame_length}"
                )));
            }
            length
        } else {
            frame_length
        };
        put(&buffer, digests)?;
        let mut rest = length + body::TAG_LEN;
        while rest > 0 {
            let n = rest.min(chunk.len());
            reader.raw(&mut chunk[..n], "frame content")?;
            put(&chunk[..n], digests)?;
            rest -= n;
        }
        if last {
            break;
        }
        expected = expected
            .checked_add(1)
            .filter(|n| *n != body::FINAL_MARK)
            .ok_or_else(|| EnvelopeError::Malformed("more than 2^32 - 1 frames".into()))?;
    }
    let signature = match header.suite.signing {
        Signing::None => None,
        _ => {
            let mut len = [0; 2];
            reader.raw(&mut len, "signature length")?;
            let mut signature = vec![0; usize::from(u16::from_be_bytes(len))];
            reader.raw(&mut signature, "signature")?;
            Some(signature)
        }
    };
    let rest = std::io::copy(&mut reader.input, &mut std::io::sink())
        .map_err(|e| EnvelopeError::io("reading the message", &e))?;
    if rest > 0 {
        return Err(EnvelopeError::Trailing(rest as usize));
    }
    Ok((copied, signature))
}
