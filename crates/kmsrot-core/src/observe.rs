//! What an outcome is worth telling: its metrics and its notifications, and those of a failed
//! action that no outcome carries. Pure, so that which outcome counts as what is tested
//! without AWS. The Lambda and `kmsrot sweep --metrics cloudwatch` both read it; `metrics` and
//! `notify` then send what it chose.

use kmsrot_types::metrics::{Datum, MetricName};
use kmsrot_types::{
    Action, AliasName, AliasOutcome, CanaryVerdict, GuardVerdict, HoldReason, Notice, Outcome,
};

/// What the sweep checks before it disables an old key, as its notice says.
const CHECKED_BEFORE_DISABLING: &str = "no alias names it, it has no grants and no hold, and KMS (GetKeyLastUsage) reports no successful use within the policy's quiet period";
/// What the sweep checks before it schedules an old key's deletion.
const CHECKED_BEFORE_DELETION: &str = "no alias names it, it has no grants and no hold, and KMS (GetKeyLastUsage) reports no successful use since it was disabled";

fn count(actions: &[Action], what: impl Fn(&Action) -> bool) -> usize {
    actions.iter().filter(|a| what(a)).count()
}

fn rotations(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Rotate { .. } | Action::RotateOnDemand { .. }))
        .count()
}

fn rollback(actions: &[Action]) -> Option<&Action> {
    actions.iter().find(|a| {
        matches!(
            a,
            Action::Rollback {
                already_done: false,
                ..
            }
        )
    })
}

/// The metrics of an outcome.
pub fn data_of(outcome: &Outcome) -> Vec<Datum> {
    use MetricName as M;
    let mut data = Vec::new();
    match outcome {
        Outcome::MaterialRotated { aliases, .. } => {
            for check in aliases {
                data.push(Datum::alias(M::MaterialRotations, &check.alias, 1.0));
            }
        }
        Outcome::Swept { report } => {
            for alias in &report.aliases {
                data.extend(sweep_data(alias, report.dry_run));
            }
            if !report.orphans.is_empty() {
                data.push(Datum::fleet(M::OrphanKeys, report.orphans.len() as f64));
            }
            if report.not_reached > 0 {
                data.push(Datum::fleet(
                    M::AliasesNotReached,
                    report.not_reached as f64,
                ));
            }
        }
        Outcome::KeyDeleted(d) if !d.duplicate => {
            data.push(Datum::alias(M::KeysDeleted, &d.alias, 1.0));
        }
        Outcome::MaterialExpired(e) if !e.duplicate => {
            data.push(Datum::alias(M::MaterialExpirations, &e.alias, 1.0));
        }
        Outcome::Guarded {
            verdict: GuardVerdict::Restored { alias, .. } | GuardVerdict::Alert { alias, .. },
            ..
        } => data.push(Datum::alias(M::GuardActions, alias, 1.0)),
        Outcome::Drifted(drift) => data.push(Datum::alias(M::DriftAlerts, &drift.alias, 1.0)),
        Outcome::TagsChanged(change) => data.push(match &change.alias {
            Some(alias) => Datum::alias(M::TagChanges, alias, 1.0),
            None => Datum::fleet(M::TagChanges, 1.0),
        }),
        Outcome::Canary {
            verdict: CanaryVerdict::Held { alias, .. },
            ..
        } => data.push(Datum::alias(M::CanaryHolds, alias, 1.0)),
        Outcome::Rotated {
            alias,
            dry_run: false,
            actions,
        } => {
            let n = rotations(actions);
            if n > 0 {
                data.push(Datum::alias(M::RotationsSucceeded, alias, n as f64));
            }
        }
        Outcome::RolledBack { alias, .. } => data.push(Datum::alias(M::Rollbacks, alias, 1.0)),
        _ => {}
    }
    data
}

fn sweep_data(outcome: &AliasOutcome, dry_run: bool) -> Vec<Datum> {
    use MetricName as M;
    let alias = &outcome.alias;
    let mut data = Vec::new();
    if !dry_run {
        if outcome.error.is_some() {
            data.push(Datum::alias(M::RotationsFailed, alias, 1.0));
        }
        let n = rotations(&outcome.actions);
        if n > 0 {
            data.push(Datum::alias(M::RotationsSucceeded, alias, n as f64));
        }
        if rollback(&outcome.actions).is_some() {
            data.push(Datum::alias(M::Rollbacks, alias, 1.0));
        }
        for (name, n) in [
            (
                M::KeysRetired,
                count(&outcome.actions, |a| matches!(a, Action::Retire { .. })),
            ),
            (
                M::DeletionsScheduled,
                count(&outcome.actions, |a| {
                    matches!(a, Action::ScheduleDeletion { .. })
                }),
            ),
        ] {
            if n > 0 {
                data.push(Datum::alias(name, alias, n as f64));
            }
        }
    }
    // Held in a dry run too: the hold is what the sweep would meet.
    let held = count(&outcome.actions, |a| matches!(a, Action::Hold(_)));
    if held > 0 {
        data.push(Datum::alias(M::RetirementsHeld, alias, held as f64));
    }
    let tampered = count(
        &outcome.actions,
        |a| matches!(a, Action::Hold(hold) if hold.reasons.iter().any(HoldReason::is_tampered)),
    );
    if tampered > 0 {
        data.push(Datum::alias(M::TamperDetected, alias, tampered as f64));
    }
    if let Some(c) = &outcome.compliance {
        data.push(Datum::alias(M::KeyAgeDays, alias, c.age_days as f64));
        data.push(Datum::alias(
            M::OverdueKeys,
            alias,
            if c.overdue { 1.0 } else { 0.0 },
        ));
    }
    data
}

/// The notifications of an outcome.
pub fn notices_of(outcome: &Outcome) -> Vec<Notice> {
    match outcome {
        Outcome::MaterialRotated { key, aliases, .. } if !aliases.is_empty() => {
            vec![Notice::MaterialRotated {
                key: key.clone(),
                aliases: aliases.clone(),
            }]
        }
        Outcome::Swept { report } if !report.dry_run => report
            .aliases
            .iter()
            .flat_map(|a| {
                let mut notices = Vec::new();
                if let Some(error) = &a.error {
                    notices.push(Notice::RotationFailed {
                        alias: a.alias.clone(),
                        error: error.clone(),
                    });
                }
                if rotations(&a.actions) > 0 {
                    notices.push(Notice::RotationDone {
                        alias: a.alias.clone(),
                        actions: a.actions.clone(),
                    });
                }
                if let Some(action) = rollback(&a.actions) {
                    notices.push(Notice::Rollback {
                        alias: a.alias.clone(),
                        action: action.clone(),
                    });
                }
                for action in &a.actions {
                    let checked = match action {
                        Action::BreakGlass { key, record } => {
                            notices.push(Notice::BreakGlass {
                                alias: a.alias.clone(),
                                key: key.clone(),
                                record: record.clone(),
                                skipped: "the sweep".into(),
                            });
                            continue;
                        }
                        Action::Hold(hold) => {
                            notices.push(Notice::RetirementHeld {
                                alias: a.alias.clone(),
                                hold: hold.clone(),
                            });
                            continue;
                        }
                        Action::Retire { .. } => CHECKED_BEFORE_DISABLING,
                        Action::ScheduleDeletion { .. } => CHECKED_BEFORE_DELETION,
                        _ => continue,
                    };
                    notices.push(Notice::KeyRetired {
                        alias: a.alias.clone(),
                        action: action.clone(),
                        checked: checked.into(),
                    });
                }
                notices
            })
            // Only what the sweep did to an orphan; what it kept is in the report.
            .chain(
                report
                    .orphans
                    .iter()
                    .filter(|orphan| {
                        matches!(
                            orphan.cleanup,
                            Some(
                                kmsrot_types::OrphanCleanup::Disabled
                                    | kmsrot_types::OrphanCleanup::DeletionScheduled { .. }
                            )
                        )
                    })
                    .map(|orphan| Notice::OrphanCleaned {
                        orphan: orphan.clone(),
                    }),
            )
            .collect(),
        Outcome::KeyDeleted(d) if !d.duplicate => vec![Notice::KeyDeleted(d.clone())],
        Outcome::MaterialExpired(e) if !e.duplicate => vec![Notice::MaterialExpired(e.clone())],
        Outcome::Guarded { verdict, .. }
            if matches!(
                verdict,
                GuardVerdict::Restored { .. } | GuardVerdict::Alert { .. }
            ) =>
        {
            vec![Notice::GuardAction {
                verdict: verdict.clone(),
            }]
        }
        Outcome::Guarded {
            verdict: GuardVerdict::BreakGlass { key, alias, record },
            ..
        } => vec![Notice::BreakGlass {
            alias: alias.clone(),
            key: key.clone(),
            record: record.clone(),
            skipped: "the deletion guard".into(),
        }],
        Outcome::Drifted(drift) => vec![Notice::Drift(drift.clone())],
        Outcome::TagsChanged(change) => vec![Notice::TagsChanged(change.clone())],
        Outcome::Canary { verdict, .. } if matches!(verdict, CanaryVerdict::Held { .. }) => {
            vec![Notice::CanaryHold {
                verdict: verdict.clone(),
            }]
        }
        Outcome::Rotated {
            alias,
            dry_run: false,
            actions,
        } if rotations(actions) > 0 => vec![Notice::RotationDone {
            alias: alias.clone(),
            actions: actions.clone(),
        }],
        Outcome::RolledBack { alias, action } => vec![Notice::Rollback {
            alias: alias.clone(),
            action: action.clone(),
        }],
        _ => vec![],
    }
}

/// The alias an outcome is about, when it is about exactly one.
pub fn alias_of(outcome: &Outcome) -> Option<&AliasName> {
    match outcome {
        Outcome::KeyDeleted(d) => Some(&d.alias),
        Outcome::MaterialExpired(e) => Some(&e.alias),
        Outcome::Drifted(d) => Some(&d.alias),
        Outcome::TagsChanged(c) => c.alias.as_ref(),
        Outcome::Consistent { alias, .. }
        | Outcome::Rotated { alias, .. }
        | Outcome::RolledBack { alias, .. } => Some(alias),
        Outcome::Released(r) => Some(&r.alias),
        Outcome::Canary { verdict, .. } => match verdict {
            CanaryVerdict::Unmanaged { .. } | CanaryVerdict::Gone { .. } => None,
            CanaryVerdict::NotRetiring { alias, .. }
            | CanaryVerdict::AlreadyHeld { alias, .. }
            | CanaryVerdict::Held { alias, .. } => Some(alias),
        },
        Outcome::Guarded { verdict, .. } => match verdict {
            GuardVerdict::Unmanaged { .. } | GuardVerdict::Gone { .. } => None,
            GuardVerdict::NotNeeded { alias, .. }
            | GuardVerdict::BreakGlass { alias, .. }
            | GuardVerdict::Intact { alias, .. }
            | GuardVerdict::Alert { alias, .. }
            | GuardVerdict::Restored { alias, .. } => Some(alias),
        },
        _ => None,
    }
}

/// An action that failed, so that no outcome carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// A requested rotation of this alias.
    Rotation(AliasName),
    /// A requested rollback of this alias.
    Rollback(AliasName),
    /// The deletion guard, on this key as the event named it.
    Guard(String),
}

/// What a failed action is worth telling: its metrics and its notice. Every failure is told,
/// retryable or not: a guard that could not restore a key leaves it at risk until a retry
/// succeeds.
pub fn failure_of(failed: Failed, error: &impl std::fmt::Display) -> (Vec<Datum>, Notice) {
    let error = error.to_string();
    match failed {
        Failed::Rotation(alias) => (
            vec![Datum::alias(MetricName::RotationsFailed, &alias, 1.0)],
            Notice::RotationFailed { alias, error },
        ),
        Failed::Rollback(alias) => (Vec::new(), Notice::RollbackFailed { alias, error }),
        Failed::Guard(key) => (Vec::new(), Notice::GuardFailed { key, error }),
    }
}

#[cfg(test)]
mod tests {
    use kmsrot_types::{Compliance, Deletion, KeyArn, SweepReport};

    use super::*;

    fn alias(name: &str) -> AliasName {
        name.parse().unwrap()
    }

    fn key() -> KeyArn {
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            .parse()
            .unwrap()
    }

    fn swept(dry_run: bool) -> Outcome {
        let compliance = Compliance {
            age_days: 400,
            max_age_days: 365,
            overdue: true,
            findings: vec![],
        };
        Outcome::Swept {
            report: SweepReport {
                dry_run,
                not_reached: 0,
                kms_calls: 0,
                orphans: vec![],
                aliases: vec![
                    AliasOutcome {
                        alias: alias("alias/a"),
                        actions: vec![Action::rotate("past its maximum age", Some(key()))],
                        reason: None,
                        compliance: Some(compliance),
                        error: None,
                    },
                    AliasOutcome {
                        alias: alias("alias/b"),
                        actions: vec![],
                        reason: None,
                        compliance: None,
                        error: Some("throttled".into()),
                    },
                ],
            },
        }
    }

    fn names(data: &[Datum]) -> Vec<(String, Option<String>, f64)> {
        data.iter()
            .map(|d| {
                (
                    d.name.to_string(),
                    d.alias.as_ref().map(|a| a.to_string()),
                    d.value,
                )
            })
            .collect()
    }

    #[test]
    fn a_sweep_counts_rotations_failures_age_and_overdue_per_alias() {
        let a = Some("alias/a".to_owned());
        assert_eq!(
            names(&data_of(&swept(false))),
            [
                ("RotationsSucceeded".into(), a.clone(), 1.0),
                ("KeyAgeDays".into(), a.clone(), 400.0),
                ("OverdueKeys".into(), a, 1.0),
                ("RotationsFailed".into(), Some("alias/b".into()), 1.0),
            ]
        );
        let kinds: Vec<&str> = notices_of(&swept(false))
            .iter()
            .map(|n| match n {
                Notice::RotationDone { .. } => "done",
                Notice::RotationFailed { .. } => "failed",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["done", "failed"]);
    }

    #[test]
    fn a_dry_run_counts_no_rotation_and_notifies_nobody() {
        let data = names(&data_of(&swept(true)));
        assert!(data.iter().all(|(name, ..)| name != "RotationsSucceeded"));
        assert!(notices_of(&swept(true)).is_empty());
    }

    #[test]
    fn duplicates_and_quiet_verdicts_are_worth_nothing() {
        let duplicate = Outcome::KeyDeleted(Deletion {
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            alias: alias("alias/a"),
            successor: key(),
            duplicate: true,
        });
        assert!(data_of(&duplicate).is_empty());
        assert!(notices_of(&duplicate).is_empty());
        let intact = Outcome::Guarded {
            event_name: "DisableKey".into(),
            verdict: GuardVerdict::Intact {
                key: key(),
                alias: alias("alias/a"),
            },
        };
        assert!(data_of(&intact).is_empty());
        assert!(notices_of(&intact).is_empty());
        assert_eq!(alias_of(&intact), Some(&alias("alias/a")));
        let ignored = Outcome::Ignored {
            reason: "not managed".into(),
        };
        assert!(data_of(&ignored).is_empty() && notices_of(&ignored).is_empty());
    }

    #[test]
    fn retirements_and_holds_are_counted_and_announced() {
        use kmsrot_types::{HeldStep, Hold, HoldReason};
        let hold = Hold {
            key: key(),
            step: HeldStep::Disable,
            reasons: vec![HoldReason::Aliases {
                aliases: vec![alias("alias/other")],
            }],
        };
        let outcome = |dry_run| Outcome::Swept {
            report: SweepReport {
                dry_run,
                not_reached: 0,
                kms_calls: 0,
                orphans: vec![],
                aliases: vec![AliasOutcome {
                    alias: alias("alias/a"),
                    actions: vec![
                        Action::Retire { key: key() },
                        Action::ScheduleDeletion {
                            key: key(),
                            window_days: 30,
                        },
                        Action::Hold(hold.clone()),
                    ],
                    reason: None,
                    compliance: None,
                    error: None,
                }],
            },
        };
        let a = Some("alias/a".to_owned());
        assert_eq!(
            names(&data_of(&outcome(false))),
            [
                ("KeysRetired".into(), a.clone(), 1.0),
                ("DeletionsScheduled".into(), a.clone(), 1.0),
                ("RetirementsHeld".into(), a.clone(), 1.0),
            ]
        );
        let notices = notices_of(&outcome(false));
        assert!(matches!(&notices[..], [
            Notice::KeyRetired { action: Action::Retire { .. }, checked: c1, .. },
            Notice::KeyRetired { action: Action::ScheduleDeletion { .. }, checked: c2, .. },
            Notice::RetirementHeld { hold: h, .. },
        ] if c1.contains("quiet period") && c2.contains("since it was disabled") && *h == hold));
        // A dry run counts the hold it met, and tells nobody.
        assert_eq!(
            names(&data_of(&outcome(true))),
            [("RetirementsHeld".into(), a, 1.0)]
        );
        assert!(notices_of(&outcome(true)).is_empty());
        let canary = Outcome::Canary {
            event_name: "Decrypt".into(),
            error_code: "DisabledException".into(),
            verdict: CanaryVerdict::Held {
                key: key(),
                alias: alias("alias/a"),
                undone: vec![kmsrot_types::Undone::Enabled],
                hold: "Decrypt refused".into(),
                operation: "Decrypt".into(),
                by: None,
                cloudtrail_event_id: Some("e1".into()),
            },
        };
        assert_eq!(
            names(&data_of(&canary)),
            [("CanaryHolds".into(), Some("alias/a".into()), 1.0)]
        );
        assert!(matches!(
            &notices_of(&canary)[..],
            [Notice::CanaryHold { .. }]
        ));
    }

    #[test]
    fn every_failure_is_told_and_a_failed_rotation_is_counted() {
        let (data, notice) = failure_of(Failed::Rotation(alias("alias/a")), &"throttled");
        assert_eq!(
            data,
            [Datum::alias(
                MetricName::RotationsFailed,
                &alias("alias/a"),
                1.0
            )]
        );
        assert_eq!(
            notice,
            Notice::RotationFailed {
                alias: alias("alias/a"),
                error: "throttled".into()
            }
        );
        let (data, notice) = failure_of(Failed::Guard("k".into()), &"denied");
        assert!(data.is_empty());
        assert!(matches!(notice, Notice::GuardFailed { key, .. } if key == "k"));
        let (data, notice) = failure_of(Failed::Rollback(alias("alias/a")), &"none");
        assert!(data.is_empty());
        assert!(matches!(notice, Notice::RollbackFailed { .. }));
    }
}
