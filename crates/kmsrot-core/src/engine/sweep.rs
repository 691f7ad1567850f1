//! The fleet sweep: every managed alias in the region, advanced concurrently (bounded), at the
//! engine's call rate, with backoff when KMS throttles. One alias failing never stops the
//! others.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use kmsrot_types::{AliasName, AliasOutcome, AliasStatus, SweepReport};

use super::{RotationError, Rotator};

/// How a sweep runs.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    /// Report what would be done; change nothing.
    pub dry_run: bool,
    /// Aliases processed at once.
    pub concurrency: usize,
    /// Attempts per alias when KMS throttles or fails transiently (every step is idempotent).
    pub attempts: u32,
    /// The first backoff; it doubles per attempt, with jitter.
    pub backoff: Duration,
    /// No alias is started after this instant (a Lambda run has 900 s); the rest are counted
    /// as not reached.
    pub deadline: Option<tokio::time::Instant>,
    /// At most this many aliases are started (the rest are counted as not reached).
    pub max_aliases: Option<usize>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            concurrency: 4,
            attempts: 3,
            backoff: Duration::from_secs(2),
            deadline: None,
            max_aliases: None,
        }
    }
}

impl Rotator {
    /// Sweeps every managed alias in the region. Aliases whose key carries no kmsrot tags are
    /// not in the report.
    ///
    /// A run that cannot reach every alias (its deadline, or `max_aliases`) starts at a random
    /// place in the list, so that no tail of the fleet is left out run after run, and reports
    /// how many aliases it did not reach.
    pub async fn sweep(&self, options: SweepOptions) -> Result<SweepReport, RotationError> {
        let slots = self.store.slots_taken();
        let mut aliases: Vec<(AliasName, String)> = self
            .store
            .aliases(None)
            .await?
            .into_iter()
            .filter_map(|(alias, target)| Some((alias, target?)))
            .collect();
        let total = aliases.len();
        if total > 0 {
            aliases.rotate_left(fastrand::usize(..total));
        }
        let started = std::sync::atomic::AtomicUsize::new(0);
        let mut outcomes: Vec<AliasOutcome> = futures_util::stream::iter(aliases)
            .take_while(|_| {
                let open = options
                    .deadline
                    .is_none_or(|deadline| tokio::time::Instant::now() < deadline)
                    && options
                        .max_aliases
                        .is_none_or(|max| started.load(std::sync::atomic::Ordering::SeqCst) < max);
                if open {
                    started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                std::future::ready(open)
            })
            .map(|(alias, target)| self.sweep_one(alias, target, options))
            .buffer_unordered(options.concurrency.max(1))
            .filter_map(|outcome| async move { outcome })
            .collect()
            .await;
        outcomes.sort_by(|a, b| a.alias.as_str().cmp(b.alias.as_str()));
        let not_reached = total - started.load(std::sync::atomic::Ordering::SeqCst);
        // Orphan keys, when the run has time left for them.
        let orphans = if options
            .deadline
            .is_none_or(|deadline| tokio::time::Instant::now() < deadline)
        {
            Box::pin(self.sweep_orphans(None, options.dry_run)).await
        } else {
            tracing::warn!("sweep: out of time; orphan keys not looked for this run");
            Vec::new()
        };
        if not_reached > 0 {
            tracing::warn!(
                not_reached,
                total,
                "sweep: out of time; aliases not reached this run"
            );
        }
        Ok(SweepReport {
            dry_run: options.dry_run,
            aliases: outcomes,
            not_reached,
            orphans,
            kms_calls: self.store.slots_taken() - slots,
        })
    }

    /// Sweeps one managed alias, as the fleet sweep would.
    pub async fn sweep_alias(
        &self,
        alias: &AliasName,
        options: SweepOptions,
    ) -> Result<SweepReport, RotationError> {
        let slots = self.store.slots_taken();
        let current = self.target(alias).await?;
        self.managed_policy(alias, &current)?;
        let outcome = self.sweep_one(alias.clone(), current.id, options).await;
        let orphans = Box::pin(self.sweep_orphans(Some(alias), options.dry_run)).await;
        Ok(SweepReport {
            dry_run: options.dry_run,
            aliases: outcome.into_iter().collect(),
            not_reached: 0,
            orphans,
            kms_calls: self.store.slots_taken() - slots,
        })
    }

    /// The status of every managed alias in the region, sorted by alias, each with its
    /// orphan keys.
    pub async fn status_all(&self) -> Result<Vec<AliasStatus>, RotationError> {
        let mut statuses = Vec::new();
        let aliases = self.store.aliases(None).await?;
        let mut orphans = Box::pin(self.orphans_listed(None, Some(&aliases))).await?;
        for (alias, target) in aliases {
            let Some(target) = target else { continue };
            let Some(tags) = self.manages(&alias, &target).await? else {
                continue;
            };
            let current = self.target_known(&alias, Some((&target, tags))).await?;
            let mut status = self.status_of(&alias, &current).await?;
            (status.orphans, orphans) = orphans.into_iter().partition(|o| o.alias == alias);
            statuses.push(status);
        }
        statuses.sort_by(|a, b| a.alias.as_str().cmp(b.alias.as_str()));
        Ok(statuses)
    }

    /// The tags of the alias's key (`target`) when they mark it as kmsrot's for this alias.
    /// A key whose tags this caller may not read, or that is gone, is not one it manages.
    async fn manages(
        &self,
        alias: &AliasName,
        target: &str,
    ) -> Result<Option<BTreeMap<String, String>>, crate::KmsError> {
        match self.store.tags(target).await {
            Ok(tags) => Ok((tags.get(kmsrot_types::tags::ALIAS).map(String::as_str)
                == Some(alias.as_str()))
            .then_some(tags)),
            Err(crate::KmsError::AccessDenied { .. } | crate::KmsError::NotFound { .. }) => {
                tracing::warn!(%alias, "its key's tags cannot be read: not managed by this caller");
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    async fn sweep_one(
        &self,
        alias: AliasName,
        target: String,
        options: SweepOptions,
    ) -> Option<AliasOutcome> {
        // Whether the alias is managed at all: its key's tags say. A key whose tags this
        // caller may not read is not one it manages.
        // The tags read here serve the first attempt; a failure to read them (throttling too)
        // is left to the attempts below.
        let mut known = match self.manages(&alias, &target).await {
            Ok(None) => return None,
            Ok(Some(tags)) => Some(tags),
            Err(_) => None,
        };
        let mut attempt = 1;
        loop {
            let outcome = match self
                .target_known(&alias, known.take().map(|tags| (target.as_str(), tags)))
                .await
            {
                Ok(current) => self.advance_from(&alias, current, options.dry_run).await,
                Err(err) => Err(err.into()),
            };
            match outcome {
                Ok(outcome) => return Some(outcome),
                Err(RotationError::Unmanaged { .. }) => return None,
                Err(err) if err.is_retryable() && attempt < options.attempts => {
                    let base = options.backoff * 2u32.pow(attempt - 1);
                    let jitter = base.mul_f64(fastrand::f64() * 0.5);
                    tracing::warn!(%alias, attempt, error = %err, "sweep: retrying after backoff");
                    tokio::time::sleep(base + jitter).await;
                    attempt += 1;
                }
                Err(err) => {
                    tracing::error!(%alias, error = %err, "sweep: alias failed");
                    return Some(AliasOutcome {
                        alias,
                        actions: vec![],
                        reason: None,
                        compliance: None,
                        error: Some(err.to_string()),
                    });
                }
            }
        }
    }
}
