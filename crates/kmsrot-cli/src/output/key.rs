//! One key, for people: its description (`kmsrot describe`), its rotation status, and the
//! verdict on a signature or MAC it made (`kmsrot verify`, `kmsrot verify-mac`).

use anyhow::Result;
use kmsrot_types::{KeyArn, KeyInfo, RotationStatus};

use super::{Format, emit};

/// How a signature or MAC was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// By KMS, and the signer is a key the caller trusts.
    Signer,
    /// By KMS, but nothing said which key should have made it.
    NotSigner,
    /// Offline, with a public key the caller gave (`--offline`).
    Offline,
    /// Offline, because KMS no longer verifies with the key, against the public key kmsrot
    /// recorded for it.
    Recorded,
}

/// Reports a signature or MAC that verified, with the key that made it: `{"valid": true,
/// "key_arn": …, "signer_checked": …, "offline": …}`, or `valid: <made> by <key>` for people.
pub(crate) fn print_verified(
    format: Format,
    made: &str,
    key_arn: &KeyArn,
    checked: Checked,
) -> Result<()> {
    let signer_checked = checked != Checked::NotSigner;
    let offline = matches!(checked, Checked::Offline | Checked::Recorded);
    emit(
        format,
        || {
            serde_json::json!({
                "valid": true,
                "key_arn": key_arn,
                "signer_checked": signer_checked,
                "offline": offline,
            })
        },
        || {
            let note = match checked {
                Checked::Signer | Checked::Offline => "",
                Checked::NotSigner => " (signer NOT checked: give --alias or --key)",
                Checked::Recorded => {
                    " (offline: KMS no longer verifies with this key; checked with the public key kmsrot recorded for it)"
                }
            };
            crate::io::Sink::Stdout.write(format!("valid: {made} by {key_arn}{note}\n").as_bytes())
        },
    )
}

/// A key's description as label-value pairs.
pub(crate) fn key_fields(info: &KeyInfo) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(alias) = &info.alias {
        fields.push(("alias", alias.to_string()));
    }
    fields.extend([
        ("key id", info.key_id.to_string()),
        ("key arn", info.key_arn.to_string()),
        ("key spec", info.key_spec.clone()),
        ("key usage", info.key_usage.clone()),
        ("state", info.key_state.clone()),
        ("origin", info.origin.clone()),
        ("manager", info.key_manager.clone()),
        (
            "multi-region",
            if info.multi_region { "yes" } else { "no" }.to_owned(),
        ),
        ("rotation", rotation_text(&info.rotation)),
    ]);
    if let Some(created) = &info.creation_date {
        fields.push(("created", created.clone()));
    }
    if let Some(deletion) = &info.deletion_date {
        fields.push(("deletion on", deletion.clone()));
    }
    if !info.description.is_empty() {
        fields.push(("description", info.description.clone()));
    }
    fields
}

pub(super) fn rotation_text(rotation: &RotationStatus) -> String {
    match rotation {
        RotationStatus::Enabled {
            period_days,
            next_rotation,
        } => {
            let mut text = "automatic".to_owned();
            if let Some(days) = period_days {
                text.push_str(&format!(", every {days} days"));
            }
            if let Some(next) = next_rotation {
                text.push_str(&format!(", next {next}"));
            }
            text
        }
        RotationStatus::Disabled => "automatic rotation off".to_owned(),
        RotationStatus::Unknown => "unknown (no permission to read the rotation status)".to_owned(),
        RotationStatus::Unsupported => {
            "manual only (this key type cannot rotate its material)".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_reads_well() {
        let check = |r: RotationStatus, want: &str| assert_eq!(rotation_text(&r), want);
        check(
            RotationStatus::Enabled {
                period_days: Some(365),
                next_rotation: Some("2027-11-29T00:00:00Z".into()),
            },
            "automatic, every 365 days, next 2027-11-29T00:00:00Z",
        );
        check(
            RotationStatus::Enabled {
                period_days: None,
                next_rotation: None,
            },
            "automatic",
        );
        check(RotationStatus::Disabled, "automatic rotation off");
    }
}
