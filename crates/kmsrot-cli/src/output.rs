//! Output formats, and the human rendering of results. Nothing outside the CLI formats for
//! people.

use std::io::Write;

use anyhow::{Context, Result};
use kmsrot_types::{
    Action, AliasOutcome, AliasStatus, GuardVerdict, KeyArn, KeyInfo, KeyStatus, Outcome,
    RotationStatus, Undone,
};
use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// A value as pretty JSON followed by a newline.
pub(crate) fn render_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value).context("rendering JSON")?;
    text.push(b'\n');
    Ok(text)
}

/// Prints a value as pretty JSON followed by a newline.
///
/// The document is rendered first and then written, so that a closed stdout surfaces as a
/// plain `io::Error` (which `exit` treats as no failure) rather than inside a serde error.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = render_json(value)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&text)
        .and_then(|()| out.flush())
        .context("writing stdout")
}

/// Reports a signature or MAC that verified, with the key that made it: `{"valid": true,
/// "key_arn": …}`, or `valid: <made> by <key>` for people.
pub(crate) fn print_verified(format: Format, made: &str, key_arn: &KeyArn) -> Result<()> {
    match format {
        Format::Json => print_json(&serde_json::json!({ "valid": true, "key_arn": key_arn })),
        Format::Text => {
            crate::io::Sink::Stdout.write(format!("valid: {made} by {key_arn}\n").as_bytes())
        }
    }
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

/// Prints a table: a header row, then one row per entry, columns padded to their widest cell.
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        text.trim_end().to_owned()
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", line(headers.to_vec())).context("writing stdout")?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))
            .context("writing stdout")?;
    }
    Ok(())
}

/// The short form of a key in tables: its key ID.
fn short(key: &KeyStatus) -> String {
    key.key_arn.key_id().to_string()
}

/// A row of `kmsrot status`.
pub(crate) fn status_row(status: &AliasStatus) -> Vec<String> {
    let c = &status.compliance;
    let compliance = if c.ok() {
        "ok".to_owned()
    } else if c.overdue {
        format!("OVERDUE ({} > {} days)", c.age_days, c.max_age_days)
    } else {
        format!("ATTENTION: {}", c.findings.join("; "))
    };
    let previous = status.previous.as_ref().map_or_else(
        || "-".to_owned(),
        |p| {
            let stage = p.stage.map_or("?", |s| s.as_str());
            format!("{} ({stage}, {})", short(p), p.key_state)
        },
    );
    let stage = match (&status.rotation_in_progress, status.current.stage) {
        (Some(_), Some(stage)) => format!("{stage} (rotating)"),
        (_, Some(stage)) => stage.to_string(),
        (_, None) => "?".to_owned(),
    };
    vec![
        status.alias.to_string(),
        short(&status.current),
        status.current.key_spec.clone(),
        status.policy.mode.to_string(),
        stage,
        format!("{}d", c.age_days),
        status
            .next_rotation
            .get(..10)
            .unwrap_or(&status.next_rotation)
            .to_owned(),
        previous,
        compliance,
    ]
}

/// The columns of `kmsrot status`.
pub(crate) const STATUS_HEADERS: [&str; 9] = [
    "ALIAS",
    "KEY",
    "SPEC",
    "MODE",
    "STAGE",
    "AGE",
    "NEXT ROTATION",
    "PREVIOUS",
    "COMPLIANCE",
];

/// One action, in words.
pub(crate) fn action_text(action: &Action) -> String {
    match action {
        Action::Rotate {
            reason,
            new_key: Some(key),
        } => format!("rotated to {key} ({reason})"),
        Action::Rotate {
            reason,
            new_key: None,
        } => format!("would rotate to a new key ({reason})"),
        Action::RotateOnDemand { reason, remaining } => match remaining {
            Some(left) => format!(
                "on-demand rotation of the key material ({reason}; about {left} on-demand rotations left)"
            ),
            None => format!("on-demand rotation of the key material ({reason})"),
        },
        Action::EnableRotation { period_days, was } => format!(
            "automatic rotation set to every {period_days} days (was: {})",
            rotation_text(was)
        ),
        Action::Retire { key } => format!("retired (disabled) {key}"),
        Action::ScheduleDeletion { key, window_days } => {
            format!("scheduled deletion of {key} in {window_days} days")
        }
        Action::Rollback { to, from } => format!("rolled back from {from} to {to}"),
        Action::Abort {
            rotation_id,
            abandoned,
        } => match abandoned {
            Some(key) => format!(
                "gave up rotation {rotation_id}; its new key {key} is scheduled for deletion"
            ),
            None => format!("gave up rotation {rotation_id} (it had not created a key yet)"),
        },
    }
}

/// One alias of a sweep, in words.
pub(crate) fn outcome_lines(outcome: &AliasOutcome, dry_run: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let alias = &outcome.alias;
    if let Some(error) = &outcome.error {
        lines.push(format!("{alias}: FAILED: {error}"));
        return lines;
    }
    let verb = if dry_run { "would do" } else { "did" };
    for action in &outcome.actions {
        lines.push(format!("{alias}: {verb}: {}", action_text(action)));
    }
    if let Some(reason) = &outcome.reason {
        lines.push(format!("{alias}: {reason}"));
    }
    if lines.is_empty()
        && let Some(c) = &outcome.compliance
    {
        lines.push(format!(
            "{alias}: nothing due: the key is {} days old of {} allowed",
            c.age_days, c.max_age_days
        ));
    }
    lines
}

/// The guard's verdict, in words.
pub(crate) fn verdict_text(verdict: &GuardVerdict) -> String {
    match verdict {
        GuardVerdict::Unmanaged { key } => format!("{key} is not managed by kmsrot: left alone"),
        GuardVerdict::NotNeeded { key, reason, .. } => {
            format!("{key} is not needed: {reason}; left alone")
        }
        GuardVerdict::Intact { key, alias } => {
            format!("{key} is needed by `{alias}` and is enabled: nothing to undo")
        }
        GuardVerdict::Alert {
            key,
            needed_as,
            key_state,
            ..
        } => {
            format!("ALERT: {key} is {needed_as}, and it is {key_state} (observe mode: left as is)")
        }
        GuardVerdict::Restored {
            key,
            needed_as,
            undone,
            ..
        } => {
            let undone: Vec<&str> = undone
                .iter()
                .map(|u| match u {
                    Undone::DeletionCancelled => "deletion cancelled",
                    Undone::Enabled => "enabled",
                })
                .collect();
            format!("restored {key}, {needed_as}: {}", undone.join(", then "))
        }
    }
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

/// What `kmsrot event` did, in words.
pub(crate) fn outcome_text(outcome: &Outcome) -> String {
    let mut lines: Vec<String> = Vec::new();
    match outcome {
        Outcome::MaterialRotated {
            key,
            rotation_type,
            aliases,
        } => {
            lines.push(format!(
                "key material of {key} rotated ({})",
                rotation_type.as_deref().unwrap_or("type not given")
            ));
            for check in aliases {
                lines.push(match (&check.key, &check.key_state) {
                    (Some(k), Some(state)) if check.ok => {
                        format!("{}: names {k} ({state}): ok", check.alias)
                    }
                    (Some(k), Some(state)) => {
                        format!("{}: names {k}, which is {state}: FAILED", check.alias)
                    }
                    _ => format!("{}: the alias no longer exists: FAILED", check.alias),
                });
            }
        }
        Outcome::Swept { report } => {
            if report.aliases.is_empty() {
                lines.push("no managed aliases in this region".into());
            }
            for alias in &report.aliases {
                lines.extend(outcome_lines(alias, report.dry_run));
            }
        }
        Outcome::KeyDeleted(d) => lines.push(if d.duplicate {
            format!(
                "deleted key {} of `{}` was already recorded on {}: nothing to do",
                d.key_id, d.alias, d.successor
            )
        } else {
            format!(
                "recorded the deletion of key {} (a former key of `{}`) on {}",
                d.key_id, d.alias, d.successor
            )
        }),
        Outcome::MaterialExpired(e) => lines.push(format!(
            "{} the expiry of the key material of {} (`{}`); aliases that name it: {}",
            if e.duplicate {
                "already recorded"
            } else {
                "recorded"
            },
            e.key,
            e.alias,
            e.named_by
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Outcome::Guarded {
            event_name,
            verdict,
        } => {
            lines.push(format!("{event_name}: {}", verdict_text(verdict)));
        }
        Outcome::Drifted(d) => lines.push(format!(
            "DRIFT: {} by {}: {}",
            d.event_name,
            d.by.as_deref().unwrap_or("an unknown principal"),
            d.what
        )),
        Outcome::Consistent { alias, key } => {
            lines.push(format!("`{alias}` names {key}, its current key: no drift"));
        }
        Outcome::Ignored { reason } => lines.push(format!("ignored: {reason}")),
        Outcome::Rotated {
            alias,
            dry_run,
            actions,
        } => {
            if actions.is_empty() {
                lines.push(format!("{alias}: nothing to do"));
            }
            let verb = if *dry_run { "would do" } else { "did" };
            for action in actions {
                lines.push(format!("{alias}: {verb}: {}", action_text(action)));
            }
        }
        Outcome::RolledBack { alias, action } => {
            lines.push(format!("{alias}: {}", action_text(action)));
        }
        Outcome::Status { aliases } => {
            for status in aliases {
                lines.push(format!(
                    "{}: {} (next rotation {})",
                    status.alias, status.current.key_arn, status.next_rotation
                ));
            }
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// `kmsrot audit code`'s findings, one line each (and a line of advice under those that were
/// looked up), then a summary.
pub(crate) fn audit_text(findings: &[kmsrot_types::audit::CodeFinding]) -> String {
    use kmsrot_types::audit::Confidence;
    let mut out = String::new();
    for f in findings {
        let confidence = match f.confidence {
            Confidence::High => "high",
            Confidence::Low => "low",
        };
        out.push_str(&format!(
            "{}:{}:{}: [{confidence}] {} ({})\n",
            f.path, f.line, f.column, f.text, f.why
        ));
        if let Some(note) = &f.lookup {
            out.push_str(&format!("    {note}\n"));
        } else if let Some(hint) = f.aliases.first() {
            let managed = if hint.managed {
                "managed by kmsrot"
            } else {
                "not managed by kmsrot; `kmsrot adopt` it"
            };
            out.push_str(&format!("    name `{}` instead ({managed})\n", hint.alias));
        } else if let Some(arn) = &f.key_arn {
            out.push_str(&format!(
                "    {arn} has no alias; create one with `kmsrot adopt` after `aws kms create-alias`\n"
            ));
        }
    }
    let high = findings
        .iter()
        .filter(|f| f.confidence == Confidence::High)
        .count();
    out.push_str(&format!(
        "{high} hard-coded key reference(s), {} low-confidence look-alike(s)\n",
        findings.len() - high
    ));
    out
}

/// `kmsrot audit account`'s report: one line per finding, then a summary.
pub(crate) fn account_text(report: &kmsrot_types::audit::AccountReport) -> String {
    use kmsrot_types::audit::AccountIssue;
    let mut out = String::new();
    for f in &report.findings {
        let label = match f.issue {
            AccountIssue::AliasNamesKeyPendingDeletion => "PENDING DELETION",
            AccountIssue::AliasNamesUnusableKey => "UNUSABLE KEY",
            AccountIssue::Overdue => "OVERDUE",
            AccountIssue::Noncompliant => "NONCOMPLIANT",
            AccountIssue::RotationDisabled => "ROTATION OFF",
            AccountIssue::NoRotation => "NO ROTATION",
            AccountIssue::UnmanagedAlias => "UNMANAGED",
            AccountIssue::Unreadable => "UNREADABLE",
        };
        out.push_str(&format!("{label}: {}\n", f.detail));
    }
    out.push_str(&format!(
        "{} finding(s) over {} customer-managed key(s) and {} alias(es) in {}\n",
        report.findings.len(),
        report.keys,
        report.aliases,
        report.region
    ));
    out
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
