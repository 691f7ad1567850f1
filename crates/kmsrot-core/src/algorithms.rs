//! Default algorithms for each key spec, used when the caller does not name one.

/// The signing algorithm kmsrot uses for a key spec: the strongest hash that matches the curve,
/// and PSS padding for RSA.
pub(crate) fn default_signing(key_spec: &str) -> Option<&'static str> {
    Some(match key_spec {
        "RSA_2048" | "RSA_3072" | "RSA_4096" => "RSASSA_PSS_SHA_256",
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => "ECDSA_SHA_256",
        "ECC_NIST_P384" => "ECDSA_SHA_384",
        "ECC_NIST_P521" => "ECDSA_SHA_512",
        "ML_DSA_44" | "ML_DSA_65" | "ML_DSA_87" => "ML_DSA_SHAKE_256",
        "SM2" => "SM2DSA",
        _ => return None,
    })
}

/// The MAC algorithm that belongs to an HMAC key spec (KMS allows exactly one per spec).
pub(crate) fn default_mac(key_spec: &str) -> Option<&'static str> {
    Some(match key_spec {
        "HMAC_224" => "HMAC_SHA_224",
        "HMAC_256" => "HMAC_SHA_256",
        "HMAC_384" => "HMAC_SHA_384",
        "HMAC_512" => "HMAC_SHA_512",
        _ => return None,
    })
}

/// The asymmetric encryption algorithm kmsrot uses for a key spec: OAEP with SHA-256 for RSA.
pub(crate) fn default_asymmetric_encryption(key_spec: &str) -> Option<&'static str> {
    Some(match key_spec {
        "RSA_2048" | "RSA_3072" | "RSA_4096" => "RSAES_OAEP_SHA_256",
        "SM2" => "SM2PKE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key spec, then the expected signing, MAC and asymmetric encryption defaults.
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn defaults_per_key_spec() {
        let table: &[Row] = &[
            ("SYMMETRIC_DEFAULT", None, None, None),
            (
                "RSA_2048",
                Some("RSASSA_PSS_SHA_256"),
                None,
                Some("RSAES_OAEP_SHA_256"),
            ),
            (
                "RSA_4096",
                Some("RSASSA_PSS_SHA_256"),
                None,
                Some("RSAES_OAEP_SHA_256"),
            ),
            ("ECC_NIST_P256", Some("ECDSA_SHA_256"), None, None),
            ("ECC_NIST_P384", Some("ECDSA_SHA_384"), None, None),
            ("ECC_NIST_P521", Some("ECDSA_SHA_512"), None, None),
            ("HMAC_224", None, Some("HMAC_SHA_224"), None),
            ("HMAC_256", None, Some("HMAC_SHA_256"), None),
            ("HMAC_512", None, Some("HMAC_SHA_512"), None),
        ];
        for &(spec, sign, mac, enc) in table {
            assert_eq!(default_signing(spec), sign, "{spec}");
            assert_eq!(default_mac(spec), mac, "{spec}");
            assert_eq!(default_asymmetric_encryption(spec), enc, "{spec}");
        }
    }
}
