//! Multi-Region key sets: a primary key and its replicas, which share key ID and key material
//! and are used across Regions (encrypt in one, decrypt in another). A manual rotation of a
//! primary rotates the whole set, so that such applications keep working:
//!
//! 1. the new primary is created multi-Region (`create`, in `rotate.rs`);
//! 2. it is replicated into every Region where the old primary has a replica, with that
//!    replica's policy, description and tags ([`Rotator::replicate`]);
//! 3. each replica passes the self-test in its Region;
//! 4. in every such Region where an alias of the same name names the old key's replica, the
//!    alias moves to the new replica ([`Rotator::move_replica_aliases`]), then the alias moves in
//!    the primary's Region;
//! 5. the stage tags the engine writes on the primary are written on its replicas as well
//!    ([`Rotator::mirror`]), so that each Region's guard reads the same state.
//!
//! Retirement disables, and deletion schedules, the replicas before the primary; rollback moves
//! every Region's alias back. Every step reads the state first, so a re-run after a crash
//! converges in every Region.
//!
//! AWS: "A primary key and its replica keys share properties that make them interoperable.
//! They have the same key ID and key material." "All other properties of a replica key can
//! differ, including its key policy, tags, aliases, and key state." (ReplicateKey). Aliases
//! are per Region, and only a primary can be replicated, so an alias that names a replica is
//! managed from the primary's Region ([`Rotator::refuse_replica`]).

use std::time::Duration;

use kmsrot_types::{AliasName, KeyArn, RegionAlias, tags};

use super::keys::{KeyView, alias_subject};
use super::{RotationError, Rotator};
use crate::KmsError;

/// How long a new replica may stay `Creating` ("This key state changes to Enabled (or
/// PendingImport) after a few seconds").
const REPLICA_READY: Duration = Duration::from_secs(120);

impl Rotator {
    /// Refuses to manage or rotate an alias through a replica: the set rotates from its
    /// primary's Region, which moves this Region's alias too.
    pub(crate) async fn refuse_replica(
        &self,
        alias: &AliasName,
        key: &KeyView,
    ) -> Result<(), RotationError> {
        let Some(set) = key.set.as_ref().filter(|_| key.is_replica()) else {
            return Ok(());
        };
        let region = set.primary.region();
        // The primary's aliases, to name the one to manage; unknown when they cannot be read.
        let named = self
            .in_region(region)
            .store
            .aliases(Some(&set.primary))
            .await
            .unwrap_or_default();
        let there = named
            .iter()
            .map(|(name, _)| name)
            .find(|name| *name == alias)
            .or_else(|| named.first().map(|(name, _)| name));
        let how = match there {
            Some(name) => format!(
                "its primary {} is named by `{name}` in {region}: manage that alias (`kmsrot adopt {name} --region {region}`)",
                set.primary
            ),
            None => format!(
                "its primary {} has no alias in {region}: give it one there and manage that alias (`kmsrot adopt ALIAS --region {region}`)",
                set.primary
            ),
        };
        Err(self.unsupported(
            alias,
            format!(
                "{} is a replica of a multi-Region key, whose primary is in {region}. A replica rotates with its primary: {how}; each rotation there moves `{alias}` in {} with it",
                key.arn,
                self.region()
            ),
        ))
    }

    /// Step 2 of a manual rotation of a multi-Region primary: the new primary gets a replica in
    /// every Region where the current primary has one, with that replica's key policy,
    /// description and own tags, plus the new key's kmsrot tags. Returns the new replicas,
    /// enabled. Replicas that exist already (an earlier run) are reused.
    pub(crate) async fn replicate(
        &self,
        alias: &AliasName,
        current: &KeyView,
        new: &KeyView,
    ) -> Result<Vec<KeyView>, RotationError> {
        if current.replicas().is_empty() {
            return Ok(Vec::new());
        }
        if !new.multi_region {
            return Err(self.inconsistent(
                alias,
                format!(
                    "{} has replicas, but the new key {} is not multi-Region",
                    current.arn, new.arn
                ),
            ));
        }
        let made = self.key(&new.arn.to_string()).await?;
        let ours: Vec<(&str, String)> = new
            .tags
            .iter()
            .filter(|(k, _)| k.starts_with(tags::PREFIX))
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let mut replicas = Vec::new();
        for old in current.replicas() {
            let region = old.region();
            let there = self.in_region(region);
            let Some(target) = new.arn.in_region(region) else {
                return Err(
                    self.inconsistent(alias, format!("{old} is not in a Region kmsrot can name"))
                );
            };
            if !made.replicas().contains(&target) {
                let old_replica = there.key(&old.to_string()).await?;
                let policy = there.store.key_policy(&old_replica.arn).await?;
                let mut replica_tags: Vec<(&str, String)> = old_replica
                    .user_tags()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                replica_tags.extend(ours.iter().cloned());
                self.store
                    .replicate_key(
                        &new.arn,
                        region,
                        policy,
                        &old_replica.description,
                        &replica_tags,
                    )
                    .await?;
            }
            replicas.push(there.ready(alias, &target).await?);
        }
        Ok(replicas)
    }

    /// The replica `key`, once it is no longer `Creating`.
    async fn ready(&self, alias: &AliasName, key: &KeyArn) -> Result<KeyView, RotationError> {
        let deadline = tokio::time::Instant::now() + REPLICA_READY;
        loop {
            match self.key(&key.to_string()).await {
                Ok(view) if view.state != "Creating" => return Ok(view),
                // A replica just made may not be visible yet in its Region.
                Ok(_) | Err(KmsError::NotFound { .. })
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(view) => {
                    return Err(self.busy(
                        alias,
                        format!(
                            "the new replica {} is still {} after {} s; run the rotation again",
                            view.arn,
                            view.state,
                            REPLICA_READY.as_secs()
                        ),
                    ));
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Step 3 for the replicas: each passes the self-test in its own Region.
    pub(crate) async fn test_replicas(
        &self,
        alias: &AliasName,
        current: &KeyView,
        replicas: &[KeyView],
    ) -> Result<(), RotationError> {
        for replica in replicas {
            self.in_region(replica.arn.region())
                .self_test(alias, current, replica)
                .await?;
        }
        Ok(())
    }

    /// In every Region where `from` has a replica and an alias of this name names it, moves
    /// that alias to the replica of `to` (same key ID, that Region). An alias that names `to`
    /// already is left alone, as is one that is absent or names another key (`status` reports
    /// that Region).
    pub(crate) async fn move_replica_aliases(
        &self,
        alias: &AliasName,
        from: &KeyView,
        to: &KeyView,
    ) -> Result<Vec<String>, RotationError> {
        let mut moved = Vec::new();
        for replica in from.replicas() {
            let region = replica.region();
            let there = self.in_region(region);
            let named = match there
                .store
                .describe(alias.as_str(), &alias_subject(alias))
                .await
            {
                Ok(named) => named,
                Err(KmsError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            if named.id != from.id {
                continue;
            }
            let target = there
                .store
                .describe(&to.id, &crate::Subject::Key(to.arn.clone()))
                .await?;
            there.store.update_alias(alias, &target).await?;
            moved.push(region.to_owned());
        }
        Ok(moved)
    }

    /// The other Regions of the current key's set: its replica there, and what an alias of
    /// this name names there.
    pub(crate) async fn regions_of(
        &self,
        alias: &AliasName,
        current: &KeyView,
    ) -> Result<Vec<RegionAlias>, RotationError> {
        let mut regions = Vec::new();
        for replica in current.replicas() {
            let there = self.in_region(replica.region());
            let alias_names = match there
                .store
                .describe(alias.as_str(), &alias_subject(alias))
                .await
            {
                Ok(named) => Some(named.arn),
                Err(KmsError::NotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            };
            regions.push(RegionAlias {
                region: replica.region().to_owned(),
                replica: replica.clone(),
                alias_names,
            });
        }
        Ok(regions)
    }

    /// Writes `pairs` on every replica of `key` and removes `names` there, as the engine just
    /// did on the primary: each Region's guard and status read the replica's own tags.
    pub(crate) async fn mirror(
        &self,
        key: &KeyView,
        pairs: &[(&str, String)],
        names: &[&str],
    ) -> Result<(), RotationError> {
        for replica in key.replicas() {
            let there = self.in_region(replica.region());
            if !pairs.is_empty() {
                there.store.tag(replica, pairs).await?;
            }
            if !names.is_empty() {
                there.store.untag(replica, names).await?;
            }
        }
        Ok(())
    }
}
