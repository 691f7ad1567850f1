//! Rewrap: a message moved to the key its alias names now, its data untouched.
//!
//! The data key is read from a key of the alias's history (KMS Decrypt with that key), checked
//! against the message's key commitment and header tag, and wrapped again by KMS Encrypt
//! through the alias, under the same encryption context. The header is written again with the
//! new encrypted data key in place of those of the alias's history, and a new tag; the message
//! ID, and so the content key, stay, so every frame stays valid as it is:
//!
//! - suite `0x0478`: the frames are copied as bytes, never opened: the work is the header's;
//! - suite `0x0578`: the signature covers the header, so the message is signed again in a
//!   stream, with a new signing key whose public key replaces the old one in the context (and
//!   so in the new data key's KMS context). The old signature is verified over the same bytes
//!   first, so a changed message is refused, never signed afresh. No frame is decrypted.
//!
//! Data keys of other wrapping keys (other providers, or KMS keys outside the history) are kept
//! in an unsigned message. A signed message's are bound to the old public key (KMS and raw
//! keyrings authenticate the context), so such a message is refused.
//!
//! A file is rewrapped into a temporary file beside it, synced and renamed over it: readers
//! see the old message or the new one, never a mix, and a failure leaves the old one. When the
//! new header is as long as the old one (the usual case: one key ARN and one wrapped data key
//! for another, of the same lengths), the temporary file is a copy of the whole file made by
//! the kernel (`copy_file_range`), with the header (and a signed message's footer) written
//! over it: on a file system that shares extents (XFS, Btrfs) nothing else is written, and the
//! rewrap costs the header's block, not the file's length.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use aws_lc_rs::digest;
use kmsrot_types::{EncryptionContext, KeyArn};

use super::keyring::{EnvelopeFailure, kms_key};
use super::stream::{self, content_key, copy_body, read_header_from};
use super::suite::{Signing, Suite};
use super::{
    CommitmentPolicy, EncryptedDataKey, EnvelopeError, Header, PROVIDER_ID, PUBLIC_KEY_CONTEXT,
    Signer, Trust, verify_signature,
};
use crate::AliasKms;

/// What a rewrap did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewrapOutcome {
    /// Moved from `from` to `to`.
    Moved {
        /// The key whose data key was read.
        from: KeyArn,
        /// The key the alias names now, which wrapped it again.
        to: KeyArn,
    },
    /// Already wrapped only by the key the alias names now.
    Current(KeyArn),
}

/// A message's new header, ready to be followed by its body.
#[derive(Debug)]
pub struct Rewrap {
    old: Header,
    old_bytes: Vec<u8>,
    new_header: Vec<u8>,
    signer: Option<Signer>,
    /// The key whose data key was read.
    pub from: KeyArn,
    /// The key that wrapped it again.
    pub to: KeyArn,
}

/// What [`AliasKms::envelope_rewrap_plan`] found.
#[derive(Debug)]
pub enum RewrapPlan {
    /// Nothing to do: the message's only history key is the current one.
    Current(KeyArn),
    /// A new header.
    Move(Box<Rewrap>),
}

/// What a rewrap of this message would do, from its header alone (no KMS call): refused for a
/// suite or layout kmsrot does not rewrap; `Current` when the only data keys of the alias's
/// `history` (current key first) are the current key's; `Moved` from the first other history
/// key otherwise. A message no history key wrapped is [`EnvelopeFailure::Untrusted`].
pub fn preview(header: &Header, history: &[KeyArn]) -> Result<RewrapOutcome, EnvelopeFailure> {
    let suite = header.suite;
    if suite != Suite::COMMITTING && suite != Suite::COMMITTING_SIGNED {
        return Err(EnvelopeFailure::NotRewrappable(format!(
            "it is in algorithm suite {:#06x}; kmsrot rewraps the committing suites 0x0478 and 0x0578, so decrypt it and encrypt it again",
            suite.id
        )));
    }
    if header.content_type != super::header::FRAMED {
        return Err(EnvelopeFailure::NotRewrappable(
            "it is not framed; kmsrot rewraps framed messages".into(),
        ));
    }
    let current = history
        .first()
        .ok_or_else(|| EnvelopeFailure::NotRewrappable("the alias has no history".into()))?;
    let named: Vec<KeyArn> = header.data_keys.iter().filter_map(kms_key).collect();
    let ours: Vec<&KeyArn> = named.iter().filter(|k| history.contains(k)).collect();
    match ours.iter().find(|k| **k != current) {
        Some(from) => Ok(RewrapOutcome::Moved {
            from: (*from).clone(),
            to: current.clone(),
        }),
        None if ours.is_empty() => Err(EnvelopeFailure::Untrusted {
            named: if named.is_empty() {
                "no KMS key".into()
            } else {
                named
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
        None => Ok(RewrapOutcome::Current(current.clone())),
    }
}

impl Rewrap {
    /// Reads the old body from `body` (hashing it under the old and the new header), verifies
    /// the old signature, and returns the body's length and the new footer, signed by `signer`.
    fn resign(
        &self,
        signer: &Signer,
        body: impl Read,
        out: &mut impl Write,
    ) -> Result<(u64, Vec<u8>), EnvelopeError> {
        let mut old = digest::Context::new(&digest::SHA384);
        old.update(&self.old_bytes);
        let mut new = digest::Context::new(&digest::SHA384);
        new.update(&self.new_header);
        let (copied, signature) = copy_body(&self.old, body, out, &mut [&mut old, &mut new])?;
        verify_signature(&self.old, &old.finish(), &signature.unwrap_or_default())?;
        let signature = signer.sign_digest(&new.finish())?;
        let mut footer = (signature.len() as u16).to_be_bytes().to_vec();
        footer.extend_from_slice(&signature);
        Ok((copied, footer))
    }

    /// The new header's bytes.
    pub fn header(&self) -> &[u8] {
        &self.new_header
    }

    /// Writes the new message to `out`: the new header, then the body as read from `body` (the
    /// bytes after the old header), then, for a signed message, a new footer once the old
    /// signature verified. Returns the bytes written.
    pub fn write(self, mut body: impl Read, out: &mut impl Write) -> Result<u64, EnvelopeError> {
        let put = |out: &mut dyn Write, bytes: &[u8]| {
            out.write_all(bytes)
                .map_err(|e| EnvelopeError::io("writing the message", &e))
        };
        put(out, &self.new_header)?;
        let Some(signer) = &self.signer else {
            let copied = std::io::copy(&mut body, out)
                .map_err(|e| EnvelopeError::io("copying the message body", &e))?;
            return Ok(self.new_header.len() as u64 + copied);
        };
        let (copied, footer) = self.resign(signer, body, out)?;
        put(out, &footer)?;
        out.flush()
            .map_err(|e| EnvelopeError::io("writing the message", &e))?;
        Ok(self.new_header.len() as u64 + copied + footer.len() as u64)
    }
}

impl Rewrap {
    /// Rewraps a file's copy in place: `clone` holds the old message byte for byte, and the new
    /// header is the old one's length. The header is written over (and, for a signed message,
    /// the footer, once the old signature verified over `source`'s body): the body is never
    /// written, so where the clone shares the original's extents, the work is the header's.
    #[cfg(unix)]
    fn patch(self, source: &mut File, clone: &File) -> Result<(), EnvelopeError> {
        use std::os::unix::fs::FileExt;
        let io = |what: &str, e: std::io::Error| EnvelopeError::io(what, &e);
        clone
            .write_all_at(&self.new_header, 0)
            .map_err(|e| io("writing the new header", e))?;
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        source
            .seek(SeekFrom::Start(self.old_bytes.len() as u64))
            .map_err(|e| io("reading the message", e))?;
        let (copied, footer) = self.resign(signer, &mut *source, &mut std::io::sink())?;
        let body_end = self.new_header.len() as u64 + copied;
        clone
            .set_len(body_end)
            .and_then(|()| clone.write_all_at(&footer, body_end))
            .map_err(|e| io("writing the new footer", e))
    }
}

impl AliasKms {
    /// Plans a message's rewrap to the key the alias names now. `history` is the alias's
    /// history, current key first ([`crate::Kms::history`]): its keys are the ones whose data
    /// keys are read and replaced. KMS is called twice (Decrypt, Encrypt) for a message that
    /// moves, never for one already on the current key.
    pub async fn envelope_rewrap_plan(
        &self,
        header: &Header,
        header_bytes: &[u8],
        history: &[KeyArn],
    ) -> Result<RewrapPlan, EnvelopeFailure> {
        if let RewrapOutcome::Current(key) = preview(header, history)? {
            return Ok(RewrapPlan::Current(key));
        }
        let trust = Trust::Keys(history.to_vec());
        let (from, data_key) = self
            .kms()
            .envelope_data_key(header, &trust, &EncryptionContext::default())
            .await?;
        content_key(header, &data_key)?;
        let others: Vec<EncryptedDataKey> = header
            .data_keys
            .iter()
            .filter(|edk| !kms_key(edk).is_some_and(|k| history.contains(&k)))
            .cloned()
            .collect();
        let signer = match header.suite.signing {
            Signing::None => None,
            _ => Some(Signer::new()?),
        };
        let mut context = header.context.clone();
        if let Some(signer) = &signer {
            if !others.is_empty() {
                return Err(EnvelopeFailure::NotRewrappable(format!(
                    "it also has {} data key(s) of other wrapping keys, which are bound to its signing key; a signed message is rewrapped only when the alias's history wrapped all of its data keys",
                    others.len()
                )));
            }
            context.retain(|(k, _)| k != PUBLIC_KEY_CONTEXT);
            context.push(signer.context_pair());
        }
        let kms_context: EncryptionContext = context.iter().cloned().collect();
        let wrapped = self.encrypt(data_key.expose(), &kms_context).await?;
        let mut data_keys = vec![EncryptedDataKey {
            provider_id: PROVIDER_ID.into(),
            provider_info: wrapped.key_arn.to_string().into_bytes(),
            ciphertext: wrapped.ciphertext.0,
        }];
        data_keys.extend(others);
        let (_, new_header) = stream::seal_header(
            header.suite,
            &header.message_id,
            &context,
            &data_keys,
            header.frame_length,
            &data_key,
        )?;
        Ok(RewrapPlan::Move(Box::new(Rewrap {
            old: header.clone(),
            old_bytes: header_bytes.to_vec(),
            new_header,
            signer,
            from,
            to: wrapped.key_arn,
        })))
    }

    /// Rewraps the message in `input` into `output` (nothing is written for a message already
    /// on the current key). Blocking I/O.
    pub async fn envelope_rewrap_stream(
        &self,
        input: &mut impl Read,
        output: &mut impl Write,
        history: &[KeyArn],
        max_data_keys: Option<usize>,
    ) -> Result<RewrapOutcome, EnvelopeFailure> {
        let (header, header_bytes, rest) =
            read_header_from(input, CommitmentPolicy::default(), max_data_keys)?;
        match self
            .envelope_rewrap_plan(&header, &header_bytes, history)
            .await?
        {
            RewrapPlan::Current(key) => Ok(RewrapOutcome::Current(key)),
            RewrapPlan::Move(rewrap) => {
                let (from, to) = (rewrap.from.clone(), rewrap.to.clone());
                rewrap.write(std::io::Cursor::new(rest).chain(input), output)?;
                Ok(RewrapOutcome::Moved { from, to })
            }
        }
    }

    /// Rewraps a file in place, atomically: into a temporary file in the same folder (with the
    /// file's permissions), synced, then renamed over it, unless the file changed meanwhile.
    /// Blocking I/O.
    pub async fn envelope_rewrap_file(
        &self,
        path: &Path,
        history: &[KeyArn],
        max_data_keys: Option<usize>,
    ) -> Result<RewrapOutcome, EnvelopeFailure> {
        let io = |what: &str, e: std::io::Error| {
            EnvelopeFailure::Format(EnvelopeError::io(&format!("{what} {}", path.display()), &e))
        };
        let mut file = File::open(path).map_err(|e| io("opening", e))?;
        let before = file.metadata().map_err(|e| io("reading", e))?;
        let (header, header_bytes, _) =
            read_header_from(&mut file, CommitmentPolicy::default(), max_data_keys)?;
        let rewrap = match self
            .envelope_rewrap_plan(&header, &header_bytes, history)
            .await?
        {
            RewrapPlan::Current(key) => return Ok(RewrapOutcome::Current(key)),
            RewrapPlan::Move(rewrap) => rewrap,
        };
        let (from, to) = (rewrap.from.clone(), rewrap.to.clone());
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(".kmsrot-rewrap-")
            .tempfile_in(folder)
            .map_err(|e| io("making a temporary file beside", e))?;
        temp.as_file()
            .set_permissions(before.permissions())
            .map_err(|e| io("copying the permissions of", e))?;
        let same_length = rewrap.header().len() == header_bytes.len();
        if cfg!(unix) && same_length {
            // The whole file, from offset 0, file to file: copy_file_range, which shares the
            // extents on a file system that can (XFS, Btrfs), so only the header's block (and
            // a signed message's last one) is written anew.
            file.seek(SeekFrom::Start(0))
                .map_err(|e| io("reading", e))?;
            std::io::copy(&mut file, temp.as_file_mut()).map_err(|e| io("copying", e))?;
            #[cfg(unix)]
            rewrap.patch(&mut file, temp.as_file())?;
        } else {
            file.seek(SeekFrom::Start(header_bytes.len() as u64))
                .map_err(|e| io("reading", e))?;
            // File to file: the unsigned body is copied by the kernel (copy_file_range).
            rewrap.write(&mut file, temp.as_file_mut())?;
        }
        temp.as_file().sync_all().map_err(|e| io("syncing", e))?;
        let after = std::fs::metadata(path).map_err(|e| io("reading", e))?;
        if after.len() != before.len() || after.modified().ok() != before.modified().ok() {
            return Err(EnvelopeFailure::Format(EnvelopeError::Io(format!(
                "{} changed while it was rewrapped; it was left as it is",
                path.display()
            ))));
        }
        temp.persist(path)
            .map_err(|e| io("renaming the rewrapped message over", e.error))?;
        if let Ok(dir) = File::open(folder) {
            // The rename is durable once the folder is synced.
            let _ = dir.sync_all();
        }
        Ok(RewrapOutcome::Moved { from, to })
    }
}
