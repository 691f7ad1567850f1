//! Putting an alias under management (init, adopt), and the manual rotation's steps:
//! create → test → promote, and rollback. Each step reads the state first and returns when its
//! work is done, so a rotation run again after a crash converges.
//!
//! The state machine, read from the key the alias names (`T`):
//! - `T` is `current` with no `kmsrot:rotating`: idle.
//! - `T` is `current` with `kmsrot:rotating`: a rotation was started; its new key is named by
//!   `kmsrot:pending-key`, or (after a crash right after `CreateKey`) found by its tags.
//! - `T` is `pending`: the alias was moved and the re-tagging was interrupted.
//! - `T` carries `kmsrot:rollback-from`: a rollback was interrupted after the alias moved.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType,
    SigningAlgorithmSpec,
};
use kmsrot_types::key_kind::SYMMETRIC_DEFAULT;
use kmsrot_types::{
    Action, AliasName, AliasStatus, AsymmetricCiphertext, EncryptionContext, KeyArn, KeyKind, Mac,
    Mode, Policy, Signature, Stage, Undone, tags,
};

use super::keys::{KeyView, alias_subject};
use super::{RotationError, Rotator, new_rotation_id, rfc3339};
use crate::{KmsError, Subject};

/// How to run [`Rotator::rotate`].
#[derive(Debug, Clone, Default)]
pub struct RotateOptions {
    /// Report the plan; change nothing.
    pub dry_run: bool,
    /// The idempotency token of a manual rotation; a fresh one when absent. Give the same ID
    /// to retry a rotation that failed, so it finishes once instead of rotating twice.
    pub rotation_id: Option<String>,
}

impl Rotator {
    /// The policy of a managed alias, from the tags of the key it names.
    pub(crate) fn managed_policy(
        &self,
        alias: &AliasName,
        key: &KeyView,
    ) -> Result<Policy, RotationError> {
        if !key.serves(alias) {
            return Err(self.unmanaged(alias, &key.arn));
        }
        Policy::from_tags(|name| key.tag(name)).map_err(|source| RotationError::PolicyTags {
            alias: alias.clone(),
            source,
        })
    }

    /// The rotation policy of a managed alias.
    pub async fn policy(&self, alias: &AliasName) -> Result<Policy, RotationError> {
        let current = self.target(alias).await?;
        self.managed_policy(alias, &current)
    }

    /// Refuses keys kmsrot cannot rotate by making a new key like them.
    pub(crate) fn check_manageable(
        &self,
        alias: &AliasName,
        key: &KeyView,
        mode: Mode,
    ) -> Result<(), RotationError> {
        let arn = &key.arn;
        if key.key_manager == "AWS" {
            return Err(self.unsupported(alias, format!("{arn} is an AWS managed key")));
        }
        if key.custom_key_store {
            return Err(self.unsupported(
                alias,
                format!(
                    "{arn} is in a custom key store; kmsrot creates keys only in the default AWS KMS key store, so rotate it with your key store's tools"
                ),
            ));
        }
        if key.origin != "AWS_KMS" {
            return Err(self.unsupported(
                alias,
                format!(
                    "{arn} has origin {}: its key material is imported, and kmsrot does not import material into new keys; import new material yourself, or move the alias to an AWS_KMS key and adopt that",
                    key.origin
                ),
            ));
        }
        self.check_kind(alias, &arn.to_string(), &key.spec, &key.usage, mode)
    }

    /// Refuses a key spec and usage kmsrot cannot rotate in this mode. `what` names the key.
    fn check_kind(
        &self,
        alias: &AliasName,
        what: &str,
        spec: &str,
        usage: &str,
        mode: Mode,
    ) -> Result<(), RotationError> {
        KeyKind::of(spec, usage)
            .map_err(|err| self.unsupported(alias, format!("{what}: {err}")))?;
        if mode == Mode::Automatic && spec != SYMMETRIC_DEFAULT {
            return Err(self.unsupported(
                alias,
                format!(
                    "{what} is {spec}, and KMS rotates key material automatically only for SYMMETRIC_DEFAULT keys; use --mode manual"
                ),
            ));
        }
        Ok(())
    }

    /// Creates a key and an alias for it under a policy. Refuses an alias that exists.
    pub async fn init(
        &self,
        alias: &AliasName,
        key_spec: &str,
        key_usage: &str,
        description: Option<&str>,
        policy: Policy,
    ) -> Result<AliasStatus, RotationError> {
        policy.validate().map_err(|source| RotationError::Policy {
            alias: alias.clone(),
            source,
        })?;
        self.check_kind(alias, "the new key", key_spec, key_usage, policy.mode)?;
        match self.target(alias).await {
            Ok(_) => {
                return Err(RotationError::AliasExists {
                    alias: alias.clone(),
                    region: self.region(),
                });
            }
            Err(KmsError::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        let now = rfc3339(self.now());
        let mut key_tags = vec![
            (tags::ALIAS, alias.to_string()),
            (tags::STAGE, Stage::Current.to_string()),
            (tags::ROTATION_ID, new_rotation_id(self.now())),
            (tags::CREATED_AT, now.clone()),
            (tags::PROMOTED_AT, now),
        ];
        key_tags.extend(policy.to_tags());
        let description = description.map_or_else(|| format!("kmsrot: {alias}"), str::to_owned);
        let key = self
            .create_key(
                alias,
                key_spec,
                key_usage,
                false,
                None,
                &description,
                &key_tags,
            )
            .await?;
        if let Err(err) = self.finish_init(alias, &key, &policy).await {
            // Leave no key behind that no alias names (a crash here cannot be helped). When
            // the alias was created after all (its answer was lost), the key stays.
            if matches!(self.aliases(Some(&key.arn)).await.as_deref(), Ok([])) {
                tracing::warn!(%alias, key = %key.arn, "init failed; scheduling the new key's deletion");
                if let Err(cleanup) = self
                    .schedule_deletion(&key.arn, policy.deletion_window_days)
                    .await
                {
                    tracing::warn!(key = %key.arn, error = %cleanup, "could not schedule the deletion");
                }
            }
            return Err(err);
        }
        self.status(alias).await
    }

    async fn finish_init(
        &self,
        alias: &AliasName,
        key: &KeyView,
        policy: &Policy,
    ) -> Result<(), RotationError> {
        if policy.mode == Mode::Automatic {
            self.enable_rotation(&key.arn, policy.period_days).await?;
        }
        self.pace.tick().await;
        let out = self
            .kms
            .client
            .create_alias()
            .alias_name(alias.as_str())
            .target_key_id(&key.id)
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(err) => Err(self
                .kms
                .fail("CreateAlias", &alias_subject(alias), err)
                .await
                .into()),
        }
    }

    /// Starts managing an existing alias and its key: writes kmsrot's tags and the policy, and
    /// changes nothing else. Run again, it updates the policy.
    pub async fn adopt(
        &self,
        alias: &AliasName,
        policy: Policy,
    ) -> Result<AliasStatus, RotationError> {
        policy.validate().map_err(|source| RotationError::Policy {
            alias: alias.clone(),
            source,
        })?;
        let key = self.target(alias).await?;
        if settling(&key) {
            return Err(self.busy(
                alias,
                format!(
                    "a promotion or rollback is unfinished; finish it with `kmsrot rotate {alias}` or `kmsrot rollback {alias}` first"
                ),
            ));
        }
        self.check_manageable(alias, &key, policy.mode)?;
        if let Some(other) = key.tag(tags::ALIAS).filter(|a| *a != alias.as_str()) {
            return Err(self.unsupported(
                alias,
                format!("{} is already managed for alias `{other}`", key.arn),
            ));
        }
        let others: Vec<String> = self
            .aliases(Some(&key.arn))
            .await?
            .into_iter()
            .map(|(name, _)| name.to_string())
            .filter(|name| name != alias.as_str())
            .collect();
        if !others.is_empty() {
            return Err(self.unsupported(
                alias,
                format!(
                    "{} is also named by {}; a rotation would leave those on the old key, so give each alias its own key first",
                    key.arn,
                    others.join(", ")
                ),
            ));
        }
        let since = key
            .creation
            .map(rfc3339)
            .unwrap_or_else(|| rfc3339(self.now()));
        let keep = |name: &str| key.tag(name).map_or_else(|| since.clone(), str::to_owned);
        let mut key_tags = vec![
            (tags::ALIAS, alias.to_string()),
            (tags::STAGE, Stage::Current.to_string()),
            (
                tags::ROTATION_ID,
                key.tag(tags::ROTATION_ID)
                    .map_or_else(|| new_rotation_id(self.now()), str::to_owned),
            ),
            (tags::CREATED_AT, keep(tags::CREATED_AT)),
            (tags::PROMOTED_AT, keep(tags::PROMOTED_AT)),
        ];
        key_tags.extend(policy.to_tags());
        self.tag(&key.arn, &key_tags).await?;
        self.status(alias).await
    }

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
        let current = self.target(alias).await?;
        let policy = self.managed_policy(alias, &current)?;
        if policy.mode == Mode::Manual
            && let Some(id) = &options.rotation_id
            && current.tag(tags::ROTATION_ID) == Some(id.as_str())
            && current.stage() == Some(Stage::Current)
        {
            tracing::info!(%alias, rotation_id = id, "rotation already done");
            return Ok(vec![]);
        }
        self.rotate_as(alias, current, &policy, "requested".into(), options)
            .await
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
        let (current, mut done) = self.settle(alias, current, dry_run).await?;
        if !done.is_empty() || (dry_run && settling(&current)) {
            // Finishing the interrupted rotation or rollback is this run's rotation.
            if dry_run {
                done.push(Action::Rotate {
                    reason: "finish the interrupted rotation or rollback".into(),
                    new_key: Some(current.arn.clone()),
                });
            }
            return Ok(done);
        }
        if policy.mode == Mode::Automatic {
            return self
                .rotate_on_demand(alias, &current, reason, dry_run)
                .await;
        }
        self.check_manageable(alias, &current, Mode::Manual)?;
        if dry_run {
            let reason = match current.tag(tags::ROTATING) {
                Some(id) => format!("{reason}; resumes rotation {id}"),
                None => reason,
            };
            return Ok(vec![Action::Rotate {
                reason,
                new_key: None,
            }]);
        }
        let pending = self
            .create(alias, &current, policy, options.rotation_id)
            .await?;
        self.self_test(alias, &current, &pending).await?;
        if let Err(err) = self.promote(alias, &current, &pending).await {
            if matches!(err, RotationError::Busy { .. }) {
                // Lost a race before UpdateAlias: this rotation's key is nobody's now.
                self.abandon(&pending, policy).await?;
            }
            return Err(err);
        }
        Ok(vec![Action::Rotate {
            reason,
            new_key: Some(pending.arn),
        }])
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
            let action = Action::Rotate {
                reason: "finished the interrupted rotation".into(),
                new_key: Some(current.arn.clone()),
            };
            return Ok((self.target(alias).await?, vec![action]));
        }
        let from = self.finish_rollback(alias, &current, None).await?;
        let action = Action::Rollback {
            to: current.arn.clone(),
            from,
        };
        Ok((self.target(alias).await?, vec![action]))
    }

    /// Step 1: the pending key of this rotation, reused or created.
    async fn create(
        &self,
        alias: &AliasName,
        current: &KeyView,
        policy: &Policy,
        requested_id: Option<String>,
    ) -> Result<KeyView, RotationError> {
        // An interrupted rotation is resumed under its own ID, whatever was asked.
        let (rotation_id, fresh) = match current.tag(tags::ROTATING) {
            Some(id) => (id.to_owned(), false),
            None => {
                let id = requested_id.unwrap_or_else(|| new_rotation_id(self.now()));
                self.tag(&current.arn, &[(tags::ROTATING, id.clone())])
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
                self.tag(&current.arn, &[(tags::PENDING_KEY, key.id.clone())])
                    .await?;
                return Ok(key);
            }
            self.abandon(&key, policy).await?;
        }
        let key_policy = self.key_policy(alias, current).await?;
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
        let key = self
            .create_key(
                alias,
                &current.spec,
                &current.usage,
                current.multi_region,
                Some(key_policy),
                &current.description,
                &key_tags,
            )
            .await?;
        self.tag(&current.arn, &[(tags::PENDING_KEY, key.id.clone())])
            .await?;
        Ok(key)
    }

    /// Gives up a pending key that can never pass its test (someone disabled it): its
    /// deletion is scheduled with the policy's window, unless an alias names it. It was never
    /// promoted, so no application used it.
    async fn abandon(&self, key: &KeyView, policy: &Policy) -> Result<(), RotationError> {
        tracing::warn!(key = %key.arn, state = key.state, "abandoning a pending key");
        if self.aliases(Some(&key.arn)).await?.is_empty() {
            // Its deletion is the record: a key pending deletion is never reused.
            self.schedule_deletion(&key.arn, policy.deletion_window_days)
                .await?;
        } else {
            self.tag(
                &key.arn,
                &[
                    (tags::STAGE, Stage::Retired.to_string()),
                    (tags::RETIRED_AT, rfc3339(self.now())),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// Abandons an unfinished manual rotation: its new key (never promoted) is scheduled for
    /// deletion, and the current key stays current. A rotation whose alias already moved is
    /// finished instead, since applications may already use the new key.
    pub async fn abort(&self, alias: &AliasName) -> Result<Vec<Action>, RotationError> {
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
                    self.untag(&previous.arn, &[tags::ROLLBACK_FROM]).await?;
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
        self.untag(&current.arn, &[tags::ROTATING, tags::PENDING_KEY])
            .await?;
        Ok(vec![Action::Abort {
            rotation_id,
            abandoned: pending.map(|k| k.arn),
        }])
    }

    async fn key_policy(&self, alias: &AliasName, key: &KeyView) -> Result<String, RotationError> {
        self.pace.tick().await;
        let out = self
            .kms
            .client
            .get_key_policy()
            .key_id(key.arn.to_string())
            .policy_name("default")
            .send()
            .await;
        match out {
            Ok(out) => out
                .policy
                .ok_or_else(|| self.inconsistent(alias, format!("{} has no key policy", key.arn))),
            Err(err) => Err(self
                .kms
                .fail("GetKeyPolicy", &Subject::Key(key.arn.clone()), err)
                .await
                .into()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_key(
        &self,
        alias: &AliasName,
        spec: &str,
        usage: &str,
        multi_region: bool,
        policy: Option<String>,
        description: &str,
        key_tags: &[(&str, String)],
    ) -> Result<KeyView, RotationError> {
        let tag_list = self.tag_list("CreateKey", key_tags)?;
        self.pace.tick().await;
        let out = self
            .kms
            .client
            .create_key()
            // Explicit, though it is the default: the stack's role allows CreateKey only for
            // `kms:KeyOrigin` AWS_KMS, and kmsrot rotates only keys whose material KMS makes.
            .origin(aws_sdk_kms::types::OriginType::AwsKms)
            .key_spec(KeySpec::from(spec))
            .key_usage(KeyUsageType::from(usage))
            .multi_region(multi_region)
            .set_policy(policy)
            .description(description)
            .set_tags(Some(tag_list))
            .send()
            .await;
        let metadata = match out {
            Ok(out) => out
                .key_metadata
                .ok_or_else(|| self.kms.unexpected("CreateKey", "no KeyMetadata"))?,
            Err(err) => {
                return Err(self
                    .kms
                    .fail("CreateKey", &alias_subject(alias), err)
                    .await
                    .into());
            }
        };
        let mut view = self.view(metadata)?;
        view.tags = key_tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        tracing::info!(%alias, key = %view.arn, spec, usage, "created key");
        Ok(view)
    }

    fn mismatch(
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

    /// Step 2: the new key has the current key's spec and usage, and a real round trip
    /// through its ARN works.
    async fn self_test(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
    ) -> Result<(), RotationError> {
        self.mismatch(alias, current, new)?;
        let check = KeyKind::of(&new.spec, &new.usage)
            .map_err(|err| self.unsupported(alias, format!("{}: {err}", new.arn)))?;
        let probe: Vec<u8> = std::iter::repeat_with(|| fastrand::u8(..))
            .take(32)
            .collect();
        let fail = |source: KmsError| RotationError::SelfTest {
            alias: alias.clone(),
            key: new.arn.clone(),
            check: check.check_name(),
            source: Box::new(source),
        };
        let subject = Subject::Key(new.arn.clone());
        let arn = new.arn.to_string();
        let client = &self.kms.client;
        self.pace.tick().await;
        let ok = match check {
            KeyKind::Symmetric | KeyKind::Asymmetric(_) => {
                let algorithm = match check {
                    KeyKind::Asymmetric(a) => EncryptionAlgorithmSpec::from(a),
                    _ => EncryptionAlgorithmSpec::SymmetricDefault,
                };
                let sealed = client
                    .encrypt()
                    .key_id(&arn)
                    .encryption_algorithm(algorithm.clone())
                    .plaintext(Blob::new(probe.clone()))
                    .send()
                    .await;
                let sealed = match sealed {
                    Ok(out) => out
                        .ciphertext_blob
                        .map(Blob::into_inner)
                        .unwrap_or_default(),
                    Err(err) => return Err(fail(self.kms.fail("Encrypt", &subject, err).await)),
                };
                // The other half through kmsrot's own decryption, the way data is read later.
                self.pace.tick().await;
                match check {
                    KeyKind::Asymmetric(algorithm) => {
                        let ciphertext = AsymmetricCiphertext {
                            key_arn: new.arn.clone(),
                            encryption_algorithm: algorithm.to_owned(),
                            ciphertext: sealed.into(),
                        };
                        let plaintext = self
                            .kms
                            .decrypt_asymmetric(&ciphertext)
                            .await
                            .map_err(fail)?;
                        plaintext.expose() == probe.as_slice()
                    }
                    _ => {
                        let out = self
                            .kms
                            .decrypt(&sealed, &EncryptionContext::default())
                            .await
                            .map_err(fail)?;
                        out.key_arn == new.arn && out.plaintext.expose() == probe.as_slice()
                    }
                }
            }
            KeyKind::Sign(algorithm) => {
                let signed = client
                    .sign()
                    .key_id(&arn)
                    .message(Blob::new(probe.clone()))
                    .message_type(MessageType::Raw)
                    .signing_algorithm(SigningAlgorithmSpec::from(algorithm))
                    .send()
                    .await;
                let signature = match signed {
                    Ok(out) => out.signature.map(Blob::into_inner).unwrap_or_default(),
                    Err(err) => return Err(fail(self.kms.fail("Sign", &subject, err).await)),
                };
                self.pace.tick().await;
                let signature = Signature {
                    key_arn: new.arn.clone(),
                    signing_algorithm: algorithm.to_owned(),
                    signature: signature.into(),
                };
                self.kms.verify(&probe, &signature).await.map_err(fail)?;
                true
            }
            KeyKind::Mac(algorithm) => {
                let made = client
                    .generate_mac()
                    .key_id(&arn)
                    .message(Blob::new(probe.clone()))
                    .mac_algorithm(MacAlgorithmSpec::from(algorithm))
                    .send()
                    .await;
                let mac = match made {
                    Ok(out) => out.mac.map(Blob::into_inner).unwrap_or_default(),
                    Err(err) => {
                        return Err(fail(self.kms.fail("GenerateMac", &subject, err).await));
                    }
                };
                self.pace.tick().await;
                let mac = Mac {
                    key_arn: new.arn.clone(),
                    mac_algorithm: algorithm.to_owned(),
                    mac: mac.into(),
                };
                self.kms.verify_mac(&probe, &mac).await.map_err(fail)?;
                true
            }
        };
        if ok {
            Ok(())
        } else {
            Err(fail(self.kms.unexpected(
                "self-test",
                "the round trip did not give back what went in",
            )))
        }
    }

    async fn update_alias(&self, alias: &AliasName, key: &KeyView) -> Result<(), RotationError> {
        self.pace.tick().await;
        let out = self
            .kms
            .client
            .update_alias()
            .alias_name(alias.as_str())
            .target_key_id(&key.id)
            .send()
            .await;
        match out {
            Ok(_) => {
                tracing::info!(%alias, key = %key.arn, "alias moved");
                Ok(())
            }
            Err(err) => Err(self
                .kms
                .fail("UpdateAlias", &alias_subject(alias), err)
                .await
                .into()),
        }
    }

    /// Step 3: the alias moves to the new key, then the keys are re-tagged.
    async fn promote(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
    ) -> Result<(), RotationError> {
        // Refused here too, right before the one call that applications feel.
        self.mismatch(alias, current, new)?;
        // And only from the key this rotation started from: another rotation or a person may
        // have moved the alias meanwhile.
        let tags_now = self.tags_of(&current.arn).await?;
        let ours = tags_now.get(tags::ROTATING).map(String::as_str) == new.tag(tags::ROTATION_ID)
            && tags_now.get(tags::PENDING_KEY) == Some(&new.id);
        self.pace.tick().await;
        let now_named = self
            .kms
            .metadata(alias.as_str(), &alias_subject(alias))
            .await?;
        if !ours || now_named.key_id() != current.id {
            return Err(self.busy(
                alias,
                format!(
                    "another rotation or a person changed it while this rotation ran (it names {}); this rotation's new key {} was given up",
                    now_named.key_id(),
                    new.arn
                ),
            ));
        }
        self.update_alias(alias, new).await?;
        self.finish_promote(alias, new, Some(current)).await
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
        if old.stage() != Some(Stage::Previous) {
            self.tag(
                &old.arn,
                &[
                    (tags::STAGE, Stage::Previous.to_string()),
                    (tags::DEMOTED_AT, now.clone()),
                ],
            )
            .await?;
        }
        self.untag(
            &old.arn,
            &[tags::ROTATING, tags::PENDING_KEY, tags::ROLLBACK_FROM],
        )
        .await?;
        self.tag(
            &new.arn,
            &[
                (tags::STAGE, Stage::Current.to_string()),
                (tags::PROMOTED_AT, now),
            ],
        )
        .await?;
        Ok(())
    }

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
        let policy = self.managed_policy(alias, &current)?;
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
        self.tag(&previous.arn, &[(tags::ROLLBACK_FROM, current.id.clone())])
            .await?;
        previous
            .tags
            .insert(tags::ROLLBACK_FROM.to_owned(), current.id.clone());
        self.restore(&previous).await?;
        self.update_alias(alias, &previous).await?;
        self.finish_rollback(alias, &previous, Some(&current))
            .await?;
        Ok(Action::Rollback {
            to: previous.arn,
            from: current.arn,
        })
    }

    /// Cancels a key's deletion and enables it, as needed. Returns what was undone.
    pub(crate) async fn restore(&self, key: &KeyView) -> Result<Vec<Undone>, RotationError> {
        let mut undone = Vec::new();
        let subject = Subject::Key(key.arn.clone());
        let mut enabled = key.is_enabled();
        if key.is_pending_deletion() {
            self.pace.tick().await;
            let out = self
                .kms
                .client
                .cancel_key_deletion()
                .key_id(key.arn.to_string())
                .send()
                .await;
            if let Err(err) = out {
                return Err(self
                    .kms
                    .fail("CancelKeyDeletion", &subject, err)
                    .await
                    .into());
            }
            // A key whose deletion is cancelled is disabled.
            enabled = false;
            undone.push(Undone::DeletionCancelled);
        }
        if !enabled {
            self.pace.tick().await;
            let out = self
                .kms
                .client
                .enable_key()
                .key_id(key.arn.to_string())
                .send()
                .await;
            if let Err(err) = out {
                return Err(self.kms.fail("EnableKey", &subject, err).await.into());
            }
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
    async fn finish_rollback(
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
            self.untag(
                &restored.arn,
                &[tags::ROLLBACK_FROM, tags::DEMOTED_AT, tags::RETIRED_AT],
            )
            .await?;
            return Ok(left.arn.clone());
        }
        let mut left_tags = vec![
            (tags::STAGE, Stage::Previous.to_string()),
            (tags::DEMOTED_AT, now.clone()),
        ];
        match restored.tag(tags::PREVIOUS_KEY).filter(|id| *id != left.id) {
            Some(older) => left_tags.push((tags::PREVIOUS_KEY, older.to_owned())),
            None => self.untag(&left.arn, &[tags::PREVIOUS_KEY]).await?,
        }
        self.tag(&left.arn, &left_tags).await?;
        self.untag(&left.arn, &[tags::ROTATING, tags::PENDING_KEY])
            .await?;
        let mut restored_tags = vec![
            (tags::STAGE, Stage::Current.to_string()),
            (tags::PROMOTED_AT, now),
            (tags::PREVIOUS_KEY, left.id.clone()),
            (tags::ROLLED_BACK_FROM, left.id.clone()),
        ];
        // The policy belongs to the alias: the restored key takes the one in force.
        if let Ok(policy) = Policy::from_tags(|name| left.tag(name)) {
            restored_tags.extend(policy.to_tags());
        }
        self.tag(&restored.arn, &restored_tags).await?;
        self.untag(
            &restored.arn,
            &[tags::ROLLBACK_FROM, tags::DEMOTED_AT, tags::RETIRED_AT],
        )
        .await?;
        Ok(left.arn.clone())
    }
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
