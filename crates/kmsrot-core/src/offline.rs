//! Offline verification of AWS KMS signatures, with no call to KMS.
//!
//! [`verify`] checks a signature that KMS's `Sign` made over a `RAW` message (the only message
//! type kmsrot signs with) against the public key that KMS's `GetPublicKey` returned, and gives
//! the verdict KMS's `Verify` would give. It uses aws-lc-rs, the library the AWS SDK's HTTPS
//! client already builds for TLS.
//!
//! | Key spec | Signing algorithms | aws-lc-rs verification |
//! | --- | --- | --- |
//! | `RSA_2048`, `RSA_3072`, `RSA_4096` | `RSASSA_PSS_SHA_256`, `_384`, `_512` | RSA-PSS, MGF1 with the same hash, salt as long as the digest |
//! | | `RSASSA_PKCS1_V1_5_SHA_256`, `_384`, `_512` | PKCS #1 v1.5 |
//! | `ECC_NIST_P256` | `ECDSA_SHA_256` | ECDSA, signature in DER |
//! | `ECC_NIST_P384` | `ECDSA_SHA_384` | ECDSA, signature in DER |
//! | `ECC_NIST_P521` | `ECDSA_SHA_512` | ECDSA, signature in DER |
//! | `ECC_SECG_P256K1` | `ECDSA_SHA_256` | ECDSA, signature in DER |
//! | `ECC_NIST_EDWARDS25519` | `ED25519_SHA_512` | pure Ed25519 (RFC 8032) over the message |
//! | `ML_DSA_44`, `ML_DSA_65`, `ML_DSA_87` | `ML_DSA_SHAKE_256` | pure ML-DSA (FIPS 204), empty context |
//!
//! Everything else is [`OfflineError::Unsupported`]: SM2 (`SM2DSA`, China Regions), and
//! `ED25519_PH_SHA_512`, which KMS accepts only with `MessageType` `DIGEST` (`HashEdDSA`), as
//! well as any pair of key spec and signing algorithm that KMS itself does not allow.
//!
//! The public key must be what `GetPublicKey` returns: a DER `SubjectPublicKeyInfo` whose
//! algorithm (and, for ECC, named curve; for RSA, modulus size) matches the key spec. aws-lc-rs
//! alone would also take a bare PKCS#1 `RSAPublicKey`, a bare EC point or a raw Ed25519 or ML-DSA
//! key, and would not hold an RSA key to its spec's size; this module checks the
//! `SubjectPublicKeyInfo` first so that a key of another shape or size is reported as
//! [`OfflineError::BadPublicKey`] rather than silently used.
//!
//! KMS limits a `RAW` message to 4096 bytes and requires at least one byte; this module checks
//! signatures over messages of any length.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, VerificationAlgorithm};

/// Why a signature could not be checked offline, or that it is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    /// The signature does not verify: the message, the signature or the key is not the one that
    /// was signed with. KMS's `Verify` would answer `KMSInvalidSignatureException`.
    #[error("the signature does not verify with this public key")]
    Invalid,
    /// kmsrot cannot check this algorithm/key spec offline (for example SM2, or
    /// `ED25519_PH_SHA_512`, which signs a digest), or the pair is not one KMS allows.
    #[error(
        "kmsrot cannot verify {signing_algorithm} signatures of {key_spec} keys offline; use KMS's Verify"
    )]
    Unsupported {
        /// The key spec given.
        key_spec: String,
        /// The signing algorithm given.
        signing_algorithm: String,
    },
    /// The public key is not a DER `SubjectPublicKeyInfo` of that key spec.
    #[error("the public key is not a DER SubjectPublicKeyInfo for key spec {key_spec}: {reason}")]
    BadPublicKey {
        /// The key spec given.
        key_spec: String,
        /// What is wrong with the key.
        reason: String,
    },
}

/// The fingerprint kmsrot records of a public key (tag `kmsrot:public-key-sha256`): the
/// SHA-256 of the DER `SubjectPublicKeyInfo` that `GetPublicKey` returned, in lowercase hex.
#[must_use]
pub fn fingerprint(public_key_der: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public_key_der);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Verifies `signature` over `message` (`MessageType` `RAW`, as kmsrot signs) with a KMS key's
/// public key, giving the verdict KMS's `Verify` would give.
///
/// `public_key_der` is what KMS's `GetPublicKey` returned: a DER-encoded X.509
/// `SubjectPublicKeyInfo`. `key_spec` is KMS's `KeySpec` name (e.g. `"RSA_2048"`,
/// `"ECC_NIST_P256"`, `"ECC_SECG_P256K1"`, `"ECC_NIST_EDWARDS25519"`, `"ML_DSA_65"`) and
/// `signing_algorithm` KMS's signing algorithm name (e.g. `"RSASSA_PSS_SHA_256"`,
/// `"RSASSA_PKCS1_V1_5_SHA_384"`, `"ECDSA_SHA_512"`, `"ED25519_SHA_512"`, `"ML_DSA_SHAKE_256"`).
///
/// # Errors
///
/// - [`OfflineError::Unsupported`] when this module does not verify the pair; this is checked
///   before the key is looked at.
/// - [`OfflineError::BadPublicKey`] when `public_key_der` is not a DER `SubjectPublicKeyInfo` of
///   a `key_spec` key.
/// - [`OfflineError::Invalid`] when the signature does not verify.
pub fn verify(
    public_key_der: &[u8],
    key_spec: &str,
    signing_algorithm: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), OfflineError> {
    let Some((spec, algorithm)) = lookup(key_spec, signing_algorithm) else {
        return Err(OfflineError::Unsupported {
            key_spec: key_spec.to_owned(),
            signing_algorithm: signing_algorithm.to_owned(),
        });
    };
    let bad = |reason: String| OfflineError::BadPublicKey {
        key_spec: key_spec.to_owned(),
        reason,
    };
    let spki = parse_spki(public_key_der).map_err(|reason| bad(reason.to_owned()))?;
    spec.key.check(&spki).map_err(bad)?;
    let key = ParsedPublicKey::new(algorithm, public_key_der)
        .map_err(|rejected| bad(format!("aws-lc-rs rejects it ({rejected})")))?;
    key.verify_sig(message, signature)
        .map_err(|_| OfflineError::Invalid)
}

/// A KMS key spec that signs, what its public key must be, and the signing algorithms KMS allows
/// with it.
#[derive(Debug)]
struct KeySpec {
    /// KMS's name for the key spec.
    name: &'static str,
    /// What its `SubjectPublicKeyInfo` must hold.
    key: KeyKind,
    /// KMS's signing algorithms for it, each with the aws-lc-rs verification that matches it.
    algorithms: &'static [(&'static str, &'static dyn VerificationAlgorithm)],
}

/// What a key spec's `SubjectPublicKeyInfo` must hold.
#[derive(Debug)]
enum KeyKind {
    /// `rsaEncryption`, with a modulus of exactly this many bits.
    Rsa {
        /// The modulus size.
        bits: u32,
    },
    /// `id-ecPublicKey` on a named curve.
    Ec {
        /// The curve, as messages name it.
        curve: &'static str,
        /// The `namedCurve` parameter, a whole DER OBJECT IDENTIFIER.
        parameters: &'static [u8],
    },
    /// `id-Ed25519`, without parameters, and a 32-byte key.
    Ed25519,
    /// `id-ml-dsa-*`, without parameters, and a raw key of the parameter set's size.
    MlDsa {
        /// The parameter set, as messages name it.
        name: &'static str,
        /// The algorithm OID's content octets.
        oid: &'static [u8],
        /// The raw public key's length.
        key_len: usize,
    },
}

/// The content octets of OID 1.2.840.113549.1.1.1, `rsaEncryption`.
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// The content octets of OID 1.2.840.10045.2.1, `id-ecPublicKey`.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// The content octets of OID 1.3.101.112, `id-Ed25519`.
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// A DER NULL, the parameters of `rsaEncryption`.
const DER_NULL: &[u8] = &[0x05, 0x00];

/// KMS's RSA signing algorithms. KMS's PSS uses MGF1 with the message's hash and a salt as long
/// as the digest, which is what aws-lc-rs's `RSA_PSS_*` verify (`RsaPssSaltLength::Digest`).
const RSA_ALGORITHMS: &[(&str, &dyn VerificationAlgorithm)] = &[
    ("RSASSA_PSS_SHA_256", &signature::RSA_PSS_2048_8192_SHA256),
    ("RSASSA_PSS_SHA_384", &signature::RSA_PSS_2048_8192_SHA384),
    ("RSASSA_PSS_SHA_512", &signature::RSA_PSS_2048_8192_SHA512),
    (
        "RSASSA_PKCS1_V1_5_SHA_256",
        &signature::RSA_PKCS1_2048_8192_SHA256,
    ),
    (
        "RSASSA_PKCS1_V1_5_SHA_384",
        &signature::RSA_PKCS1_2048_8192_SHA384,
    ),
    (
        "RSASSA_PKCS1_V1_5_SHA_512",
        &signature::RSA_PKCS1_2048_8192_SHA512,
    ),
];

/// Every key spec this module verifies. KMS's ECDSA signatures are DER-encoded, hence `_ASN1`.
const KEY_SPECS: &[KeySpec] = &[
    KeySpec {
        name: "RSA_2048",
        key: KeyKind::Rsa { bits: 2048 },
        algorithms: RSA_ALGORITHMS,
    },
    KeySpec {
        name: "RSA_3072",
        key: KeyKind::Rsa { bits: 3072 },
        algorithms: RSA_ALGORITHMS,
    },
    KeySpec {
        name: "RSA_4096",
        key: KeyKind::Rsa { bits: 4096 },
        algorithms: RSA_ALGORITHMS,
    },
    KeySpec {
        name: "ECC_NIST_P256",
        key: KeyKind::Ec {
            curve: "P-256",
            // OID 1.2.840.10045.3.1.7, prime256v1 (secp256r1).
            parameters: &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        },
        algorithms: &[("ECDSA_SHA_256", &signature::ECDSA_P256_SHA256_ASN1)],
    },
    KeySpec {
        name: "ECC_NIST_P384",
        key: KeyKind::Ec {
            curve: "P-384",
            // OID 1.3.132.0.34, secp384r1.
            parameters: &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
        },
        algorithms: &[("ECDSA_SHA_384", &signature::ECDSA_P384_SHA384_ASN1)],
    },
    KeySpec {
        name: "ECC_NIST_P521",
        key: KeyKind::Ec {
            curve: "P-521",
            // OID 1.3.132.0.35, secp521r1.
            parameters: &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        },
        algorithms: &[("ECDSA_SHA_512", &signature::ECDSA_P521_SHA512_ASN1)],
    },
    KeySpec {
        name: "ECC_SECG_P256K1",
        key: KeyKind::Ec {
            curve: "secp256k1",
            // OID 1.3.132.0.10, secp256k1.
            parameters: &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a],
        },
        algorithms: &[("ECDSA_SHA_256", &signature::ECDSA_P256K1_SHA256_ASN1)],
    },
    KeySpec {
        name: "ECC_NIST_EDWARDS25519",
        key: KeyKind::Ed25519,
        // `ED25519_SHA_512` is pure Ed25519 and requires `MessageType` `RAW`.
        // `ED25519_PH_SHA_512` (Ed25519ph) requires `DIGEST`, and aws-lc-rs does not offer it.
        algorithms: &[("ED25519_SHA_512", &signature::ED25519)],
    },
    KeySpec {
        name: "ML_DSA_44",
        key: KeyKind::MlDsa {
            name: "ML-DSA-44",
            // OID 2.16.840.1.101.3.4.3.17, id-ml-dsa-44.
            oid: &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x11],
            key_len: 1312,
        },
        // With `RAW`, KMS signs pure ML-DSA with an empty context: mu = SHAKE256(SHAKE256(pk) ||
        // 0x00 || 0x00 || message). aws-lc-rs's `ML_DSA_*` verify exactly that.
        algorithms: &[("ML_DSA_SHAKE_256", &signature::ML_DSA_44)],
    },
    KeySpec {
        name: "ML_DSA_65",
        key: KeyKind::MlDsa {
            name: "ML-DSA-65",
            // OID 2.16.840.1.101.3.4.3.18, id-ml-dsa-65.
            oid: &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12],
            key_len: 1952,
        },
        algorithms: &[("ML_DSA_SHAKE_256", &signature::ML_DSA_65)],
    },
    KeySpec {
        name: "ML_DSA_87",
        key: KeyKind::MlDsa {
            name: "ML-DSA-87",
            // OID 2.16.840.1.101.3.4.3.19, id-ml-dsa-87.
            oid: &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x13],
            key_len: 2592,
        },
        algorithms: &[("ML_DSA_SHAKE_256", &signature::ML_DSA_87)],
    },
];

/// The key spec and the aws-lc-rs verification for a pair, if this module verifies it.
fn lookup(
    key_spec: &str,
    signing_algorithm: &str,
) -> Option<(&'static KeySpec, &'static dyn VerificationAlgorithm)> {
    let spec = KEY_SPECS.iter().find(|spec| spec.name == key_spec)?;
    let (_, algorithm) = spec
        .algorithms
        .iter()
        .find(|(name, _)| *name == signing_algorithm)?;
    Some((spec, *algorithm))
}

impl KeyKind {
    /// Whether `spki` holds a key of this kind; if not, why.
    fn check(&self, spki: &Spki<'_>) -> Result<(), String> {
        match *self {
            Self::Rsa { bits } => {
                if spki.algorithm != OID_RSA_ENCRYPTION {
                    return Err("its algorithm is not rsaEncryption".to_owned());
                }
                // RFC 3279 requires NULL; absent parameters are a common, harmless variant.
                if spki
                    .parameters
                    .is_some_and(|parameters| parameters != DER_NULL)
                {
                    return Err("its rsaEncryption parameters are not NULL".to_owned());
                }
                let actual = RsaParameters::public_modulus_len(spki.key)
                    .map_err(|_| "its RSAPublicKey does not parse".to_owned())?;
                if actual != bits {
                    return Err(format!("its modulus has {actual} bits, not {bits}"));
                }
            }
            Self::Ec { curve, parameters } => {
                if spki.algorithm != OID_EC_PUBLIC_KEY {
                    return Err("its algorithm is not id-ecPublicKey".to_owned());
                }
                if spki.parameters != Some(parameters) {
                    return Err(format!("it is not a key on the named curve {curve}"));
                }
            }
            Self::Ed25519 => {
                if spki.algorithm != OID_ED25519 {
                    return Err("its algorithm is not id-Ed25519".to_owned());
                }
                if spki.parameters.is_some() {
                    return Err("its id-Ed25519 algorithm has parameters".to_owned());
                }
                if spki.key.len() != signature::ED25519_PUBLIC_KEY_LEN {
                    return Err(format!(
                        "its key has {} bytes, not {}",
                        spki.key.len(),
                        signature::ED25519_PUBLIC_KEY_LEN
                    ));
                }
            }
            Self::MlDsa { name, oid, key_len } => {
                if spki.algorithm != oid {
                    return Err(format!("its algorithm is not {name}"));
                }
                if spki.parameters.is_some() {
                    return Err(format!("its {name} algorithm has parameters"));
                }
                if spki.key.len() != key_len {
                    return Err(format!(
                        "its key has {} bytes, not {key_len}",
                        spki.key.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The parts of a DER `SubjectPublicKeyInfo` (RFC 5280, section 4.1) that say what key it holds.
#[derive(Debug)]
struct Spki<'a> {
    /// The content octets of the algorithm's OBJECT IDENTIFIER.
    algorithm: &'a [u8],
    /// The algorithm's parameters, one whole DER element, when present.
    parameters: Option<&'a [u8]>,
    /// The `subjectPublicKey` BIT STRING's bytes, after its unused-bits octet.
    key: &'a [u8],
}

/// The DER tag of a SEQUENCE (constructed).
const TAG_SEQUENCE: u8 = 0x30;
/// The DER tag of an OBJECT IDENTIFIER.
const TAG_OID: u8 = 0x06;
/// The DER tag of a BIT STRING (primitive).
const TAG_BIT_STRING: u8 = 0x03;

/// Reads `SEQUENCE { SEQUENCE { OID, parameters OPTIONAL }, BIT STRING }` spanning all of `der`.
fn parse_spki(der: &[u8]) -> Result<Spki<'_>, &'static str> {
    let (outer, rest) = read_element(der, TAG_SEQUENCE)
        .map_err(|_| "it does not start with a well-formed DER SEQUENCE")?;
    if !rest.is_empty() {
        return Err("bytes follow the SubjectPublicKeyInfo");
    }
    let (algorithm_identifier, rest) = read_element(outer, TAG_SEQUENCE)
        .map_err(|_| "its AlgorithmIdentifier is not a well-formed SEQUENCE")?;
    let (algorithm, parameters) = read_element(algorithm_identifier, TAG_OID)
        .map_err(|_| "its AlgorithmIdentifier does not start with an OBJECT IDENTIFIER")?;
    if algorithm.is_empty() {
        return Err("its algorithm OBJECT IDENTIFIER is empty");
    }
    let parameters = if parameters.is_empty() {
        None
    } else {
        let (_, _, after) = read_any_element(parameters)
            .map_err(|_| "its algorithm parameters are not well-formed DER")?;
        if !after.is_empty() {
            return Err("bytes follow its algorithm parameters");
        }
        Some(parameters)
    };
    let (bit_string, rest) = read_element(rest, TAG_BIT_STRING)
        .map_err(|_| "its subjectPublicKey is not a well-formed BIT STRING")?;
    if !rest.is_empty() {
        return Err("bytes follow its subjectPublicKey");
    }
    let Some((&unused_bits, key)) = bit_string.split_first() else {
        return Err("its subjectPublicKey BIT STRING is empty");
    };
    if unused_bits != 0 {
        return Err("its subjectPublicKey is not a whole number of bytes");
    }
    Ok(Spki {
        algorithm,
        parameters,
        key,
    })
}

/// Why `der` does not start with the DER element wanted; the caller says which element it was.
#[derive(Debug)]
struct Malformed;

/// Splits a DER element with tag `tag` off the front of `der`: its contents, and what follows.
fn read_element(der: &[u8], tag: u8) -> Result<(&[u8], &[u8]), Malformed> {
    let (found, contents, rest) = read_any_element(der)?;
    if found == tag {
        Ok((contents, rest))
    } else {
        Err(Malformed)
    }
}

/// Splits one DER element off the front of `der`: its tag and contents, and what follows.
///
/// Only low tag numbers (all `SubjectPublicKeyInfo` uses) and definite, minimally encoded lengths
/// of up to four octets are accepted, as DER requires.
fn read_any_element(der: &[u8]) -> Result<(u8, &[u8], &[u8]), Malformed> {
    let (&tag, after_tag) = der.split_first().ok_or(Malformed)?;
    if (tag & 0x1f) == 0x1f {
        return Err(Malformed);
    }
    let (&first, after_first) = after_tag.split_first().ok_or(Malformed)?;
    let (len, after_len) = if first < 0x80 {
        (usize::from(first), after_first)
    } else {
        let octets = usize::from(first & 0x7f);
        // 0x80 is BER's indefinite length; more than four octets is no key KMS returns.
        if octets == 0 || octets > 4 {
            return Err(Malformed);
        }
        let (len_octets, after_len) = after_first.split_at_checked(octets).ok_or(Malformed)?;
        if len_octets.first() == Some(&0) {
            return Err(Malformed);
        }
        let len = len_octets
            .iter()
            .fold(0_usize, |len, &octet| (len << 8) | usize::from(octet));
        if len < 0x80 {
            return Err(Malformed);
        }
        (len, after_len)
    };
    let (contents, rest) = after_len.split_at_checked(len).ok_or(Malformed)?;
    Ok((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::digest;
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _,
        PqdsaKeyPair, PqdsaSigningAlgorithm, RsaEncoding,
    };

    use super::*;

    const MESSAGE: &[u8] = b"kmsrot offline verification vector";

    /// Every pair KMS allows for a signing key spec kmsrot checks offline.
    const KMS_PAIRS: &[(&str, &str)] = &[
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
        ("RSA_2048", "RSASSA_PSS_SHA_384"),
        ("RSA_2048", "RSASSA_PSS_SHA_512"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512"),
        ("RSA_3072", "RSASSA_PSS_SHA_256"),
        ("RSA_3072", "RSASSA_PSS_SHA_384"),
        ("RSA_3072", "RSASSA_PSS_SHA_512"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_512"),
        ("RSA_4096", "RSASSA_PSS_SHA_256"),
        ("RSA_4096", "RSASSA_PSS_SHA_384"),
        ("RSA_4096", "RSASSA_PSS_SHA_512"),
        ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_256"),
        ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_384"),
        ("RSA_4096", "RSASSA_PKCS1_V1_5_SHA_512"),
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
        ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
        ("ML_DSA_44", "ML_DSA_SHAKE_256"),
        ("ML_DSA_65", "ML_DSA_SHAKE_256"),
        ("ML_DSA_87", "ML_DSA_SHAKE_256"),
    ];

    fn spki(public_key: &impl AsDer<PublicKeyX509Der<'static>>) -> Vec<u8> {
        public_key
            .as_der()
            .expect("SubjectPublicKeyInfo")
            .as_ref()
            .to_vec()
    }

    fn hex(text: &str) -> Vec<u8> {
        assert!(text.len().is_multiple_of(2), "odd hex length");
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digit"))
            .collect()
    }

    fn unsupported(key_spec: &str, signing_algorithm: &str) -> OfflineError {
        OfflineError::Unsupported {
            key_spec: key_spec.to_owned(),
            signing_algorithm: signing_algorithm.to_owned(),
        }
    }

    fn bad_reason(result: Result<(), OfflineError>) -> String {
        match result {
            Err(OfflineError::BadPublicKey { reason, .. }) => reason,
            other => panic!("expected BadPublicKey, got {other:?}"),
        }
    }

    /// A good signature verifies; any change to the message or the signature does not.
    fn assert_verdicts(spki: &[u8], key_spec: &str, algorithm: &str, signature: &[u8]) {
        assert_eq!(
            verify(spki, key_spec, algorithm, MESSAGE, signature),
            Ok(()),
            "{key_spec} {algorithm}"
        );

        let mut message = MESSAGE.to_vec();
        message[0] ^= 0x01;
        assert_eq!(
            verify(spki, key_spec, algorithm, &message, signature),
            Err(OfflineError::Invalid),
            "{key_spec} {algorithm}: flipped message bit"
        );
        assert_eq!(
            verify(spki, key_spec, algorithm, &MESSAGE[1..], signature),
            Err(OfflineError::Invalid),
            "{key_spec} {algorithm}: shortened message"
        );

        for at in [0, signature.len() / 2, signature.len() - 1] {
            for bit in [0x01, 0x80] {
                let mut flipped = signature.to_vec();
                flipped[at] ^= bit;
                assert_eq!(
                    verify(spki, key_spec, algorithm, MESSAGE, &flipped),
                    Err(OfflineError::Invalid),
                    "{key_spec} {algorithm}: flipped signature bit {bit:#x} at {at}"
                );
            }
        }
        assert_eq!(
            verify(
                spki,
                key_spec,
                algorithm,
                MESSAGE,
                &signature[..signature.len() - 1]
            ),
            Err(OfflineError::Invalid),
            "{key_spec} {algorithm}: truncated signature"
        );
        assert_eq!(
            verify(spki, key_spec, algorithm, MESSAGE, &[]),
            Err(OfflineError::Invalid),
            "{key_spec} {algorithm}: empty signature"
        );
    }

    #[test]
    fn supported_is_exactly_what_kms_allows() {
        for &(key_spec, algorithm) in KMS_PAIRS {
            assert!(
                lookup(key_spec, algorithm).is_some(),
                "{key_spec} {algorithm}"
            );
        }
        let listed: usize = KEY_SPECS.iter().map(|spec| spec.algorithms.len()).sum();
        assert_eq!(
            listed,
            KMS_PAIRS.len(),
            "the table holds a pair KMS does not allow"
        );
    }

    /// The key-kind table (`kmsrot_types::key_kind`) is the one list of specs: every spec this
    /// module knows signs there, and every signing spec there, but SM2, verifies offline with
    /// the algorithm kmsrot signs with.
    #[test]
    fn the_specs_are_the_key_kind_tables_signing_specs() {
        use kmsrot_types::key_kind::{SPECS, usage};
        let signing: Vec<_> = SPECS
            .iter()
            .filter(|info| info.usages.contains(&usage::SIGN_VERIFY))
            .collect();
        for spec in KEY_SPECS {
            assert!(
                signing.iter().any(|info| info.spec == spec.name),
                "{} is not a signing spec of the key-kind table",
                spec.name
            );
        }
        for info in signing.iter().filter(|info| info.spec != "SM2") {
            let algorithm = info
                .signing
                .expect("a signing spec has a signing algorithm");
            assert!(
                lookup(info.spec, algorithm).is_some(),
                "{} {algorithm}",
                info.spec
            );
        }
    }

    #[test]
    fn unsupported_pairs() {
        let pairs = [
            ("SM2", "SM2DSA"),
            ("ECC_NIST_EDWARDS25519", "ED25519_PH_SHA_512"),
            ("RSA_2048", "ECDSA_SHA_256"),
            ("RSA_2048", "RSAES_OAEP_SHA_256"),
            ("RSA_2048", "RSASSA_PSS_SHA_1"),
            ("ECC_NIST_P256", "ECDSA_SHA_384"),
            ("ECC_NIST_P256", "ECDSA_SHA_512"),
            ("ECC_NIST_P384", "ECDSA_SHA_256"),
            ("ECC_NIST_P521", "ECDSA_SHA_256"),
            ("ECC_SECG_P256K1", "ECDSA_SHA_384"),
            ("ECC_NIST_EDWARDS25519", "ECDSA_SHA_512"),
            ("ML_DSA_65", "ECDSA_SHA_256"),
            ("ML_DSA_65", "ED25519_SHA_512"),
            ("RSA_1024", "RSASSA_PSS_SHA_256"),
            ("HMAC_256", "HMAC_SHA_256"),
            ("SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT"),
            ("rsa_2048", "RSASSA_PSS_SHA_256"),
            ("RSA_2048", "rsassa_pss_sha_256"),
            ("", ""),
        ];
        for (key_spec, algorithm) in pairs {
            assert!(
                lookup(key_spec, algorithm).is_none(),
                "{key_spec} {algorithm}"
            );
            // Unsupported wins over a key that would not parse anyway.
            assert_eq!(
                verify(b"not a key", key_spec, algorithm, MESSAGE, b"sig"),
                Err(unsupported(key_spec, algorithm)),
                "{key_spec} {algorithm}"
            );
        }
    }

    #[test]
    fn rsa_every_algorithm_and_size() {
        let rng = SystemRandom::new();
        let encodings: [(&str, &'static dyn RsaEncoding); 6] = [
            ("RSASSA_PSS_SHA_256", &sig::RSA_PSS_SHA256),
            ("RSASSA_PSS_SHA_384", &sig::RSA_PSS_SHA384),
            ("RSASSA_PSS_SHA_512", &sig::RSA_PSS_SHA512),
            ("RSASSA_PKCS1_V1_5_SHA_256", &sig::RSA_PKCS1_SHA256),
            ("RSASSA_PKCS1_V1_5_SHA_384", &sig::RSA_PKCS1_SHA384),
            ("RSASSA_PKCS1_V1_5_SHA_512", &sig::RSA_PKCS1_SHA512),
        ];
        for (size, key_spec) in [
            (KeySize::Rsa2048, "RSA_2048"),
            (KeySize::Rsa3072, "RSA_3072"),
            (KeySize::Rsa4096, "RSA_4096"),
        ] {
            let key = RsaKeyPair::generate(size).expect("RSA key");
            let public = spki(key.public_key());
            for (algorithm, encoding) in encodings {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(encoding, &rng, MESSAGE, &mut signature)
                    .expect("RSA signature");
                assert_verdicts(&public, key_spec, algorithm, &signature);
            }
            // A signature made with another padding or hash does not verify.
            let mut pkcs1 = vec![0; key.public_modulus_len()];
            key.sign(&sig::RSA_PKCS1_SHA256, &rng, MESSAGE, &mut pkcs1)
                .expect("RSA signature");
            for algorithm in ["RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384"] {
                assert_eq!(
                    verify(&public, key_spec, algorithm, MESSAGE, &pkcs1),
                    Err(OfflineError::Invalid),
                    "{key_spec} {algorithm}"
                );
            }
        }
    }

    #[test]
    fn rsa_key_must_be_the_specs_size_and_an_spki() {
        let key = RsaKeyPair::generate(KeySize::Rsa3072).expect("RSA key");
        let public = spki(key.public_key());
        let reason = bad_reason(verify(
            &public,
            "RSA_2048",
            "RSASSA_PSS_SHA_256",
            MESSAGE,
            b"",
        ));
        assert_eq!(reason, "its modulus has 3072 bits, not 2048");
        bad_reason(verify(
            &public,
            "RSA_4096",
            "RSASSA_PSS_SHA_256",
            MESSAGE,
            b"",
        ));

        // aws-lc-rs itself would take a bare PKCS#1 RSAPublicKey; KMS never returns one.
        let pkcs1 = key.public_key().as_ref();
        bad_reason(verify(
            pkcs1,
            "RSA_3072",
            "RSASSA_PSS_SHA_256",
            MESSAGE,
            b"",
        ));
    }

    #[test]
    fn ecdsa_every_curve() {
        let rng = SystemRandom::new();
        let curves: [(&str, &str, &'static EcdsaSigningAlgorithm); 4] = [
            (
                "ECC_NIST_P256",
                "ECDSA_SHA_256",
                &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            ),
            (
                "ECC_NIST_P384",
                "ECDSA_SHA_384",
                &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
            ),
            (
                "ECC_NIST_P521",
                "ECDSA_SHA_512",
                &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
            ),
            (
                "ECC_SECG_P256K1",
                "ECDSA_SHA_256",
                &sig::ECDSA_P256K1_SHA256_ASN1_SIGNING,
            ),
        ];
        for (key_spec, algorithm, signing) in curves {
            let key = EcdsaKeyPair::generate(signing).expect("EC key");
            let public = spki(key.public_key());
            let signature = key.sign(&rng, MESSAGE).expect("ECDSA signature");
            assert_verdicts(&public, key_spec, algorithm, signature.as_ref());

            // A bare EC point, which aws-lc-rs would take, is not what KMS returns.
            let point = key.public_key().as_ref();
            bad_reason(verify(
                point,
                key_spec,
                algorithm,
                MESSAGE,
                signature.as_ref(),
            ));

            // A point that is not on the curve passes the DER walk but not aws-lc-rs.
            let mut off_curve = public.clone();
            let last = off_curve.len() - 1;
            off_curve[last] ^= 0x01;
            let reason = bad_reason(verify(&off_curve, key_spec, algorithm, MESSAGE, b""));
            assert!(
                reason.starts_with("aws-lc-rs rejects it"),
                "{key_spec}: {reason}"
            );
        }

        // A key on another curve is a bad key for the spec, not an invalid signature.
        let p256 = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).expect("EC key");
        let reason = bad_reason(verify(
            &spki(p256.public_key()),
            "ECC_SECG_P256K1",
            "ECDSA_SHA_256",
            MESSAGE,
            b"",
        ));
        assert_eq!(reason, "it is not a key on the named curve secp256k1");
    }

    #[test]
    fn ed25519() {
        let key = Ed25519KeyPair::generate().expect("Ed25519 key");
        let public = spki(key.public_key());
        let signature = key.sign(MESSAGE);
        assert_verdicts(
            &public,
            "ECC_NIST_EDWARDS25519",
            "ED25519_SHA_512",
            signature.as_ref(),
        );

        // The raw 32-byte key, which aws-lc-rs would take, is not what KMS returns.
        let raw = key.public_key().as_ref();
        bad_reason(verify(
            raw,
            "ECC_NIST_EDWARDS25519",
            "ED25519_SHA_512",
            MESSAGE,
            signature.as_ref(),
        ));
    }

    #[test]
    fn ml_dsa_every_parameter_set() {
        let sets: [(&str, &'static PqdsaSigningAlgorithm); 3] = [
            ("ML_DSA_44", &sig::ML_DSA_44_SIGNING),
            ("ML_DSA_65", &sig::ML_DSA_65_SIGNING),
            ("ML_DSA_87", &sig::ML_DSA_87_SIGNING),
        ];
        for (key_spec, signing) in sets {
            let key = PqdsaKeyPair::generate(signing).expect("ML-DSA key");
            let public = spki(key.public_key());
            let mut signature = vec![0; signing.signature_len()];
            let len = key.sign(MESSAGE, &mut signature).expect("ML-DSA signature");
            signature.truncate(len);
            assert_verdicts(&public, key_spec, "ML_DSA_SHAKE_256", &signature);

            // The raw key, which aws-lc-rs would take, is not what KMS returns.
            let raw = key.public_key().as_ref();
            bad_reason(verify(
                raw,
                key_spec,
                "ML_DSA_SHAKE_256",
                MESSAGE,
                &signature,
            ));
        }

        let key = PqdsaKeyPair::generate(&sig::ML_DSA_44_SIGNING).expect("ML-DSA key");
        let reason = bad_reason(verify(
            &spki(key.public_key()),
            "ML_DSA_65",
            "ML_DSA_SHAKE_256",
            MESSAGE,
            b"",
        ));
        assert_eq!(reason, "its algorithm is not ML-DSA-65");
    }

    #[test]
    fn garbage_keys_are_bad_public_keys() {
        let key = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).expect("EC key");
        let public = spki(key.public_key());
        let mut trailing = public.clone();
        trailing.push(0);
        let mut long_length = public.clone();
        long_length[1] = 0x81; // 0x59 is short; as one long-form octet it is not minimal DER.
        long_length.insert(2, 0x59);
        let mut indefinite = public.clone();
        indefinite[1] = 0x80;
        let mut unused_bits = public.clone();
        assert_eq!(public[23..26], [0x03, 0x42, 0x00], "P-256 SPKI layout");
        unused_bits[25] = 0x01; // the BIT STRING's unused-bits octet

        let cases: [(&str, &[u8]); 9] = [
            ("empty", b""),
            ("garbage", b"definitely not a public key"),
            ("SEQUENCE tag only", &[0x30]),
            ("truncated", &public[..public.len() - 1]),
            ("trailing byte", &trailing),
            ("non-minimal length", &long_length),
            ("indefinite length", &indefinite),
            ("unused bits", &unused_bits),
            ("empty SEQUENCE", &[0x30, 0x00]),
        ];
        for (what, der) in cases {
            for &(key_spec, algorithm) in KMS_PAIRS {
                let reason = bad_reason(verify(der, key_spec, algorithm, MESSAGE, b"signature"));
                assert!(!reason.is_empty(), "{what}: {key_spec} {algorithm}");
            }
        }

        // A well-formed key of another family.
        let reason = bad_reason(verify(
            &public,
            "RSA_2048",
            "RSASSA_PSS_SHA_256",
            MESSAGE,
            b"",
        ));
        assert_eq!(reason, "its algorithm is not rsaEncryption");
        let reason = bad_reason(verify(
            &public,
            "ML_DSA_87",
            "ML_DSA_SHAKE_256",
            MESSAGE,
            b"",
        ));
        assert_eq!(reason, "its algorithm is not ML-DSA-87");
        let reason = bad_reason(verify(
            &public,
            "ECC_NIST_EDWARDS25519",
            "ED25519_SHA_512",
            MESSAGE,
            b"",
        ));
        assert_eq!(reason, "its algorithm is not id-Ed25519");
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            unsupported("SM2", "SM2DSA").to_string(),
            "kmsrot cannot verify SM2DSA signatures of SM2 keys offline; use KMS's Verify"
        );
        let bad = verify(b"", "ECC_NIST_P256", "ECDSA_SHA_256", MESSAGE, b"").unwrap_err();
        assert_eq!(
            bad.to_string(),
            "the public key is not a DER SubjectPublicKeyInfo for key spec ECC_NIST_P256: \
             it does not start with a well-formed DER SEQUENCE"
        );
    }

    // Fixed vectors from an independent implementation: OpenSSL 4.0.0 (through Python's
    // `cryptography` 48), signing MESSAGE; and RFC 8032's Ed25519 test 2.

    #[test]
    fn openssl_rsa_2048() {
        let public = hex(RSA_2048_SPKI);
        let pss = hex(RSA_2048_PSS_SHA_256);
        let pkcs1 = hex(RSA_2048_PKCS1_SHA_256);
        assert_verdicts(&public, "RSA_2048", "RSASSA_PSS_SHA_256", &pss);
        assert_verdicts(&public, "RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", &pkcs1);
        // KMS's PSS salt is as long as the digest; a maximum-length salt is another signature.
        let max_salt = hex(RSA_2048_PSS_SHA_256_MAX_SALT);
        assert_eq!(
            verify(
                &public,
                "RSA_2048",
                "RSASSA_PSS_SHA_256",
                MESSAGE,
                &max_salt
            ),
            Err(OfflineError::Invalid)
        );
        assert_eq!(
            verify(&public, "RSA_2048", "RSASSA_PSS_SHA_384", MESSAGE, &pss),
            Err(OfflineError::Invalid)
        );
    }

    #[test]
    fn openssl_ecdsa() {
        let vectors = [
            (
                "ECC_NIST_P256",
                "ECDSA_SHA_256",
                P256_SPKI,
                P256_ECDSA_SHA_256,
            ),
            (
                "ECC_NIST_P384",
                "ECDSA_SHA_384",
                P384_SPKI,
                P384_ECDSA_SHA_384,
            ),
            (
                "ECC_NIST_P521",
                "ECDSA_SHA_512",
                P521_SPKI,
                P521_ECDSA_SHA_512,
            ),
            (
                "ECC_SECG_P256K1",
                "ECDSA_SHA_256",
                SECP256K1_SPKI,
                SECP256K1_ECDSA_SHA_256,
            ),
        ];
        for (key_spec, algorithm, public, signature) in vectors {
            assert_verdicts(&hex(public), key_spec, algorithm, &hex(signature));
        }
    }

    #[test]
    fn rfc8032_ed25519_test_2() {
        let public = hex(concat!(
            "302a300506032b6570032100",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        ));
        let signature = hex(concat!(
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da",
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ));
        let (key_spec, algorithm) = ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512");
        assert_eq!(
            verify(&public, key_spec, algorithm, &[0x72], &signature),
            Ok(())
        );
        assert_eq!(
            verify(&public, key_spec, algorithm, &[0x73], &signature),
            Err(OfflineError::Invalid)
        );
    }

    #[test]
    fn the_fingerprint_is_the_lowercase_hex_sha256_of_the_der() {
        // FIPS 180-2's example: SHA-256("abc").
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fingerprint(&[]).len(), 64);
    }

    #[test]
    fn openssl_ml_dsa_44() {
        // The key is ML-DSA.KeyGen from the seed 00 01 .. 1f, in both libraries.
        let seed: Vec<u8> = (0..32).collect();
        let key = PqdsaKeyPair::from_seed(&sig::ML_DSA_44_SIGNING, &seed).expect("ML-DSA seed");
        let public = spki(key.public_key());
        assert_eq!(
            digest::digest(&digest::SHA256, &public).as_ref(),
            hex(ML_DSA_44_SPKI_SHA_256).as_slice(),
            "the same key as OpenSSL's"
        );
        // OpenSSL's default is pure ML-DSA with an empty context, as KMS signs RAW messages.
        assert_verdicts(
            &public,
            "ML_DSA_44",
            "ML_DSA_SHAKE_256",
            &hex(ML_DSA_44_SIG),
        );
    }

    // Generated with OpenSSL 4.0.0 through Python `cryptography` 48.0.0.
    const RSA_2048_SPKI: &str = "\
        30820122300d06092a864886f70d01010105000382010f003082010a0282010100b1818c9f2a9c89b6b282d2\
        9c57af83057e013418dad050b1c99c6ffe80d4e877d22cd9964b4a468de4c0672c2a27b1b7b9bb72a63409f6\
        e69e9c4a8a5d7ace99d8cdb87d2fd3b92a7a73cf78d05c94301acf1185d543aa8372b2fbb0ae71ccd57ca5bd\
        786021a3ca0e886d0be9093fae55a4f830a104a8ea6ad42ac6e652209bc000fd2b695d474369abd9557c10e3\
        a3f1a98d0ea486ce18987163fb3f5fd8146fcd14736c07ee124517e56ef147216ca365d2fefb5268354e1320\
        8bc67f0712d1aed0e80c832d170444b25a56c36a5a334fb19b65d3b357a6f7516ecccd9a2be93cadaaa17567\
        d0d342d998673df7755939ebd0ebb55517bd227acb6ce70ded0203010001";
    const RSA_2048_PSS_SHA_256: &str = "\
        50275f6a3221dc26cf2b11a2f28c43f6714104c4d413fa9b3938ce23770b7e7a93056f13ea629c82f7c34d1e\
        0015d683ff753659901380c3640d8d6a4629356af6d9fe8b783cc7e529461dda4cb4971e6211858dadb44165\
        eef1c4342bfb36e6b947308617490d797a6dea29a9b89ad603ea806ce7d41ae2ac727eeb2ab329f695d1ae2e\
        b3903b6f40053fee6faf32a148b108a8ef226ff15d8023c513ae2f328b1eb1f3a7566a6640cf0e3f0b19a6cd\
        0a1595896bc94efc9aaa77ac9bcb1105ad48caf29a3ad6df0e7dea9471721a1a47f09717bbc8b55f34d2a3da\
        0e91b35366f066d35279bfc893cb3ff937779ec104fc96d996829ca451fc9e761d653f85";
    const RSA_2048_PSS_SHA_256_MAX_SALT: &str = "\
        841dcd209fad4879781594e33024a8db02deecdf895ce009beee3543a2821dfa257860a7195d1c8ef8bf2b05\
        fc46a35ff09ce6bb3c0fe4e8a45face1ac15e8597c5c814797e35d9ff41fa0f5730c12fe1a2d5c0764739ad9\
        0a9769b5f6d234bf1c73587ea283dd03fe9ec6576da85bbdfe4ac05e84c60ab936c9d7ee2d87b0b0b4a3dcf6\
        5964e20a0377a486e1acc9cc4fdd328c06afdaafda2f348846843d7f99c8c23911fc1fc763a117b44d5adba3\
        545e9d44ba1f85a7319fc31f74cff232fa3a9a805b1c3cec549c76255f01006ce8747deefd8637ad86766f21\
        6b4a10951d750f776c2569194ea71dd8a470b2b683c5757fe399caaf72420035baf9bf5a";
    const RSA_2048_PKCS1_SHA_256: &str = "\
        6b7f68297f973b5fa9f6bc07b0f1fc78d967679ec97a67326cf1cb1202a926fa22f5d2c44f5298292c4d1635\
        22f0b670414158de4431553e6cc2c45b45cd034e98322ab1adf59900c056446957da569ff6103d0935de67a3\
        5047a852f259ecca0f00efdcefc32aa2ee0390cbdde704132b14e3b41ff83fc219cae158ef853d5d95c1827d\
        482e92ac9100bc9f983a62f6817b1d416050ac6f1bd740f6e8bc742e882d41fd08ab0f8f32e95fb32971f9de\
        8933ae2ab76bc7c260297fc5c6500c28637e7ceae8e2025cf99d1c9cee941e237eb995233297e1a357ef4b83\
        f5a517584325379b18a8a8a749c930a7e813de6461650b7b6cdc97042f5e6c5e5c32ac88";
    const P256_SPKI: &str = "\
        3059301306072a8648ce3d020106082a8648ce3d0301070342000449c145fd5e07e996be26908eb4e8c5f9cc\
        ae847bdabe3bb5b90579c1dadbab562f35cb86cada9c4cc9e08df8efccf29497350c7ed8da714de023f469df\
        77d5ac";
    const P256_ECDSA_SHA_256: &str = "\
        3045022100d606f57f2989c9369a4a6653709920cfc75a9188a8e608a503c82a693148fb9a022027f8f55463\
        2e85895486df2af2bc67896d728972f5236f7a1460efa96be955a5";
    const P384_SPKI: &str = "\
        3076301006072a8648ce3d020106052b8104002203620004975342a92d66548d77765c5614bb1cd7c6e11bc3\
        4410053a066da24d2758751bbc39d7db271753502d3f6ec3ce25a92f766a8689a86ce1d8ebbae66a97c1d79f\
        6719f9904757f191f061936a560ba659a67f7bb7781631c939d71662a9af710c";
    const P384_ECDSA_SHA_384: &str = "\
        3065023100dfc01d440f2b29a996c5717dcfbbe981c56273824ef7bbe721625cad8271553c10107b081f0ab0\
        3ae7fc901fca759878023021d1f7319f96b8572133cfc4daa3687b4efdd7a644a0c7a3ca3f7dd651d36774a9\
        f2133e1e4de1ce140c0445a8eddab5";
    const P521_SPKI: &str = "\
        30819b301006072a8648ce3d020106052b810400230381860004000fa5d3daefc3f8d4ca8ddf1821626e5834\
        d1dd14ddde1f7d90141e9fa787e0f7012dfed1b1e9282678e3397f9b7452b37f46f3631fbc3a087c4b045837\
        041861e10027496cc89c0d14560d86ac3fee158538ba2329add846ac340d603fe3594ca762eb93aa9c1e4690\
        8a3f8e366a15fdc18d6444ea3769eb8568e05032a9bfc877df4c";
    const P521_ECDSA_SHA_512: &str = "\
        3081870242009566d6b20c1d210c9914b10cf823f19162219e06c6f38f2e354fb47ef246ce2a4463869814be\
        d1a617abd7c7cc329e9dedaf1b31cbb8535f0d1484ba396a4d0fe302416936a6a6c63acd12f935bb94f0e3b4\
        79827ea91b01d12abd9dc900516674ebda1042ff6b192300b4f9dbca41358585a0a25a22656e656cf3776f1e\
        5dc3aa4f9165";
    const SECP256K1_SPKI: &str = "\
        3056301006072a8648ce3d020106052b8104000a034200045d4f69bf4ac8ffc2443da2e9f1af1ec04e5f044f\
        ab68a39d35c4b1242d474b410dc99b21bb0e3cf1ca48fb95d3ce0a0c6f848411b9832f1329518cfae2af8d63";
    const SECP256K1_ECDSA_SHA_256: &str = "\
        3045022100ef360647cac7f76de68b83070ff06f998ee1ab0bfc5bc24521274d67828c8a1c02205252443fc2\
        9ca672cda9b02793fc7aded6f1a01b63218248fd1e5e4158431cdd";
    const ML_DSA_44_SPKI_SHA_256: &str =
        "837832708c5236d951581f1fddf2b79991b3424a0486d16da1ddad0fd69701be";
    const ML_DSA_44_SIG: &str = "\
        d348300dd6c0e4968a3495ab35cf5a68c6da5cbf92680e06a01c2f20c9370246b73370b5ffdd2897a91e6bc0\
        b0cfed292e20a12d8b362d129685e1c6e59bbbcf5901d638a92f571014f79d08e8276fe261a7fbd71689aa7d\
        aacdfef2d4018fcf18e280f4f04f6462a613eced5efd2d478f2b8fbd4fefa7f345a48145eeaa2bbc8f7a9aea\
        e086aca002d87703595fb7ca34b597dfcdab08a1e2ba556213bf01a0ac3f44c4b99da92e027290437a285558\
        92c17cd5160b77992b4cd13e9bf438dc2b2e1d6b28e89909a95dc80797f57b9c78ab03acabc86163dbbbd6f2\
        733bd584094064bcf7d17664ddd27a9fb26784fea57c65dd32ca6f55f6ae1a43fff5e45f81cd66d55ec60c9c\
        66b49d5d8d7fd39fd0df71c5ccd2a2ad6f50e20e01586cb095eaa73b1a6c7cdc8f712139bc29e634c3ab5a83\
        3d4a3d5fbc32622ea1972fe575d25a0a64d2775ec5fa826f8e18bc60fba204f21020e9f97587f2b8e24f6829\
        b40d57280b7dc452d6255dbbb0ac60c1c77e439c89acf8222b83219c516bbd3b9f2a6ca1d99b151233749993\
        c79c3ceb93dc541b07a1c5af91b9d5cb9b2b52452a852d559ebe2f6a9e7880793ab0c5eb494856baa6d6413b\
        2558633f88760b5228c4a99a4f44317b0d078d891e971b3e44dadd34c675651074bc72b8e32c7201c975d88b\
        3a4576d0fe4f07d54676734ad3a55a0c9e81782d3ded05d33bbb3a3e26a943e1efe793f40181aca4352e9198\
        39bdbde157efcd4ca266d62d79ef07cd299989898af901a3fbf946d8ed11751a930605e73b17604350be6f14\
        f46bb9b5845eedd078c5da5c1ac7e1c3de971f1c32666e75b743a303ed5b5f74c362ab111c147f52a615bf78\
        4530ff8e908cc880796397f167e33fa02e76cd97ce1ce59db187474433597860901af3c0ebb6ac7d299f388b\
        a1ee2ca424fef5a017bd29bbe70741d1eb0f1242428ebdf7d524d69188a86353b055039d942c166c164c9e81\
        975f5eb1b7aa91674f13db0c1ff7bc2a91e7ee911b20ee8d89ac8597fd2d2da6afe97cd673dba809181c9563\
        064ce15a0c3319791a72a253f854d77b635b22f02f437a94c38ecb9d82920233f5ee7bb5e73bdbfb3d7b98d7\
        98dbfc90026cf8d488c9804748615af797c2775d1b1773bc629636caf0af4a2087e9179d62014fa93cc17560\
        96a7baffa05795500568c5912e236536a159cf5adb94b60cd36d91c8a099aeb6db80403b8dfe5bbb4ec64c6c\
        b173553ff87ceb3eedebc9c07518cbf07314c126af2a53fe4cc3c1c8079b8a22a616a174781799a0859cce8e\
        dc7988954c1d7719d01fb7b49e570cd621e0d9dce43140ae71e7256ef546a1a6ea5c0dd03f23981f50b40d65\
        e6dae02c0f82dc5e1e8601361c36e83289b57bbab7bf18cf759ccfa419279b0fe92c4f66b1b7f9a1771f0c48\
        4798738cf43ae05f28a2236e0aabe85fe26fccf440486abd106914199eafccd58611fd6657518080c9803733\
        ad49d76b2f387869ccd86dbafed9ed961c4c4db45873a7eb22c00acf58ecc8edbc3be227dd381b9a660a220d\
        4b5b14f00ffaab6ea3dc6dd132a50928071b98c447c553077826254f659522bd90de85aab2856f3e9b9db664\
        19ba6b56701a9e10f4591ba87380be6742c34df79870ad8a93a8486194d51b36162c76488a6d1525c69f66a1\
        5a43cbe71e6dd7e3b553a90af05465f584ce673bc7aff726725ef9bb8422491eb0f1fd56345bf2f67b2be9dd\
        139acb7325f7601926c89e54f1bbbd751f776f227bdfc5b69580ed97a35b80317a349640bc5b87edbaca33e9\
        8a8d64aa11da25260a92f44343919512cf3ca756aa85d12a857bfc6b5b3f59cff69a875d40ef0673530e9d2a\
        1df07a0cde28b387cd13175d6546f2eab3149381f75d30e88af4d36237ead3f579c16ee2836cf82e40661d06\
        cb09be6e581c7168a9df8b4fe5c85a8a5079533905c593acdbb2977ef22aecc1816114c2c84bfba3bd07b37c\
        e5b489ff264fa48750ae89f2f29ea2339d41e15be2a26afc1e53ac0c2bdb30807b2162b8da1a0af4901415a7\
        1f53fbb079feb42d1ab39e8362a282edb18293a3dcdbce7938abaf796fecd90226eafd1883a8d65d3b401c1d\
        622f9449cca0ca030eb27e0fb0f4f061368cd313979d96ee7248875df51360ec21496837d864faac92e4878b\
        4be5fd42ee508bc990c955d69c8b8c793eb3f5b3883ec077a933e4fba1aed27928559e51ab25b62b1e6b2780\
        05bfb28fc0b4e754b0225b844b7e0c32e18e7cd6366ebdd4ec59c0ead5e6194419ab2c0582b4181931bf6bea\
        2614b435239fb89fed858553137871280fbbd28e39f54dd94748e70d403a3fd367b31c97d0253fdf6b65ccef\
        3c08e07190be5ed6f7c5dbe60c62f22c08c1d0965b016a582c0fe1a862d7862816a685209bff54268f0f7a7c\
        ad8731909660037580761e3e82c8595747ce9221f88c48b68003d7af3d97a017b0a14ab85376b51551eef279\
        5d2ce8348549d902133cd03a2caafbba17b1bdb5c8ebc1c70ec9ab68a206c28946d0f8cdf857cf63353bfea7\
        bd10ce7b85d63247b9246424182eb193a398c1e7c0f1ae26e15822766aa0d9bd2aba64f336fb80fab0d5c406\
        f8395a4556cc7be4752e8237c744342917bd9d8d14de3a57153e62b7b18d5c8b62e3f17baf512753a2393719\
        12bf7d7bbad0474f72c1d9a4339038c7162d21954739b53ca9a22fe54e0a06ef3855e977b602731aea23b15a\
        22cf9933a572db35d5eb5425a03081e69ed4093d973d80e8c9ab6ef927efd16f1ead0dcdb44826075fd01e48\
        fc1212b3e970fbbc75d28e1a8c1ec6380405cc4a359ff2b36ce1231c78fc0ca09ae652492a717834e32d1501\
        af7b70bd09457a011fcb7f71a058b787eb18c0dbf5ae6edb43baf8e379c02d4046dde93668c5c664813d4800\
        ab598a12831ca10edb8601033fc9a86523111179303ae8d3c52221c146f40aaa5e1023fd6543111170dfac52\
        2754d408b66f78328f8cac32e9bb335939308be171750aaa605bb6fd4cfd562e79acb34229876de62183396e\
        b5cbd13055fd717228c476e696a951643cfb6e3ddf2293194703ccb895f1a0e8a4764756a27414249cbd2c10\
        8ddc8cf4864acc276821c78290e5896d1534a93ff06e5e42dae7d8c61ee642584497f1ca470e40cc7356c95a\
        fa59cc29309dafeb2f9e958a9ef010d584d30d87fbf083ca375492d03923930b40e3dcb5853f602bcfc3522b\
        f5559c761d874a7064b41f7e0e0f02950ef75cf010a3e1130f122b2d99f74f0150c02f3f4192703ccfa09701\
        6091217d252b383e546aa2a8abaececffc1c1d1e3b3d57758d96b7c0c4ccd8eef9040607091c31383a5f6069\
        7ca6b2b5c7d3e1e9f905121b2d373d444a5566686c6de2e6eef100000000000000000000000000000d1d3142";
}
