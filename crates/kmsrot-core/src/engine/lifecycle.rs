//! Reading a managed alias's whole state (its keys, KMS's rotation status) into a status and
//! the planner's facts, and carrying out what the planner says is due: automatic rotation,
//! on-demand rotation, retiring and deleting old keys.

use aws_smithy_types::DateTime;
use kmsrot_types::{
    Action, AliasName, AliasOutcome, AliasStatus, Grant, HeldStep, Hold, HoldReason, KeyArn, Mode,
    Policy, RotationStatus, Stage, tags,
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
    /// The keys behind the current one, newest first.
    pub(crate) behind: Vec<KeyView>,
}

/// When MACs of old HMAC keys stop verifying: only KMS can verify a MAC, and `VerifyMac`
/// refuses a disabled key.
fn mac_warnings(alias: &AliasName, policy: &Policy, behind: &[KeyView]) -> Vec<String> {
    let mut warnings = Vec::new();
    for key in behind {
        if key.usage != kmsrot_types::key_kind::usage::GENERATE_VERIFY_MAC
            || key.is_pending_deletion()
        {
            continue;
        }
        if !key.is_enabled() {
            warnings.push(format!(
                "MACs made by {} no longer verify: the key is {} (KMS verifies MACs only with an enabled key)",
                key.arn, key.state
            ));
        } else if !policy.keep_enabled && key.stage() == Some(Stage::Previous) {
            let until = key
                .time(tags::DEMOTED_AT)
                .map(|d| rfc3339(DateTime::from_secs(plan::grace_until(policy, d.secs()))))
                .unwrap_or_else(|| "the end of its grace period".into());
            warnings.push(format!(
                "MACs made by {} stop verifying when it is disabled, at {until} or later; `kmsrot adopt {alias} --keep-enabled true` keeps old HMAC keys enabled until their deletion is scheduled",
                key.arn
            ));
        }
    }
    warnings
}

/// The warnings for grants whose grantee is an AWS service.
pub(crate) fn service_warnings(key: &KeyArn, grants: &[Grant], current: bool) -> Vec<String> {
    grants
        .iter()
        .filter(|g| g.is_service())
        .map(|g| {
            if current {
                format!(
                    "{key} has a {}: AWS services use a key by its ARN, so what that service encrypts stays on this key after a rotation, and kmsrot holds this key's retirement while the grant exists",
                    g.summary()
                )
            } else {
                format!(
                    "old key {key} has a {}: the service still uses it; its retirement is held until the grant is retired",
                    g.summary()
                )
            }
        })
        .collect()
}

/// The ID of the key that names `arn` as its previous key: the key before it in the alias's
/// history, newest first (the current key for the first).
fn successor_of(current: &KeyView, behind: &[KeyArn], arn: &KeyArn) -> String {
    match behind.iter().position(|k| k == arn) {
        Some(0) | None => current.id.clone(),
        Some(i) => behind[i - 1].key_id().as_str().to_owned(),
    }
}

/// What the sweep does instead of touching a key a responder took over (`kmsrot:break-glass`).
/// The outcome for an alias the sweep leaves alone: its key is a replica (the set is advanced
/// from its primary's Region), or a responder's break-glass tag is on it.
fn left_alone(alias: &AliasName, current: &KeyView) -> Option<AliasOutcome> {
    if let Some(set) = current.set.as_ref().filter(|_| current.is_replica()) {
        // The set is rotated and retired from its primary's Region, which moves this
        // Region's alias too.
        return Some(AliasOutcome {
            alias: alias.clone(),
            actions: Vec::new(),
            reason: Some(format!(
                "names a replica of a multi-Region key; the set is rotated and retired from its primary's Region, {}",
                set.primary.region()
            )),
            compliance: None,
            error: None,
        });
    }
    if let Some(action) = break_glass(current) {
        return Some(AliasOutcome {
            alias: alias.clone(),
            actions: vec![action],
            reason: Some(format!(
                "{} carries kmsrot:break-glass: the alias is left alone",
                current.arn
            )),
            compliance: None,
            error: None,
        });
    }
    None
}

fn break_glass(key: &KeyView) -> Option<Action> {
    key.tag(tags::BREAK_GLASS).map(|record| Action::BreakGlass {
        key: key.arn.clone(),
        record: record.to_owned(),
    })
}

fn held(key: KeyArn, step: HeldStep, reasons: Vec<HoldReason>) -> Action {
    tracing::warn!(%key, ?step, reasons = reasons.len(), "retirement held");
    Action::Hold(Hold { key, step, reasons })
}

fn secs(time: Option<DateTime>) -> Option<i64> {
    time.map(|t| t.secs())
}

impl Rotator {
    /// The status of a managed alias: policy, keys, rotation, compliance.
    ///
    /// Beyond what the sweep reads, it lists the grants of every key not yet deleted (and warns
    /// of those for AWS services, which use a key by its ARN), the other aliases that name the
    /// current key, and why each retirement step that is due is held.
    /// With a client for the tagging API ([`Rotator::with_tagging`]), it also lists the
    /// alias's orphan keys (keys tagged for it that it does not track); without one, finding
    /// them would mean reading every key of the region, which [`Rotator::status_all`] and
    /// [`Rotator::orphans`] do.
    pub async fn status(&self, alias: &AliasName) -> Result<AliasStatus, RotationError> {
        let current = self.target(alias).await?;
        let mut status = self.status_of(alias, &current).await?;
        if self.store.finds_by_tags() {
            status.orphans = Box::pin(self.orphans(Some(alias))).await?;
        }
        Ok(status)
    }

    /// [`Rotator::status`] of the key the alias names, already read.
    pub(crate) async fn status_of(
        &self,
        alias: &AliasName,
        current: &KeyView,
    ) -> Result<AliasStatus, RotationError> {
        let Assessment {
            facts,
            mut status,
            behind,
        } = Box::pin(self.assess(alias, current)).await?;
        status.other_aliases = self.other_aliases(alias, current).await?;
        status.regions = self.regions_of(alias, current).await?;
        if facts.policy.mode == Mode::Manual
            && let Ok(text) = self.key_policy(alias, current).await
            && let Ok(review) = crate::key_policy::review(&text, &current.arn)
        {
            status.alias_conditions = review
                .alias_conditions
                .iter()
                .map(|c| {
                    format!(
                        "policy statement {} authorizes through {} ({}): when a rotation moves `{alias}`, the principals it admits lose the old key; `kmsrot rotate` needs --accept-alias-conditions",
                        c.statement, c.key, c.operator
                    )
                })
                .collect();
        }
        status.primary_region = current
            .set
            .as_ref()
            .filter(|_| current.is_replica())
            .map(|set| set.primary.region().to_owned());
        let grants = self.store.grants(&current.arn).await?;
        status
            .warnings
            .extend(service_warnings(&current.arn, &grants, true));
        status.current.grants = Some(grants);
        let mut by_key = Vec::new();
        for (key, entry) in behind.iter().zip(status.history.iter_mut()) {
            if key.is_pending_deletion() {
                continue;
            }
            let grants = self.store.grants(&key.arn).await?;
            status
                .warnings
                .extend(service_warnings(&key.arn, &grants, false));
            entry.grants = Some(grants.clone());
            by_key.push((key, grants));
        }
        status.previous = status.history.first().cloned();
        status
            .warnings
            .extend(mac_warnings(alias, &facts.policy, &behind));
        for due in plan::plan(&facts, self.now().secs()) {
            let (arn, step) = match due {
                Due::Retire(arn) => (arn, HeldStep::Disable),
                Due::ScheduleDeletion(arn) => (arn, HeldStep::ScheduleDeletion),
                _ => continue,
            };
            let Some((key, grants)) = by_key.iter().find(|(k, _)| k.arn == arn) else {
                continue;
            };
            let chain: Vec<KeyArn> = behind.iter().map(|k| k.arn.clone()).collect();
            let successor = successor_of(current, &chain, &arn);
            let reasons = self
                .hold_reasons(key, step, &facts.policy, Some(grants.clone()), &successor)
                .await?;
            if !reasons.is_empty() {
                status.holds.push(Hold {
                    key: arn,
                    step,
                    reasons,
                });
            }
        }
        Ok(status)
    }

    /// The aliases other than `alias` that name its current key.
    pub(crate) async fn other_aliases(
        &self,
        alias: &AliasName,
        current: &KeyView,
    ) -> Result<Vec<AliasName>, RotationError> {
        Ok(self
            .store
            .aliases(Some(&current.arn))
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| name != alias)
            .collect())
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
            history: behind.iter().map(KeyView::status).collect(),
            other_aliases: Vec::new(),
            holds: Vec::new(),
            regions: Vec::new(),
            alias_conditions: Vec::new(),
            primary_region: None,
            warnings: Vec::new(),
            orphans: Vec::new(),
            rotation_in_progress: in_progress.or_else(|| {
                rollback_stopped
                    .map(|key| format!("rollback to {key} (stopped before the alias moved)"))
            }),
            on_demand_remaining,
            compliance: plan::compliance(&facts, now),
        };
        Ok(Assessment {
            facts,
            status,
            behind,
        })
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
        if let Some(outcome) = left_alone(alias, &current) {
            return Ok(outcome);
        }
        if dry_run {
            return Box::pin(self.advance_planned(alias, current, true, None)).await;
        }
        // Nothing is due most of the time: the lock is taken only when something is, and then
        // the alias is read again under it.
        if !settling(&current) {
            // One instant for the check and the outcome: nothing may fall due in between, and
            // be done without the lock.
            let engine = self.clone().with_clock(self.now());
            let assessment = Box::pin(engine.assess(alias, &current)).await?;
            if plan::plan(&assessment.facts, engine.now().secs()).is_empty() {
                return Box::pin(engine.advance_planned(alias, current, false, Some(assessment)))
                    .await;
            }
        }
        let locked = self.locked(alias, &current, || async {
            let current = self.target(alias).await?;
            self.managed_policy(alias, &current)?;
            if let Some(outcome) = left_alone(alias, &current) {
                return Ok(outcome);
            }
            Box::pin(self.advance_planned(alias, current, false, None)).await
        });
        Box::pin(locked).await
    }

    /// What is due for the alias, carried out (or, with `dry_run`, reported). `assessed` is
    /// the assessment of `current` when the caller made one and nothing needs settling.
    async fn advance_planned(
        &self,
        alias: &AliasName,
        current: KeyView,
        dry_run: bool,
        assessed: Option<Assessment>,
    ) -> Result<AliasOutcome, RotationError> {
        let (current, mut actions) = Box::pin(self.settle(alias, current, dry_run)).await?;
        let Assessment {
            mut facts, status, ..
        } = match assessed {
            Some(assessment) => assessment,
            None => Box::pin(self.assess(alias, &current)).await?,
        };
        let policy = facts.policy;
        let facts_behind: Vec<KeyArn> = facts.behind.iter().map(|b| b.arn.clone()).collect();
        let now = self.now().secs();
        let mut notes = Vec::new();
        let mut rotated = false;
        for due in plan::plan(&facts, now) {
            match due {
                Due::Rotate(reason) => {
                    rotated = true;
                    let options = RotateOptions {
                        dry_run,
                        ..RotateOptions::default()
                    };
                    actions.extend(
                        Box::pin(self.rotate_as(alias, current.clone(), &policy, reason, options))
                            .await?,
                    );
                }
                Due::RotateOnDemand(reason) => {
                    rotated = true;
                    actions.extend(
                        Box::pin(self.rotate_on_demand(alias, &current, reason, dry_run)).await?,
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
                Due::Retire(arn) => {
                    // Read again right before acting: a rollback may have claimed it.
                    let key = self.key(&arn.to_string()).await?;
                    if let Some(skip) = break_glass(&key) {
                        actions.push(skip);
                        continue;
                    }
                    if key.stage() != Some(Stage::Previous)
                        || key.tag(tags::ROLLBACK_FROM).is_some()
                    {
                        notes.push(format!("left {arn} alone: it changed during the sweep"));
                        continue;
                    }
                    let successor = successor_of(&current, &facts_behind, &arn);
                    if let Some(hold) =
                        Box::pin(self.held_step(&key, HeldStep::Disable, &policy, &successor))
                            .await?
                    {
                        actions.push(hold);
                        continue;
                    }
                    if !dry_run {
                        Box::pin(self.retire(&key, &policy)).await?;
                        if let Some(b) = facts.behind.iter_mut().find(|b| b.arn == arn) {
                            b.stage = Some(Stage::Retired);
                            b.enabled = policy.keep_enabled;
                            b.retired_at = Some(now);
                        }
                    }
                    actions.push(Action::Retire { key: arn });
                }
                Due::ScheduleDeletion(arn) => {
                    let key = self.key(&arn.to_string()).await?;
                    if let Some(skip) = break_glass(&key) {
                        actions.push(skip);
                        continue;
                    }
                    if key.stage() != Some(Stage::Retired)
                        || (key.is_enabled() && !policy.keep_enabled)
                        || key.is_pending_deletion()
                        || key.tag(tags::ROLLBACK_FROM).is_some()
                    {
                        notes.push(format!("left {arn} alone: it changed during the sweep"));
                        continue;
                    }
                    let successor = successor_of(&current, &facts_behind, &arn);
                    if let Some(hold) = Box::pin(self.held_step(
                        &key,
                        HeldStep::ScheduleDeletion,
                        &policy,
                        &successor,
                    ))
                    .await?
                    {
                        actions.push(hold);
                        continue;
                    }
                    if !dry_run {
                        Box::pin(self.schedule_set_deletion(&key, policy.deletion_window_days))
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
            Box::pin(self.assess(alias, &current))
                .await?
                .status
                .compliance
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

    /// The hold on `step` of an old key's retirement, if anything holds it now.
    async fn held_step(
        &self,
        key: &KeyView,
        step: HeldStep,
        policy: &Policy,
        successor: &str,
    ) -> Result<Option<Action>, RotationError> {
        let reasons = self
            .hold_reasons(key, step, policy, None, successor)
            .await?;
        Ok((!reasons.is_empty()).then(|| held(key.arn.clone(), step, reasons)))
    }

    /// Disables a previous key whose grace period is over (unless the policy keeps old keys
    /// enabled), and tags it `retired`.
    async fn retire(&self, key: &KeyView, policy: &Policy) -> Result<(), RotationError> {
        if key.is_enabled() && !policy.keep_enabled {
            // The last moment KMS gives the public key that old signatures verify with.
            self.record_public_key(key).await?;
            // A multi-Region set: the replicas first, then the primary.
            for replica in key.replicas() {
                self.in_region(replica.region())
                    .store
                    .disable_key(replica)
                    .await?;
            }
            self.store.disable_key(&key.arn).await?;
        }
        self.mark_retired(key).await?;
        tracing::info!(key = %key.arn, disabled = !policy.keep_enabled, "previous key retired");
        Ok(())
    }

    /// Tags a key (and its replicas) `retired` as of now: its deletion delay starts.
    pub(super) async fn mark_retired(&self, key: &KeyView) -> Result<(), RotationError> {
        let pairs = [
            (tags::STAGE, Stage::Retired.to_string()),
            (tags::RETIRED_AT, rfc3339(self.now())),
        ];
        self.store.tag(&key.arn, &pairs).await?;
        self.mirror(key, &pairs, &[]).await
    }

    /// Schedules the deletion of a key, and of its replicas first: KMS keeps a primary with
    /// replicas in `PendingReplicaDeletion` until they are gone.
    pub(super) async fn schedule_set_deletion(
        &self,
        key: &KeyView,
        window_days: u32,
    ) -> Result<(), RotationError> {
        for replica in key.replicas() {
            let there = self.in_region(replica.region());
            let view = there.key(&replica.to_string()).await?;
            if !view.is_pending_deletion() {
                there.store.schedule_deletion(replica, window_days).await?;
            }
        }
        self.store.schedule_deletion(&key.arn, window_days).await?;
        Ok(())
    }
}
