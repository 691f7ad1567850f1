//! The algorithm suites of the AWS Encryption SDK's message format, and the commitment policy
//! that decides which of them may be written and read.
//!
//! From the specification's suite tables (`framework/algorithm-suites.md`): every suite is
//! AES-GCM with a 12-byte IV and a 16-byte tag; version 1 suites derive the data encryption key
//! with no KDF or HKDF (SHA-256 or SHA-384), and version 2 suites with HKDF-SHA512 and a key
//! commitment stored in the header.

/// How the data encryption key is derived from the data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// "The Identity KDF MUST take a byte sequence as input, and MUST return the input,
    /// unchanged."
    Identity,
    /// HKDF-SHA256, salt of zeros, info = suite ID then message ID (version 1).
    HkdfSha256,
    /// HKDF-SHA384, as [`Kdf::HkdfSha256`].
    HkdfSha384,
    /// HKDF-SHA512 with the message ID as salt, and a commit key (version 2).
    HkdfSha512Commit,
}

/// The message signature a suite adds (a footer, and the public key in the context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// No signature.
    None,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
}

/// One algorithm suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    /// Its two-byte ID, as the header stores it.
    pub id: u16,
    /// The AES key length in bytes (16, 24 or 32): also the data key's length.
    pub key_len: usize,
    /// How the data encryption key is derived.
    pub kdf: Kdf,
    /// The signature it adds.
    pub signing: Signing,
}

const fn suite(id: u16, key_len: usize, kdf: Kdf, signing: Signing) -> Suite {
    Suite {
        id,
        key_len,
        kdf,
        signing,
    }
}

impl Suite {
    /// `0x0478`: AES-256-GCM, HKDF-SHA512, key commitment; no signature.
    pub const COMMITTING: Self = suite(0x0478, 32, Kdf::HkdfSha512Commit, Signing::None);
    /// `0x0578`: [`Suite::COMMITTING`] with an ECDSA P-384 signature: the ESDK's default.
    pub const COMMITTING_SIGNED: Self =
        suite(0x0578, 32, Kdf::HkdfSha512Commit, Signing::EcdsaP384);

    /// Every suite the ESDK defines.
    pub const ALL: [Self; 11] = [
        suite(0x0014, 16, Kdf::Identity, Signing::None),
        suite(0x0046, 24, Kdf::Identity, Signing::None),
        suite(0x0078, 32, Kdf::Identity, Signing::None),
        suite(0x0114, 16, Kdf::HkdfSha256, Signing::None),
        suite(0x0146, 24, Kdf::HkdfSha256, Signing::None),
        suite(0x0178, 32, Kdf::HkdfSha256, Signing::None),
        suite(0x0214, 16, Kdf::HkdfSha256, Signing::EcdsaP256),
        suite(0x0346, 24, Kdf::HkdfSha384, Signing::EcdsaP384),
        suite(0x0378, 32, Kdf::HkdfSha384, Signing::EcdsaP384),
        Self::COMMITTING,
        Self::COMMITTING_SIGNED,
    ];

    /// The suite with this ID, if the ESDK defines one.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id == id)
    }

    /// Whether the suite commits to its key (version 2).
    pub fn commits(&self) -> bool {
        self.kdf == Kdf::HkdfSha512Commit
    }

    /// The message format version it is written in.
    pub fn version(&self) -> u8 {
        if self.commits() { 2 } else { 1 }
    }

    /// The length of the message ID: 32 bytes in version 2, 16 in version 1.
    pub fn message_id_len(&self) -> usize {
        if self.commits() { 32 } else { 16 }
    }

    /// The length of the algorithm suite data in the header (the commit key).
    pub fn suite_data_len(&self) -> usize {
        if self.commits() { 32 } else { 0 }
    }
}

/// Which suites may be written and read: the ESDK's commitment policy. "If no commitment policy
/// is provided the default MUST be REQUIRE_ENCRYPT_REQUIRE_DECRYPT."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitmentPolicy {
    /// Write only committing suites; read only committing suites.
    #[default]
    RequireEncryptRequireDecrypt,
    /// Write only committing suites; read every suite (to read older messages).
    RequireEncryptAllowDecrypt,
}

impl CommitmentPolicy {
    /// Whether a message in `suite` may be read.
    pub fn allows_decrypt(&self, suite: &Suite) -> bool {
        match self {
            Self::RequireEncryptRequireDecrypt => suite.commits(),
            Self::RequireEncryptAllowDecrypt => true,
        }
    }

    /// Whether a message may be written in `suite`.
    pub fn allows_encrypt(&self, suite: &Suite) -> bool {
        suite.commits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_suite_once_with_its_properties() {
        for (i, s) in Suite::ALL.iter().enumerate() {
            assert_eq!(Suite::from_id(s.id), Some(*s));
            assert!(Suite::ALL[i + 1..].iter().all(|o| o.id != s.id));
            // The ID's low byte encodes the AES key length: 0x14, 0x46 and 0x78 for 128, 192
            // and 256 bits.
            let bits = match s.id & 0xff {
                0x14 => 128,
                0x46 => 192,
                0x78 => 256,
                other => panic!("{other:#x}"),
            };
            assert_eq!(s.key_len * 8, bits, "{:#06x}", s.id);
        }
        assert_eq!(Suite::from_id(0x0478).unwrap().version(), 2);
        assert_eq!(Suite::from_id(0x0378).unwrap().message_id_len(), 16);
        assert_eq!(Suite::from_id(0x1234), None);
    }

    #[test]
    fn the_default_policy_reads_and_writes_only_committing_suites() {
        let policy = CommitmentPolicy::default();
        let legacy = Suite::from_id(0x0178).unwrap();
        assert!(!policy.allows_decrypt(&legacy));
        assert!(policy.allows_decrypt(&Suite::COMMITTING));
        assert!(CommitmentPolicy::RequireEncryptAllowDecrypt.allows_decrypt(&legacy));
        assert!(!CommitmentPolicy::RequireEncryptAllowDecrypt.allows_encrypt(&legacy));
    }
}
