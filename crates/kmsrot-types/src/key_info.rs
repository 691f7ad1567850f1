//! What kmsrot reports about a key: its identity, type, state and rotation status.

use serde::{Deserialize, Serialize};

use crate::{AliasName, KeyArn, KeyId};

/// A key's metadata, as `kmsrot describe` reports it.
///
/// Enumerations (spec, usage, state, origin) are KMS's own names as text, so that values KMS
/// adds later pass through unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The alias the key was resolved through, when it was.
    pub alias: Option<AliasName>,
    /// The key ID.
    pub key_id: KeyId,
    /// The key ARN.
    pub key_arn: KeyArn,
    /// For example `SYMMETRIC_DEFAULT`, `RSA_2048`, `ECC_NIST_P256`, `HMAC_256`.
    pub key_spec: String,
    /// `ENCRYPT_DECRYPT`, `SIGN_VERIFY`, `GENERATE_VERIFY_MAC` or `KEY_AGREEMENT`.
    pub key_usage: String,
    /// For example `Enabled`, `Disabled`, `PendingDeletion`.
    pub key_state: String,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    pub origin: String,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: String,
    /// Whether this is a multi-Region key.
    pub multi_region: bool,
    /// The key's description.
    pub description: String,
    /// When the key was created, RFC 3339.
    pub creation_date: Option<String>,
    /// When a key pending deletion will be deleted, RFC 3339.
    pub deletion_date: Option<String>,
    /// Automatic rotation of the key material.
    pub rotation: RotationStatus,
}

/// Whether KMS rotates the key material itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RotationStatus {
    /// Automatic rotation is on.
    Enabled {
        /// The rotation period, when KMS reports it.
        period_days: Option<u32>,
        /// The next scheduled rotation, RFC 3339, when KMS reports it.
        next_rotation: Option<String>,
    },
    /// Automatic rotation is off.
    Disabled,
    /// The caller may not read the rotation status (no `kms:GetKeyRotationStatus`).
    Unknown,
    /// This kind of key cannot rotate automatically (asymmetric, HMAC, imported material,
    /// custom key store): it is rotated by moving its alias to a new key.
    Unsupported,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_info_round_trips_through_json() {
        let info = KeyInfo {
            alias: Some("alias/app".parse().unwrap()),
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".parse().unwrap(),
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .parse()
                .unwrap(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_state: "Enabled".into(),
            origin: "AWS_KMS".into(),
            key_manager: "CUSTOMER".into(),
            multi_region: false,
            description: "app data".into(),
            creation_date: Some("2026-11-29T12:00:00Z".into()),
            deletion_date: None,
            rotation: RotationStatus::Enabled {
                period_days: Some(365),
                next_rotation: None,
            },
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["rotation"]["status"], "enabled");
        assert_eq!(json["rotation"]["period_days"], 365);
        assert_eq!(serde_json::from_value::<KeyInfo>(json).unwrap(), info);
        let unsupported = serde_json::to_string(&RotationStatus::Unsupported).unwrap();
        assert_eq!(unsupported, r#"{"status":"unsupported"}"#);
    }
}
