//! The data encryption key and the commit key, derived from a message's data key
//! (`framework/transitive-requirements.md`).
//!
//! Version 2: HKDF-SHA512, "the salt MUST be the message ID", the key's info is "a
//! concatenation of the algorithm suite ID followed by the string `DERIVEKEY`", and the commit
//! key's info is "the string `COMMITKEY`"; one extract serves both expands. Version 1: HKDF
//! (SHA-256 or SHA-384) with a salt of zeros and the suite ID then the message ID as info, or
//! the data key itself for the suites without a KDF.

use aws_lc_rs::hkdf;

use super::EnvelopeError;
use super::suite::{Kdf, Suite};
use crate::SecretBytes;

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// What a message's data key yields.
pub(crate) struct Derived {
    /// The key that encrypts the content and authenticates the header.
    pub(crate) content: SecretBytes,
    /// The commit key (version 2).
    pub(crate) commitment: Option<Vec<u8>>,
}

fn expand(prk: &hkdf::Prk, info: &[&[u8]], len: usize) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = vec![0; len];
    prk.expand(info, Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| EnvelopeError::Malformed("key derivation failed".into()))?;
    Ok(out)
}

/// Derives the keys of a message in `suite` with `message_id` from its data key.
pub(crate) fn derive(
    suite: &Suite,
    data_key: &[u8],
    message_id: &[u8],
) -> Result<Derived, EnvelopeError> {
    if data_key.len() != suite.key_len {
        return Err(EnvelopeError::Malformed(format!(
            "the data key is {} bytes; suite {:#06x} needs {}",
            data_key.len(),
            suite.id,
            suite.key_len
        )));
    }
    let id = suite.id.to_be_bytes();
    let (algorithm, salt_len) = match suite.kdf {
        Kdf::Identity => {
            return Ok(Derived {
                content: SecretBytes::new(data_key.to_vec()),
                commitment: None,
            });
        }
        Kdf::HkdfSha256 => (hkdf::HKDF_SHA256, 32),
        Kdf::HkdfSha384 => (hkdf::HKDF_SHA384, 48),
        Kdf::HkdfSha512Commit => (hkdf::HKDF_SHA512, 0),
    };
    if suite.commits() {
        let prk = hkdf::Salt::new(algorithm, message_id).extract(data_key);
        return Ok(Derived {
            content: SecretBytes::new(expand(&prk, &[&id, b"DERIVEKEY"], suite.key_len)?),
            commitment: Some(expand(&prk, &[b"COMMITKEY"], suite.suite_data_len())?),
        });
    }
    let prk = hkdf::Salt::new(algorithm, &vec![0; salt_len]).extract(data_key);
    Ok(Derived {
        content: SecretBytes::new(expand(&prk, &[&id, message_id], suite.key_len)?),
        commitment: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derivation matches HKDF as RFC 5869 defines it, computed here with HMAC-SHA512 by
    /// hand: PRK = HMAC(salt = message ID, data key); T(1) = HMAC(PRK, info || 0x01).
    #[test]
    fn version_2_keys_are_hkdf_sha512_with_the_message_id_as_salt() {
        use aws_lc_rs::hmac;
        let data_key = [7u8; 32];
        let message_id = [9u8; 32];
        let derived = derive(&Suite::COMMITTING, &data_key, &message_id).unwrap();
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, &message_id), &data_key);
        let prk = hmac::Key::new(hmac::HMAC_SHA512, prk.as_ref());
        let t1 = |info: &[u8]| {
            let mut input = info.to_vec();
            input.push(1);
            hmac::sign(&prk, &input).as_ref()[..32].to_vec()
        };
        let mut info = vec![0x04, 0x78];
        info.extend_from_slice(b"DERIVEKEY");
        assert_eq!(derived.content.expose(), t1(&info).as_slice());
        assert_eq!(derived.commitment.unwrap(), t1(b"COMMITKEY"));
        // Another message ID, other keys.
        let other = derive(&Suite::COMMITTING, &data_key, &[8u8; 32]).unwrap();
        assert_ne!(other.content.expose(), t1(&info).as_slice());
    }

    #[test]
    fn suites_without_a_kdf_use_the_data_key_and_lengths_are_checked() {
        let suite = Suite::from_id(0x0078).unwrap();
        let derived = derive(&suite, &[3u8; 32], &[0u8; 16]).unwrap();
        assert_eq!(derived.content.expose(), [3u8; 32]);
        assert!(derived.commitment.is_none());
        assert!(derive(&suite, &[3u8; 16], &[0u8; 16]).is_err());
    }
}
