//! Results of cryptographic operations, each carrying the concrete key ARN that produced it.
//!
//! Asymmetric decryption, signature verification and MAC verification need the exact key that
//! was current when the result was made; the alias may have moved since. Store these values
//! whole (they round-trip through JSON) and verification keeps working after a rotation.

use serde::{Deserialize, Serialize};

use crate::{Base64Bytes, KeyArn};

/// A symmetric ciphertext. `key_arn` records which key encrypted it; decryption does not need
/// it, because KMS finds the key from the ciphertext itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ciphertext {
    /// The key that encrypted the data.
    pub key_arn: KeyArn,
    /// The KMS encryption algorithm, for example `SYMMETRIC_DEFAULT`.
    pub encryption_algorithm: String,
    /// The ciphertext blob as KMS returned it.
    pub ciphertext: Base64Bytes,
}

/// An asymmetric (RSA) ciphertext. Decrypting it needs `key_arn` and `encryption_algorithm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsymmetricCiphertext {
    /// The key whose public key encrypted the data.
    pub key_arn: KeyArn,
    /// The KMS encryption algorithm, for example `RSAES_OAEP_SHA_256`.
    pub encryption_algorithm: String,
    /// The ciphertext.
    pub ciphertext: Base64Bytes,
}

/// A signature. Verifying it needs `key_arn` and `signing_algorithm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The key that signed.
    pub key_arn: KeyArn,
    /// The KMS signing algorithm, for example `ECDSA_SHA_256`.
    pub signing_algorithm: String,
    /// The signature bytes.
    pub signature: Base64Bytes,
    /// The signing key's spec (for example `ECC_NIST_P256`), for offline verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    /// The signing key's public key, DER `SubjectPublicKeyInfo` as `GetPublicKey` returns it,
    /// so that the signature can be checked once the key is disabled or deleted. A verifier
    /// must not trust it on the document's word: `kmsrot verify --offline` takes the trusted
    /// public key from the verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<Base64Bytes>,
}

/// A message authentication code. Verifying it needs `key_arn` and `mac_algorithm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mac {
    /// The HMAC key that made the MAC.
    pub key_arn: KeyArn,
    /// The KMS MAC algorithm, for example `HMAC_SHA_256`.
    pub mac_algorithm: String,
    /// The MAC bytes.
    pub mac: Base64Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn signature_round_trips_through_json_with_its_key_arn() {
        let sig = Signature {
            key_arn: ARN.parse().unwrap(),
            signing_algorithm: "ECDSA_SHA_256".into(),
            signature: vec![1, 2, 3].into(),
            key_spec: None,
            public_key: None,
        };
        let json = serde_json::to_value(&sig).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "key_arn": ARN,
                "signing_algorithm": "ECDSA_SHA_256",
                "signature": "AQID",
            })
        );
        assert_eq!(serde_json::from_value::<Signature>(json).unwrap(), sig);
    }

    #[test]
    fn results_round_trip_through_json() {
        let key_arn: KeyArn = ARN.parse().unwrap();
        let mac = Mac {
            key_arn: key_arn.clone(),
            mac_algorithm: "HMAC_SHA_256".into(),
            mac: vec![9; 32].into(),
        };
        let rsa = AsymmetricCiphertext {
            key_arn: key_arn.clone(),
            encryption_algorithm: "RSAES_OAEP_SHA_256".into(),
            ciphertext: vec![7; 256].into(),
        };
        let sym = Ciphertext {
            key_arn,
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            ciphertext: vec![5; 100].into(),
        };
        let back: Mac = serde_json::from_str(&serde_json::to_string(&mac).unwrap()).unwrap();
        assert_eq!(back, mac);
        let back: AsymmetricCiphertext =
            serde_json::from_str(&serde_json::to_string(&rsa).unwrap()).unwrap();
        assert_eq!(back, rsa);
        let back: Ciphertext = serde_json::from_str(&serde_json::to_string(&sym).unwrap()).unwrap();
        assert_eq!(back, sym);
    }

    #[test]
    fn a_forged_key_arn_is_refused_when_reading() {
        let json = r#"{"key_arn":"alias/app","mac_algorithm":"HMAC_SHA_256","mac":"AQID"}"#;
        assert!(serde_json::from_str::<Mac>(json).is_err());
    }
}
