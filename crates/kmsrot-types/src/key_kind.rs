//! Key kinds: the key specs KMS offers, the usages each allows, which of them kmsrot rotates,
//! the round trip that proves a key of each kind works, and the default algorithms. This is the
//! one table: the engine, the CLI, S3, the validation suite and the docs all read it.
//!
//! The usages per spec are CreateKey's `KeyUsage` rules, as its API reference states them:
//! "For asymmetric KMS keys with RSA key pairs, specify `ENCRYPT_DECRYPT` or `SIGN_VERIFY`. For
//! asymmetric KMS keys with NIST-standard elliptic curve key pairs, specify `SIGN_VERIFY` or
//! `KEY_AGREEMENT`. For asymmetric KMS keys with `ECC_SECG_P256K1` key pairs, specify
//! `SIGN_VERIFY`. For asymmetric KMS keys with ML-DSA key pairs, specify `SIGN_VERIFY`. For
//! asymmetric KMS keys with SM2 key pairs (China Regions only), specify `ENCRYPT_DECRYPT`,
//! `SIGN_VERIFY`, or `KEY_AGREEMENT`." The key spec reference adds that
//! `ECC_NIST_EDWARDS25519` is for signing and verification only.

use std::fmt;

use crate::Mode;

/// The key spec of symmetric encryption keys, the only spec KMS rotates itself.
pub const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// Key usages, as KMS names them.
pub mod usage {
    /// Encryption and decryption.
    pub const ENCRYPT_DECRYPT: &str = "ENCRYPT_DECRYPT";
    /// Signing and verification.
    pub const SIGN_VERIFY: &str = "SIGN_VERIFY";
    /// HMAC generation and verification.
    pub const GENERATE_VERIFY_MAC: &str = "GENERATE_VERIFY_MAC";
    /// Deriving shared secrets (ECDH).
    pub const KEY_AGREEMENT: &str = "KEY_AGREEMENT";
}

use usage::{ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC, KEY_AGREEMENT, SIGN_VERIFY};

/// One key spec KMS offers, and what kmsrot does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecInfo {
    /// KMS's name for the spec.
    pub spec: &'static str,
    /// The usages KMS allows for it, the default first.
    pub usages: &'static [&'static str],
    /// The signing algorithm kmsrot uses: the strongest hash that matches the curve, PSS
    /// padding for RSA.
    pub signing: Option<&'static str>,
    /// The MAC algorithm (KMS allows exactly one per HMAC spec).
    pub mac: Option<&'static str>,
    /// The asymmetric encryption algorithm kmsrot uses: OAEP with SHA-256 for RSA.
    pub encryption: Option<&'static str>,
}

impl SpecInfo {
    /// The usage a key of this spec gets when none is given: the only one, or, where KMS
    /// offers several, `ENCRYPT_DECRYPT` (CreateKey's own default) when it is among them, and
    /// otherwise `SIGN_VERIFY` (kmsrot cannot rotate key agreement keys).
    pub fn default_usage(&self) -> &'static str {
        self.usages[0]
    }

    /// The mode a new policy takes for this spec: automatic where KMS can rotate the material
    /// itself, manual otherwise.
    pub fn default_mode(&self) -> Mode {
        if self.spec == SYMMETRIC_DEFAULT {
            Mode::Automatic
        } else {
            Mode::Manual
        }
    }
}

const RSA_SIGN: &str = "RSASSA_PSS_SHA_256";
const RSA_ENCRYPT: &str = "RSAES_OAEP_SHA_256";

const fn spec(
    spec: &'static str,
    usages: &'static [&'static str],
    signing: Option<&'static str>,
    mac: Option<&'static str>,
    encryption: Option<&'static str>,
) -> SpecInfo {
    SpecInfo {
        spec,
        usages,
        signing,
        mac,
        encryption,
    }
}

/// Every key spec KMS offers, in the order of KMS's key spec reference.
pub const SPECS: &[SpecInfo] = &[
    spec(SYMMETRIC_DEFAULT, &[ENCRYPT_DECRYPT], None, None, None),
    spec(
        "RSA_2048",
        &[ENCRYPT_DECRYPT, SIGN_VERIFY],
        Some(RSA_SIGN),
        None,
        Some(RSA_ENCRYPT),
    ),
    spec(
        "RSA_3072",
        &[ENCRYPT_DECRYPT, SIGN_VERIFY],
        Some(RSA_SIGN),
        None,
        Some(RSA_ENCRYPT),
    ),
    spec(
        "RSA_4096",
        &[ENCRYPT_DECRYPT, SIGN_VERIFY],
        Some(RSA_SIGN),
        None,
        Some(RSA_ENCRYPT),
    ),
    spec(
        "ECC_NIST_P256",
        &[SIGN_VERIFY, KEY_AGREEMENT],
        Some("ECDSA_SHA_256"),
        None,
        None,
    ),
    spec(
        "ECC_NIST_P384",
        &[SIGN_VERIFY, KEY_AGREEMENT],
        Some("ECDSA_SHA_384"),
        None,
        None,
    ),
    spec(
        "ECC_NIST_P521",
        &[SIGN_VERIFY, KEY_AGREEMENT],
        Some("ECDSA_SHA_512"),
        None,
        None,
    ),
    spec(
        "ECC_SECG_P256K1",
        &[SIGN_VERIFY],
        Some("ECDSA_SHA_256"),
        None,
        None,
    ),
    spec(
        "ECC_NIST_EDWARDS25519",
        &[SIGN_VERIFY],
        Some("ED25519_SHA_512"),
        None,
        None,
    ),
    spec(
        "ML_DSA_44",
        &[SIGN_VERIFY],
        Some("ML_DSA_SHAKE_256"),
        None,
        None,
    ),
    spec(
        "ML_DSA_65",
        &[SIGN_VERIFY],
        Some("ML_DSA_SHAKE_256"),
        None,
        None,
    ),
    spec(
        "ML_DSA_87",
        &[SIGN_VERIFY],
        Some("ML_DSA_SHAKE_256"),
        None,
        None,
    ),
    spec(
        "SM2",
        &[ENCRYPT_DECRYPT, SIGN_VERIFY, KEY_AGREEMENT],
        Some("SM2DSA"),
        None,
        Some("SM2PKE"),
    ),
    spec(
        "HMAC_224",
        &[GENERATE_VERIFY_MAC],
        None,
        Some("HMAC_SHA_224"),
        None,
    ),
    spec(
        "HMAC_256",
        &[GENERATE_VERIFY_MAC],
        None,
        Some("HMAC_SHA_256"),
        None,
    ),
    spec(
        "HMAC_384",
        &[GENERATE_VERIFY_MAC],
        None,
        Some("HMAC_SHA_384"),
        None,
    ),
    spec(
        "HMAC_512",
        &[GENERATE_VERIFY_MAC],
        None,
        Some("HMAC_SHA_512"),
        None,
    ),
];

/// The table's row for a spec, if KMS offers it.
pub fn spec_info(spec: &str) -> Option<&'static SpecInfo> {
    SPECS.iter().find(|row| row.spec == spec)
}

/// The names of every spec KMS offers, comma-separated, for messages and docs.
pub fn spec_names() -> String {
    SPECS
        .iter()
        .map(|row| row.spec)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What kmsrot manages, in one sentence, for messages and docs.
pub const SUPPORTED: &str = "kmsrot manages SYMMETRIC_DEFAULT keys for ENCRYPT_DECRYPT, RSA and SM2 keys for ENCRYPT_DECRYPT or SIGN_VERIFY, ECC and ML-DSA keys for SIGN_VERIFY, and HMAC keys for GENERATE_VERIFY_MAC; not KEY_AGREEMENT keys";

/// Whether KMS rotates a key's material itself: symmetric encryption keys whose material KMS
/// generated, outside custom key stores.
pub fn rotates_itself(spec: &str, origin: &str, custom_key_store: bool) -> bool {
    spec == SYMMETRIC_DEFAULT && origin == "AWS_KMS" && !custom_key_store
}

/// A key kmsrot can manage, by what proves it works: a round trip through its ARN with the
/// algorithm kmsrot uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A symmetric encryption key: encrypt, then decrypt without naming the key.
    Symmetric,
    /// An asymmetric encryption key, with this encryption algorithm.
    Asymmetric(&'static str),
    /// A signing key, with this signing algorithm.
    Sign(&'static str),
    /// An HMAC key, with this MAC algorithm.
    Mac(&'static str),
}

impl KeyKind {
    /// The kind of a key of this spec and usage, or why kmsrot cannot manage it.
    pub fn of(spec: &str, usage: &str) -> Result<Self, KindError> {
        let refuse = |reason| KindError {
            spec: spec.to_owned(),
            usage: usage.to_owned(),
            reason,
        };
        let info = spec_info(spec).ok_or_else(|| refuse(Reason::UnknownSpec))?;
        if !info.usages.contains(&usage) {
            return Err(refuse(Reason::NotOffered(info.usages)));
        }
        let kind = match usage {
            ENCRYPT_DECRYPT if spec == SYMMETRIC_DEFAULT => Some(Self::Symmetric),
            ENCRYPT_DECRYPT => info.encryption.map(Self::Asymmetric),
            SIGN_VERIFY => info.signing.map(Self::Sign),
            GENERATE_VERIFY_MAC => info.mac.map(Self::Mac),
            _ => None,
        };
        kind.ok_or_else(|| refuse(Reason::Unsupported))
    }

    /// The signing algorithm of a signing key.
    pub fn signing(self) -> Option<&'static str> {
        match self {
            Self::Sign(algorithm) => Some(algorithm),
            _ => None,
        }
    }

    /// The MAC algorithm of an HMAC key.
    pub fn mac(self) -> Option<&'static str> {
        match self {
            Self::Mac(algorithm) => Some(algorithm),
            _ => None,
        }
    }

    /// The encryption algorithm of an asymmetric encryption key.
    pub fn asymmetric_encryption(self) -> Option<&'static str> {
        match self {
            Self::Asymmetric(algorithm) => Some(algorithm),
            _ => None,
        }
    }

    /// The round trip's name, for messages: `encrypt/decrypt`, `sign/verify` or
    /// `generate/verify MAC`.
    pub fn check_name(self) -> &'static str {
        match self {
            Self::Symmetric | Self::Asymmetric(_) => "encrypt/decrypt",
            Self::Sign(_) => "sign/verify",
            Self::Mac(_) => "generate/verify MAC",
        }
    }
}

/// Why a key spec and usage is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// KMS offers no such spec.
    UnknownSpec,
    /// KMS does not offer this usage for the spec; these are the ones it does.
    NotOffered(&'static [&'static str]),
    /// KMS offers it, and kmsrot has no round trip for it.
    Unsupported,
}

/// A key spec and usage kmsrot cannot create or manage, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindError {
    spec: String,
    usage: String,
    reason: Reason,
}

impl fmt::Display for KindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            spec,
            usage,
            reason,
        } = self;
        match reason {
            Reason::UnknownSpec => {
                write!(f, "KMS has no key spec {spec}; it offers {}", spec_names())
            }
            Reason::NotOffered(usages) => write!(
                f,
                "KMS does not offer {usage} for {spec} keys; {spec} keys are for {}",
                usages.join(" or ")
            ),
            Reason::Unsupported => write!(f, "{spec} for {usage} is not supported; {SUPPORTED}"),
        }
    }
}

impl std::error::Error for KindError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spec KMS offers, with no usage given: the usage kmsrot asks for, and the kind it
    /// manages (or the start of the refusal).
    #[test]
    fn every_spec_has_a_default_usage_kmsrot_manages() {
        let table: &[(&str, &str, KeyKind)] = &[
            ("SYMMETRIC_DEFAULT", ENCRYPT_DECRYPT, KeyKind::Symmetric),
            (
                "RSA_2048",
                ENCRYPT_DECRYPT,
                KeyKind::Asymmetric(RSA_ENCRYPT),
            ),
            (
                "RSA_3072",
                ENCRYPT_DECRYPT,
                KeyKind::Asymmetric(RSA_ENCRYPT),
            ),
            (
                "RSA_4096",
                ENCRYPT_DECRYPT,
                KeyKind::Asymmetric(RSA_ENCRYPT),
            ),
            ("ECC_NIST_P256", SIGN_VERIFY, KeyKind::Sign("ECDSA_SHA_256")),
            ("ECC_NIST_P384", SIGN_VERIFY, KeyKind::Sign("ECDSA_SHA_384")),
            ("ECC_NIST_P521", SIGN_VERIFY, KeyKind::Sign("ECDSA_SHA_512")),
            (
                "ECC_SECG_P256K1",
                SIGN_VERIFY,
                KeyKind::Sign("ECDSA_SHA_256"),
            ),
            (
                "ECC_NIST_EDWARDS25519",
                SIGN_VERIFY,
                KeyKind::Sign("ED25519_SHA_512"),
            ),
            ("ML_DSA_44", SIGN_VERIFY, KeyKind::Sign("ML_DSA_SHAKE_256")),
            ("ML_DSA_65", SIGN_VERIFY, KeyKind::Sign("ML_DSA_SHAKE_256")),
            ("ML_DSA_87", SIGN_VERIFY, KeyKind::Sign("ML_DSA_SHAKE_256")),
            ("SM2", ENCRYPT_DECRYPT, KeyKind::Asymmetric("SM2PKE")),
            (
                "HMAC_224",
                GENERATE_VERIFY_MAC,
                KeyKind::Mac("HMAC_SHA_224"),
            ),
            (
                "HMAC_256",
                GENERATE_VERIFY_MAC,
                KeyKind::Mac("HMAC_SHA_256"),
            ),
            (
                "HMAC_384",
                GENERATE_VERIFY_MAC,
                KeyKind::Mac("HMAC_SHA_384"),
            ),
            (
                "HMAC_512",
                GENERATE_VERIFY_MAC,
                KeyKind::Mac("HMAC_SHA_512"),
            ),
        ];
        assert_eq!(table.len(), SPECS.len(), "one row per spec KMS offers");
        for &(spec, usage, kind) in table {
            let info = spec_info(spec).expect(spec);
            assert_eq!(info.default_usage(), usage, "{spec}");
            assert_eq!(KeyKind::of(spec, usage), Ok(kind), "{spec}");
        }
    }

    #[test]
    fn refusals_say_why() {
        let table = [
            (
                "ECC_NIST_P256",
                KEY_AGREEMENT,
                "ECC_NIST_P256 for KEY_AGREEMENT is not supported; kmsrot manages",
            ),
            (
                "ML_DSA_65",
                ENCRYPT_DECRYPT,
                "KMS does not offer ENCRYPT_DECRYPT for ML_DSA_65 keys; ML_DSA_65 keys are for SIGN_VERIFY",
            ),
            (
                "HMAC_256",
                SIGN_VERIFY,
                "KMS does not offer SIGN_VERIFY for HMAC_256 keys; HMAC_256 keys are for GENERATE_VERIFY_MAC",
            ),
            (
                "RSA_1024",
                ENCRYPT_DECRYPT,
                "KMS has no key spec RSA_1024; it offers SYMMETRIC_DEFAULT, RSA_2048,",
            ),
            (
                "SYMMETRIC_DEFAULT",
                "DECRYPT_ONLY",
                "KMS does not offer DECRYPT_ONLY for SYMMETRIC_DEFAULT keys",
            ),
        ];
        for (spec, usage, message) in table {
            let err = KeyKind::of(spec, usage).expect_err(spec).to_string();
            assert!(err.starts_with(message), "{spec} {usage}: {err}");
        }
    }

    #[test]
    fn only_symmetric_aws_kms_keys_rotate_themselves() {
        assert!(rotates_itself(SYMMETRIC_DEFAULT, "AWS_KMS", false));
        assert!(!rotates_itself(SYMMETRIC_DEFAULT, "AWS_KMS", true));
        assert!(!rotates_itself(SYMMETRIC_DEFAULT, "EXTERNAL", false));
        assert!(!rotates_itself("HMAC_256", "AWS_KMS", false));
        assert_eq!(
            spec_info(SYMMETRIC_DEFAULT).unwrap().default_mode(),
            Mode::Automatic
        );
        assert_eq!(spec_info("RSA_2048").unwrap().default_mode(), Mode::Manual);
    }
}
