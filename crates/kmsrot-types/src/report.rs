//! What the rotation engine reports: the status of a managed alias, the actions it takes or
//! plans, and the fleet sweep's report. The CLI prints these; the Lambda logs and returns them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AliasName, KeyArn, Policy, RotationStatus, Stage};

/// A grant's constraints, as `ListGrants` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    /// The grant allows only requests whose encryption context includes these pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<BTreeMap<String, String>>,
    /// The grant allows only requests whose encryption context is exactly these pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<BTreeMap<String, String>>,
    /// The grant allows only requests made for this AWS resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
}

/// One grant on a key, as `ListGrants` reports it: what a rotation copies to the new key, and
/// what holds the old key's retirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The grant's ID.
    pub grant_id: String,
    /// The grant's name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `GranteePrincipal`: an IAM principal's ARN, or (for grants AWS services make) a
    /// service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee_principal: Option<String>,
    /// `GranteeServicePrincipal`: the AWS service that gets the permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee_service_principal: Option<String>,
    /// `RetiringPrincipal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    /// `RetiringServicePrincipal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring_service_principal: Option<String>,
    /// The operations the grant allows, for example `Decrypt`.
    pub operations: Vec<String>,
    /// Its constraints, when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
    /// The account under which the grant was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_account: Option<String>,
}

impl Grant {
    /// Who gets the permissions: the grantee principal or the grantee service principal.
    pub fn grantee(&self) -> &str {
        self.grantee_service_principal
            .as_deref()
            .or(self.grantee_principal.as_deref())
            .unwrap_or("(unknown grantee)")
    }

    /// Whether the grantee is an AWS service. `ListGrants`: "if the grantee principal is an
    /// Amazon Web Services service, the GranteePrincipal field contains an Amazon Web Services
    /// service principal", a name like `rds.amazonaws.com`, never an ARN.
    pub fn is_service(&self) -> bool {
        self.grantee_service_principal.is_some()
            || self
                .grantee_principal
                .as_deref()
                .is_some_and(is_service_principal)
    }

    /// The grant in a few words: its ID, its grantee and its operations (no constraint
    /// values: encryption-context values stay out of messages).
    pub fn summary(&self) -> String {
        format!(
            "grant {} for {} ({})",
            self.grant_id,
            self.grantee(),
            self.operations.join(", ")
        )
    }
}

/// Whether a principal is an AWS service principal (`service.amazonaws.com`, or
/// `service.amazonaws.com.cn` in the China regions), not an ARN or an account.
pub fn is_service_principal(principal: &str) -> bool {
    !principal.starts_with("arn:")
        && (principal.ends_with(".amazonaws.com") || principal.ends_with(".amazonaws.com.cn"))
}

/// A grant a rotation created again on the new key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCopy {
    /// The grant on the old key.
    pub from_grant_id: String,
    /// Its copy on the new key.
    pub to_grant_id: String,
    /// The grantee of both.
    pub grantee: String,
}

/// The step of an old key's retirement that a hold stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldStep {
    /// Disabling the key after its grace period.
    Disable,
    /// Scheduling its deletion.
    ScheduleDeletion,
}

/// Why an old key's retirement is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum HoldReason {
    /// Grants still give principals the use of the key. Held until they are retired or
    /// revoked.
    Grants {
        /// The grants.
        grants: Vec<Grant>,
    },
    /// KMS reports a successful use within the quiet period.
    RecentUse {
        /// The operation, for example `Decrypt`.
        operation: String,
        /// When, RFC 3339.
        at: String,
        /// The CloudTrail event of that use.
        cloudtrail_event_id: Option<String>,
        /// The policy's quiet period.
        quiet_days: u32,
    },
    /// KMS reports a successful use since the key was disabled (someone enabled it again).
    UsedSinceDisabled {
        /// The operation.
        operation: String,
        /// When, RFC 3339.
        at: String,
        /// The CloudTrail event of that use.
        cloudtrail_event_id: Option<String>,
    },
    /// KMS cannot say whether the key is still used: it began tracking use too recently, or
    /// the caller may not ask.
    UsageUnknown {
        /// Why.
        why: String,
    },
    /// Other aliases name the key.
    Aliases {
        /// The aliases.
        aliases: Vec<AliasName>,
    },
    /// Someone tried to use the key while it was disabled or pending deletion; it was
    /// enabled again (`kmsrot:hold`). Held until released.
    FailedUse {
        /// The record of that use, from the key's `kmsrot:hold` tag.
        record: String,
    },
    /// What kmsrot's tags claim about the key does not hold together: they were changed by
    /// someone else, or written by a kmsrot too old to keep the record. kmsrot never disables
    /// or deletes such a key.
    Tampered {
        /// What does not hold.
        why: String,
    },
    /// A replica of the key (a multi-Region set retires as one) is held, for these reasons.
    Replica {
        /// The replica, in its Region.
        key: KeyArn,
        /// Why it is held.
        reasons: Vec<HoldReason>,
    },
}

impl HoldReason {
    /// Whether this reason (or a replica's) is that kmsrot's tags were tampered with.
    pub fn is_tampered(&self) -> bool {
        match self {
            Self::Tampered { .. } => true,
            Self::Replica { reasons, .. } => reasons.iter().any(Self::is_tampered),
            _ => false,
        }
    }

    /// The reason in words.
    pub fn describe(&self) -> String {
        match self {
            Self::Grants { grants } => format!(
                "{} grant(s) still use it: {}; retire or revoke them once their users have moved to the alias's current key",
                grants.len(),
                grants
                    .iter()
                    .map(Grant::summary)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Self::RecentUse {
                operation,
                at,
                cloudtrail_event_id,
                quiet_days,
            } => format!(
                "KMS reports a successful {operation} at {at} (CloudTrail event {}), within the {quiet_days}-day quiet period",
                cloudtrail_event_id.as_deref().unwrap_or("unknown")
            ),
            Self::UsedSinceDisabled {
                operation,
                at,
                cloudtrail_event_id,
            } => format!(
                "KMS reports a successful {operation} at {at} (CloudTrail event {}), after the key was disabled",
                cloudtrail_event_id.as_deref().unwrap_or("unknown")
            ),
            Self::UsageUnknown { why } => format!("its last use is unknown: {why}"),
            Self::Tampered { why } => format!("TAMPERED: kmsrot's tags on it do not hold: {why}"),
            Self::Replica { key, reasons } => format!(
                "its replica {key} in {} is held: {}",
                key.region(),
                reasons
                    .iter()
                    .map(Self::describe)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Self::Aliases { aliases } => format!(
                "other aliases name it: {}",
                aliases
                    .iter()
                    .map(AliasName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::FailedUse { record } => format!(
                "a use failed while it was disabled ({record}); it was enabled again. Release it with `kmsrot release` once the caller has moved"
            ),
        }
    }
}

/// An old key whose retirement is held, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// The key.
    pub key: KeyArn,
    /// The step held.
    pub step: HeldStep,
    /// Every reason found (at least one).
    pub reasons: Vec<HoldReason>,
}

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
    /// Its grants, when they were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Vec<Grant>>,
    /// Why its retirement is held until released (`kmsrot:hold`), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
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
    /// Every older key of the alias not yet deleted, newest first (`previous` is the first).
    #[serde(default)]
    pub history: Vec<KeyStatus>,
    /// Other aliases that name the current key (a rotation would leave them on the old key).
    #[serde(default)]
    pub other_aliases: Vec<AliasName>,
    /// Old keys whose retirement is held, and why.
    #[serde(default)]
    pub holds: Vec<Hold>,
    /// The other Regions of the current key's multi-Region set: its replica there, and the
    /// key an alias of this name names there. Empty for a key that is not a multi-Region
    /// primary with replicas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionAlias>,
    /// Statements of the current key's policy that authorize through the alias
    /// (`kms:ResourceAliases`, `kms:RequestAlias`): the principals they admit lose the old key
    /// when a rotation moves the alias. A manual rotation needs them accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alias_conditions: Vec<String>,
    /// When the alias names a replica of a multi-Region key: its primary's Region, from which
    /// the set is rotated and retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// What an operator should know that is not a policy breach (for example, grants for AWS
    /// services, which keep using a key by its ARN).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Keys tagged for this alias that it does not track (see [`Orphan`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphans: Vec<Orphan>,
    /// The rotation under way, when one was interrupted or is running.
    pub rotation_in_progress: Option<String>,
    /// On-demand rotations left for this key (automatic mode).
    pub on_demand_remaining: Option<u32>,
    /// Whether the alias meets its policy.
    pub compliance: Compliance,
}

/// A key tagged for a managed alias (`kmsrot:alias`) that the alias does not track: not the
/// key it names, not one of its previous keys, and not a rotation's new key. A lost answer, an
/// interrupted run or a race between two runs can leave one; so can someone's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphan {
    /// The alias its tags name.
    pub alias: AliasName,
    /// The key.
    pub key: KeyArn,
    /// Its key state.
    pub state: String,
    /// Its `kmsrot:stage` tag.
    pub stage: Option<String>,
    /// The key the alias names, when the alias exists.
    pub alias_names: Option<String>,
    /// What the sweep did about it, or would do in a dry run (absent outside a sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<OrphanCleanup>,
}

/// The sweep's clean-up of an orphan key: disabled first, and its deletion scheduled only at a
/// later sweep, once it has stayed unused while disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cleanup", rename_all = "snake_case")]
pub enum OrphanCleanup {
    /// Disabled (or found disabled, with no record of when): its quiet period starts now.
    Disabled,
    /// Its deletion is scheduled, after a waiting period of `window_days`.
    DeletionScheduled {
        /// The waiting period, in days.
        window_days: u32,
    },
    /// Left as it is, and why.
    Kept {
        /// Why.
        why: String,
    },
}

/// One Region of a multi-Region key set, as `status` reads it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionAlias {
    /// The Region.
    pub region: String,
    /// The replica of the alias's current key in that Region.
    pub replica: KeyArn,
    /// The key an alias of the same name names there; `None` when there is no such alias.
    pub alias_names: Option<KeyArn>,
}

impl RegionAlias {
    /// Whether the Region's alias names a key other than the replica: applications there use
    /// another key than the alias's current one.
    pub fn diverges(&self) -> bool {
        self.alias_names
            .as_ref()
            .is_some_and(|k| *k != self.replica)
    }
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
        /// The old key's grants created again on the new key.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        grants_copied: Vec<GrantCopy>,
        /// Other aliases moved with this one.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        moved_with: Vec<AliasName>,
        /// What the new key's policy changes from the current key's, and what it leaves that
        /// still names the old key.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        policy_notes: Vec<String>,
        /// In a dry run: the line diff from the current key's policy to the new key's (`- `,
        /// `+ ` and `  ` lines).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        policy_diff: Vec<String>,
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
    /// A step of an old key's retirement that was due and is held.
    Hold(Hold),
    /// An unfinished manual rotation given up; the current key stays current.
    Abort {
        /// The rotation given up.
        rotation_id: String,
        /// Its new key, now scheduled for deletion, when one had been created.
        abandoned: Option<KeyArn>,
    },
    /// A key carries `kmsrot:break-glass`: what was due for it (or, for the current key, for
    /// the alias) was left undone.
    BreakGlass {
        /// The key.
        key: KeyArn,
        /// The tag's value: who and why.
        record: String,
    },
    /// The alias moved back to its previous key.
    Rollback {
        /// The key the alias names again.
        to: KeyArn,
        /// The key it left.
        from: KeyArn,
        /// The rollback had been done already: nothing was changed now.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        already_done: bool,
    },
}

impl Action {
    /// A manual rotation that copied no grant and moved no other alias.
    pub fn rotate(reason: impl Into<String>, new_key: Option<KeyArn>) -> Self {
        Self::Rotate {
            reason: reason.into(),
            new_key,
            grants_copied: Vec::new(),
            moved_with: Vec::new(),
            policy_notes: Vec::new(),
            policy_diff: Vec::new(),
        }
    }
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
    /// The key no longer exists (KMS deleted it): nothing to guard.
    Gone {
        /// The key, as the event named it.
        key_id: String,
    },
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
    /// The key carries `kmsrot:break-glass`: a responder took it over, and the guard leaves
    /// it as it is, whatever the alias needs.
    BreakGlass {
        /// The key.
        key: KeyArn,
        /// The alias it serves.
        alias: AliasName,
        /// The tag's value: who and why.
        record: String,
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

/// What a failed use of an old key (the canary: a KMS call refused because the key was
/// disabled or pending deletion) led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum CanaryVerdict {
    /// The key carries no kmsrot tags: not kmsrot's to touch.
    Unmanaged {
        /// The key.
        key: String,
    },
    /// The key is already deleted: nothing to hold.
    Gone {
        /// The key.
        key: String,
    },
    /// The key is not an old key on its way out (a key an alias needs is the deletion guard's
    /// business); nothing was changed.
    NotRetiring {
        /// The key.
        key: KeyArn,
        /// The alias it serves.
        alias: AliasName,
        /// Its stage.
        stage: Option<Stage>,
        /// Its state.
        key_state: String,
    },
    /// The key was already enabled and held: nothing more to do.
    AlreadyHeld {
        /// The key.
        key: KeyArn,
        /// The alias it served.
        alias: AliasName,
        /// The hold on it.
        hold: String,
    },
    /// The key was enabled again (its deletion cancelled first when it was scheduled), and
    /// its retirement is held until released.
    Held {
        /// The key.
        key: KeyArn,
        /// The alias it served.
        alias: AliasName,
        /// What was undone, in order.
        undone: Vec<Undone>,
        /// The hold recorded on the key (`kmsrot:hold`).
        hold: String,
        /// The operation that failed, for example `Decrypt`.
        operation: String,
        /// Who called it.
        by: Option<String>,
        /// The CloudTrail event of the failed call.
        cloudtrail_event_id: Option<String>,
    },
}

/// `kmsrot release`: a hold removed from an old key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The alias the key served.
    pub alias: AliasName,
    /// The key.
    pub key: KeyArn,
    /// The hold removed; `None` when the key had none.
    pub released: Option<String>,
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
    /// Aliases the run did not reach (out of time): the next run starts elsewhere.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_reached: usize,
    /// Orphan keys in the region (see [`Orphan`]) and what the run did about each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphans: Vec<Orphan>,
    /// The requests the run sent to KMS (and to the tagging API), each one slot of the
    /// engine's rate.
    #[serde(default)]
    pub kms_calls: u64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
            not_reached: 0,
            kms_calls: 0,
            orphans: vec![],
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
