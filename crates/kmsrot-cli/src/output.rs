//! Output formats, and the human rendering of results. Nothing outside the CLI formats for
//! people.

use std::io::Write;

use anyhow::{Context, Result};
use kmsrot_types::{KeyInfo, RotationStatus};
use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// Prints a value as pretty JSON followed by a newline.
///
/// The document is rendered first and then written, so that a closed stdout surfaces as a
/// plain `io::Error` (which `exit` treats as no failure) rather than inside a serde error.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).context("rendering JSON")?;
    text.push(b'\n');
    let mut out = std::io::stdout().lock();
    out.write_all(&text)
        .and_then(|()| out.flush())
        .context("writing stdout")
}

/// Prints aligned `label  value` lines.
pub(crate) fn print_fields(fields: &[(&str, String)]) -> Result<()> {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (label, value) in fields {
        writeln!(out, "{label:<width$}  {value}").context("writing stdout")?;
    }
    Ok(())
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

fn rotation_text(rotation: &RotationStatus) -> String {
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
