//! Rollback: the alias moves back to its previous key, which is restored first when it was
//! disabled or scheduled for deletion; and `restore`, which the deletion guard uses too. A
//! rollback tags the key it restores with `kmsrot:rollback-from` first, so that a retry
//! finishes it.

use kmsrot_types::{Action, AliasName, KeyArn, Mode, Policy, Stage, Undone, tags};

use super::keys::KeyView;
use super::{RotationError, Rotator, rfc3339};
use crate::KmsError;

impl Rotator {
    /// Moves the alias back to its previous key, restoring that key first when it was
    /// disabled or scheduled for deletion. The key left becomes `previous`.
    ///
    /// With `from`, the rollback is idempotent: it goes ahead only while the alias names
    /// `from`, and once the alias is back on the key before `from`, running it again reports
    /// the rollback as done instead of rolling back further.
    pub async fn rollback(
        &self,
        alias: &AliasName,
        from: Option<&KeyArn>,
    ) -> Result<Action, RotationError> {
        let current = self.target(alias).await?;
        self.managed_policy(alias, &current)?;
        Box::pin(self.locked(alias, &current, || self.rollback_locked(alias, from))).await
    }

    /// [`Rotator::rollback`], holding the alias's lock.
    async fn rollback_locked(
        &self,
        alias: &AliasName,
        from: Option<&KeyArn>,
    ) -> Result<Action, RotationError> {
        let current = self.target(alias).await?;
        let policy = self.managed_policy(alias, &current)?;
        self.refuse_break_glass(alias, &current)?;
        self.refuse_replica(alias, &current).await?;
        let (current, done) = self.settle(alias, current, false).await?;
        if from.is_none()
            && let Some(Action::Rollback { .. }) = done.last()
        {
            return Ok(done.into_iter().last().expect("checked"));
        }
        if let Some(from) = from.filter(|from| **from != current.arn) {
            if current.stage() == Some(Stage::Current)
                && current.tag(tags::ROLLED_BACK_FROM) == Some(from.key_id().as_str())
            {
                tracing::info!(%alias, %from, "rollback already done");
                return Ok(Action::Rollback {
                    to: current.arn,
                    from: from.clone(),
                    already_done: true,
                });
            }
            return Err(self.inconsistent(
                alias,
                format!(
                    "the alias names {}, not {from}; check `kmsrot status {alias}` before rolling back",
                    current.arn
                ),
            ));
        }
        // Run again without `--from`, a rollback reports itself done instead of moving the
        // alias forward again, to the key it just left: moving forward is a rotation, or a
        // rollback given `--from` that key explicitly.
        if from.is_none()
            && let Some(left) = current.tag(tags::ROLLED_BACK_FROM)
            && current.tag(tags::PREVIOUS_KEY) == Some(left)
            && let Ok(left) = left.parse()
        {
            tracing::info!(%alias, "rollback already done");
            return Ok(Action::Rollback {
                from: current.arn.sibling(left),
                to: current.arn,
                already_done: true,
            });
        }
        if let Some(rotation_id) = current.tag(tags::ROTATING) {
            // Rolling back now would strand the rotation's new key.
            return Err(self.busy(
                alias,
                format!(
                    "rotation {rotation_id} is unfinished; finish it with `kmsrot rotate {alias}` (it resumes where it stopped) or give it up with `kmsrot rotate {alias} --abort`, then roll back"
                ),
            ));
        }
        let no_previous = |why: String| RotationError::NoPrevious {
            alias: alias.clone(),
            region: self.region(),
            why,
        };
        let Some(previous_id) = current.tag(tags::PREVIOUS_KEY) else {
            return Err(no_previous(match policy.mode {
                Mode::Automatic => "automatic rotation changes key material inside one key, and KMS keeps every older material for decryption; there is no other key to go back to".into(),
                Mode::Manual => format!("{} was not made by a kmsrot rotation", current.arn),
            }));
        };
        let mut previous = match self.key(previous_id).await {
            Ok(key) => key,
            Err(KmsError::NotFound { .. }) => {
                return Err(no_previous(format!(
                    "the previous key {previous_id} no longer exists"
                )));
            }
            Err(err) => return Err(err.into()),
        };
        if !previous.serves(alias) {
            return Err(self.inconsistent(
                alias,
                format!(
                    "the previous key {} is not tagged for this alias",
                    previous.arn
                ),
            ));
        }
        self.mismatch(alias, &current, &previous)?;
        self.store
            .tag(&previous.arn, &[(tags::ROLLBACK_FROM, current.id.clone())])
            .await?;
        previous
            .tags
            .insert(tags::ROLLBACK_FROM.to_owned(), current.id.clone());
        self.restore(&previous).await?;
        // A multi-Region set: its replicas are restored, and every Region's alias moves
        // back before the primary's.
        for replica in previous.replicas() {
            let there = self.in_region(replica.region());
            let view = there.key(&replica.to_string()).await?;
            there.restore(&view).await?;
        }
        self.move_replica_aliases(alias, &current, &previous)
            .await?;
        self.store.update_alias(alias, &previous).await?;
        self.finish_rollback(alias, &previous, Some(&current))
            .await?;
        Ok(Action::Rollback {
            to: previous.arn,
            from: current.arn,
            already_done: false,
        })
    }

    /// Cancels a key's deletion and enables it, as needed. Returns what was undone.
    pub(crate) async fn restore(&self, key: &KeyView) -> Result<Vec<Undone>, RotationError> {
        let mut undone = Vec::new();
        let mut enabled = key.is_enabled();
        if key.is_pending_deletion() {
            self.store.cancel_deletion(&key.arn).await?;
            // A key whose deletion is cancelled is disabled.
            enabled = false;
            undone.push(Undone::DeletionCancelled);
        }
        if !enabled {
            self.store.enable_key(&key.arn).await?;
            undone.push(Undone::Enabled);
        }
        if !undone.is_empty() {
            tracing::warn!(key = %key.arn, undone = ?undone, "key restored");
        }
        Ok(undone)
    }

    /// The re-tagging after a rollback moved the alias back to `restored`: the key it left
    /// becomes `previous` (inheriting the restored key's own previous key), then the restored
    /// key becomes `current`. Safe to repeat; returns the key left.
    pub(super) async fn finish_rollback(
        &self,
        alias: &AliasName,
        restored: &KeyView,
        left: Option<&KeyView>,
    ) -> Result<KeyArn, RotationError> {
        let loaded;
        let left = match left {
            Some(left) => left,
            None => {
                let id = restored.tag(tags::ROLLBACK_FROM).ok_or_else(|| {
                    self.inconsistent(
                        alias,
                        format!("{} is not current and no rollback names it", restored.arn),
                    )
                })?;
                loaded = self.key(id).await?;
                &loaded
            }
        };
        let now = rfc3339(self.now());
        if restored.stage() == Some(Stage::Current) {
            // Only the clean-up of the restored key was left; the chain is already re-linked.
            self.store
                .untag(
                    &restored.arn,
                    &[
                        tags::ROLLBACK_FROM,
                        tags::DEMOTED_AT,
                        tags::RETIRED_AT,
                        tags::REPLACED_BY,
                    ],
                )
                .await?;
            return Ok(left.arn.clone());
        }
        let mut left_tags = vec![
            (tags::STAGE, Stage::Previous.to_string()),
            (tags::DEMOTED_AT, now.clone()),
            (tags::REPLACED_BY, restored.id.clone()),
        ];
        match restored.tag(tags::PREVIOUS_KEY).filter(|id| *id != left.id) {
            Some(older) => {
                left_tags.push((tags::PREVIOUS_KEY, older.to_owned()));
                // The record names its key, so it moves with the pointer as it is.
                if let Some(record) = restored.tag(tags::PREVIOUS_PUBLIC_KEY_SHA256) {
                    left_tags.push((tags::PREVIOUS_PUBLIC_KEY_SHA256, record.to_owned()));
                }
            }
            None => {
                self.store
                    .untag(
                        &left.arn,
                        &[tags::PREVIOUS_KEY, tags::PREVIOUS_PUBLIC_KEY_SHA256],
                    )
                    .await?;
            }
        }
        self.store.tag(&left.arn, &left_tags).await?;
        self.store
            .untag(
                &left.arn,
                &[tags::ROTATING, tags::ROTATING_SINCE, tags::PENDING_KEY],
            )
            .await?;
        self.mirror(
            left,
            &left_tags,
            &[tags::ROTATING, tags::ROTATING_SINCE, tags::PENDING_KEY],
        )
        .await?;
        let mut restored_tags = vec![
            (tags::STAGE, Stage::Current.to_string()),
            (tags::PROMOTED_AT, now),
            (tags::PREVIOUS_KEY, left.id.clone()),
            (tags::ROLLED_BACK_FROM, left.id.clone()),
        ];
        if let Some(sha256) = self.record_public_key(left).await? {
            restored_tags.push((
                tags::PREVIOUS_PUBLIC_KEY_SHA256,
                format!("{}:{sha256}", left.id),
            ));
        }
        // The policy belongs to the alias: the restored key takes the one in force.
        if let Ok(policy) = Policy::from_tags(|name| left.tag(name)) {
            restored_tags.extend(policy.to_tags());
        }
        self.store.tag(&restored.arn, &restored_tags).await?;
        let cleared = [
            tags::ROLLBACK_FROM,
            tags::DEMOTED_AT,
            tags::RETIRED_AT,
            tags::REPLACED_BY,
        ];
        self.store.untag(&restored.arn, &cleared).await?;
        self.mirror(restored, &restored_tags, &cleared).await?;
        Ok(left.arn.clone())
    }
}
