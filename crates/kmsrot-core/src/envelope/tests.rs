//! The format, given a data key: round trips at the sizes that matter, the bytes where the
//! specification fixes them, and every kind of tampering refused with its own error.

use super::*;

fn materials(key: [u8; 32]) -> Materials {
    Materials {
        plaintext: SecretBytes::new(key.to_vec()),
        encrypted: vec![EncryptedDataKey {
            provider_id: "aws-kms".into(),
            provider_info:
                b"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .to_vec(),
            ciphertext: vec![0xAB; 40],
        }],
    }
}

fn context() -> Vec<(String, String)> {
    vec![
        ("tenant".into(), "Zürich 東京".into()),
        ("purpose".into(), "backups".into()),
    ]
}

fn decrypt(message: &[u8], key: [u8; 32]) -> Result<(Header, Vec<u8>), EnvelopeError> {
    decrypt_with(message, CommitmentPolicy::default(), Some(8), |_| {
        Ok(SecretBytes::new(key.to_vec()))
    })
}

const KEY: [u8; 32] = [0x42; 32];

/// The length of a version 2 header with `context()` and `materials()`.
fn header_len(message: &[u8]) -> usize {
    Header::read(message, None).unwrap().1
}

#[test]
fn round_trips_at_frame_boundaries() {
    for frame in [1u32, 7, 4096] {
        let f = frame as usize;
        for len in [0, 1, f.saturating_sub(1), f, f + 1, 3 * f, 3 * f + 5] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let message =
                encrypt_with(&materials(KEY), &context(), frame, &plaintext, None).unwrap();
            let (header, opened) = decrypt(&message, KEY).unwrap();
            assert_eq!(opened, plaintext, "frame {frame}, {len} bytes");
            assert_eq!(header.suite, Suite::COMMITTING);
            assert_eq!(header.frame_length, frame);
            // Full frames, then one final frame, empty when the plaintext fills the frames.
            let full = len / f;
            let last = len - full * f;
            let expected =
                header_len(&message) + full * (4 + 12 + f + 16) + (4 + 4 + 12 + 4 + last + 16);
            assert_eq!(message.len(), expected, "frame {frame}, {len} bytes");
        }
    }
}

#[test]
fn the_header_is_version_2_with_a_sorted_context_and_the_commit_key() {
    let message = encrypt_with(&materials(KEY), &context(), 4096, b"x", None).unwrap();
    assert_eq!(&message[..3], [0x02, 0x04, 0x78]);
    let (header, len) = Header::read(&message, None).unwrap();
    // Stored sorted by key: `purpose` before `tenant`.
    assert_eq!(header.context[0].0, "purpose");
    assert_eq!(header.context[1], ("tenant".into(), "Zürich 東京".into()));
    assert_eq!(header.message_id.len(), 32);
    assert_eq!(header.commitment.len(), 32);
    assert_eq!(header.iv, [0; 12]);
    assert_eq!(header.data_keys, materials(KEY).encrypted);
    assert_eq!(len, header.body.len() + 16);
    // Two messages never share a message ID.
    let again = encrypt_with(&materials(KEY), &context(), 4096, b"x", None).unwrap();
    assert_ne!(
        Header::read(&again, None).unwrap().0.message_id,
        header.message_id
    );
    // The first frame is sequence 1 with IV 0…01 (here the final frame: marker first).
    assert_eq!(&message[len..len + 8], [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1]);
    assert_eq!(&message[len + 8..len + 20], body::frame_iv(1));
}

#[test]
fn tampering_is_refused_with_its_own_error() {
    let plaintext = vec![5u8; 10_000];
    let message = encrypt_with(&materials(KEY), &context(), 4096, &plaintext, None).unwrap();
    let (header, len) = Header::read(&message, None).unwrap();
    let flip = |at: usize| {
        let mut m = message.clone();
        m[at] ^= 0x01;
        m
    };
    // The context's value (inside the header body): the header's tag.
    let value_at = message.windows(7).position(|w| w == b"backups").unwrap();
    assert_eq!(
        decrypt(&flip(value_at), KEY).unwrap_err(),
        EnvelopeError::HeaderTag
    );
    // The commit key.
    let commit_at = header.body.len() - 1;
    assert_eq!(
        decrypt(&flip(commit_at), KEY).unwrap_err(),
        EnvelopeError::Commitment
    );
    // The header's tag itself.
    assert_eq!(
        decrypt(&flip(len - 1), KEY).unwrap_err(),
        EnvelopeError::HeaderTag
    );
    // A byte of frame 2's content.
    let frame2 = len + (4 + 12 + 4096 + 16) + 4 + 12 + 10;
    assert_eq!(
        decrypt(&flip(frame2), KEY).unwrap_err(),
        EnvelopeError::FrameTag { sequence: 2 }
    );
    // The final frame's length.
    let final_len_at = len + 2 * (4 + 12 + 4096 + 16) + 4 + 4 + 12 + 3;
    assert!(decrypt(&flip(final_len_at), KEY).is_err());
    // Another data key (a swapped encrypted data key unwraps to it): the commitment.
    assert_eq!(
        decrypt(&message, [0x43; 32]).unwrap_err(),
        EnvelopeError::Commitment
    );
    // Cut short, or with bytes after it.
    assert!(matches!(
        decrypt(&message[..message.len() - 1], KEY).unwrap_err(),
        EnvelopeError::Truncated { .. }
    ));
    let mut longer = message.clone();
    longer.push(0);
    assert_eq!(
        decrypt(&longer, KEY).unwrap_err(),
        EnvelopeError::Trailing(1)
    );
    // Frames out of order: swap frames 1 and 2 (same length, each authenticated with its
    // sequence number).
    let mut swapped = message.clone();
    let frame = 4 + 12 + 4096 + 16;
    let (a, b) = swapped[len..len + 2 * frame].split_at_mut(frame);
    a.swap_with_slice(b);
    assert!(decrypt(&swapped, KEY).is_err());
}

#[test]
fn limits_and_reserved_names_are_enforced() {
    let mut many = materials(KEY);
    many.encrypted = vec![many.encrypted[0].clone(); 9];
    let message = encrypt_with(&many, &[], 4096, b"x", None).unwrap();
    assert_eq!(
        decrypt(&message, KEY).unwrap_err(),
        EnvelopeError::TooManyDataKeys { count: 9, max: 8 }
    );
    assert!(
        decrypt_with(&message, CommitmentPolicy::default(), None, |_| Ok(
            SecretBytes::new(KEY.to_vec())
        ))
        .is_ok()
    );
    let reserved = vec![("aws-crypto-public-key".to_owned(), "x".to_owned())];
    assert!(matches!(
        encrypt_with(&materials(KEY), &reserved, 4096, b"x", None).unwrap_err(),
        EnvelopeError::Malformed(m) if m.contains("aws-crypto-")
    ));
    assert!(encrypt_with(&materials(KEY), &[], 0, b"x", None).is_err());
}

/// A version 1 message (suite `0x0178`, HKDF-SHA256), built here from the format's parts: read
/// under require-encrypt-allow-decrypt, refused under the default policy before its data key is
/// asked for.
#[test]
fn version_1_messages_are_read_only_when_the_policy_allows() {
    let suite = Suite::from_id(0x0178).unwrap();
    let message_id = [0x11u8; 16];
    let mut m = vec![0x01, 0x80];
    m.extend_from_slice(&suite.id.to_be_bytes());
    m.extend_from_slice(&message_id);
    m.extend_from_slice(&0u16.to_be_bytes()); // empty context
    m.extend_from_slice(&1u16.to_be_bytes());
    for field in [&b"aws-kms"[..], b"arn", b"wrapped"] {
        m.extend_from_slice(&(field.len() as u16).to_be_bytes());
        m.extend_from_slice(field);
    }
    m.push(header::FRAMED);
    m.extend_from_slice(&[0, 0, 0, 0, 12]);
    m.extend_from_slice(&16u32.to_be_bytes());
    let derived = keys::derive(&suite, &KEY, &message_id).unwrap();
    let key = body::aead_key(derived.content.expose()).unwrap();
    let tag = header_tag(&key, [0; 12], &m).unwrap();
    m.extend_from_slice(&[0; 12]);
    m.extend_from_slice(&tag);
    body::seal_frame(&key, &message_id, 1, b"sixteen bytes!!!", false, &mut m).unwrap();
    body::seal_frame(&key, &message_id, 2, b"end", true, &mut m).unwrap();

    let asked = std::cell::Cell::new(false);
    let refused = decrypt_with(&m, CommitmentPolicy::default(), None, |_| {
        asked.set(true);
        Ok(SecretBytes::new(KEY.to_vec()))
    });
    assert_eq!(refused.unwrap_err(), EnvelopeError::NotCommitting(0x0178));
    assert!(!asked.get(), "the data key was asked for");
    let (header, plaintext) = decrypt_with(
        &m,
        CommitmentPolicy::RequireEncryptAllowDecrypt,
        None,
        |_| Ok(SecretBytes::new(KEY.to_vec())),
    )
    .unwrap();
    assert_eq!(plaintext, b"sixteen bytes!!!end");
    assert_eq!(header.message_id, message_id);
}

/// Suite `0x0578`: the public key travels in the context, the footer signs the header and the
/// body, and a message whose bytes changed after signing (even where no tag covers them, as
/// the signature itself) is refused; no plaintext leaves before the signature verified.
#[test]
fn signed_messages_carry_their_public_key_and_verify_before_release() {
    let signer = Signer::new().unwrap();
    let mut ctx = context();
    ctx.push(signer.context_pair());
    let plaintext = vec![9u8; 9000];
    let message = encrypt_with(&materials(KEY), &ctx, 4096, &plaintext, Some(&signer)).unwrap();
    assert_eq!(&message[..3], [0x02, 0x05, 0x78]);
    let (header, opened) = decrypt(&message, KEY).unwrap();
    assert_eq!(opened, plaintext);
    let (_, encoded) = header
        .context
        .iter()
        .find(|(k, _)| k == PUBLIC_KEY_CONTEXT)
        .unwrap();
    // A compressed P-384 point: 49 bytes, 68 base64 characters.
    assert_eq!(encoded.len(), 68);
    // The signature's last byte, and a body byte whose frame still opens under another
    // signature: each refused.
    let mut last = message.clone();
    *last.last_mut().unwrap() ^= 1;
    assert_eq!(decrypt(&last, KEY).unwrap_err(), EnvelopeError::Signature);
    let mut cut = message.clone();
    cut.truncate(message.len() - 10);
    assert!(matches!(
        decrypt(&cut, KEY).unwrap_err(),
        EnvelopeError::Truncated { .. }
    ));
    // The public key must be in the context, and only a signed message may carry one.
    assert!(encrypt_with(&materials(KEY), &context(), 4096, b"x", Some(&signer)).is_err());
    let unsigned_with_key = encrypt_with(&materials(KEY), &ctx, 4096, b"x", None);
    assert!(unsigned_with_key.is_err(), "{unsigned_with_key:?}");
}

/// A reader that gives at most a few bytes per call, as a pipe may.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// The stream API gives the same message however the plaintext is cut, and reads it back from
/// a reader that trickles, frame by frame; the signed suite's signature is the ESDKs' fixed
/// 103 bytes.
#[test]
fn streams_write_and_read_frame_by_frame_whatever_the_cuts() {
    let plaintext: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let signer = Signer::new().unwrap();
    let mut signed_ctx = context();
    signed_ctx.push(signer.context_pair());
    for (ctx, signer) in [(context(), None), (signed_ctx, Some(&signer))] {
        for cuts in [
            vec![10_000],
            vec![1, 4095, 4096, 1, 1807],
            vec![0, 8192, 1808],
        ] {
            let mut encryptor =
                Encryptor::new(Vec::new(), &materials(KEY), &ctx, 4096, signer).unwrap();
            let mut at = 0;
            for cut in cuts {
                std::io::Write::write_all(&mut encryptor, &plaintext[at..at + cut]).unwrap();
                at += cut;
            }
            let message = encryptor.finish().unwrap();
            let (header, header_bytes, rest) = stream::read_header_from(
                &mut Trickle {
                    bytes: &message,
                    step: 0,
                },
                CommitmentPolicy::default(),
                None,
            )
            .unwrap();
            assert_eq!(header_bytes.len(), header_len(&message));
            // What the header's reads took past it is the body's start.
            let consumed = header_bytes.len() + rest.len();
            let body = std::io::Read::chain(
                std::io::Cursor::new(rest),
                Trickle {
                    bytes: &message[consumed..],
                    step: 3,
                },
            );
            let mut out = Vec::new();
            let written = stream::open(
                &header,
                &header_bytes,
                &SecretBytes::new(KEY.to_vec()),
                body,
                &mut out,
            )
            .unwrap();
            assert_eq!(written, 10_000);
            assert_eq!(out, plaintext);
            if signer.is_some() {
                let sig_len = u16::from_be_bytes([
                    message[message.len() - SIGNATURE_LEN - 2],
                    message[message.len() - SIGNATURE_LEN - 1],
                ]);
                assert_eq!(usize::from(sig_len), SIGNATURE_LEN);
            }
        }
    }
}

/// A non-framed body (version 1, suite 0x0014, which uses the data key as it is): read, and
/// refused once changed.
#[test]
fn non_framed_messages_are_read() {
    let suite = Suite::from_id(0x0014).unwrap();
    let data_key = [0x24u8; 16];
    let message_id = [0x22u8; 16];
    let mut m = vec![0x01, 0x80];
    m.extend_from_slice(&suite.id.to_be_bytes());
    m.extend_from_slice(&message_id);
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    for field in [&b"raw"[..], b"info", b"wrapped"] {
        m.extend_from_slice(&(field.len() as u16).to_be_bytes());
        m.extend_from_slice(field);
    }
    m.push(header::NON_FRAMED);
    m.extend_from_slice(&[0, 0, 0, 0, 12]);
    m.extend_from_slice(&0u32.to_be_bytes());
    let key = body::aead_key(&data_key).unwrap();
    let iv = [7u8; 12];
    let tag = header_tag(&key, iv, &m).unwrap();
    m.extend_from_slice(&iv);
    m.extend_from_slice(&tag);
    // Body: IV, length, ciphertext, tag; the AAD names the single block.
    let plaintext = b"a non-framed body";
    let body_iv = [9u8; 12];
    let mut aad = message_id.to_vec();
    aad.extend_from_slice(b"AWSKMSEncryptionClient Single Block");
    aad.extend_from_slice(&1u32.to_be_bytes());
    aad.extend_from_slice(&(plaintext.len() as u64).to_be_bytes());
    let mut sealed = plaintext.to_vec();
    let body_tag = key
        .seal_in_place_separate_tag(
            aws_lc_rs::aead::Nonce::assume_unique_for_key(body_iv),
            aws_lc_rs::aead::Aad::from(aad.as_slice()),
            &mut sealed,
        )
        .unwrap();
    m.extend_from_slice(&body_iv);
    m.extend_from_slice(&(plaintext.len() as u64).to_be_bytes());
    m.extend_from_slice(&sealed);
    m.extend_from_slice(body_tag.as_ref());
    let open = |m: &[u8]| {
        decrypt_with(
            m,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            None,
            |_| Ok(SecretBytes::new(data_key.to_vec())),
        )
    };
    assert_eq!(open(&m).unwrap().1, plaintext);
    let mut changed = m.clone();
    let at = changed.len() - 20;
    changed[at] ^= 1;
    assert_eq!(
        open(&changed).unwrap_err(),
        EnvelopeError::FrameTag { sequence: 1 }
    );
}

/// `Encryptor::read_from` (frames read straight into their batch) writes the same framing as
/// the other paths, whatever the reader gives at a time.
#[test]
fn reading_into_batches_frames_as_the_other_paths_do() {
    for frame in [1u32, 7, 4096] {
        let f = frame as usize;
        for len in [0, 1, f.saturating_sub(1), f, f + 1, 3 * f + 5, 300 * f + 3] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
            let mut encryptor =
                Encryptor::new(Vec::new(), &materials(KEY), &context(), frame, None).unwrap();
            let read = encryptor
                .read_from(&mut Trickle {
                    bytes: &plaintext,
                    step: 0,
                })
                .unwrap();
            assert_eq!(read, len as u64);
            let message = encryptor.finish().unwrap();
            let full = len / f;
            let last = len - full * f;
            assert_eq!(
                message.len(),
                header_len(&message) + full * (4 + 12 + f + 16) + (4 + 4 + 12 + 4 + last + 16),
                "frame {frame}, {len} bytes"
            );
            assert_eq!(
                decrypt(&message, KEY).unwrap().1,
                plaintext,
                "frame {frame}, {len} bytes"
            );
        }
    }
}
