//! Reading a managed alias's whole state (its keys, KMS's rotation status) into a status and
//! the planner's facts, and carrying out what the planner says is due: automatic rotation,
//! on-demand rotation, retiring and deleting old keys.

use aws_smithy_types::DateTime;
use kmsrot_types::{
    Action, AliasName, AliasOutcome, AliasStatus, KeyArn, Mode, RotationStatus, Stage, tags,
};

use super::keys::KeyView;
use super::plan::{self, Behind, Due, Facts};
use super::rotate::{RotateOptions, settling};
use super::{ON_DEMAND_CAP, RotationError, Rotator, rfc3339};
use crate::KmsError;

/// How many keys behind the current one the lifecycle follows.
const MAX_CHAIN: usize = 5;

/// A managed alias, read in full.
#[derive(Debug)]
pub(crate) struct Assessment {
    pub(crate) facts: Facts,
    pub(crate) status: AliasStatus,
}

fn secs(time: Option<DateTime>) -> Option<i64> {
    time.map(|t| t.secs())
}

impl Rotator {
    /// The status of a managed alias: policy, keys, rotation, compliance.
    pub async fn status(&self, alias: &AliasName) -> Result<AliasStatus, RotationError> {
        let current = self.target(alias).await?;
        Ok(self.assess(alias, &current).await?.status)
    }

    /// The keys behind the current one, newest first, until one is pending deletion, gone,
    /// or not this alias's.
    pub(crate) async fn behind(
        &self,
        alias: &AliasName,
        current: &KeyView,
    ) -> Result<Vec<KeyView>, RotationError> {
        let mut keys: Vec<KeyView> = Vec::new();
        let mut next = current.tag(tags::PREVIOUS_KEY).map(str::to_owned);
        while let Some(id) = next.take() {
            if keys.len() >= MAX_CHAIN || id == current.id || keys.iter().any(|k| k.id == id) {
                break;
            }
            let key = match self.key(&id).await {
                Ok(key) => key,
                Err(KmsError::NotFound { .. }) => break,
                Err(err) => return Err(err.into()),
            };
            if !key.serves(alias) {
                break;
            }
            let stop = key.is_pending_deletion();
            next = key.tag(tags::PREVIOUS_KEY).map(str::to_owned);
            keys.push(key);
            if stop {
                break;
            }
        }
        Ok(keys)
    }

    /// Reads a managed alias in full.
    pub(crate) async fn assess(
        &self,
        alias: &AliasName,
        current: &KeyView,
    ) -> Result<Assessment, RotationError> {
        let policy = self.managed_policy(alias, current)?;
        let behind = self.behind(alias, current).await?;
        let rotation = self.store.rotation_status(current).await?;
        let creation = secs(current.creation).unwrap_or_else(|| self.now().secs());
        let (age_base, on_demand_remaining) = match policy.mode {
            Mode::Automatic => {
                let (used, newest) = self.store.rotations(&current.arn).await?;
                let base = secs(newest).map_or(creation, |n| n.max(creation));
                (base, Some(ON_DEMAND_CAP.saturating_sub(used)))
            }
            Mode::Manual => (
                // From creation, not promotion: a rollback makes an old key current again.
                secs(current.time(tags::CREATED_AT)).unwrap_or(creation),
                None,
            ),
        };
        let in_progress = if current.stage() == Some(Stage::Pending) {
            Some(format!("promotion of {}", current.arn))
        } else if settling(current) {
            Some(format!(
                "rollback from {}",
                current.tag(tags::ROLLBACK_FROM).unwrap_or("?")
            ))
        } else {
            current.tag(tags::ROTATING).map(str::to_owned)
        };
        let rollback_stopped = behind
            .first()
            .filter(|k| k.tag(tags::ROLLBACK_FROM) == Some(current.id.as_str()))
            .map(|k| k.arn.clone());
        let facts = Facts {
            policy,
            age_base,
            auto: (policy.mode == Mode::Automatic).then(|| rotation.clone()),
            in_progress: in_progress.clone(),
            rollback_stopped: rollback_stopped.clone(),
            behind: behind
                .iter()
                .map(|k| Behind {
                    arn: k.arn.clone(),
                    stage: k.stage(),
                    enabled: k.is_enabled(),
                    pending_deletion: k.is_pending_deletion(),
                    rolling_back_to: k.tag(tags::ROLLBACK_FROM) == Some(current.id.as_str()),
                    demoted_at: secs(k.time(tags::DEMOTED_AT)),
                    retired_at: secs(k.time(tags::RETIRED_AT)),
                })
                .collect(),
        };
        let now = self.now().secs();
        let next_rotation = match &rotation {
            RotationStatus::Enabled {
                next_rotation: Some(next),
                ..
            } if policy.mode == Mode::Automatic => next.clone(),
            _ => rfc3339(DateTime::from_secs(plan::next_rotation(&facts))),
        };
        let status = AliasStatus {
            alias: alias.clone(),
            policy,
            current: current.status(),
            rotation,
            next_rotation,
            previous: behind.first().map(KeyView::status),
            rotation_in_progress: in_progress.or_else(|| {
                rollback_stopped
                    .map(|key| format!("rollback to {key} (stopped before the alias moved)"))
            }),
            on_demand_remaining,
            compliance: plan::compliance(&facts, now),
        };
        Ok(Assessment { facts, status })
    }

    /// Brings one managed alias in line with its policy: finishes interrupted work, repairs
    /// automatic rotation, rotates an overdue key, retires and deletes old keys when due.
    /// With `dry_run`, reports what would be done and changes nothing.
    pub async fn advance(
        &self,
        alias: &AliasName,
        dry_run: bool,
    ) -> Result<AliasOutcome, RotationError> {
        let current = self.target(alias).await?;
        self.advance_from(alias, current, dry_run).await
    }

    /// [`Rotator::advance`] from the key the alias names, already read.
    pub(crate) async fn advance_from(
        &self,
        alias: &AliasName,
        current: KeyView,
        dry_run: bool,
    ) -> Result<AliasOutcome, RotationError> {
        self.managed_policy(alias, &current)?;
        let (current, mut actions) = self.settle(alias, current, dry_run).await?;
        let Assessment { mut facts, status } = self.assess(alias, &current).await?;
        let policy = facts.policy;
        let now = self.now().secs();
        let mut notes = Vec::new();
        let mut rotated = false;
        for due in plan::plan(&facts, now) {
            match due {
                Due::Rotate(reason) => {
                    rotated = true;
                    let options = RotateOptions {
                        dry_run,
                        rotation_id: None,
                    };
                    actions.extend(
                        self.rotate_as(alias, current.clone(), &policy, reason, options)
                            .await?,
                    );
                }
                Due::RotateOnDemand(reason) => {
                    rotated = true;
                    actions.extend(
                        self.rotate_on_demand(alias, &current, reason, dry_run)
                            .await?,
                    );
                }
                Due::EnableRotation { was } => {
                    if !dry_run {
                        self.store
                            .enable_rotation(&current.arn, policy.period_days)
                            .await?;
                        facts.auto = Some(RotationStatus::Enabled {
                            period_days: Some(policy.period_days),
                            next_rotation: None,
                        });
                    }
                    actions.push(Action::EnableRotation {
                        period_days: policy.period_days,
                        was,
                    });
                }
                Due::Retire(arn) | Due::ScheduleDeletion(arn) if self.still_named(&arn).await? => {
                    notes.push(format!("left {arn} alone: another alias still names it"));
                }
                Due::Retire(arn) => {
                    if !dry_run {
                        // Read again right before acting: a rollback may have claimed it.
                        let key = self.key(&arn.to_string()).await?;
                        if key.stage() != Some(Stage::Previous)
                            || key.tag(tags::ROLLBACK_FROM).is_some()
                        {
                            notes.push(format!("left {arn} alone: it changed during the sweep"));
                            continue;
                        }
                        self.retire(&key).await?;
                        if let Some(b) = facts.behind.iter_mut().find(|b| b.arn == arn) {
                            b.stage = Some(Stage::Retired);
                            b.enabled = false;
                            b.retired_at = Some(now);
                        }
                    }
                    actions.push(Action::Retire { key: arn });
                }
                Due::ScheduleDeletion(arn) => {
                    if !dry_run {
                        let key = self.key(&arn.to_string()).await?;
                        if key.stage() != Some(Stage::Retired)
                            || key.is_enabled()
                            || key.is_pending_deletion()
                            || key.tag(tags::ROLLBACK_FROM).is_some()
                        {
                            notes.push(format!("left {arn} alone: it changed during the sweep"));
                            continue;
                        }
                        self.store
                            .schedule_deletion(&arn, policy.deletion_window_days)
                            .await?;
                        if let Some(b) = facts.behind.iter_mut().find(|b| b.arn == arn) {
                            b.pending_deletion = true;
                        }
                    }
                    actions.push(Action::ScheduleDeletion {
                        key: arn,
                        window_days: policy.deletion_window_days,
                    });
                }
            }
        }
        // After a rotation the keys changed: read them again. Otherwise what was done is
        // known, and the compliance follows from the facts as updated.
        let compliance = if dry_run {
            status.compliance
        } else if rotated {
            let current = self.target(alias).await?;
            self.assess(alias, &current).await?.status.compliance
        } else {
            plan::compliance(&facts, now)
        };
        Ok(AliasOutcome {
            alias: alias.clone(),
            actions,
            reason: (!notes.is_empty()).then(|| notes.join("; ")),
            compliance: Some(compliance),
            error: None,
        })
    }

    /// Whether any alias names this key (kmsrot never disables or deletes such a key).
    async fn still_named(&self, key: &KeyArn) -> Result<bool, RotationError> {
        Ok(!self.store.aliases(Some(key)).await?.is_empty())
    }

    /// Rotates the key material now (automatic mode). The key ID does not change, and KMS
    /// keeps every older material for decryption.
    pub(crate) async fn rotate_on_demand(
        &self,
        alias: &AliasName,
        current: &KeyView,
        reason: String,
        dry_run: bool,
    ) -> Result<Vec<Action>, RotationError> {
        self.check_manageable(alias, current, Mode::Automatic)?;
        if dry_run {
            let (used, _) = self.store.rotations(&current.arn).await?;
            return Ok(vec![Action::RotateOnDemand {
                reason,
                remaining: Some(ON_DEMAND_CAP.saturating_sub(used)),
            }]);
        }
        match self.store.rotate_on_demand(&current.arn).await {
            Ok(()) => {
                tracing::info!(%alias, key = %current.arn, "on-demand rotation started");
                Ok(vec![Action::RotateOnDemand {
                    reason,
                    remaining: None,
                }])
            }
            Err(KmsError::LimitExceeded { .. }) => Err(RotationError::OnDemandLimit {
                alias: alias.clone(),
                region: self.region(),
                key: current.arn.clone(),
                used: self.store.rotations(&current.arn).await?.0,
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Disables a previous key whose grace period is over, and tags it `retired`.
    async fn retire(&self, key: &KeyView) -> Result<(), RotationError> {
        if key.is_enabled() {
            self.store.disable_key(&key.arn).await?;
        }
        self.mark_retired(&key.arn).await?;
        tracing::info!(key = %key.arn, "previous key retired (disabled)");
        Ok(())
    }

    /// Tags a key `retired` as of now: its deletion delay starts.
    pub(super) async fn mark_retired(&self, key: &KeyArn) -> Result<(), RotationError> {
        let now = rfc3339(self.now());
        self.store
            .tag(
                key,
                &[
                    (tags::STAGE, Stage::Retired.to_string()),
                    (tags::RETIRED_AT, now),
                ],
            )
            .await?;
        Ok(())
    }
}
