//! Output formats, and the human rendering of results. Nothing outside the CLI formats for
//! people.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use kmsrot_types::s3::{BucketEncryption, ObjectKeyReport, ReencryptReport};
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
    crate::io::Sink::Stdout.write(table_text(headers, rows).as_bytes())
}

/// A table as text: a header row, then one row per entry, columns padded to their widest cell.
pub(crate) fn table_text(headers: &[&str], rows: &[Vec<String>]) -> String {
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
        let mut text = text.trim_end().to_owned();
        text.push('\n');
        text
    };
    let mut text = line(headers.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
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

/// Bytes for people: 4.0 KiB, 1.2 MiB.
pub(crate) fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `kmsrot s3 keys`: one row per object, then a count per key.
pub(crate) fn object_keys_text(reports: &[ObjectKeyReport]) -> String {
    let with_alias = reports.iter().any(|r| r.on_alias_key.is_some());
    let mut headers = vec!["KEY", "SIZE", "ENCRYPTION"];
    if with_alias {
        headers.push("ON ALIAS KEY");
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let mut row = vec![r.key.clone(), bytes_text(r.size), r.encryption.source()];
            if let Some(on) = r.on_alias_key {
                row.push(if on { "yes" } else { "NO" }.to_owned());
            }
            row
        })
        .collect();
    let mut text = table_text(&headers, &rows);
    let mut by_source: std::collections::BTreeMap<String, usize> = Default::default();
    for r in reports {
        *by_source.entry(r.encryption.source()).or_default() += 1;
    }
    text.push_str(&format!("{} object(s)\n", reports.len()));
    for (source, n) in by_source {
        text.push_str(&format!("  {n:>6}  {source}\n"));
    }
    text
}

/// `kmsrot s3 default-encryption`.
pub(crate) fn bucket_encryption_text(report: &BucketEncryption) -> String {
    let mut text = format!("s3://{}\n", report.bucket);
    let algorithm = report.algorithm.as_deref().unwrap_or("none configured");
    text.push_str(&format!("  algorithm   {algorithm}\n"));
    if let Some(key) = &report.kms_key {
        text.push_str(&format!("  kms key     {key}\n"));
    }
    text.push_str(&format!(
        "  bucket key  {}\n",
        if report.bucket_key {
            "enabled"
        } else {
            "disabled"
        }
    ));
    for warning in &report.warnings {
        text.push_str(&format!("WARNING: {warning}\n"));
    }
    text
}

/// The final report of `kmsrot reencrypt`.
pub(crate) fn reencrypt_text(r: &ReencryptReport) -> String {
    let verb = if r.dry_run {
        "would re-encrypt"
    } else {
        "re-encrypted"
    };
    let mut text = format!(
        "{verb} s3://{}/{} to {} ({}) by {}\n",
        r.bucket, r.prefix, r.alias, r.target_key_arn, r.method
    );
    let skipped: u64 = r.skipped.values().sum();
    text.push_str(&format!(
        "  listed   {:>7}  {}\n",
        r.listed,
        bytes_text(r.listed_bytes)
    ));
    text.push_str(&format!(
        "  {}  {:>7}  {}\n",
        if r.dry_run { "to move" } else { "moved  " },
        r.moved,
        bytes_text(r.moved_bytes)
    ));
    for (from, n) in &r.moved_from {
        text.push_str(&format!("    {n:>7}  from {from}\n"));
    }
    text.push_str(&format!("  skipped  {skipped:>7}\n"));
    for (why, n) in &r.skipped {
        text.push_str(&format!("    {n:>7}  {why}\n"));
    }
    if r.resumed > 0 {
        text.push_str(&format!(
            "  resumed  {:>7}  finished by an earlier run\n",
            r.resumed
        ));
    }
    text.push_str(&format!("  failed   {:>7}\n", r.failed.len()));
    for f in &r.failed {
        text.push_str(&format!("    {}: {}\n", f.key, f.reason));
    }
    if r.dry_run {
        text.push_str("DRY RUN: nothing was changed\n");
    }
    if r.throttled {
        text.push_str(
            "THROTTLED: S3 kept throttling after every retry, so no more objects were started; run again later with a lower --concurrency\n",
        );
    }
    if r.interrupted {
        text.push_str(&format!(
            "INTERRUPTED: {} object(s) not handled yet; run again with --resume to finish\n",
            r.pending()
        ));
    }
    text
}

/// What `kmsrot reencrypt --emit-batch-job` wrote, and what to do with it.
pub(crate) fn batch_job_text(
    r: &ReencryptReport,
    unencrypted: u64,
    dir: &Path,
    manifest_key: &str,
) -> String {
    let manifest = dir.join("manifest.csv");
    let job = dir.join("job.json");
    let left_out = if unencrypted > 0 {
        format!(
            "{unencrypted} object(s) without encryption are left out (UpdateObjectEncryption changes only encrypted objects): move them with kmsrot reencrypt --method copy\n"
        )
    } else {
        String::new()
    };
    left_out
        + &format!(
            "wrote {} ({} object(s) to move to {}) and {}\n\
         next:\n\
         \x20 1. aws s3 cp {} s3://{}/{manifest_key}\n\
         \x20 2. put the manifest's ETag and the Batch Operations role's ARN into {}\n\
         \x20 3. aws s3control create-job --region {} --cli-input-json file://{}\n",
            manifest.display(),
            r.moved - unencrypted,
            r.target_key_arn,
            job.display(),
            manifest.display(),
            r.bucket,
            job.display(),
            r.target_key_arn.region(),
            job.display(),
        )
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

    // Snapshots of what people and scripts read. The fixtures are fixed values, so the
    // snapshots pin the rendering and the JSON schema; `UPDATE_EXPECT=1 cargo test` rewrites
    // them after a deliberate change.

    const OLD: &str = "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab";
    const NEW: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn key_status(arn: &str, stage: kmsrot_types::Stage, created: &str) -> KeyStatus {
        KeyStatus {
            key_arn: arn.parse().unwrap(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            key_state: "Enabled".into(),
            stage: Some(stage),
            created_at: Some(created.into()),
            promoted_at: Some(created.into()),
            demoted_at: None,
            retired_at: None,
            deletion_date: None,
        }
    }

    fn json_text<T: Serialize>(value: &T) -> String {
        String::from_utf8(render_json(value).unwrap()).unwrap()
    }

    #[test]
    fn status_snapshot() {
        let status = AliasStatus {
            alias: "alias/payments".parse().unwrap(),
            policy: kmsrot_types::Policy::new(kmsrot_types::Mode::Manual),
            current: key_status(NEW, kmsrot_types::Stage::Current, "2026-09-01T00:00:00Z"),
            rotation: RotationStatus::Disabled,
            next_rotation: "2026-11-30T00:00:00Z".into(),
            previous: Some(key_status(
                OLD,
                kmsrot_types::Stage::Previous,
                "2026-06-01T00:00:00Z",
            )),
            rotation_in_progress: None,
            on_demand_remaining: None,
            compliance: kmsrot_types::Compliance {
                age_days: 90,
                max_age_days: 90,
                overdue: false,
                findings: vec![],
            },
        };
        let mut overdue = status.clone();
        overdue.alias = "alias/ledger".parse().unwrap();
        overdue.previous = None;
        overdue.compliance.age_days = 120;
        overdue.compliance.overdue = true;
        let rows: Vec<_> = [&status, &overdue].into_iter().map(status_row).collect();
        expect_test::expect![[r#"
            ALIAS           KEY                                   SPEC               MODE    STAGE    AGE   NEXT ROTATION  PREVIOUS                                                  COMPLIANCE
            alias/payments  1234abcd-12ab-34cd-56ef-1234567890ab  SYMMETRIC_DEFAULT  manual  current  90d   2026-11-30     0000abcd-12ab-34cd-56ef-1234567890ab (previous, Enabled)  ok
            alias/ledger    1234abcd-12ab-34cd-56ef-1234567890ab  SYMMETRIC_DEFAULT  manual  current  120d  2026-11-30     -                                                         OVERDUE (120 > 90 days)
        "#]].assert_eq(&table_text(&STATUS_HEADERS, &rows));
        expect_test::expect![[r#"
            [
              {
                "alias": "alias/ledger",
                "policy": {
                  "mode": "manual",
                  "max_age_days": 365,
                  "period_days": 365,
                  "grace_days": 30,
                  "delete_after_days": 30,
                  "deletion_window_days": 30
                },
                "current": {
                  "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                  "key_spec": "SYMMETRIC_DEFAULT",
                  "key_usage": "ENCRYPT_DECRYPT",
                  "key_state": "Enabled",
                  "stage": "current",
                  "created_at": "2026-09-01T00:00:00Z",
                  "promoted_at": "2026-09-01T00:00:00Z",
                  "demoted_at": null,
                  "retired_at": null,
                  "deletion_date": null
                },
                "rotation": {
                  "status": "disabled"
                },
                "next_rotation": "2026-11-30T00:00:00Z",
                "previous": null,
                "rotation_in_progress": null,
                "on_demand_remaining": null,
                "compliance": {
                  "age_days": 120,
                  "max_age_days": 90,
                  "overdue": true,
                  "findings": []
                }
              }
            ]
        "#]].assert_eq(&json_text(&vec![overdue]));
    }

    #[test]
    fn audit_snapshots() {
        use kmsrot_types::audit::{
            AccountFinding, AccountIssue, AccountReport, CodeFinding, Confidence,
        };
        let findings = vec![
            CodeFinding {
                path: "./app/crypto.py".into(),
                line: 3,
                column: 20,
                text: NEW.into(),
                key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
                confidence: Confidence::High,
                why: "a key ARN".into(),
                key_arn: Some(NEW.parse().unwrap()),
                aliases: vec![kmsrot_types::audit::AliasHint {
                    alias: "alias/payments".parse().unwrap(),
                    managed: true,
                }],
                lookup: None,
            },
            CodeFinding {
                path: "./notes.md".into(),
                line: 9,
                column: 1,
                text: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
                key_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
                confidence: Confidence::Low,
                why: "a UUID with no KMS context nearby: maybe another identifier".into(),
                key_arn: None,
                aliases: vec![],
                lookup: Some("not looked up: --no-lookup".into()),
            },
        ];
        expect_test::expect![[r#"
            ./app/crypto.py:3:20: [high] arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (a key ARN)
                name `alias/payments` instead (managed by kmsrot)
            ./notes.md:9:1: [low] 0f8fad5b-d9cb-469f-a165-70867728950e (a UUID with no KMS context nearby: maybe another identifier)
                not looked up: --no-lookup
            1 hard-coded key reference(s), 1 low-confidence look-alike(s)
        "#]].assert_eq(&audit_text(&findings));
        expect_test::expect![[r#"
            {
              "path": "./app/crypto.py",
              "line": 3,
              "column": 20,
              "text": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "key_id": "1234abcd-12ab-34cd-56ef-1234567890ab",
              "confidence": "high",
              "why": "a key ARN",
              "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "aliases": [
                {
                  "alias": "alias/payments",
                  "managed": true
                }
              ]
            }
        "#]].assert_eq(&json_text(&findings[0]));
        let account = AccountReport {
            region: "eu-west-1".into(),
            keys: 3,
            aliases: 2,
            findings: vec![
                AccountFinding {
                    issue: AccountIssue::AliasNamesKeyPendingDeletion,
                    alias: Some("alias/old-app".parse().unwrap()),
                    key: Some(OLD.parse().unwrap()),
                    detail: "the key is pending deletion; cancel it or move the alias".into(),
                },
                AccountFinding {
                    issue: AccountIssue::RotationDisabled,
                    alias: None,
                    key: Some(NEW.parse().unwrap()),
                    detail: "automatic rotation is off".into(),
                },
            ],
        };
        expect_test::expect![[r#"
            PENDING DELETION: the key is pending deletion; cancel it or move the alias
            ROTATION OFF: automatic rotation is off
            2 finding(s) over 3 customer-managed key(s) and 2 alias(es) in eu-west-1
        "#]]
        .assert_eq(&account_text(&account));
        expect_test::expect![[r#"
            {
              "region": "eu-west-1",
              "keys": 3,
              "aliases": 2,
              "findings": [
                {
                  "issue": "alias_names_key_pending_deletion",
                  "alias": "alias/old-app",
                  "key": "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab",
                  "detail": "the key is pending deletion; cancel it or move the alias"
                },
                {
                  "issue": "rotation_disabled",
                  "key": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                  "detail": "automatic rotation is off"
                }
              ]
            }
        "#]].assert_eq(&json_text(&account));
    }

    fn reencrypt_report() -> ReencryptReport {
        ReencryptReport {
            bucket: "data".into(),
            prefix: "logs/".into(),
            alias: "alias/payments".into(),
            target_key_arn: NEW.parse().unwrap(),
            method: kmsrot_types::s3::ReencryptMethod::Copy,
            dry_run: false,
            interrupted: false,
            throttled: false,
            listed: 1000,
            listed_bytes: 4_096_000,
            moved: 990,
            moved_bytes: 4_055_040,
            moved_from: [(OLD.to_owned(), 900), ("SSE-S3".to_owned(), 90)].into(),
            skipped: [("already under the target key".to_owned(), 8)].into(),
            resumed: 0,
            failed: vec![
                kmsrot_types::s3::ObjectFailure {
                    key: "logs/a.gz".into(),
                    version_id: Some("v1".into()),
                    reason: "PreconditionFailed: At least one of the pre-conditions you specified did not hold; the object changed while it was being re-encrypted: run again to pick up the new version".into(),
                },
                kmsrot_types::s3::ObjectFailure {
                    key: "logs/b.gz".into(),
                    version_id: None,
                    reason: "encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it".into(),
                },
            ],
        }
    }

    #[test]
    fn reencrypt_snapshots() {
        let report = reencrypt_report();
        expect_test::expect![[r#"
            re-encrypted s3://data/logs/ to alias/payments (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab) by copy in place
              listed      1000  3.9 MiB
              moved        990  3.9 MiB
                     90  from SSE-S3
                    900  from arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
              skipped        8
                      8  already under the target key
              failed         2
                logs/a.gz: PreconditionFailed: At least one of the pre-conditions you specified did not hold; the object changed while it was being re-encrypted: run again to pick up the new version
                logs/b.gz: encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it
        "#]].assert_eq(&reencrypt_text(&report));
        expect_test::expect![[r#"
            {
              "bucket": "data",
              "prefix": "logs/",
              "alias": "alias/payments",
              "target_key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "method": "copy",
              "dry_run": false,
              "interrupted": false,
              "throttled": false,
              "listed": 1000,
              "listed_bytes": 4096000,
              "moved": 990,
              "moved_bytes": 4055040,
              "moved_from": {
                "SSE-S3": 90,
                "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab": 900
              },
              "skipped": {
                "already under the target key": 8
              },
              "resumed": 0,
              "failed": [
                {
                  "key": "logs/a.gz",
                  "version_id": "v1",
                  "reason": "PreconditionFailed: At least one of the pre-conditions you specified did not hold; the object changed while it was being re-encrypted: run again to pick up the new version"
                },
                {
                  "key": "logs/b.gz",
                  "version_id": null,
                  "reason": "encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it"
                }
              ]
            }
        "#]].assert_eq(&json_text(&report));
        let dry = ReencryptReport {
            dry_run: true,
            failed: vec![],
            moved: 992,
            ..report.clone()
        };
        expect_test::expect![[r#"
            would re-encrypt s3://data/logs/ to alias/payments (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab) by copy in place
              listed      1000  3.9 MiB
              to move      992  3.9 MiB
                     90  from SSE-S3
                    900  from arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
              skipped        8
                      8  already under the target key
              failed         0
            DRY RUN: nothing was changed
        "#]].assert_eq(&reencrypt_text(&dry));
        let interrupted = ReencryptReport {
            interrupted: true,
            moved: 400,
            resumed: 100,
            failed: vec![],
            ..report
        };
        expect_test::expect![[r#"
            re-encrypted s3://data/logs/ to alias/payments (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab) by copy in place
              listed      1000  3.9 MiB
              moved        400  3.9 MiB
                     90  from SSE-S3
                    900  from arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
              skipped        8
                      8  already under the target key
              resumed      100  finished by an earlier run
              failed         0
            INTERRUPTED: 492 object(s) not handled yet; run again with --resume to finish
        "#]].assert_eq(&reencrypt_text(&interrupted));
    }

    #[test]
    fn object_keys_and_bucket_snapshots() {
        use kmsrot_types::s3::ObjectEncryption;
        let reports = vec![
            ObjectKeyReport {
                key: "logs/a.gz".into(),
                version_id: None,
                size: 4096,
                encryption: ObjectEncryption::SseKms {
                    key: OLD.into(),
                    key_arn: Some(OLD.parse().unwrap()),
                    bucket_key: false,
                },
                on_alias_key: Some(false),
            },
            ObjectKeyReport {
                key: "logs/b.gz".into(),
                version_id: Some("v2".into()),
                size: 3 * 1024 * 1024,
                encryption: ObjectEncryption::SseKms {
                    key: NEW.into(),
                    key_arn: Some(NEW.parse().unwrap()),
                    bucket_key: true,
                },
                on_alias_key: Some(true),
            },
            ObjectKeyReport {
                key: "logs/c.gz".into(),
                version_id: None,
                size: 12,
                encryption: ObjectEncryption::SseS3,
                on_alias_key: Some(false),
            },
        ];
        expect_test::expect![[r#"
            KEY        SIZE     ENCRYPTION                                                                   ON ALIAS KEY
            logs/a.gz  4.0 KiB  arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab  NO
            logs/b.gz  3.0 MiB  arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab  yes
            logs/c.gz  12 B     SSE-S3                                                                       NO
            3 object(s)
                   1  SSE-S3
                   1  arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
                   1  arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
        "#]].assert_eq(&object_keys_text(&reports));
        expect_test::expect![[r#"
            {
              "key": "logs/a.gz",
              "version_id": null,
              "size": 4096,
              "encryption": {
                "type": "sse_kms",
                "key": "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab",
                "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab",
                "bucket_key": false
              },
              "on_alias_key": false
            }
        "#]].assert_eq(&json_text(&reports[0]));
        let bucket = BucketEncryption {
            bucket: "data".into(),
            algorithm: Some("aws:kms".into()),
            kms_key: Some("alias/payments".into()),
            bucket_key: false,
            warnings: kmsrot_core::s3::bucket_key_warnings("alias/payments", Some("111122223333")),
        };
        expect_test::expect![[r#"
            s3://data
              algorithm   aws:kms
              kms key     alias/payments
              bucket key  disabled
            WARNING: the default names `alias/payments` by name: S3 resolves a bare alias in the account of whoever writes the object, so a writer from another account encrypts under its own account's alias of that name, or fails; name the alias's ARN instead (`kmsrot s3 default-encryption --alias alias/payments` does)
        "#]].assert_eq(&bucket_encryption_text(&bucket));
    }
}
