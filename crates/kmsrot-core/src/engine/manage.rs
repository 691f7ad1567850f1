//! Putting an alias under management: `init` (a new key and alias under a policy), `adopt`
//! (an existing alias and key), and the checks of what kmsrot can manage (the key-kind table,
//! origin, key store, key manager).

use kmsrot_types::key_kind::SYMMETRIC_DEFAULT;
use kmsrot_types::{AliasName, AliasStatus, KeyKind, Mode, Policy, Stage, tags};

use super::keys::KeyView;
use super::rotate::settling;
use super::{RotationError, Rotator, new_rotation_id, rfc3339};
use crate::KmsError;

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
        if let Some(why) = key.cannot_rotate() {
            return Err(self.unsupported(alias, why));
        }
        let arn = &key.arn;
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

    /// Refuses to manage an alias whose name starts with `alias/kmsrot-lock`: kmsrot's locks
    /// and their take-over markers live there.
    fn refuse_lock_alias(&self, alias: &AliasName) -> Result<(), RotationError> {
        if super::lock::is_lock(alias) {
            return Err(self.unsupported(
                alias,
                format!(
                    "aliases whose names start with `{}` are kmsrot's locks (one per managed alias while a run changes it); choose another name",
                    super::lock::LOCK_PREFIX.trim_end_matches('/')
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
        self.refuse_lock_alias(alias)?;
        self.check_kind(alias, "the new key", key_spec, key_usage, policy.mode)?;
        match self.target(alias).await {
            Ok(key) => {
                self.refuse_replica(alias, &key).await?;
                return Err(RotationError::AliasExists {
                    alias: alias.clone(),
                    region: self.region(),
                });
            }
            Err(KmsError::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        let now = rfc3339(self.now());
        let rotation_id = new_rotation_id(self.now());
        let mut key_tags = vec![
            (tags::ALIAS, alias.to_string()),
            (tags::STAGE, Stage::Current.to_string()),
            (tags::ROTATION_ID, rotation_id.clone()),
            (tags::CREATED_AT, now.clone()),
            (tags::PROMOTED_AT, now),
        ];
        key_tags.extend(policy.to_tags());
        let description = description.map_or_else(|| format!("kmsrot: {alias}"), str::to_owned);
        let created = self
            .store
            .create_key(
                alias,
                key_spec,
                key_usage,
                false,
                None,
                &description,
                &key_tags,
            )
            .await;
        let key = match created {
            Ok(key) => key,
            // Sent once: a key made while its answer was lost carries this init's tags.
            Err(err) => match self.find_initial(alias, &rotation_id).await? {
                Some(key) => {
                    tracing::warn!(%alias, key = %key.arn, error = %err, "CreateKey failed, but its key exists; going on with it");
                    key
                }
                None => return Err(err.into()),
            },
        };
        if let Err(err) = self.finish_init(alias, &key, &policy).await {
            // Leave no key behind that no alias names (a crash here cannot be helped). When
            // the alias was created after all (its answer was lost), the key stays.
            if matches!(self.store.aliases(Some(&key.arn)).await.as_deref(), Ok([])) {
                tracing::warn!(%alias, key = %key.arn, "init failed; scheduling the new key's deletion");
                if let Err(cleanup) = self
                    .store
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
            self.store
                .enable_rotation(&key.arn, policy.period_days)
                .await?;
        }
        self.record_public_key(key).await?;
        match self.store.create_alias(alias, &key.id).await {
            Ok(()) => Ok(()),
            // CreateAlias may have worked while its answer was lost (a retry then meets
            // AlreadyExists): the alias naming this key is success.
            Err(err) => match self
                .store
                .describe(alias.as_str(), &super::keys::alias_subject(alias))
                .await
            {
                Ok(named) if named.id == key.id => Ok(()),
                _ => Err(err.into()),
            },
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
        self.refuse_lock_alias(alias)?;
        let key = self.target(alias).await?;
        self.refuse_replica(alias, &key).await?;
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
            .store
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
        self.store.tag(&key.arn, &key_tags).await?;
        // A multi-Region primary's replicas carry the same tags: each Region's guard reads
        // them, and the function may act only on tagged keys. Adopt again after adding a
        // replica.
        self.mirror(&key, &key_tags, &[]).await?;
        self.record_public_key(&key).await?;
        self.status(alias).await
    }
}
