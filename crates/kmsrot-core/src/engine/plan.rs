//! The planner: from the facts about one managed alias and the time, what is due. Pure logic,
//! no I/O, so every decision is unit-tested here.

use kmsrot_types::{Compliance, KeyArn, Mode, Policy, RotationStatus, Stage};

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// A key behind the current one, as far as the lifecycle needs it.
#[derive(Debug, Clone)]
pub(crate) struct Behind {
    pub(crate) arn: KeyArn,
    pub(crate) stage: Option<Stage>,
    pub(crate) enabled: bool,
    pub(crate) pending_deletion: bool,
    /// A rollback to this key is under way: the lifecycle leaves it alone.
    pub(crate) rolling_back_to: bool,
    /// When it stopped being current (seconds since the epoch).
    pub(crate) demoted_at: Option<i64>,
    /// When it was disabled.
    pub(crate) retired_at: Option<i64>,
}

/// Everything the planner needs about one alias.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub(crate) policy: Policy,
    /// When the current key (automatic mode: its key material) was made.
    pub(crate) age_base: i64,
    /// Automatic mode only: what KMS reports about its own rotation of the key.
    pub(crate) auto: Option<RotationStatus>,
    /// A rotation interrupted half-way.
    pub(crate) in_progress: Option<String>,
    /// A rollback to this key stopped before the alias moved (the key is left alone).
    pub(crate) rollback_stopped: Option<KeyArn>,
    /// Keys behind the current one, newest first.
    pub(crate) behind: Vec<Behind>,
}

/// One thing due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Due {
    /// A manual rotation (or finishing an interrupted one).
    Rotate(String),
    /// An on-demand rotation of the key material.
    RotateOnDemand(String),
    /// Automatic rotation must be switched on or its period corrected.
    EnableRotation { was: RotationStatus },
    /// Disable a previous key whose grace period is over.
    Retire(KeyArn),
    /// Schedule the deletion of a retired key whose delay is over.
    ScheduleDeletion(KeyArn),
}

/// Whole days from `from` to `now` (0 for a time in the future).
pub(crate) fn days_between(from: i64, now: i64) -> u64 {
    u64::try_from((now - from).max(0) / DAY).unwrap_or(0)
}

fn days(n: u32) -> i64 {
    i64::from(n) * DAY
}

/// When the grace period of a key demoted at `demoted_at` ends.
pub(crate) fn grace_until(policy: &Policy, demoted_at: i64) -> i64 {
    demoted_at + days(policy.grace_days)
}

/// What is due for this alias now, in the order to do it: rotation drift first, then the
/// rotation, then the lifecycle of older keys.
pub(crate) fn plan(facts: &Facts, now: i64) -> Vec<Due> {
    let policy = &facts.policy;
    let mut due = Vec::new();
    let age = days_between(facts.age_base, now);
    let overdue = age > u64::from(policy.max_age_days);
    match policy.mode {
        Mode::Manual => {
            if let Some(id) = &facts.in_progress {
                due.push(Due::Rotate(format!("finish the interrupted rotation {id}")));
            } else if overdue {
                due.push(Due::Rotate(format!(
                    "the key is {age} days old and the policy allows {}",
                    policy.max_age_days
                )));
            }
        }
        Mode::Automatic => {
            if let Some(was) = drift(facts.auto.as_ref(), policy) {
                due.push(Due::EnableRotation { was });
            }
            if overdue {
                due.push(Due::RotateOnDemand(format!(
                    "the key material is {age} days old and the policy allows {}",
                    policy.max_age_days
                )));
            }
        }
    }
    for key in &facts.behind {
        if key.pending_deletion || key.rolling_back_to {
            continue;
        }
        match key.stage {
            Some(Stage::Previous) if now >= grace_until(policy, key.demoted_at.unwrap_or(now)) => {
                due.push(Due::Retire(key.arn.clone()));
            }
            // A retired key someone enabled again is left alone (the guard or a person wanted
            // it), unless the policy keeps old keys enabled.
            Some(Stage::Retired)
                if (!key.enabled || policy.keep_enabled)
                    && now >= key.retired_at.unwrap_or(now) + days(policy.delete_after_days) =>
            {
                due.push(Due::ScheduleDeletion(key.arn.clone()));
            }
            _ => {}
        }
    }
    due
}

/// What KMS has when its automatic rotation differs from the policy; `None` when it matches.
fn drift(auto: Option<&RotationStatus>, policy: &Policy) -> Option<RotationStatus> {
    match auto {
        Some(RotationStatus::Enabled {
            period_days: Some(p),
            ..
        }) if *p == policy.period_days => None,
        Some(other) => Some(other.clone()),
        None => Some(RotationStatus::Unknown),
    }
}

/// KMS's rotation status in the words of a finding.
fn rotation_words(status: &RotationStatus) -> String {
    match status {
        RotationStatus::Enabled {
            period_days: Some(p),
            ..
        } => format!("enabled every {p} days"),
        RotationStatus::Enabled {
            period_days: None, ..
        } => "enabled, with no period reported".into(),
        RotationStatus::Disabled => "disabled".into(),
        RotationStatus::Unknown => "unknown (no permission to read it)".into(),
        RotationStatus::Unsupported => "not supported for this key".into(),
    }
}

/// Whether the alias meets its policy.
pub(crate) fn compliance(facts: &Facts, now: i64) -> Compliance {
    let policy = &facts.policy;
    let age_days = days_between(facts.age_base, now);
    let mut findings = Vec::new();
    if policy.mode == Mode::Automatic
        && let Some(was) = drift(facts.auto.as_ref(), policy)
    {
        findings.push(format!(
            "automatic rotation is {}; the policy says every {} days",
            rotation_words(&was),
            policy.period_days
        ));
    }
    if let Some(id) = &facts.in_progress {
        findings.push(format!("rotation {id} is unfinished"));
    }
    if let Some(key) = &facts.rollback_stopped {
        findings.push(format!(
            "a rollback to {key} stopped before the alias moved; finish it with `kmsrot rollback` or give it up with `kmsrot rotate --abort`"
        ));
    }
    for due in plan(facts, now) {
        match due {
            Due::Retire(key) => findings.push(format!("previous key {key} is due to be disabled")),
            Due::ScheduleDeletion(key) => {
                findings.push(format!("retired key {key} is due for deletion"));
            }
            _ => {}
        }
    }
    Compliance {
        age_days,
        max_age_days: policy.max_age_days,
        overdue: age_days > u64::from(policy.max_age_days),
        findings,
    }
}

/// When the current key (or its material) is next due, in seconds since the epoch.
pub(crate) fn next_rotation(facts: &Facts) -> i64 {
    facts.age_base + days(facts.policy.max_age_days)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn arn(n: u8) -> KeyArn {
        format!("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890{n:02}")
            .parse()
            .unwrap()
    }

    fn facts(mode: Mode, age_days: i64) -> Facts {
        Facts {
            policy: Policy {
                max_age_days: 365,
                grace_days: 30,
                delete_after_days: 10,
                ..Policy::new(mode)
            },
            age_base: NOW - age_days * DAY,
            auto: (mode == Mode::Automatic).then_some(RotationStatus::Enabled {
                period_days: Some(365),
                next_rotation: None,
            }),
            in_progress: None,
            rollback_stopped: None,
            behind: vec![],
        }
    }

    fn behind(
        n: u8,
        stage: Stage,
        enabled: bool,
        demoted_days_ago: i64,
        retired_days_ago: Option<i64>,
    ) -> Behind {
        Behind {
            arn: arn(n),
            stage: Some(stage),
            enabled,
            pending_deletion: false,
            rolling_back_to: false,
            demoted_at: Some(NOW - demoted_days_ago * DAY),
            retired_at: retired_days_ago.map(|d| NOW - d * DAY),
        }
    }

    #[test]
    fn manual_keys_rotate_only_past_their_maximum_age() {
        assert_eq!(plan(&facts(Mode::Manual, 365), NOW), vec![]);
        let due = plan(&facts(Mode::Manual, 366), NOW);
        assert_eq!(
            due,
            vec![Due::Rotate(
                "the key is 366 days old and the policy allows 365".into()
            )]
        );
        let c = compliance(&facts(Mode::Manual, 366), NOW);
        assert!(c.overdue && !c.ok());
        assert!(compliance(&facts(Mode::Manual, 10), NOW).ok());
    }

    #[test]
    fn an_interrupted_rotation_is_finished_whatever_the_age() {
        let mut f = facts(Mode::Manual, 1);
        f.in_progress = Some("r1-abc".into());
        assert_eq!(
            plan(&f, NOW),
            vec![Due::Rotate("finish the interrupted rotation r1-abc".into())]
        );
        assert_eq!(
            compliance(&f, NOW).findings,
            vec!["rotation r1-abc is unfinished"]
        );
    }

    #[test]
    fn automatic_mode_repairs_drift_and_rotates_overdue_material_on_demand() {
        assert_eq!(plan(&facts(Mode::Automatic, 30), NOW), vec![]);
        let mut f = facts(Mode::Automatic, 400);
        f.auto = Some(RotationStatus::Disabled);
        assert_eq!(
            plan(&f, NOW),
            vec![
                Due::EnableRotation {
                    was: RotationStatus::Disabled
                },
                Due::RotateOnDemand(
                    "the key material is 400 days old and the policy allows 365".into()
                ),
            ]
        );
        f.age_base = NOW;
        let every_180 = RotationStatus::Enabled {
            period_days: Some(180),
            next_rotation: None,
        };
        f.auto = Some(every_180.clone());
        assert_eq!(plan(&f, NOW), vec![Due::EnableRotation { was: every_180 }]);
        let c = compliance(&f, NOW);
        assert!(!c.overdue);
        assert_eq!(
            c.findings,
            vec!["automatic rotation is enabled every 180 days; the policy says every 365 days"]
        );
    }

    #[test]
    fn previous_keys_retire_after_grace_and_are_deleted_after_the_delay() {
        let mut f = facts(Mode::Manual, 5);
        f.behind = vec![behind(1, Stage::Previous, true, 29, None)];
        assert_eq!(plan(&f, NOW), vec![], "still in grace");
        f.behind = vec![behind(1, Stage::Previous, true, 30, None)];
        assert_eq!(plan(&f, NOW), vec![Due::Retire(arn(1))]);
        f.behind = vec![behind(1, Stage::Retired, false, 40, Some(9))];
        assert_eq!(plan(&f, NOW), vec![], "deletion delay not over");
        f.behind = vec![
            behind(1, Stage::Retired, false, 40, Some(10)),
            Behind {
                pending_deletion: true,
                ..behind(2, Stage::Retired, false, 400, Some(390))
            },
        ];
        assert_eq!(plan(&f, NOW), vec![Due::ScheduleDeletion(arn(1))]);
        // A retired key someone enabled again is left alone: the guard or a person wanted it.
        f.behind = vec![behind(1, Stage::Retired, true, 40, Some(20))];
        assert_eq!(plan(&f, NOW), vec![]);
        // Unless the policy keeps old keys enabled until their deletion (HMAC keys).
        f.policy.keep_enabled = true;
        assert_eq!(plan(&f, NOW), vec![Due::ScheduleDeletion(arn(1))]);
        f.policy.keep_enabled = false;
        // A key a rollback is restoring is never retired or deleted under it.
        f.behind = vec![Behind {
            rolling_back_to: true,
            ..behind(1, Stage::Retired, false, 40, Some(20))
        }];
        assert_eq!(plan(&f, NOW), vec![]);
    }

    #[test]
    fn next_rotation_is_the_age_base_plus_the_maximum_age() {
        let f = facts(Mode::Manual, 65);
        assert_eq!((next_rotation(&f) - NOW) / DAY, 300);
    }
}
