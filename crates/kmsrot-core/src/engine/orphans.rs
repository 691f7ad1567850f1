//! Orphan keys: keys tagged for a managed alias (`kmsrot:alias`) that the alias does not
//! track (not the key it names, not one of its previous keys, not a rotation's new key). A
//! lost answer, an interrupted run, a race between two runs, or someone's tags can leave one.
//! `status`, the sweep and `audit account` find them here; the sweep also cleans up those that
//! KMS shows to be unused.
//!
//! The clean-up follows the retirement of an old key, because `GetKeyLastUsage`'s own
//! documentation says: "Do not use GetKeyLastUsage as the sole indicator when scheduling a key
//! for deletion. Instead, first disable the key and monitor CloudTrail for DisabledException
//! entries". So a sweep first disables an orphan that no alias names, that has no grants and of
//! which KMS has never recorded a use (over its whole life); a failed use while it is disabled
//! puts a `kmsrot:hold` on it (the canary). Only a sweep at least [`ORPHAN_QUIET_DAYS`] later,
//! with every check asked again, schedules its deletion, with KMS's longest waiting period.

use std::collections::BTreeMap;

use kmsrot_types::{AliasName, Orphan, OrphanCleanup, Stage, tags};

use super::keys::KeyView;
use super::plan::DAY;
use super::{RotationError, Rotator, rfc3339};
use crate::{KmsError, Subject};

/// A key younger than this (seconds) is never cleaned up: a run that has just created it may
/// not have recorded it yet.
const ORPHAN_GRACE_SECS: i64 = 3_600;

/// Days an orphan stays disabled (unused) before a sweep schedules its deletion.
pub(crate) const ORPHAN_QUIET_DAYS: i64 = 7;

/// The waiting period of an orphan's deletion: KMS's longest, so that a mistake can be undone
/// (CancelKeyDeletion) for 30 days.
const ORPHAN_DELETION_WINDOW_DAYS: u32 = 30;

/// The keys each alias tracks, read once per alias.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Every alias of the region and the key ID it names, when the caller listed them all;
    /// otherwise each alias is read when needed.
    listed: Option<BTreeMap<String, Option<String>>>,
    /// Per alias: the key ID it names, the IDs it tracks, and the rotation under way.
    tracked: BTreeMap<String, Tracked>,
}

/// What one alias tracks.
#[derive(Debug, Default)]
struct Tracked {
    /// The key ID the alias names, when it exists.
    target: Option<String>,
    /// Its key, its history, and a rotation's recorded new key.
    ids: Vec<String>,
    /// The rotation under way (`kmsrot:rotating` on its key): a key pending for it is its new
    /// key, recorded or not yet.
    rotating: Option<String>,
}

impl Tracker {
    /// A tracker over a complete listing of the region's aliases.
    pub(crate) fn listed(aliases: &[(AliasName, Option<String>)]) -> Self {
        Self {
            listed: Some(
                aliases
                    .iter()
                    .map(|(alias, target)| (alias.as_str().to_owned(), target.clone()))
                    .collect(),
            ),
            tracked: BTreeMap::new(),
        }
    }
}

impl Rotator {
    /// `key` as an orphan, when it is one: tagged for an alias that does not track it. Keys
    /// pending deletion are not orphans (their end is set).
    pub(crate) async fn orphan_of(
        &self,
        key: &KeyView,
        tracker: &mut Tracker,
    ) -> Result<Option<Orphan>, RotationError> {
        let Some(alias) = key
            .tag(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok())
        else {
            return Ok(None);
        };
        if key.is_pending_deletion() {
            return Ok(None);
        }
        if !tracker.tracked.contains_key(alias.as_str()) {
            let target = match &tracker.listed {
                Some(listed) => listed.get(alias.as_str()).cloned().flatten(),
                None => match self.store.describe(alias.as_str(), &Subject::Region).await {
                    Ok(view) => Some(view.id),
                    Err(KmsError::NotFound { .. }) => None,
                    Err(err) => return Err(err.into()),
                },
            };
            let mut tracked = Tracked {
                target: target.clone(),
                ..Tracked::default()
            };
            if let Some(target) = &target {
                // Only a key that is gone tracks nothing; any other failure stops the search
                // rather than call every key of the alias an orphan.
                match self.key(target).await {
                    Ok(current) => {
                        tracked.ids.push(current.id.clone());
                        tracked
                            .ids
                            .extend(current.tag(tags::PENDING_KEY).map(str::to_owned));
                        tracked
                            .ids
                            .extend(current.tag(tags::ROLLBACK_FROM).map(str::to_owned));
                        tracked.rotating = current.tag(tags::ROTATING).map(str::to_owned);
                        if current.serves(&alias) {
                            tracked.ids.extend(
                                self.behind(&alias, &current)
                                    .await?
                                    .into_iter()
                                    .map(|k| k.id),
                            );
                        }
                    }
                    Err(KmsError::NotFound { .. }) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            tracker.tracked.insert(alias.as_str().to_owned(), tracked);
        }
        let tracked = &tracker.tracked[alias.as_str()];
        if tracked.ids.contains(&key.id)
            || tracked
                .rotating
                .as_deref()
                .is_some_and(|id| key.is_pending_for(&alias, id))
        {
            return Ok(None);
        }
        let target = &tracked.target;
        Ok(Some(Orphan {
            alias,
            key: key.arn.clone(),
            state: key.state.clone(),
            stage: key.tag(tags::STAGE).map(str::to_owned),
            alias_names: target.clone(),
            cleanup: None,
        }))
    }

    /// The orphan keys of the region, or of one alias, sorted by alias and key. Found through
    /// the Resource Groups Tagging API when the engine has it, otherwise by reading the tags of
    /// every key in the region.
    pub async fn orphans(&self, only: Option<&AliasName>) -> Result<Vec<Orphan>, RotationError> {
        self.orphans_listed(only, None).await
    }

    /// [`Rotator::orphans`], with the region's aliases when the caller listed them already.
    pub(crate) async fn orphans_listed(
        &self,
        only: Option<&AliasName>,
        listed: Option<&[(AliasName, Option<String>)]>,
    ) -> Result<Vec<Orphan>, RotationError> {
        let subject = only.map_or(Subject::Region, super::keys::alias_subject);
        let value = only.map_or("", AliasName::as_str);
        let found = self
            .lookup(&subject, &[&[(tags::ALIAS, value)]], |t| {
                t.get(tags::ALIAS)
                    .is_some_and(|a| only.is_none_or(|o| a == o.as_str()))
            })
            .await?;
        let mut tracker = match (only, listed) {
            (Some(_), _) => Tracker::default(),
            (None, Some(listed)) => Tracker::listed(listed),
            (None, None) => Tracker::listed(&self.store.aliases(None).await?),
        };
        let mut orphans = Vec::new();
        for (arn, key_tags) in found {
            let mut view = match self
                .store
                .describe(&arn.to_string(), &Subject::Key(arn.clone()))
                .await
            {
                Ok(view) => view,
                Err(KmsError::NotFound { .. } | KmsError::AccessDenied { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            if view.key_manager != "CUSTOMER" {
                continue;
            }
            view.tags = key_tags;
            orphans.extend(self.orphan_of(&view, &mut tracker).await?);
        }
        orphans.sort_by(|a, b| {
            (a.alias.as_str(), a.key.to_string()).cmp(&(b.alias.as_str(), b.key.to_string()))
        });
        Ok(orphans)
    }

    /// The sweep's step for one orphan: disable it when KMS shows it unused, or schedule its
    /// deletion when it has stayed disabled and unused for [`ORPHAN_QUIET_DAYS`]; otherwise
    /// say why it is kept. A dry run says what it would do. The step runs under the alias's lock
    /// (when the alias exists), and only when the key is still an orphan once the lock is held:
    /// a rotation resumed meanwhile may have recorded it as its new key.
    pub(crate) async fn clean_orphan(
        &self,
        orphan: &Orphan,
        dry_run: bool,
    ) -> Result<OrphanCleanup, RotationError> {
        if dry_run {
            return self.clean_orphan_now(orphan, true).await;
        }
        let current = match self
            .store
            .describe(
                orphan.alias.as_str(),
                &super::keys::alias_subject(&orphan.alias),
            )
            .await
        {
            Ok(current) => Some(current),
            Err(KmsError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        match current {
            Some(current) => {
                Box::pin(self.locked(&orphan.alias, &current, || {
                    self.clean_orphan_now(orphan, false)
                }))
                .await
            }
            None => self.clean_orphan_now(orphan, false).await,
        }
    }

    /// [`Rotator::clean_orphan`], once the key is read again and found still an orphan.
    async fn clean_orphan_now(
        &self,
        orphan: &Orphan,
        dry_run: bool,
    ) -> Result<OrphanCleanup, RotationError> {
        let kept = |why: String| Ok(OrphanCleanup::Kept { why });
        let key = match self.key(&orphan.key.to_string()).await {
            Ok(key) => key,
            Err(KmsError::NotFound { .. }) => return kept("it no longer exists".into()),
            Err(err) => return Err(err.into()),
        };
        if self
            .orphan_of(&key, &mut Tracker::default())
            .await?
            .is_none()
        {
            return kept("its alias tracks it now (a run recorded it)".into());
        }
        if key.is_pending_deletion() {
            return kept("its deletion is already scheduled".into());
        }
        if let Some(record) = key.tag(tags::BREAK_GLASS) {
            return kept(format!("a responder's break-glass tag is on it ({record})"));
        }
        if key.multi_region {
            return kept(
                "it is a multi-Region key: clean up its set by hand, replicas first".into(),
            );
        }
        if let Some(record) = key.tag(tags::HOLD) {
            return kept(format!(
                "a failed use of it is recorded ({record}); `kmsrot release` ends the hold"
            ));
        }
        let now = self.now().secs();
        let Some(created) = key.creation.map(|c| c.secs()) else {
            return kept("KMS gives no creation date for it".into());
        };
        if now - created < ORPHAN_GRACE_SECS {
            return kept(
                "it was created less than an hour ago: a run may still be recording it".into(),
            );
        }
        let aliases = self.store.aliases(Some(&key.arn)).await?;
        if !aliases.is_empty() {
            let names: Vec<&str> = aliases.iter().map(|(a, _)| a.as_str()).collect();
            return kept(format!("aliases name it: {}", names.join(", ")));
        }
        let grants = self.store.grants(&key.arn).await?;
        if !grants.is_empty() {
            return kept(format!(
                "it has {} grant(s), which may be in use",
                grants.len()
            ));
        }
        let usage = match self.store.last_usage(&key.arn).await {
            Ok(usage) => usage,
            Err(KmsError::AccessDenied { .. }) => {
                return kept(
                    "GetKeyLastUsage was refused; kmsrot cleans up only keys it can show unused"
                        .into(),
                );
            }
            Err(err) => return Err(err.into()),
        };
        let at = |secs: i64| rfc3339(aws_smithy_types::DateTime::from_secs(secs));
        if let Some(last) = usage.last {
            return kept(format!(
                "KMS recorded a use of it ({} at {})",
                last.operation,
                at(last.at)
            ));
        }
        match usage.tracking_since {
            Some(since) if since > created => {
                return kept(format!(
                    "KMS has recorded its use only since {}, after it was created",
                    at(since)
                ));
            }
            Some(_) => {}
            None => {
                return kept("KMS does not say since when it records the key's use".into());
            }
        }
        let retire = |key: &KeyView| {
            let pairs = [
                (tags::STAGE, Stage::Retired.to_string()),
                (tags::RETIRED_AT, rfc3339(self.now())),
            ];
            let arn = key.arn.clone();
            async move { self.store.tag(&arn, &pairs).await }
        };
        match key.state.as_str() {
            "Enabled" => {
                if !dry_run {
                    // Tagged `retired` first: a failed use of it while disabled is then the
                    // canary's, which enables it again and holds it, as for any old key.
                    retire(&key).await?;
                    self.store.disable_key(&key.arn).await?;
                    tracing::warn!(alias = %orphan.alias, key = %key.arn, "orphan key disabled");
                }
                Ok(OrphanCleanup::Disabled)
            }
            "Disabled" => match key.time(tags::RETIRED_AT).map(|t| t.secs()) {
                None => {
                    if !dry_run {
                        retire(&key).await?;
                    }
                    Ok(OrphanCleanup::Disabled)
                }
                Some(since) if now - since < ORPHAN_QUIET_DAYS * DAY => kept(format!(
                    "disabled since {}: its deletion is scheduled once it has stayed unused for {ORPHAN_QUIET_DAYS} days",
                    at(since)
                )),
                Some(_) => {
                    if !dry_run {
                        self.store
                            .schedule_deletion(&key.arn, ORPHAN_DELETION_WINDOW_DAYS)
                            .await?;
                        tracing::warn!(alias = %orphan.alias, key = %key.arn, "orphan key scheduled for deletion");
                    }
                    Ok(OrphanCleanup::DeletionScheduled {
                        window_days: ORPHAN_DELETION_WINDOW_DAYS,
                    })
                }
            },
            state => kept(format!("its state is {state}")),
        }
    }

    /// Every orphan of the region (or of one alias) with the sweep's clean-up of each. The
    /// aliases are listed again for it: rotations during the sweep moved some. A failure to
    /// look for them is logged, and the sweep goes on without them.
    pub(crate) async fn sweep_orphans(
        &self,
        only: Option<&AliasName>,
        dry_run: bool,
    ) -> Vec<Orphan> {
        let mut orphans = match self.orphans(only).await {
            Ok(orphans) => orphans,
            Err(err) => {
                tracing::error!(error = %err, "sweep: could not look for orphan keys");
                return Vec::new();
            }
        };
        for orphan in &mut orphans {
            let cleanup = match self.clean_orphan(orphan, dry_run).await {
                Ok(cleanup) => cleanup,
                Err(err) => OrphanCleanup::Kept {
                    why: format!("it could not be checked: {err}"),
                },
            };
            orphan.cleanup = Some(cleanup);
        }
        orphans
    }
}
