//! The manual rotation's steps: create → test → promote, and giving an unfinished rotation
//! up (`abort`). Each step reads the state first and returns when its work is done, so a
//! rotation run again after a crash converges.
//!
//! The state machine, read from the key the alias names (`T`):
//! - `T` is `current` with no `kmsrot:rotating`: idle.
//! - `T` is `current` with `kmsrot:rotating`: a rotation was started; its new key is named by
//!   `kmsrot:pending-key`, or (after a crash right after `CreateKey`) found by its tags.
//! - `T` is `pending`: the alias was moved and the re-tagging was interrupted.
//! - `T` carries `kmsrot:rollback-from`: a rollback was interrupted after the alias moved
//!   (`rollback.rs`).

use aws_smithy_types::date_time::Format;
use kmsrot_types::{Action, AliasName, Grant, GrantCopy, Mode, Policy, Stage, tags};

use super::keys::{KeyView, alias_subject};
use super::{RotationError, Rotator, new_rotation_id, rfc3339};
use crate::KmsError;
use crate::retry::while_tags_settle;

/// How to run [`Rotator::rotate`].
#[derive(Debug, Clone, Default)]
pub struct RotateOptions {
    /// Report the plan; change nothing.
    pub dry_run: bool,
    /// The idempotency token of a manual rotation; a fresh one when absent. Give the same ID
    /// to retry a rotation that failed, so it finishes once instead of rotating twice.
    pub rotation_id: Option<String>,
    /// Do not create the current key's grants again on the new key (they are copied by
    /// default, except those of AWS services).
    pub no_copy_grants: bool,
    /// Other aliases that name the current key and move to the new key with this one. A
    /// manual rotation refuses to start while an alias not given here names the current key.
    pub move_with: Vec<AliasName>,
    /// Rotate although the key policy authorizes through the alias (`kms:ResourceAliases`,
    /// `kms:RequestAlias`): the principals it admits lose the old key, and so the data it
    /// encrypted, the moment the alias moves. Refused without it.
    pub accept_alias_conditions: bool,
}

impl Rotator {
    /// Rotates a managed alias now: a manual rotation in manual mode, an on-demand rotation of
    /// the key material in automatic mode. With `dry_run`, returns the plan and changes
    /// nothing.
    ///
    /// A manual rotation is idempotent under its [`RotateOptions::rotation_id`]: run again
    /// with the same ID after a failure, it finishes that rotation, and once it is done, it
    /// does nothing. An interrupted rotation is always finished before a new one starts.
    pub async fn rotate(
        &self,
        alias: &AliasName,
        options: RotateOptions,
    ) -> Result<Vec<Action>, RotationError> {
        if let Some(id) = &options.rotation_id {
            kmsrot_types::valid_rotation_id(id).map_err(|why| self.unsupported(alias, why))?;
        }
        let current = self.target(alias).await?;
        let policy = self.managed_policy(alias, &current)?;
        if already_done(alias, &current, &policy, &options) {
            return Ok(vec![]);
        }
        if options.dry_run {
            return self
                .rotate_as(alias, current, &policy, "requested".into(), options)
                .await;
        }
        // One run at a time: under the alias's lock, from the state read again.
        let locked = self.locked(alias, &current, || async {
            let current = self.target(alias).await?;
            let policy = self.managed_policy(alias, &current)?;
            if already_done(alias, &current, &policy, &options) {
                return Ok(vec![]);
            }
            self.rotate_as(alias, current, &policy, "requested".into(), options.clone())
                .await
        });
        Box::pin(locked).await
    }

    pub(crate) async fn rotate_as(
        &self,
        alias: &AliasName,
        current: KeyView,
        policy: &Policy,
        reason: String,
        options: RotateOptions,
    ) -> Result<Vec<Action>, RotationError> {
        let dry_run = options.dry_run;
        self.refuse_break_glass(alias, &current)?;
        Box::pin(self.refuse_replica(alias, &current)).await?;
        let (current, mut done) = Box::pin(self.settle(alias, current, dry_run)).await?;
        if !done.is_empty() || (dry_run && settling(&current)) {
            // Finishing the interrupted rotation or rollback is this run's rotation.
            if dry_run {
                done.push(Action::rotate(
                    "finish the interrupted rotation or rollback",
                    Some(current.arn.clone()),
                ));
            }
            return Ok(done);
        }
        if policy.mode == Mode::Automatic {
            return Box::pin(self.rotate_on_demand(alias, &current, reason, dry_run)).await;
        }
        self.check_manageable(alias, &current, Mode::Manual)?;
        Box::pin(self.check_shared(alias, &current, &options.move_with)).await?;
        let prepared = Box::pin(self.prepare_policy(alias, &current, &options)).await?;
        if dry_run {
            let reason = match current.tag(tags::ROTATING) {
                Some(id) => format!("{reason}; resumes rotation {id}"),
                None => reason,
            };
            let mut action = Action::rotate(reason, None);
            if let Action::Rotate {
                policy_notes,
                policy_diff,
                ..
            } = &mut action
            {
                policy_notes.clone_from(&prepared.notes);
                *policy_diff = prepared.diff;
            }
            return Ok(vec![action]);
        }
        let pending = Box::pin(self.create(
            alias,
            &current,
            policy,
            &prepared.policy,
            options.rotation_id.clone(),
        ))
        .await?;
        // The calls on the new key are authorized by the tags CreateKey wrote, which AWS may
        // take minutes to honour: AccessDenied on a fresh key is retried for that long.
        let created = pending
            .creation
            .and_then(|t| std::time::SystemTime::try_from(t).ok())
            .unwrap_or(std::time::UNIX_EPOCH);
        let denied = RotationError::is_access_denied;
        let replicas = while_tags_settle(created, denied, || {
            Box::pin(self.replicate(alias, &current, &pending))
        })
        .await?;
        while_tags_settle(created, denied, || {
            Box::pin(self.self_test(alias, &current, &pending))
        })
        .await?;
        while_tags_settle(created, denied, || {
            Box::pin(self.test_replicas(alias, &current, &replicas))
        })
        .await?;
        let promoted = while_tags_settle(created, denied, || {
            Box::pin(self.promote(alias, &current, &pending, &prepared.policy, &options))
        })
        .await;
        let copied = match promoted {
            Ok(copied) => copied,
            Err(err) => {
                if matches!(err, RotationError::Busy { .. }) {
                    // Lost a race before UpdateAlias: this rotation's key is nobody's now.
                    Box::pin(self.abandon(&pending, policy)).await?;
                }
                return Err(err);
            }
        };
        let mut action = Action::rotate(reason, Some(pending.arn));
        if let Action::Rotate {
            grants_copied,
            moved_with,
            policy_notes,
            ..
        } = &mut action
        {
            *grants_copied = copied;
            moved_with.clone_from(&options.move_with);
            *policy_notes = prepared.notes;
        }
        Ok(vec![action])
    }

    /// Refuses to rotate or roll back an alias whose current key carries `kmsrot:break-glass`.
    pub(crate) fn refuse_break_glass(
        &self,
        alias: &AliasName,
        current: &KeyView,
    ) -> Result<(), RotationError> {
        match current.tag(tags::BREAK_GLASS) {
            Some(record) => Err(self.unsupported(
                alias,
                format!(
                    "its key {} carries kmsrot:break-glass ({record}): a responder took it over, and kmsrot leaves the alias alone until the tag is deleted",
                    current.arn
                ),
            )),
            None => Ok(()),
        }
    }

    /// Refuses a manual rotation while an alias other than `alias` (and those given to move
    /// with it) names the current key: that alias would stay on the old key.
    async fn check_shared(
        &self,
        alias: &AliasName,
        current: &KeyView,
        move_with: &[AliasName],
    ) -> Result<(), RotationError> {
        let left: Vec<AliasName> = self
            .other_aliases(alias, current)
            .await?
            .into_iter()
            .filter(|other| !move_with.contains(other))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        Err(RotationError::SharedKey {
            alias: alias.clone(),
            region: self.region(),
            key: current.arn.clone(),
            aliases: left,
        })
    }

    /// Finishes a promotion or rollback interrupted after the alias moved. Returns the key the
    /// alias names, re-read, and what was finished.
    pub(crate) async fn settle(
        &self,
        alias: &AliasName,
        current: KeyView,
        dry_run: bool,
    ) -> Result<(KeyView, Vec<Action>), RotationError> {
        if dry_run || !settling(&current) {
            return Ok((current, vec![]));
        }
        if current.stage() == Some(Stage::Pending) {
            self.finish_promote(alias, &current, None).await?;
            let action = Action::rotate(
                "finished the interrupted rotation",
                Some(current.arn.clone()),
            );
            return Ok((self.target(alias).await?, vec![action]));
        }
        let from = self.finish_rollback(alias, &current, None).await?;
        let action = Action::Rollback {
            to: current.arn.clone(),
            from,
            already_done: false,
        };
        Ok((self.target(alias).await?, vec![action]))
    }

    /// Step 1: the pending key of this rotation, reused or created (with `key_policy`).
    async fn create(
        &self,
        alias: &AliasName,
        current: &KeyView,
        policy: &Policy,
        key_policy: &str,
        requested_id: Option<String>,
    ) -> Result<KeyView, RotationError> {
        // An interrupted rotation is resumed under its own ID, whatever was asked.
        let (rotation_id, fresh) = match current.tag(tags::ROTATING) {
            Some(id) => (id.to_owned(), false),
            None => {
                let id = requested_id.unwrap_or_else(|| new_rotation_id(self.now()));
                // The real time, not the engine's clock: the new key's KMS CreationDate is
                // compared with it before the alias moves.
                let since = rfc3339(aws_smithy_types::DateTime::from(
                    std::time::SystemTime::now(),
                ));
                self.store
                    .tag(
                        &current.arn,
                        &[(tags::ROTATING, id.clone()), (tags::ROTATING_SINCE, since)],
                    )
                    .await?;
                // Another rotation may have started at the same moment: the last tag wins, and
                // only the rotation that reads its own ID back goes on.
                let now_rotating = self.tags_of(&current.arn).await?.remove(tags::ROTATING);
                if now_rotating.as_deref() != Some(id.as_str()) {
                    return Err(self.busy(
                        alias,
                        format!(
                            "another rotation ({}) started at the same moment; check `kmsrot status {alias}`",
                            now_rotating.as_deref().unwrap_or("unknown")
                        ),
                    ));
                }
                (id, true)
            }
        };
        let usable = |key: &KeyView| key.is_pending_for(alias, &rotation_id);
        if let Some(pending) = current.tag(tags::PENDING_KEY) {
            match self.key(pending).await {
                Ok(key) if usable(&key) && key.is_enabled() => return Ok(key),
                // Someone disabled it: its self-test would fail on every run. Give it up.
                Ok(key) if usable(&key) => self.abandon(&key, policy).await?,
                // A pointer to a key that is gone or not this rotation's: make a new one.
                Ok(_) | Err(KmsError::NotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        } else if !fresh && let Some(key) = self.find_pending(alias, &rotation_id).await? {
            if key.is_enabled() {
                // The run that created this key stopped before recording it.
                self.store
                    .tag(&current.arn, &[(tags::PENDING_KEY, key.id.clone())])
                    .await?;
                return Ok(key);
            }
            self.abandon(&key, policy).await?;
        }
        let mut key_tags: Vec<(&str, String)> = current
            .user_tags()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        key_tags.extend([
            (tags::ALIAS, alias.to_string()),
            (tags::STAGE, Stage::Pending.to_string()),
            (tags::ROTATION_ID, rotation_id.clone()),
            (tags::CREATED_AT, rfc3339(self.now())),
            (tags::PREVIOUS_KEY, current.id.clone()),
        ]);
        key_tags.extend(policy.to_tags());
        // What verifies the current key's signatures once KMS deletes it and its tags.
        if let Some(sha256) = self.record_public_key(current).await? {
            key_tags.push((
                tags::PREVIOUS_PUBLIC_KEY_SHA256,
                format!("{}:{sha256}", current.id),
            ));
        }
        let created = self
            .store
            .create_key(
                alias,
                &current.spec,
                &current.usage,
                current.multi_region,
                Some(key_policy.to_owned()),
                &current.description,
                &key_tags,
            )
            .await;
        let key = match created {
            Ok(key) => key,
            // CreateKey is sent once and may have made a key whose answer was lost: look for
            // it by this rotation's tags before giving up (a re-run would find it too).
            Err(err) => match self.find_pending(alias, &rotation_id).await? {
                Some(key) => {
                    tracing::warn!(%alias, key = %key.arn, error = %err, "CreateKey failed, but its key exists; going on with it");
                    key
                }
                None => return Err(err.into()),
            },
        };
        self.store
            .tag(&current.arn, &[(tags::PENDING_KEY, key.id.clone())])
            .await?;
        Ok(key)
    }

    /// Gives up a pending key that can never pass its test (someone disabled it): its
    /// deletion is scheduled with the policy's window. It was never promoted, so no
    /// application used it. A key an alias names is left alone entirely: another run may have
    /// promoted it, and tagging it `retired` would mark the alias's current key as old.
    async fn abandon(&self, key: &KeyView, policy: &Policy) -> Result<(), RotationError> {
        if !self.store.aliases(Some(&key.arn)).await?.is_empty() {
            tracing::warn!(key = %key.arn, "not abandoning a pending key that an alias names");
            return Ok(());
        }
        tracing::warn!(key = %key.arn, state = key.state, "abandoning a pending key");
        // Its deletion is the record: a key pending deletion is never reused.
        self.schedule_set_deletion(key, policy.deletion_window_days)
            .await
    }

    /// Abandons an unfinished manual rotation: its new key (never promoted) is scheduled for
    /// deletion, and the current key stays current. A rotation whose alias already moved is
    /// finished instead, since applications may already use the new key.
    pub async fn abort(&self, alias: &AliasName) -> Result<Vec<Action>, RotationError> {
        let current = self.target(alias).await?;
        self.managed_policy(alias, &current)?;
        Box::pin(self.locked(alias, &current, || self.abort_locked(alias))).await
    }

    /// [`Rotator::abort`], holding the alias's lock.
    async fn abort_locked(&self, alias: &AliasName) -> Result<Vec<Action>, RotationError> {
        let current = self.target(alias).await?;
        let policy = self.managed_policy(alias, &current)?;
        let (current, done) = self.settle(alias, current, false).await?;
        if !done.is_empty() {
            return Ok(done);
        }
        let Some(rotation_id) = current.tag(tags::ROTATING).map(str::to_owned) else {
            // A rollback that stopped before moving the alias is given up too.
            if let Some(previous) = current.tag(tags::PREVIOUS_KEY) {
                let previous = match self.key(previous).await {
                    Ok(previous) => previous,
                    Err(KmsError::NotFound { .. }) => return Ok(vec![]),
                    Err(err) => return Err(err.into()),
                };
                if previous.tag(tags::ROLLBACK_FROM) == Some(current.id.as_str()) {
                    self.store
                        .untag(&previous.arn, &[tags::ROLLBACK_FROM])
                        .await?;
                    return Ok(vec![Action::Abort {
                        rotation_id: format!("rollback to {}", previous.arn),
                        abandoned: None,
                    }]);
                }
            }
            return Ok(vec![]);
        };
        let pending = match current.tag(tags::PENDING_KEY) {
            Some(id) => match self.key(id).await {
                Ok(key) => Some(key),
                Err(KmsError::NotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            },
            None => self.find_pending(alias, &rotation_id).await?,
        };
        let pending = pending.filter(|key| key.is_pending_for(alias, &rotation_id));
        if let Some(key) = &pending {
            self.abandon(key, &policy).await?;
        }
        self.store
            .untag(
                &current.arn,
                &[tags::ROTATING, tags::ROTATING_SINCE, tags::PENDING_KEY],
            )
            .await?;
        Ok(vec![Action::Abort {
            rotation_id,
            abandoned: pending.map(|k| k.arn),
        }])
    }

    pub(super) async fn key_policy(
        &self,
        alias: &AliasName,
        key: &KeyView,
    ) -> Result<String, RotationError> {
        self.store
            .key_policy(&key.arn)
            .await?
            .ok_or_else(|| self.inconsistent(alias, format!("{} has no key policy", key.arn)))
    }

    /// The new key's policy, read from the current key and reviewed before anything is
    /// created: a `Resource` naming the old key becomes `"*"` ("this KMS key"); alias
    /// conditions need [`RotateOptions::accept_alias_conditions`]; and the policy must pass
    /// CreateKey's lockout safety check for the caller (or, when the engine was not told who
    /// it runs as, for the account).
    async fn prepare_policy(
        &self,
        alias: &AliasName,
        current: &KeyView,
        options: &RotateOptions,
    ) -> Result<PreparedPolicy, RotationError> {
        let text = self.key_policy(alias, current).await?;
        let review = crate::key_policy::review(&text, &current.arn)
            .map_err(|err| self.unsupported(alias, format!("{}: {err}", current.arn)))?;
        if !review.alias_conditions.is_empty() && !options.accept_alias_conditions {
            return Err(self.unsupported(
                alias,
                format!(
                    "the key policy of {} authorizes through the alias ({}): when the alias moves to the new key, the principals it admits lose the old key and cannot decrypt what it encrypted, whatever the grace period says. Grant them the old key another way (a grant, or a statement naming them), or accept this with --accept-alias-conditions",
                    current.arn,
                    alias_condition_list(&review.alias_conditions)
                ),
            ));
        }
        let caller = self.caller.clone().unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:root",
                current.arn.partition(),
                current.arn.account()
            )
        });
        if let Some(why) =
            crate::key_policy::lockout(&review.policy, current.arn.account(), &caller)
        {
            return Err(self.unsupported(
                alias,
                format!(
                    "the new key would get {}'s policy, which CreateKey's policy lockout safety check refuses: {why}. Nothing was created",
                    current.arn
                ),
            ));
        }
        let mut notes: Vec<String> = review
            .rewritten
            .iter()
            .map(|s| {
                format!(
                    "policy statement {s}: Resource {} became \"*\" (this key)",
                    current.arn
                )
            })
            .collect();
        notes.extend(review.mentions.iter().map(|m| {
            format!(
                "policy {m} still names the old key {}; check it",
                current.id
            )
        }));
        if options.accept_alias_conditions && !review.alias_conditions.is_empty() {
            notes.push(format!(
                "accepted: {} lose the old key when the alias moves",
                alias_condition_list(&review.alias_conditions)
            ));
        }
        let diff = crate::key_policy::diff(&text, &review.policy);
        Ok(PreparedPolicy {
            policy: review.policy,
            notes,
            diff,
        })
    }

    pub(super) fn mismatch(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
    ) -> Result<(), RotationError> {
        if new.spec == current.spec && new.usage == current.usage {
            return Ok(());
        }
        Err(RotationError::Mismatch {
            alias: alias.clone(),
            new_key: new.arn.clone(),
            new_spec: new.spec.clone(),
            new_usage: new.usage.clone(),
            spec: current.spec.clone(),
            usage: current.usage.clone(),
        })
    }

    /// Step 3: the current key's grants are created again on the new key, the aliases given
    /// to move with this one move, then the alias moves to the new key, and the keys are
    /// re-tagged. `key_policy` is the policy this rotation gave the new key. Returns the
    /// grants copied.
    async fn promote(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
        key_policy: &str,
        options: &RotateOptions,
    ) -> Result<Vec<GrantCopy>, RotationError> {
        // Refused here too, right before the one call that applications feel.
        self.mismatch(alias, current, new)?;
        // And only from the key this rotation started from: another rotation or a person may
        // have moved the alias meanwhile.
        let tags_now = self.tags_of(&current.arn).await?;
        let ours = tags_now.get(tags::ROTATING).map(String::as_str) == new.tag(tags::ROTATION_ID)
            && tags_now.get(tags::PENDING_KEY) == Some(&new.id);
        let now_named = self
            .store
            .describe(alias.as_str(), &alias_subject(alias))
            .await?;
        if now_named.id == new.id {
            // Another run of this same rotation (a sweep beside a `rotate`) moved the alias to
            // this rotation's key: finish the re-tagging; never give that key up.
            tracing::info!(%alias, key = %new.arn, "the alias already names this rotation's key; finishing");
            self.finish_promote(alias, new, Some(current)).await?;
            return Ok(Vec::new());
        }
        if ours && now_named.id == current.id {
            self.check_provenance(alias, current, new, key_policy, &tags_now)
                .await?;
        }
        if !ours || now_named.id != current.id {
            return Err(self.busy(
                alias,
                format!(
                    "another rotation or a person changed it while this rotation ran (it names {}); this rotation's new key {} was given up",
                    now_named.id,
                    new.arn
                ),
            ));
        }
        // Its state now: a key someone disabled since its self-test would take the alias down.
        let state = self
            .store
            .describe(&new.arn.to_string(), &super::keys::subject_for(&new.id))
            .await?;
        if !state.is_enabled() {
            return Err(self.unsupported(
                alias,
                format!(
                    "its new key {} is {} (changed since its self-test); the alias was not moved. Enable it and run the rotation again, or give it up with `kmsrot rotate {alias} --abort`",
                    new.arn, state.state
                ),
            ));
        }
        let copied = if options.no_copy_grants {
            Vec::new()
        } else {
            self.copy_grants(current, new).await?
        };
        for other in &options.move_with {
            let named = self
                .store
                .describe(other.as_str(), &alias_subject(other))
                .await?;
            if named.id == current.id {
                self.store.update_alias(other, new).await?;
            } else if named.id != new.id {
                return Err(self.busy(
                    alias,
                    format!(
                        "`{other}`, given to move with it, names {} now, not {}; nothing was moved",
                        named.arn, current.arn
                    ),
                ));
            }
        }
        // Every Region's alias moves before the primary's, so that a re-run after a crash
        // still finds this rotation under way and finishes it.
        self.move_replica_aliases(alias, current, new).await?;
        self.store.update_alias(alias, new).await?;
        // KMS has no compare-and-swap: another run may have moved the alias right after this
        // one. Whoever the alias names now won; the other gives its key up. An alias read
        // back as still naming the current key is an eventually consistent read of this
        // run's own move, not a loss: only a third key is another run's.
        let named = self
            .store
            .describe(alias.as_str(), &alias_subject(alias))
            .await?;
        if named.id != new.id && named.id != current.id {
            return Err(self.busy(
                alias,
                format!(
                    "another run moved it to {} right after this rotation moved it to {}; this rotation's key was given up",
                    named.arn, new.arn
                ),
            ));
        }
        self.finish_promote(alias, new, Some(current)).await?;
        Ok(copied)
    }

    /// Refuses to promote a pending key whose tags are not what this rotation wrote: it must
    /// name the current key as its previous key, have been created (KMS's `CreationDate`)
    /// after the rotation started (`kmsrot:rotating-since`), and carry the key policy the
    /// rotation gave it. A principal who may tag keys could otherwise point a rotation at a
    /// key of theirs.
    async fn check_provenance(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
        wanted: &str,
        current_tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), RotationError> {
        let tampered = |why: String| RotationError::Tampered {
            alias: alias.clone(),
            region: self.region(),
            key: new.arn.clone(),
            why,
        };
        if new.tag(tags::PREVIOUS_KEY) != Some(current.id.as_str()) {
            return Err(tampered(format!(
                "it names {:?} as its previous key, not {}",
                new.tag(tags::PREVIOUS_KEY),
                current.id
            )));
        }
        let since = current_tags
            .get(tags::ROTATING_SINCE)
            .and_then(|t| aws_smithy_types::DateTime::from_str(t, Format::DateTime).ok());
        let Some(since) = since else {
            return Err(tampered(format!(
                "{} records no start of the rotation (kmsrot:rotating-since); give the rotation up with `kmsrot rotate {alias} --abort`",
                current.arn
            )));
        };
        // Clocks differ a little; a key made before the rotation began is another's.
        const SKEW_SECS: i64 = 300;
        match new.creation {
            Some(created) if created.secs() + SKEW_SECS >= since.secs() => {}
            created => {
                return Err(tampered(format!(
                    "it was created at {}, before the rotation started at {}",
                    created.map_or_else(|| "an unknown time".to_owned(), rfc3339),
                    rfc3339(since)
                )));
            }
        }
        let actual = self.key_policy(alias, new).await?;
        let parsed = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
        if parsed(wanted) != parsed(&actual) {
            return Err(tampered(
                "its key policy is not the one the rotation gave it".into(),
            ));
        }
        Ok(())
    }

    /// Creates the current key's grants again on the new key, except those of AWS services
    /// (a service makes its own grants on the key a resource uses). Reads the new key's grants
    /// first and skips those already copied, so a retried promotion copies each grant once
    /// even when the grant has no name (`CreateGrant` is idempotent only by name).
    async fn copy_grants(
        &self,
        current: &KeyView,
        new: &KeyView,
    ) -> Result<Vec<GrantCopy>, RotationError> {
        let wanted: Vec<Grant> = self
            .store
            .grants(&current.arn)
            .await?
            .into_iter()
            .filter(|g| !g.is_service())
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut present = self.store.grants(&new.arn).await?;
        let mut copied = Vec::new();
        for grant in wanted {
            let to = match present.iter().position(|p| same_grant(p, &grant)) {
                Some(i) => present.swap_remove(i).grant_id,
                None => self.store.create_grant(&new.arn, &grant).await?,
            };
            tracing::info!(from = grant.grant_id, to, grantee = grant.grantee(), key = %new.arn, "grant copied");
            copied.push(GrantCopy {
                from_grant_id: grant.grant_id.clone(),
                to_grant_id: to,
                grantee: grant.grantee().to_owned(),
            });
        }
        Ok(copied)
    }

    /// The re-tagging after the alias moved: the old key becomes `previous` (its grace period
    /// starts), then the new key becomes `current`. Safe to repeat.
    async fn finish_promote(
        &self,
        alias: &AliasName,
        new: &KeyView,
        old: Option<&KeyView>,
    ) -> Result<(), RotationError> {
        let loaded;
        let old = match old {
            Some(old) => old,
            None => {
                let id = new.tag(tags::PREVIOUS_KEY).ok_or_else(|| {
                    self.inconsistent(
                        alias,
                        format!("the pending key {} names no previous key", new.arn),
                    )
                })?;
                loaded = self.key(id).await?;
                &loaded
            }
        };
        let now = rfc3339(self.now());
        // A re-run writes the replicas what the first run wrote on the primary.
        let demoted_at = match old.stage() {
            Some(Stage::Previous) => old.tag(tags::DEMOTED_AT).map(str::to_owned),
            _ => None,
        };
        let demoted = [
            (tags::STAGE, Stage::Previous.to_string()),
            (tags::DEMOTED_AT, demoted_at.unwrap_or_else(|| now.clone())),
            (tags::REPLACED_BY, new.id.clone()),
        ];
        if old.stage() != Some(Stage::Previous) {
            self.store.tag(&old.arn, &demoted).await?;
        }
        self.mirror(old, &demoted, &[]).await?;
        self.store
            .untag(
                &old.arn,
                &[
                    tags::ROTATING,
                    tags::ROTATING_SINCE,
                    tags::PENDING_KEY,
                    tags::ROLLBACK_FROM,
                ],
            )
            .await?;
        let promoted = [
            (tags::STAGE, Stage::Current.to_string()),
            (tags::PROMOTED_AT, now),
        ];
        self.store.tag(&new.arn, &promoted).await?;
        if !old.replicas().is_empty() {
            // The view of the new key may predate its replicas.
            let new = self.key(&new.arn.to_string()).await?;
            self.mirror(&new, &promoted, &[]).await?;
        }
        Ok(())
    }
}

/// The new key's policy, and what a person should know about it.
struct PreparedPolicy {
    policy: String,
    notes: Vec<String>,
    diff: Vec<String>,
}

/// Alias conditions in words: `statement (operator key)`, joined.
pub(crate) fn alias_condition_list(conditions: &[crate::key_policy::AliasCondition]) -> String {
    conditions
        .iter()
        .map(|c| format!("statement {} ({} {})", c.statement, c.operator, c.key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether two grants give the same permissions to the same principals (their IDs differ).
fn same_grant(a: &Grant, b: &Grant) -> bool {
    let ops = |g: &Grant| {
        let mut ops = g.operations.clone();
        ops.sort();
        ops
    };
    a.name == b.name
        && a.grantee_principal == b.grantee_principal
        && a.grantee_service_principal == b.grantee_service_principal
        && a.retiring_principal == b.retiring_principal
        && a.retiring_service_principal == b.retiring_service_principal
        && ops(a) == ops(b)
        && a.constraints.clone().unwrap_or_default() == b.constraints.clone().unwrap_or_default()
}

/// Whether the key the alias names shows an interrupted promotion or rollback.
pub(crate) fn settling(current: &KeyView) -> bool {
    match current.stage() {
        Some(Stage::Pending) => true,
        Some(Stage::Previous | Stage::Retired | Stage::Current) => {
            current.tag(tags::ROLLBACK_FROM).is_some()
        }
        None => false,
    }
}

/// Whether the manual rotation `options` names is the one the alias's key records as done.
fn already_done(
    alias: &AliasName,
    current: &KeyView,
    policy: &Policy,
    options: &RotateOptions,
) -> bool {
    let done = policy.mode == Mode::Manual
        && options
            .rotation_id
            .as_deref()
            .is_some_and(|id| current.tag(tags::ROTATION_ID) == Some(id))
        && current.stage() == Some(Stage::Current);
    if done {
        tracing::info!(%alias, rotation_id = ?options.rotation_id, "rotation already done");
    }
    done
}
