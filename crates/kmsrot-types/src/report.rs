//! What the rotation engine reports: the status of a managed alias, the actions it takes or
//! plans, and the fleet sweep's report. The CLI prints these; the Lambda logs and returns them.

use serde::{Deserialize, Serialize};

use crate::{AliasName, KeyArn, Policy, RotationStatus, Stage};

/// One key of a managed alias, as its tags and KMS describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatus {
    /// The key.
    pub key_arn: KeyArn,
    /// For example `SYMMETRIC_DEFAULT`.
    pub key_spec: String,
    /// For example `ENCRYPT_DECRYPT`.
    pub key_usage: String,
    /// KMS's key state, for example `Enabled` or `PendingDeletion`.
    pub key_state: String,
    /// The kmsrot stage from the key's tags, when it has one.
    pub stage: Option<Stage>,
    /// When the key was created, RFC 3339.
    pub created_at: Option<String>,
    /// When the key became current, RFC 3339.
    pub promoted_at: Option<String>,
    /// When the key stopped being current, RFC 3339.
    pub demoted_at: Option<String>,
    /// When the key was disabled after its grace period, RFC 3339.
    pub retired_at: Option<String>,
    /// When KMS will delete the key, for a key pending deletion.
    pub deletion_date: Option<String>,
}

/// Whether an alias meets its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compliance {
    /// Days since the key (in automatic mode: its key material) was last rotated.
    pub age_days: u64,
    /// The policy's maximum age.
    pub max_age_days: u32,
    /// Whether the key is older than the policy allows.
    pub overdue: bool,
    /// Everything else that is wrong, in words (empty when compliant).
    pub findings: Vec<String>,
}

impl Compliance {
    /// Compliant: not overdue and nothing found.
    pub fn ok(&self) -> bool {
        !self.overdue && self.findings.is_empty()
    }
}

/// A managed alias: its policy, its keys, and whether it complies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasStatus {
    /// The alias.
    pub alias: AliasName,
    /// Its rotation policy, from the current key's tags.
    pub policy: Policy,
    /// The key the alias names.
    pub current: KeyStatus,
    /// KMS's automatic rotation of the current key.
    pub rotation: RotationStatus,
    /// When the key (or its material) is next due for rotation, RFC 3339.
    pub next_rotation: String,
    /// The key the current one replaced, while kmsrot still tracks it.
    pub previous: Option<KeyStatus>,
    /// The rotation under way, when one was interrupted or is running.
    pub rotation_in_progress: Option<String>,
    /// On-demand rotations left for this key (automatic mode).
    pub on_demand_remaining: Option<u32>,
    /// Whether the alias meets its policy.
    pub compliance: Compliance,
}

/// One thing the engine did, or would do in a dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// A manual rotation: a new key, tested, and the alias moved to it.
    Rotate {
        /// Why.
        reason: String,
        /// The new key (absent in a dry run).
        new_key: Option<KeyArn>,
    },
    /// An on-demand rotation of the key material (automatic mode).
    RotateOnDemand {
        /// Why.
        reason: String,
        /// In a dry run: the on-demand rotations KMS allows still, counted from
        /// ListKeyRotations against the documented cap.
        remaining: Option<u32>,
    },
    /// Automatic rotation switched on, or its period corrected.
    EnableRotation {
        /// The period set.
        period_days: u32,
        /// What KMS had.
        was: RotationStatus,
    },
    /// A previous key disabled after its grace period.
    Retire {
        /// The key.
        key: KeyArn,
    },
    /// A retired key scheduled for deletion.
    ScheduleDeletion {
        /// The key.
        key: KeyArn,
        /// The deletion window.
        window_days: u32,
    },
    /// An unfinished manual rotation given up; the current key stays current.
    Abort {
        /// The rotation given up.
        rotation_id: String,
        /// Its new key, now scheduled for deletion, when one had been created.
        abandoned: Option<KeyArn>,
    },
    /// The alias moved back to its previous key.
    Rollback {
        /// The key the alias names again.
        to: KeyArn,
        /// The key it left.
        from: KeyArn,
    },
}

/// What happened to a key that the deletion guard heard about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyChange {
    /// `ScheduleKeyDeletion`.
    ScheduledDeletion,
    /// `DisableKey`.
    Disabled,
}

/// One change the deletion guard (or a rollback) undid on a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Undone {
    /// `CancelKeyDeletion`.
    DeletionCancelled,
    /// `EnableKey`.
    Enabled,
}

/// The deletion guard's verdict on one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum GuardVerdict {
    /// The key carries no kmsrot tags: not kmsrot's to touch.
    Unmanaged {
        /// The key.
        key: KeyArn,
    },
    /// The key is managed, but its alias no longer needs it.
    NotNeeded {
        /// The key.
        key: KeyArn,
        /// The alias it served.
        alias: AliasName,
        /// Why it is not needed.
        reason: String,
    },
    /// The alias needs the key, and it is enabled and not scheduled for deletion (already
    /// restored, or the change never happened).
    Intact {
        /// The key.
        key: KeyArn,
        /// The alias that needs it.
        alias: AliasName,
    },
    /// Observe mode: the alias needs the key, and the change was left in place.
    Alert {
        /// The key.
        key: KeyArn,
        /// The alias that needs it.
        alias: AliasName,
        /// Why the alias needs it.
        needed_as: String,
        /// The key's state.
        key_state: String,
    },
    /// Enforce mode: the change was undone.
    Restored {
        /// The key.
        key: KeyArn,
        /// The alias that needs it.
        alias: AliasName,
        /// Why the alias needs it.
        needed_as: String,
        /// What was undone, in order.
        undone: Vec<Undone>,
    },
}

/// What happened to one alias in a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasOutcome {
    /// The alias.
    pub alias: AliasName,
    /// What was done (or, in a dry run, what would be).
    pub actions: Vec<Action>,
    /// Why something due was left undone (for example, another alias still names a key).
    pub reason: Option<String>,
    /// The alias's compliance after the sweep (before it, in a dry run).
    pub compliance: Option<Compliance>,
    /// The error that stopped this alias, when one did.
    pub error: Option<String>,
}

/// The fleet sweep's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
    /// One entry per managed alias, sorted by alias.
    pub aliases: Vec<AliasOutcome>,
}

impl SweepReport {
    /// Aliases whose processing failed.
    pub fn failed(&self) -> usize {
        self.aliases.iter().filter(|a| a.error.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    #[test]
    fn reports_round_trip_through_json() {
        let key: KeyArn =
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .parse()
                .unwrap();
        let report = SweepReport {
            dry_run: false,
            aliases: vec![AliasOutcome {
                alias: "alias/app".parse().unwrap(),
                actions: vec![
                    Action::Retire { key: key.clone() },
                    Action::ScheduleDeletion {
                        key,
                        window_days: 30,
                    },
                ],
                reason: None,
                compliance: Some(Compliance {
                    age_days: 3,
                    max_age_days: Policy::new(Mode::Manual).max_age_days,
                    overdue: false,
                    findings: vec![],
                }),
                error: None,
            }],
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["aliases"][0]["actions"][1]["action"],
            "schedule_deletion"
        );
        assert_eq!(serde_json::from_value::<SweepReport>(json).unwrap(), report);
        assert_eq!(report.failed(), 0);
    }
}
