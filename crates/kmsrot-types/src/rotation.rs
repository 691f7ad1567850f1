//! The rotation model's vocabulary: modes, stages, the rotation policy, and the names of the
//! tags that hold all of it on the keys themselves (KMS is kmsrot's only store of state).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The names of kmsrot's tags. Every key kmsrot manages carries them; nothing else stores
/// rotation state.
pub mod tags {
    /// Prefix of every kmsrot tag; tags without it are the user's and are copied to new keys.
    pub const PREFIX: &str = "kmsrot:";
    /// The alias the key serves.
    pub const ALIAS: &str = "kmsrot:alias";
    /// The key's [`Stage`](super::Stage).
    pub const STAGE: &str = "kmsrot:stage";
    /// The rotation that created the key (an idempotency token).
    pub const ROTATION_ID: &str = "kmsrot:rotation-id";
    /// On the current key while a rotation runs: that rotation's ID.
    pub const ROTATING: &str = "kmsrot:rotating";
    /// On the current key while a rotation runs, once its new key exists: that key's ID.
    pub const PENDING_KEY: &str = "kmsrot:pending-key";
    /// On the current key while a rotation runs: when it started (RFC 3339, the real time).
    /// Its new key must have been created after it, as KMS's `CreationDate` says.
    pub const ROTATING_SINCE: &str = "kmsrot:rotating-since";
    /// On a key a rotation or rollback replaced: the ID of the key that replaced it. kmsrot
    /// disables or deletes an old key only when the key that names it as previous is this
    /// one.
    pub const REPLACED_BY: &str = "kmsrot:replaced-by";
    /// On the key a rollback is restoring, until it is current: the key the alias leaves.
    pub const ROLLBACK_FROM: &str = "kmsrot:rollback-from";
    /// On a key a rollback made current again: the key it replaced (kept, so that a retried
    /// `rollback --from` can tell it is done).
    pub const ROLLED_BACK_FROM: &str = "kmsrot:rolled-back-from";
    /// The key this one replaced (its key ID), which the rotation lifecycle walks.
    pub const PREVIOUS_KEY: &str = "kmsrot:previous-key";
    /// On a key whose previous key KMS has deleted: that key's ID. It replaces
    /// `kmsrot:previous-key`, and records the deletion once however often the event comes.
    pub const DELETED_PREVIOUS_KEY: &str = "kmsrot:deleted-previous-key";
    /// On a signing key: the SHA-256 of its public key (the DER `SubjectPublicKeyInfo` that
    /// `GetPublicKey` returns), in lowercase hex. Written while the key is enabled (at `init`,
    /// `adopt`, the self-test of a new key, and before the sweep disables it), so that
    /// `kmsrot verify` can check old signatures offline once KMS refuses the key.
    pub const PUBLIC_KEY_SHA256: &str = "kmsrot:public-key-sha256";
    /// On a signing key that replaced another: `KEY_ID:SHA256`, the key ID of the key it
    /// replaced and that key's [`PUBLIC_KEY_SHA256`]. It outlives the old key, whose own tags
    /// KMS deletes with it; the key ID makes a stale record name a key it does not describe.
    pub const PREVIOUS_PUBLIC_KEY_SHA256: &str = "kmsrot:previous-public-key-sha256";
    /// On a key whose imported key material expired: the event's time (RFC 3339), after the
    /// material's ID and `@` when the event names it. The record that makes the event's
    /// handling happen once.
    pub const MATERIAL_EXPIRED: &str = "kmsrot:material-expired";
    /// When the key was created (or adopted), RFC 3339.
    pub const CREATED_AT: &str = "kmsrot:created-at";
    /// When the key became the alias's current key.
    pub const PROMOTED_AT: &str = "kmsrot:promoted-at";
    /// When the key stopped being current and its grace period began.
    pub const DEMOTED_AT: &str = "kmsrot:demoted-at";
    /// When the key was disabled after its grace period.
    pub const RETIRED_AT: &str = "kmsrot:retired-at";
    /// Policy: [`Mode`](super::Mode).
    pub const MODE: &str = "kmsrot:mode";
    /// Policy: maximum key age in days.
    pub const MAX_AGE_DAYS: &str = "kmsrot:max-age-days";
    /// Policy: automatic rotation period in days.
    pub const PERIOD_DAYS: &str = "kmsrot:period-days";
    /// Policy: days a previous key stays enabled.
    pub const GRACE_DAYS: &str = "kmsrot:grace-days";
    /// Policy: days between disabling a previous key and scheduling its deletion.
    pub const DELETE_AFTER_DAYS: &str = "kmsrot:delete-after-days";
    /// Policy: the deletion window passed to `ScheduleKeyDeletion`.
    pub const DELETION_WINDOW_DAYS: &str = "kmsrot:deletion-window-days";
    /// Policy: days without a successful use (KMS's `GetKeyLastUsage`) before an old key may
    /// be disabled. Optional: keys adopted before it existed read the default.
    pub const QUIET_DAYS: &str = "kmsrot:quiet-days";
    /// Policy: `true` to leave old keys enabled until their deletion is scheduled (for HMAC
    /// keys, whose MACs only KMS can verify). Optional: absent means `false`.
    pub const KEEP_ENABLED: &str = "kmsrot:keep-enabled";
    /// On an old key: why its retirement is held (a failed use of it while it was disabled,
    /// recorded by the Lambda or `kmsrot event`). Only an explicit release removes it:
    /// `kmsrot release`, or deleting this tag.
    pub const HOLD: &str = "kmsrot:hold";
    /// Break glass: a responder's hands-off mark on a key (its value says who and why). The
    /// guard, the sweep, rotation and rollback leave the key, and an alias whose current key
    /// it is, alone, and say so. Only deleting the tag ends it.
    pub const BREAK_GLASS: &str = "kmsrot:break-glass";
}

/// How an alias's key is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// KMS rotates the key material itself (`EnableKeyRotation`); symmetric keys of origin
    /// `AWS_KMS` only. The key ID never changes.
    Automatic,
    /// kmsrot creates a new key and moves the alias to it, in idempotent steps.
    Manual,
}

/// What the deletion guard does about a key a managed alias still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardMode {
    /// Undo the change (cancel the deletion, enable the key). The default: deleting a key an
    /// alias still names breaks the applications behind that alias.
    Enforce,
    /// Only report.
    Observe,
}

/// Where a managed key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Created by a rotation, not yet named by the alias.
    Pending,
    /// Named by the alias.
    Current,
    /// Replaced, still enabled for old data during its grace period.
    Previous,
    /// Disabled after its grace period; deleted after a further delay.
    Retired,
}

macro_rules! keyword_enum {
    ($ty:ident, $what:literal, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $ty {
            /// The name used in tags, flags and JSON.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = PolicyError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(PolicyError::Keyword {
                        what: $what,
                        value: s.to_owned(),
                        expected: concat!($($text, " "),+).trim_end(),
                    }),
                }
            }
        }
    };
}

keyword_enum!(Mode, "mode", Automatic => "automatic", Manual => "manual");
keyword_enum!(GuardMode, "guard mode", Enforce => "enforce", Observe => "observe");
keyword_enum!(
    Stage, "stage",
    Pending => "pending", Current => "current", Previous => "previous", Retired => "retired",
);

/// An inclusive bound on one policy field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The flag and tag name, without prefix (for example `period-days`).
    pub name: &'static str,
    /// The smallest allowed value.
    pub min: u32,
    /// The largest allowed value.
    pub max: u32,
}

impl Policy {
    /// KMS's automatic rotation period: "between 90 and 2560 days".
    pub const PERIOD_DAYS: Bound = Bound {
        name: "period-days",
        min: 90,
        max: 2560,
    };
    /// `ScheduleKeyDeletion`'s `PendingWindowInDays`: 7 to 30.
    pub const DELETION_WINDOW_DAYS: Bound = Bound {
        name: "deletion-window-days",
        min: 7,
        max: 30,
    };
    /// Maximum key age: at least a day, at most ten years.
    pub const MAX_AGE_DAYS: Bound = Bound {
        name: "max-age-days",
        min: 1,
        max: 3650,
    };
    /// Grace period of a previous key: up to a year (0 disables it at the next sweep).
    pub const GRACE_DAYS: Bound = Bound {
        name: "grace-days",
        min: 0,
        max: 365,
    };
    /// Delay between disabling and scheduling deletion: up to a year.
    pub const DELETE_AFTER_DAYS: Bound = Bound {
        name: "delete-after-days",
        min: 0,
        max: 365,
    };
    /// Days without a successful use before an old key is disabled: at least a day (the check
    /// cannot be switched off), at most a year.
    pub const QUIET_DAYS: Bound = Bound {
        name: "quiet-days",
        min: 1,
        max: 365,
    };
    /// The quiet period of keys whose tags predate it, and the default: 30 days, so that a
    /// monthly job still using the old key holds its retirement.
    pub const DEFAULT_QUIET_DAYS: u32 = 30;
}

/// How an alias is rotated, stored in tags on its current key and copied to every new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Automatic (KMS rotates the material) or manual (kmsrot moves the alias).
    pub mode: Mode,
    /// A key older than this is rotated by the sweep (in automatic mode: its key material,
    /// on demand).
    pub max_age_days: u32,
    /// The automatic rotation period given to `EnableKeyRotation` (automatic mode).
    pub period_days: u32,
    /// Days a previous key stays enabled after a manual rotation, for data not yet
    /// re-encrypted.
    pub grace_days: u32,
    /// Days between disabling a previous key and scheduling its deletion.
    pub delete_after_days: u32,
    /// The deletion window of `ScheduleKeyDeletion`: days before KMS deletes the key.
    pub deletion_window_days: u32,
    /// An old key is disabled only when KMS reports no successful use of it for this many
    /// days (`GetKeyLastUsage`).
    #[serde(default = "default_quiet_days")]
    pub quiet_days: u32,
    /// Leave old keys enabled until their deletion is scheduled: for HMAC keys, whose MACs
    /// only KMS can verify (`VerifyMac` refuses a disabled key).
    #[serde(default)]
    pub keep_enabled: bool,
}

fn default_quiet_days() -> u32 {
    Policy::DEFAULT_QUIET_DAYS
}

impl Policy {
    /// The defaults for a mode: a year's rotation, 30 days of grace, 30 more before deletion
    /// is scheduled, and the longest deletion window.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            max_age_days: 365,
            period_days: 365,
            grace_days: 30,
            delete_after_days: 30,
            deletion_window_days: 30,
            quiet_days: Self::DEFAULT_QUIET_DAYS,
            keep_enabled: false,
        }
    }

    /// Checks every bound; the error names the field, its value and the bound.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (bound, value) in [
            (Self::MAX_AGE_DAYS, self.max_age_days),
            (Self::PERIOD_DAYS, self.period_days),
            (Self::GRACE_DAYS, self.grace_days),
            (Self::DELETE_AFTER_DAYS, self.delete_after_days),
            (Self::DELETION_WINDOW_DAYS, self.deletion_window_days),
            (Self::QUIET_DAYS, self.quiet_days),
        ] {
            if !(bound.min..=bound.max).contains(&value) {
                return Err(PolicyError::OutOfBounds {
                    name: bound.name,
                    value,
                    min: bound.min,
                    max: bound.max,
                });
            }
        }
        if self.mode == Mode::Automatic && self.max_age_days < self.period_days {
            return Err(PolicyError::AgeBelowPeriod {
                max_age_days: self.max_age_days,
                period_days: self.period_days,
            });
        }
        Ok(())
    }

    /// The policy as tags (name, value).
    pub fn to_tags(&self) -> Vec<(&'static str, String)> {
        vec![
            (tags::MODE, self.mode.to_string()),
            (tags::MAX_AGE_DAYS, self.max_age_days.to_string()),
            (tags::PERIOD_DAYS, self.period_days.to_string()),
            (tags::GRACE_DAYS, self.grace_days.to_string()),
            (tags::DELETE_AFTER_DAYS, self.delete_after_days.to_string()),
            (
                tags::DELETION_WINDOW_DAYS,
                self.deletion_window_days.to_string(),
            ),
            (tags::QUIET_DAYS, self.quiet_days.to_string()),
            (tags::KEEP_ENABLED, self.keep_enabled.to_string()),
        ]
    }

    /// Reads the policy from a key's tags, validated. `get` looks a tag up by name.
    pub fn from_tags<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, PolicyError> {
        let text = |name: &'static str| get(name).ok_or(PolicyError::MissingTag { name });
        let days = |name: &'static str| {
            let value = text(name)?;
            value.parse::<u32>().map_err(|_| PolicyError::BadTag {
                name,
                value: value.to_owned(),
            })
        };
        let policy = Self {
            mode: text(tags::MODE)?.parse()?,
            max_age_days: days(tags::MAX_AGE_DAYS)?,
            period_days: days(tags::PERIOD_DAYS)?,
            grace_days: days(tags::GRACE_DAYS)?,
            delete_after_days: days(tags::DELETE_AFTER_DAYS)?,
            deletion_window_days: days(tags::DELETION_WINDOW_DAYS)?,
            // Newer fields: a key tagged before they existed reads the default.
            quiet_days: match get(tags::QUIET_DAYS) {
                Some(_) => days(tags::QUIET_DAYS)?,
                None => Self::DEFAULT_QUIET_DAYS,
            },
            keep_enabled: match get(tags::KEEP_ENABLED) {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(PolicyError::BadSwitch {
                        name: tags::KEEP_ENABLED,
                        value: other.to_owned(),
                    });
                }
            },
        };
        policy.validate().map_err(|err| match err {
            PolicyError::OutOfBounds {
                name,
                value,
                min,
                max,
            } => PolicyError::TagOutOfBounds {
                name,
                value,
                min,
                max,
            },
            other => other,
        })?;
        Ok(policy)
    }
}

/// A policy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A number outside its bound.
    #[error("--{name} is {value}, and it must be between {min} and {max} days")]
    OutOfBounds {
        /// The field.
        name: &'static str,
        /// The value given.
        value: u32,
        /// The lower bound.
        min: u32,
        /// The upper bound.
        max: u32,
    },
    /// In automatic mode, a maximum age below the period would rotate on demand before every
    /// automatic rotation and exhaust KMS's on-demand cap.
    #[error(
        "--max-age-days ({max_age_days}) must be at least --period-days ({period_days}) in automatic mode: KMS rotates every period, and on-demand rotations are capped"
    )]
    AgeBelowPeriod {
        /// The maximum age.
        max_age_days: u32,
        /// The rotation period.
        period_days: u32,
    },
    /// An unknown keyword.
    #[error("unknown {what} `{value}`; expected one of: {expected}")]
    Keyword {
        /// What was being read.
        what: &'static str,
        /// The text given.
        value: String,
        /// The accepted words.
        expected: &'static str,
    },
    /// A policy tag is missing from a managed key.
    #[error("the key has no `{name}` tag; re-run `kmsrot adopt` to write its policy")]
    MissingTag {
        /// The tag.
        name: &'static str,
    },
    /// A policy tag whose number is out of bounds.
    #[error(
        "the key's tag `kmsrot:{name}` is {value}, and it must be between {min} and {max} days; re-run `kmsrot adopt` with a valid policy"
    )]
    TagOutOfBounds {
        /// The field (the tag without its prefix).
        name: &'static str,
        /// The value found.
        value: u32,
        /// The lower bound.
        min: u32,
        /// The upper bound.
        max: u32,
    },
    /// A policy tag that is not a number of days.
    #[error("the key's tag `{name}` is `{value}`, not a number of days")]
    BadTag {
        /// The tag.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// A policy tag that is neither `true` nor `false`.
    #[error("the key's tag `{name}` is `{value}`; it must be `true` or `false`")]
    BadSwitch {
        /// The tag.
        name: &'static str,
        /// Its value.
        value: String,
    },
}

/// Whether `id` may be a rotation ID: it becomes the value of `kmsrot:rotation-id` and
/// `kmsrot:rotating` tags, so 1 to 128 characters of letters, digits and `_ . : / = + - @`
/// (characters every AWS service's tag values accept).
///
/// # Errors
///
/// What is wrong with it, in words.
pub fn valid_rotation_id(id: &str) -> Result<(), String> {
    let len = id.chars().count();
    if !(1..=128).contains(&len) {
        return Err(format!(
            "a rotation ID has 1 to 128 characters; {id:?} has {len}"
        ));
    }
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.:/=+-@".contains(*c)))
    {
        Some(bad) => Err(format!(
            "a rotation ID holds letters, digits and `_ . : / = + - @` only; {id:?} has {bad:?}"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn rotation_ids_are_tag_values_kmsrot_can_write() {
        assert_eq!(valid_rotation_id("r1796308409-0a1b2c3d"), Ok(()));
        assert_eq!(valid_rotation_id("deploy/2026-12-03:1"), Ok(()));
        for bad in ["", "has space", "semi;colon", &"x".repeat(129)] {
            assert!(valid_rotation_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defaults_are_valid_and_round_trip_through_tags() {
        for mode in [Mode::Automatic, Mode::Manual] {
            let policy = Policy::new(mode);
            policy.validate().unwrap();
            let tags: HashMap<&str, String> = policy.to_tags().into_iter().collect();
            let back = Policy::from_tags(|name| tags.get(name).map(String::as_str)).unwrap();
            assert_eq!(back, policy);
            let json = serde_json::to_string(&policy).unwrap();
            assert_eq!(serde_json::from_str::<Policy>(&json).unwrap(), policy);
        }
    }

    #[test]
    fn the_quiet_period_and_keep_enabled_have_defaults_for_keys_tagged_before_them() {
        let policy = Policy::new(Mode::Manual);
        let mut tags: HashMap<&str, String> = policy.to_tags().into_iter().collect();
        tags.remove(tags::QUIET_DAYS);
        tags.remove(tags::KEEP_ENABLED);
        let back = Policy::from_tags(|name| tags.get(name).map(String::as_str)).unwrap();
        assert_eq!(back.quiet_days, Policy::DEFAULT_QUIET_DAYS);
        assert!(!back.keep_enabled);
        tags.insert(tags::KEEP_ENABLED, "yes".into());
        assert_eq!(
            Policy::from_tags(|name| tags.get(name).map(String::as_str))
                .unwrap_err()
                .to_string(),
            "the key's tag `kmsrot:keep-enabled` is `yes`; it must be `true` or `false`"
        );
        tags.insert(tags::KEEP_ENABLED, "true".into());
        tags.insert(tags::QUIET_DAYS, "0".into());
        assert!(
            Policy::from_tags(|name| tags.get(name).map(String::as_str))
                .unwrap_err()
                .to_string()
                .contains("`kmsrot:quiet-days` is 0, and it must be between 1 and 365 days")
        );
        // JSON written before the fields existed still reads.
        let mut json = serde_json::to_value(policy).unwrap();
        json.as_object_mut().unwrap().remove("quiet_days");
        json.as_object_mut().unwrap().remove("keep_enabled");
        assert_eq!(serde_json::from_value::<Policy>(json).unwrap(), policy);
    }

    #[test]
    fn every_bound_is_named_in_its_error() {
        let base = Policy::new(Mode::Manual);
        let cases = [
            (
                Policy {
                    period_days: 89,
                    ..base
                },
                "--period-days is 89, and it must be between 90 and 2560 days",
            ),
            (
                Policy {
                    period_days: 2561,
                    ..base
                },
                "--period-days is 2561, and it must be between 90 and 2560 days",
            ),
            (
                Policy {
                    deletion_window_days: 6,
                    ..base
                },
                "--deletion-window-days is 6, and it must be between 7 and 30 days",
            ),
            (
                Policy {
                    deletion_window_days: 31,
                    ..base
                },
                "--deletion-window-days is 31, and it must be between 7 and 30 days",
            ),
            (
                Policy {
                    max_age_days: 0,
                    ..base
                },
                "--max-age-days is 0, and it must be between 1 and 3650 days",
            ),
            (
                Policy {
                    grace_days: 366,
                    ..base
                },
                "--grace-days is 366, and it must be between 0 and 365 days",
            ),
            (
                Policy {
                    delete_after_days: 400,
                    ..base
                },
                "--delete-after-days is 400, and it must be between 0 and 365 days",
            ),
        ];
        for (policy, message) in cases {
            assert_eq!(policy.validate().unwrap_err().to_string(), message);
        }
        for (period, ok) in [(90, true), (2560, true), (365, true)] {
            let policy = Policy {
                period_days: period,
                max_age_days: 3650,
                ..base
            };
            assert_eq!(policy.validate().is_ok(), ok, "{period}");
        }
        let automatic = Policy {
            max_age_days: 100,
            period_days: 180,
            ..Policy::new(Mode::Automatic)
        };
        assert!(matches!(
            automatic.validate(),
            Err(PolicyError::AgeBelowPeriod { .. })
        ));
        // In manual mode the period is unused, so a short maximum age is fine.
        Policy {
            max_age_days: 30,
            ..base
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn tags_are_read_strictly() {
        let mut tags: HashMap<&str, String> =
            Policy::new(Mode::Manual).to_tags().into_iter().collect();
        tags.insert(tags::GRACE_DAYS, "400".into());
        let err = Policy::from_tags(|name| tags.get(name).map(String::as_str)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the key's tag `kmsrot:grace-days` is 400, and it must be between 0 and 365 days; re-run `kmsrot adopt` with a valid policy"
        );
        tags.insert(tags::GRACE_DAYS, "ten".into());
        let err = Policy::from_tags(|name| tags.get(name).map(String::as_str)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the key's tag `kmsrot:grace-days` is `ten`, not a number of days"
        );
        tags.remove(tags::MODE);
        let err = Policy::from_tags(|name| tags.get(name).map(String::as_str)).unwrap_err();
        assert_eq!(err, PolicyError::MissingTag { name: tags::MODE });
        assert_eq!(
            "sometimes".parse::<Mode>().unwrap_err().to_string(),
            "unknown mode `sometimes`; expected one of: automatic manual"
        );
        assert_eq!("previous".parse::<Stage>().unwrap(), Stage::Previous);
        assert_eq!(Stage::Retired.to_string(), "retired");
    }
}
