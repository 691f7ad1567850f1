//! What the engine does for the KMS events the Lambda routes (the deletion guard is in
//! `guard.rs`): check the aliases of a key whose material rotated, record a deleted key and
//! expired key material once however often the event comes, and tell a managed alias changed
//! by someone else (drift) from kmsrot's own changes.
//!
//! Drift is judged by state, not by who called: CloudTrail does not reliably say that a call
//! came from kmsrot, and what matters is whether the alias still names the key kmsrot's tags
//! say it should. kmsrot's own alias changes leave the tags consistent, or mark an operation
//! under way.
//!
//! Two of these need keys no alias leads to: the key that replaced a deleted one, and the
//! keys tagged for an alias whose key carries no tags for it. They are found by tag through
//! the Resource Groups Tagging API when the engine has a client for it
//! ([`Rotator::with_tagging`](super::Rotator::with_tagging), as the Lambda does), and their
//! tags are read again from KMS, since that API is eventually consistent; without it, every
//! key's tags are read.

use std::collections::BTreeSet;

use kmsrot_types::{AliasCheck, AliasName, Deletion, Expiry, KeyArn, Stage, tags};

use super::keys::subject_for;
use super::{RotationError, Rotator};
use crate::KmsError;

/// What a change to an alias by someone else left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasChange {
    /// The alias names the key kmsrot expects (or a kmsrot operation on it is under way).
    Consistent(KeyArn),
    /// The alias is managed, and no longer names the key its tags say.
    Drifted {
        /// What the alias names now; none when it no longer exists.
        names: Option<KeyArn>,
        /// What is wrong, in words.
        what: String,
    },
    /// Nothing shows that kmsrot manages the alias.
    Unmanaged,
}

/// A key ID from a key ID or key ARN.
fn bare_id(key: &str) -> &str {
    key.rsplit_once(":key/").map_or(key, |(_, id)| id)
}

impl Rotator {
    /// After KMS rotated a key's material: every managed alias of the key (the aliases that
    /// name it, and the one its tags name), each checked to name an enabled key. Empty when
    /// kmsrot manages none of them.
    pub async fn material_rotated(
        &self,
        key_id: &str,
    ) -> Result<(KeyArn, Vec<AliasCheck>), RotationError> {
        let key = self.key(key_id).await?;
        let tagged = key
            .tag(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok());
        let mut checks = Vec::new();
        let mut seen: BTreeSet<AliasName> = BTreeSet::new();
        // The aliases that name this key: the key read above is their target.
        for (alias, _) in self.store.aliases(Some(&key.arn)).await? {
            if key.serves(&alias) {
                checks.push(AliasCheck {
                    alias: alias.clone(),
                    key: Some(key.arn.clone()),
                    key_state: Some(key.state.clone()),
                    ok: key.is_enabled(),
                });
            }
            seen.insert(alias);
        }
        // The alias the key's tags name, when it names another key (or none) now.
        if let Some(alias) = tagged.filter(|a| !seen.contains(a)) {
            match self.target(&alias).await {
                Ok(target) if target.serves(&alias) => checks.push(AliasCheck {
                    ok: target.is_enabled(),
                    key: Some(target.arn),
                    key_state: Some(target.state),
                    alias,
                }),
                Ok(_) => {}
                Err(KmsError::NotFound { .. }) => checks.push(AliasCheck {
                    alias,
                    key: None,
                    key_state: None,
                    ok: false,
                }),
                Err(err) => return Err(err.into()),
            }
        }
        checks.sort_by(|a, b| a.alias.as_str().cmp(b.alias.as_str()));
        Ok((key.arn, checks))
    }

    /// After KMS deleted a key: records it on the managed key whose previous key it was, by
    /// replacing that key's `kmsrot:previous-key` with `kmsrot:deleted-previous-key`. The
    /// same event handled again finds the record and reports a duplicate. `None` when no
    /// managed key refers to the deleted key.
    ///
    /// The deleted key's tags are gone with it, so the record is found by its tags: through
    /// the Resource Groups Tagging API when the engine has it (see
    /// [`Rotator::with_tagging`]), otherwise by reading the tags of every key in the region.
    pub async fn key_deleted(&self, key_id: &str) -> Result<Option<Deletion>, RotationError> {
        let id = bare_id(key_id);
        let found = self
            .lookup(
                &subject_for(key_id),
                &[
                    &[(tags::PREVIOUS_KEY, id)],
                    &[(tags::DELETED_PREVIOUS_KEY, id)],
                ],
                |t| {
                    t.get(tags::PREVIOUS_KEY).map(String::as_str) == Some(id)
                        || t.get(tags::DELETED_PREVIOUS_KEY).map(String::as_str) == Some(id)
                },
            )
            .await?;
        let Some((arn, found_tags)) = found.into_iter().next() else {
            return Ok(None);
        };
        let Some(alias) = found_tags
            .get(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok())
        else {
            return Ok(None);
        };
        let duplicate = found_tags.get(tags::PREVIOUS_KEY).map(String::as_str) != Some(id);
        if !duplicate {
            // Record first, then drop the pointer: a crash between the two leaves both tags,
            // and the next delivery finishes the job.
            self.store
                .tag(&arn, &[(tags::DELETED_PREVIOUS_KEY, id.to_owned())])
                .await?;
            self.store.untag(&arn, &[tags::PREVIOUS_KEY]).await?;
            tracing::info!(key_id = id, %alias, successor = %arn, "recorded a deleted previous key");
        }
        Ok(Some(Deletion {
            key_id: id.to_owned(),
            alias,
            successor: arn,
            duplicate,
        }))
    }

    /// After the imported key material of a managed key expired: records `record` (the
    /// event's time, with the key material's ID when the event names it) in
    /// `kmsrot:material-expired`. The same event handled again finds the same record and
    /// reports a duplicate. `None` for a key kmsrot does not manage, which it never tags.
    pub async fn material_expired(
        &self,
        key_id: &str,
        record: &str,
    ) -> Result<Option<Expiry>, RotationError> {
        let key = self.key(key_id).await?;
        let Some(alias) = key
            .tag(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok())
        else {
            return Ok(None);
        };
        let named_by = self
            .store
            .aliases(Some(&key.arn))
            .await?
            .into_iter()
            .map(|(alias, _)| alias)
            .collect();
        let duplicate = key.tag(tags::MATERIAL_EXPIRED) == Some(record);
        if !duplicate {
            self.store
                .tag(&key.arn, &[(tags::MATERIAL_EXPIRED, record.to_owned())])
                .await?;
        }
        Ok(Some(Expiry {
            key: key.arn,
            alias,
            named_by,
            duplicate,
        }))
    }

    /// After someone other than the function changed `kmsrot:*` tags of a key: the key, and the
    /// alias its tags name now. `None` when the key is gone, or when it is not a managed key:
    /// it carries no `kmsrot:alias`, and the change did not remove one (`removed_alias`).
    pub async fn tags_changed(
        &self,
        key_id: &str,
        removed_alias: bool,
    ) -> Result<Option<(KeyArn, Option<AliasName>)>, RotationError> {
        let key = match self.key(key_id).await {
            Ok(key) => key,
            Err(KmsError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let alias = key
            .tag(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok());
        if alias.is_none() && !removed_alias {
            return Ok(None);
        }
        Ok(Some((key.arn, alias)))
    }

    /// After someone called UpdateAlias or DeleteAlias on `alias`: whether it still names
    /// the key kmsrot expects. `keys` are the keys the call named (its target, the key it
    /// left); they and, failing them, a lookup of keys tagged for the alias show whether
    /// kmsrot manages it.
    pub async fn alias_changed(
        &self,
        alias: &AliasName,
        keys: &[String],
    ) -> Result<AliasChange, RotationError> {
        let now = match self.target(alias).await {
            Ok(key) => Some(key),
            Err(KmsError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        if let Some(key) = now.as_ref().filter(|key| key.serves(alias)) {
            let stage = key.stage();
            let consistent = match stage {
                Some(Stage::Current) => true,
                // A rotation promoting its new key: the key it replaces names it as pending.
                Some(Stage::Pending) => self.promoting(alias, key).await?,
                // A rollback restoring this key, not yet re-tagged: the key it leaves is real.
                _ if key.tag(tags::ROLLBACK_FROM).is_some() => {
                    self.rolling_back(alias, key).await?
                }
                _ => false,
            };
            if consistent && key.is_enabled() {
                return Ok(AliasChange::Consistent(key.arn.clone()));
            }
            if consistent {
                return Ok(AliasChange::Drifted {
                    names: Some(key.arn.clone()),
                    what: format!(
                        "`{alias}` names {}, its {} key, which is {}; enable it (`kmsrot guard {} --change disabled`) or roll back",
                        key.arn,
                        stage.map_or("untagged", Stage::as_str),
                        key.state,
                        key.arn
                    ),
                });
            }
            return Ok(AliasChange::Drifted {
                names: Some(key.arn.clone()),
                what: format!(
                    "`{alias}` names {}, a {} key kmsrot tags as {} for it, not its current key; roll forward with `kmsrot rotate {alias}` or point it back with `kmsrot rollback {alias}`",
                    key.arn,
                    key.state,
                    stage.map_or("untagged", Stage::as_str)
                ),
            });
        }
        let mut managed = false;
        for key in keys {
            match self.store.tags(key).await {
                Ok(t) if t.get(tags::ALIAS).map(String::as_str) == Some(alias.as_str()) => {
                    managed = true;
                    break;
                }
                Ok(_) | Err(KmsError::NotFound { .. } | KmsError::AccessDenied { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        if !managed {
            // Any key tagged for the alias (a previous key too, whose tags have long been in
            // place) shows that kmsrot manages it.
            managed = !self
                .lookup(
                    &super::keys::alias_subject(alias),
                    &[&[(tags::ALIAS, alias.as_str())]],
                    |t| t.get(tags::ALIAS).map(String::as_str) == Some(alias.as_str()),
                )
                .await?
                .is_empty();
        }
        if !managed {
            return Ok(AliasChange::Unmanaged);
        }
        Ok(match now {
            Some(key) => AliasChange::Drifted {
                what: format!(
                    "`{alias}` names {}, which kmsrot does not manage for it; point it back at its current key, or run `kmsrot adopt {alias}` to manage the new key",
                    key.arn
                ),
                names: Some(key.arn),
            },
            None => AliasChange::Drifted {
                names: None,
                what: format!(
                    "`{alias}` was deleted while kmsrot manages it; applications that use it fail until it is created again for its current key"
                ),
            },
        })
    }

    /// Whether `key`, a pending key the alias names, is being promoted by a rotation: the key
    /// it replaces is still marked as rotating to it.
    async fn promoting(
        &self,
        alias: &AliasName,
        key: &super::keys::KeyView,
    ) -> Result<bool, RotationError> {
        let Some(previous) = key.tag(tags::PREVIOUS_KEY) else {
            return Ok(false);
        };
        match self.key(previous).await {
            // Either the old key still marks this rotation, or the re-tagging after the move
            // stopped after demoting it (`settle` finishes both).
            Ok(old) => Ok(old.serves(alias)
                && ((old.tag(tags::PENDING_KEY) == Some(key.id.as_str())
                    && old.tag(tags::ROTATING).is_some()
                    && old.tag(tags::ROTATING) == key.tag(tags::ROTATION_ID))
                    || old.stage() == Some(Stage::Previous))),
            Err(KmsError::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Whether `key` is being restored by a rollback: the key it names as the one the alias
    /// leaves still serves the alias as its current key (a finished rollback demotes it).
    async fn rolling_back(
        &self,
        alias: &AliasName,
        key: &super::keys::KeyView,
    ) -> Result<bool, RotationError> {
        let Some(left) = key.tag(tags::ROLLBACK_FROM) else {
            return Ok(false);
        };
        match self.key(left).await {
            Ok(left) => Ok(left.serves(alias) && left.stage() == Some(Stage::Current)),
            Err(KmsError::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }
}

impl Rotator {
    /// The key `key` names (a key ID or key ARN, in this engine's region) and the aliases
    /// that name it, managed ones first: what `kmsrot audit code` suggests instead of a
    /// hard-coded key.
    pub async fn aliases_naming(
        &self,
        key: &str,
    ) -> Result<(KeyArn, Vec<kmsrot_types::audit::AliasHint>), RotationError> {
        let view = self.key(key).await?;
        let mut hints: Vec<kmsrot_types::audit::AliasHint> = self
            .store
            .aliases(Some(&view.arn))
            .await?
            .into_iter()
            .map(|(alias, _)| kmsrot_types::audit::AliasHint {
                managed: view.serves(&alias),
                alias,
            })
            .collect();
        hints.sort_by(|a, b| {
            b.managed
                .cmp(&a.managed)
                .then(a.alias.as_str().cmp(b.alias.as_str()))
        });
        Ok((view.arn, hints))
    }
}
