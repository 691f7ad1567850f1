//! `kmsrot status` (and `init`, `adopt`): one table row per managed alias.

use kmsrot_types::{AliasStatus, KeyStatus};

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

/// What the table has no room for: the older keys, grants, other aliases, holds and
/// warnings, one indented line each, under the alias's name.
pub(crate) fn status_notes(status: &AliasStatus) -> Vec<String> {
    let mut lines = Vec::new();
    for key in status.history.iter().skip(1) {
        let stage = key.stage.map_or("?", |s| s.as_str());
        lines.push(format!(
            "  older key {} ({stage}, {}{})",
            key.key_arn,
            key.key_state,
            key.deletion_date
                .as_ref()
                .map(|d| format!(", deleted on {d}"))
                .unwrap_or_default()
        ));
    }
    for key in std::iter::once(&status.current).chain(&status.history) {
        if let Some(grants) = key.grants.as_ref().filter(|g| !g.is_empty()) {
            lines.push(format!(
                "  {} grant(s) on {}: {}",
                grants.len(),
                short(key),
                grants
                    .iter()
                    .map(|g| format!("{} ({})", g.grantee(), g.operations.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        if let Some(hold) = &key.hold {
            lines.push(format!(
                "  {} is held until released (`kmsrot release {} --key {}`): {hold}",
                short(key),
                status.alias,
                key.key_arn
            ));
        }
    }
    if !status.other_aliases.is_empty() {
        lines.push(format!(
            "  also named by: {}",
            status
                .other_aliases
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(primary) = &status.primary_region {
        lines.push(format!(
            "  names a replica of a multi-Region key: the set is rotated and retired from {primary}"
        ));
    }
    for region in &status.regions {
        lines.push(format!(
            "  in {}: replica {}; {}",
            region.region,
            region.replica,
            match &region.alias_names {
                None => "no alias of this name there".to_owned(),
                Some(_) if !region.diverges() => "the alias there names it".to_owned(),
                Some(key) => format!("the alias there names {key} (DIVERGES)"),
            }
        ));
    }
    for hold in &status.holds {
        lines.push(format!("  {}", super::rotation::hold_text(hold)));
    }
    for condition in &status.alias_conditions {
        lines.push(format!("  WARNING: {condition}"));
    }
    for orphan in &status.orphans {
        lines.push(format!("  {}", orphan_text(orphan, false)));
    }
    for warning in &status.warnings {
        lines.push(format!("  WARNING: {warning}"));
    }
    if !lines.is_empty() {
        lines.insert(0, format!("{}:", status.alias));
    }
    lines
}

/// One orphan key, and what a sweep did (or, in a dry run, would do) about it.
pub(crate) fn orphan_text(orphan: &kmsrot_types::Orphan, dry_run: bool) -> String {
    use kmsrot_types::OrphanCleanup;
    let names = match &orphan.alias_names {
        Some(key) => format!("which names {key}"),
        None => "which does not exist".to_owned(),
    };
    let mut text = format!(
        "ORPHAN {} ({}, stage {}): tagged for {} ({names}), which does not track it",
        orphan.key,
        orphan.state,
        orphan.stage.as_deref().unwrap_or("none"),
        orphan.alias
    );
    let would = if dry_run { "would be " } else { "" };
    match &orphan.cleanup {
        None => {}
        Some(OrphanCleanup::Disabled) => text.push_str(&format!(
            "; {would}disabled: unused, its deletion follows after a quiet week"
        )),
        Some(OrphanCleanup::DeletionScheduled { window_days }) => text.push_str(&format!(
            "; {would}scheduled for deletion in {window_days} days (cancel with `aws kms cancel-key-deletion`)"
        )),
        Some(OrphanCleanup::Kept { why }) => text.push_str(&format!("; kept: {why}")),
    }
    text
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

#[cfg(test)]
mod tests {
    use kmsrot_types::RotationStatus;

    use super::*;
    use crate::output::fixtures::{NEW, OLD, json_text};
    use crate::output::table_text;

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
            grants: None,
            hold: None,
        }
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
            history: vec![],
            other_aliases: vec![],
            regions: vec![],
            alias_conditions: vec![],
            primary_region: None,
            holds: vec![],
            warnings: vec![],
            orphans: vec![],
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
                  "deletion_window_days": 30,
                  "quiet_days": 30,
                  "keep_enabled": false
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
                "history": [],
                "other_aliases": [],
                "holds": [],
                "warnings": [],
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
}
