//! What the rotation Lambda (and `kmsrot event`) did with one event or request, and the
//! notifications it sends. The Lambda returns an [`Outcome`] as its response and logs it; the
//! CLI prints it.

use serde::{Deserialize, Serialize};

use crate::{
    Action, AliasName, AliasStatus, CanaryVerdict, GuardVerdict, Hold, KeyArn, Release, SweepReport,
};

/// A managed alias checked after its key's material rotated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasCheck {
    /// The alias.
    pub alias: AliasName,
    /// The key it names now; none when the alias no longer exists.
    pub key: Option<KeyArn>,
    /// That key's state.
    pub key_state: Option<String>,
    /// Whether the alias names an enabled key.
    pub ok: bool,
}

/// The record of a key KMS deleted, on the managed key that followed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// The deleted key's ID.
    pub key_id: String,
    /// The alias it served.
    pub alias: AliasName,
    /// The key that replaced it, which carries the record.
    pub successor: KeyArn,
    /// The record was already there: this event was delivered before, and had no effect.
    pub duplicate: bool,
}

/// The record of a managed key whose imported key material expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// The key.
    pub key: KeyArn,
    /// The alias it serves.
    pub alias: AliasName,
    /// Every alias that names the key now (they cannot use it until material is imported).
    pub named_by: Vec<AliasName>,
    /// The record was already there: this event was delivered before, and had no effect.
    pub duplicate: bool,
}

/// A managed alias changed by someone other than kmsrot, leaving it other than kmsrot's tags
/// say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// The alias.
    pub alias: AliasName,
    /// The API call, `UpdateAlias` or `DeleteAlias`.
    pub event_name: String,
    /// Who made it (the principal's ARN), when CloudTrail says.
    pub by: Option<String>,
    /// The key the alias names now; none when it no longer exists.
    pub names: Option<KeyArn>,
    /// What is wrong, in words.
    pub what: String,
}

/// `kmsrot:*` tags of a key changed by a principal other than the function (TagResource or
/// UntagResource, from CloudTrail). kmsrot reports it and does not undo it: the change may be
/// a person's repair, or tampering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    /// The key.
    pub key: KeyArn,
    /// The alias the key's tags name now, if any.
    pub alias: Option<AliasName>,
    /// The API call, `TagResource` or `UntagResource`.
    pub event_name: String,
    /// Who made it (the principal's ARN), when CloudTrail says.
    pub by: Option<String>,
    /// The `kmsrot:*` tags it set (with their new values) or removed.
    pub changed: Vec<TagEdit>,
}

/// One tag set or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEdit {
    /// The tag's name.
    pub tag: String,
    /// Its new value; none when the tag was removed.
    pub value: Option<String>,
}

/// What one event or request came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A key's material rotated; its managed aliases were checked.
    MaterialRotated {
        /// The key.
        key: KeyArn,
        /// `AUTOMATIC` or `ON_DEMAND`, when the event says.
        rotation_type: Option<String>,
        /// Its managed aliases.
        aliases: Vec<AliasCheck>,
    },
    /// The fleet, or one alias, was swept.
    Swept {
        /// The sweep's report.
        report: SweepReport,
    },
    /// A deleted key was recorded.
    KeyDeleted(Deletion),
    /// Expired key material was recorded.
    MaterialExpired(Expiry),
    /// The deletion guard judged a key after a CloudTrail `ScheduleKeyDeletion` or
    /// `DisableKey`.
    Guarded {
        /// The API call.
        event_name: String,
        /// The verdict, with what was undone.
        verdict: GuardVerdict,
    },
    /// A use of an old key failed because it was disabled or pending deletion (CloudTrail's
    /// record, with its error code).
    Canary {
        /// The API call that failed.
        event_name: String,
        /// KMS's error code.
        error_code: String,
        /// What was done.
        verdict: CanaryVerdict,
    },
    /// A hold was released (a direct request).
    Released(Release),
    /// A managed alias drifted.
    Drifted(Drift),
    /// `kmsrot:*` tags of a managed key were changed by another principal.
    TagsChanged(TagChange),
    /// A managed alias was changed and still names the key kmsrot expects.
    Consistent {
        /// The alias.
        alias: AliasName,
        /// The key it names.
        key: KeyArn,
    },
    /// Nothing for kmsrot to do.
    Ignored {
        /// Why.
        reason: String,
    },
    /// A requested rotation.
    Rotated {
        /// The alias.
        alias: AliasName,
        /// Whether this was a dry run.
        dry_run: bool,
        /// What was done (or, in a dry run, would be).
        actions: Vec<Action>,
    },
    /// A requested rollback.
    RolledBack {
        /// The alias.
        alias: AliasName,
        /// What was done.
        action: Action,
    },
    /// Requested status.
    Status {
        /// One entry per managed alias asked about.
        aliases: Vec<AliasStatus>,
    },
}

/// One SNS notification: what happened, in the region it happened. It names aliases, keys and
/// actions only; it never carries plaintext, data keys or ciphertexts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The region.
    pub region: String,
    /// What happened.
    #[serde(flatten)]
    pub notice: Notice,
}

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// An alias was rotated (manually to a new key, or its material on demand).
    RotationDone {
        /// The alias.
        alias: AliasName,
        /// What was done.
        actions: Vec<Action>,
    },
    /// A rotation failed; the alias still names a working key.
    RotationFailed {
        /// The alias.
        alias: AliasName,
        /// The error.
        error: String,
    },
    /// A requested rollback failed.
    RollbackFailed {
        /// The alias.
        alias: AliasName,
        /// The error.
        error: String,
    },
    /// kmsrot left a key (and, for a current key, its alias) alone because it carries
    /// `kmsrot:break-glass`.
    BreakGlass {
        /// The alias.
        alias: AliasName,
        /// The key.
        key: KeyArn,
        /// The tag's value: who and why.
        record: String,
        /// What was left undone.
        skipped: String,
    },
    /// A retirement step that was due is held.
    RetirementHeld {
        /// The alias.
        alias: AliasName,
        /// The key, the step and why.
        hold: Hold,
    },
    /// The sweep disabled an old key or scheduled its deletion, after checking what it lists.
    KeyRetired {
        /// The alias.
        alias: AliasName,
        /// What was done: an `Action::Retire` or `Action::ScheduleDeletion`.
        action: Action,
        /// What was checked first.
        checked: String,
    },
    /// An old key was used while disabled or pending deletion; it was enabled again and held.
    CanaryHold {
        /// The verdict, with the caller, the operation and the CloudTrail event.
        verdict: CanaryVerdict,
    },
    /// The deletion guard could not judge or restore a key; it may be left disabled or
    /// scheduled for deletion.
    GuardFailed {
        /// The key, as the event named it.
        key: String,
        /// The error.
        error: String,
    },
    /// KMS rotated a key's material; its aliases were checked.
    MaterialRotated {
        /// The key.
        key: KeyArn,
        /// The checks.
        aliases: Vec<AliasCheck>,
    },
    /// An alias was rolled back.
    Rollback {
        /// The alias.
        alias: AliasName,
        /// What was done.
        action: Action,
    },
    /// The deletion guard undid a change, or (observe mode) alerts on one.
    GuardAction {
        /// The verdict.
        verdict: GuardVerdict,
    },
    /// A managed alias drifted.
    Drift(Drift),
    /// Someone other than the function changed `kmsrot:*` tags of a managed key.
    TagsChanged(TagChange),
    /// The sweep disabled an orphan key, or scheduled its deletion.
    OrphanCleaned {
        /// The orphan, with what was done.
        orphan: crate::Orphan,
    },
    /// KMS deleted a key that a managed alias used before.
    KeyDeleted(Deletion),
    /// A managed key's imported material expired.
    MaterialExpired(Expiry),
}

impl Notification {
    /// The SNS subject: printable ASCII, under 100 characters, naming the alias.
    pub fn subject(&self) -> String {
        let region = &self.region;
        let text = match &self.notice {
            Notice::RotationDone { alias, .. } => format!("kmsrot: rotated {alias} in {region}"),
            Notice::RotationFailed { alias, .. } => {
                format!("kmsrot: rotation FAILED for {alias} in {region}")
            }
            Notice::MaterialRotated { aliases, key, .. } => match aliases.iter().find(|a| !a.ok) {
                Some(bad) => format!(
                    "kmsrot: {} names a key that is not enabled ({region})",
                    bad.alias
                ),
                None => format!(
                    "kmsrot: key material rotated for key {} in {region}",
                    key.key_id()
                ),
            },
            Notice::Rollback { alias, .. } => format!("kmsrot: rolled back {alias} in {region}"),
            Notice::RollbackFailed { alias, .. } => {
                format!("kmsrot: rollback FAILED for {alias} in {region}")
            }
            Notice::GuardFailed { .. } => {
                format!("kmsrot: deletion guard FAILED in {region}; check the key")
            }
            Notice::GuardAction { verdict } => match verdict {
                GuardVerdict::Restored { alias, .. } => {
                    format!("kmsrot: guard restored a key of {alias} in {region}")
                }
                GuardVerdict::Alert { alias, .. } => {
                    format!("kmsrot: ALERT a key {alias} needs is not enabled ({region})")
                }
                _ => format!("kmsrot: guard report in {region}"),
            },
            Notice::Drift(drift) => format!("kmsrot: drift on {} in {region}", drift.alias),
            Notice::OrphanCleaned { orphan } => match orphan.cleanup {
                Some(crate::OrphanCleanup::DeletionScheduled { .. }) => format!(
                    "kmsrot: deletion scheduled for an orphan key of {} ({region})",
                    orphan.alias
                ),
                _ => format!(
                    "kmsrot: disabled an orphan key of {} ({region})",
                    orphan.alias
                ),
            },
            Notice::TagsChanged(change) => match &change.alias {
                Some(alias) => {
                    format!("kmsrot: ALERT kmsrot tags of a key of {alias} changed ({region})")
                }
                None => format!(
                    "kmsrot: ALERT kmsrot tags of key {} changed ({region})",
                    change.key.key_id()
                ),
            },
            Notice::BreakGlass { alias, .. } => {
                format!("kmsrot: break-glass key of {alias} left alone ({region})")
            }
            Notice::RetirementHeld { alias, .. } => {
                format!("kmsrot: retirement of an old key of {alias} is held ({region})")
            }
            Notice::KeyRetired { alias, action, .. } => match action {
                Action::ScheduleDeletion { .. } => {
                    format!("kmsrot: deletion scheduled for an old key of {alias} ({region})")
                }
                _ => format!("kmsrot: disabled an old key of {alias} ({region})"),
            },
            Notice::CanaryHold { verdict } => match verdict {
                CanaryVerdict::Held { alias, .. } => format!(
                    "kmsrot: ALERT an old key of {alias} was used while disabled; re-enabled ({region})"
                ),
                _ => format!("kmsrot: canary report in {region}"),
            },
            Notice::KeyDeleted(d) => {
                format!("kmsrot: a former key of {} was deleted ({region})", d.alias)
            }
            Notice::MaterialExpired(e) => {
                format!("kmsrot: key material of {} expired ({region})", e.alias)
            }
        };
        subject_line(&text)
    }
}

/// SNS subjects must be "less than 100 characters long", with no line breaks or control
/// characters (printable ASCII is the safe subset).
const MAX_SUBJECT: usize = 99;

/// A valid SNS subject from any text.
fn subject_line(text: &str) -> String {
    let mut line: String = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if line.len() > MAX_SUBJECT {
        line.truncate(MAX_SUBJECT - 3);
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_ascii_and_under_100_characters() {
        let long = format!("alias/{}", "x".repeat(250)).parse().unwrap();
        let n = Notification {
            region: "eu-west-1".into(),
            notice: Notice::RotationFailed {
                alias: long,
                error: "boom".into(),
            },
        };
        let subject = n.subject();
        assert_eq!(subject.len(), 99);
        assert!(subject.starts_with("kmsrot: rotation FAILED for alias/xxx"));
        assert!(subject.ends_with("..."));
        assert_eq!(subject_line("caf\u{e9}\nok"), "caf??ok");
    }

    #[test]
    fn a_notification_is_flat_json_with_its_kind() {
        let n = Notification {
            region: "eu-west-1".into(),
            notice: Notice::RotationFailed {
                alias: "alias/app".parse().unwrap(),
                error: "boom".into(),
            },
        };
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"region": "eu-west-1", "kind": "rotation_failed", "alias": "alias/app", "error": "boom"})
        );
        assert_eq!(serde_json::from_value::<Notification>(json).unwrap(), n);
    }
}
