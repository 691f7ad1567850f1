//! The deletion guard: when a key is scheduled for deletion or disabled, and a managed alias
//! still needs it (as its current key, or as a previous key within its grace period), undo the
//! change in enforce mode or report it in observe mode. Keys kmsrot does not manage are never
//! touched.

use kmsrot_types::{AliasName, GuardMode, GuardVerdict, KeyChange, Stage, tags};

use super::keys::KeyView;
use super::{RotationError, Rotator, plan, rfc3339};
use crate::KmsError;

impl Rotator {
    /// Judges one key after `change`, and in [`GuardMode::Enforce`] restores it when a managed
    /// alias still needs it. Reads the key's current state first, so the same event handled
    /// twice has one effect.
    pub async fn guard(
        &self,
        key_id: &str,
        change: KeyChange,
        mode: GuardMode,
    ) -> Result<GuardVerdict, RotationError> {
        let key = match self.key(key_id).await {
            Ok(key) => key,
            Err(KmsError::NotFound { .. }) => {
                tracing::info!(
                    key_id,
                    ?change,
                    "guard: the key is already deleted; nothing to guard"
                );
                return Ok(GuardVerdict::Gone {
                    key_id: key_id.to_owned(),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let Some(alias) = key
            .tag(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok())
        else {
            tracing::info!(key = %key.arn, ?change, "guard: key not managed by kmsrot, left alone");
            return Ok(GuardVerdict::Unmanaged { key: key.arn });
        };
        if let Some(record) = key.tag(tags::BREAK_GLASS) {
            tracing::warn!(key = %key.arn, %alias, record, "guard: break-glass key left alone");
            return Ok(GuardVerdict::BreakGlass {
                record: record.to_owned(),
                key: key.arn,
                alias,
            });
        }
        let needed_as = match self.needed_as(&alias, &key).await? {
            Ok(needed_as) => needed_as,
            Err(reason) => {
                return Ok(GuardVerdict::NotNeeded {
                    key: key.arn,
                    alias,
                    reason,
                });
            }
        };
        if key.is_enabled() {
            return Ok(GuardVerdict::Intact {
                key: key.arn,
                alias,
            });
        }
        match mode {
            GuardMode::Observe => {
                tracing::warn!(key = %key.arn, %alias, needed_as, state = key.state, "guard (observe): a key the alias needs is not enabled");
                Ok(GuardVerdict::Alert {
                    key: key.arn,
                    alias,
                    needed_as,
                    key_state: key.state,
                })
            }
            GuardMode::Enforce => {
                let undone = self.restore(&key).await?;
                Ok(GuardVerdict::Restored {
                    key: key.arn,
                    alias,
                    needed_as,
                    undone,
                })
            }
        }
    }

    /// Whether the alias still needs the key: `Ok(role)` when it does, `Err(reason)` when not.
    async fn needed_as(
        &self,
        alias: &AliasName,
        key: &KeyView,
    ) -> Result<Result<String, String>, RotationError> {
        let current = match self.target(alias).await {
            Ok(current) => current,
            Err(KmsError::NotFound { .. }) => {
                return Ok(Err(format!("alias `{alias}` no longer exists")));
            }
            Err(err) => return Err(err.into()),
        };
        if current.arn == key.arn {
            return Ok(Ok(format!("the current key of `{alias}`")));
        }
        // Any other alias that names the key needs it as much.
        let others: Vec<String> = self
            .store
            .aliases(Some(&key.arn))
            .await?
            .into_iter()
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        if !others.is_empty() {
            return Ok(Ok(format!("the key {} names", others.join(", "))));
        }
        if let Some(record) = key.tag(tags::HOLD) {
            return Ok(Ok(format!(
                "an old key of `{alias}` held after a failed use ({record})"
            )));
        }
        if key.tag(tags::ROLLBACK_FROM) == Some(current.id.as_str()) {
            return Ok(Ok(format!("the key a rollback of `{alias}` is restoring")));
        }
        if current.tag(tags::ROLLBACK_FROM) == Some(key.id.as_str()) {
            return Ok(Ok(format!(
                "the key `{alias}` names until a rollback under way finishes"
            )));
        }
        let Ok(policy) = self.managed_policy(alias, &current) else {
            return Ok(Err(format!(
                "`{alias}` now names {}, which kmsrot does not manage",
                current.arn
            )));
        };
        let now = self.now().secs();
        let behind = self.behind(alias, &current).await?;
        if behind.iter().any(|link| link.id == key.id) {
            return Ok(match key.stage() {
                Some(Stage::Previous) => {
                    // No `demoted-at` (an interrupted re-tag): the grace period counts from now.
                    let demoted = key.time(tags::DEMOTED_AT).map_or(now, |t| t.secs());
                    let until = plan::grace_until(&policy, demoted);
                    if now < until {
                        Ok(format!(
                            "a previous key of `{alias}` within its grace period (until {})",
                            rfc3339(aws_smithy_types::DateTime::from_secs(until))
                        ))
                    } else {
                        Err(format!(
                            "a previous key of `{alias}`, past its grace period"
                        ))
                    }
                }
                Some(Stage::Retired) => Err(format!("retired for `{alias}`")),
                // Still tagged current (or untagged): a rotation moved the alias and has not
                // re-tagged it yet, so its grace period has not even begun.
                _ => Ok(format!(
                    "the key `{alias}` named until a rotation that is still finishing"
                )),
            });
        }
        Ok(Err(format!(
            "`{alias}` names {} and no longer tracks this key",
            current.arn
        )))
    }
}
