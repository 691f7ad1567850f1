//! What holds an old key's retirement: the questions asked before a key is disabled or its
//! deletion scheduled, and releasing a hold.
//!
//! An alias naming the key is not the only use KMS can report. AWS services (EBS, RDS, Secrets
//! Manager, …) resolve an alias once and then use the key through grants; applications may
//! hold grants too; and `GetKeyLastUsage` reports the key's last successful cryptographic
//! operation. Its documentation adds: "Do not use GetKeyLastUsage as the sole indicator when
//! scheduling a key for deletion. Instead, first disable the key and monitor CloudTrail for
//! DisabledException entries". So a key is disabled first, and a failed use of it while it is
//! disabled (the canary, `canary.rs`) enables it again and holds it until someone releases it.

use kmsrot_types::{AliasName, Grant, HeldStep, HoldReason, Policy, Release, tags};

use super::keys::KeyView;
use super::plan::DAY;
use super::{RotationError, Rotator, rfc3339};
use crate::KmsError;

impl Rotator {
    /// Every reason to hold `step` of `key`'s retirement now (empty: go ahead). `grants` are
    /// the key's grants when the caller has read them already. `successor` is the ID of the
    /// key that names `key` as its previous key: `key` must record that it replaced it
    /// (`kmsrot:replaced-by`), or its tags are not what kmsrot wrote (a key brought into an
    /// alias's chain by someone who may tag keys is never disabled or deleted).
    pub(crate) async fn hold_reasons(
        &self,
        key: &KeyView,
        step: HeldStep,
        policy: &Policy,
        grants: Option<Vec<Grant>>,
        successor: &str,
    ) -> Result<Vec<HoldReason>, RotationError> {
        let mut reasons = Vec::new();
        match key.tag(tags::REPLACED_BY) {
            Some(id) if id == successor => {}
            Some(id) => reasons.push(HoldReason::Tampered {
                why: format!(
                    "it records that {id} replaced it, but the key that names it as previous is {successor}"
                ),
            }),
            None => reasons.push(HoldReason::Tampered {
                why: format!(
                    "{successor} names it as its previous key, but it has no kmsrot:replaced-by record of that (kmsrot writes one when a rotation or rollback replaces a key; keys replaced before it did lack one). If {successor} did replace it, record that: `aws kms tag-resource --key-id {} --tags TagKey=kmsrot:replaced-by,TagValue={successor}`",
                    key.arn
                ),
            }),
        }
        let aliases: Vec<AliasName> = self
            .store
            .aliases(Some(&key.arn))
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        if !aliases.is_empty() {
            reasons.push(HoldReason::Aliases { aliases });
        }
        if let Some(record) = key.tag(tags::HOLD) {
            reasons.push(HoldReason::FailedUse {
                record: record.to_owned(),
            });
        }
        let grants = match grants {
            Some(grants) => grants,
            None => self.store.grants(&key.arn).await?,
        };
        if !grants.is_empty() {
            reasons.push(HoldReason::Grants { grants });
        }
        if let Some(reason) = self.use_hold(key, step, policy).await? {
            reasons.push(reason);
        }
        // A multi-Region set retires as one: each replica answers the same questions in its
        // own Region (its aliases, grants, last use and holds are its own).
        for replica in key.replicas() {
            let there = self.in_region(replica.region());
            let view = there.key(&replica.to_string()).await?;
            let held = Box::pin(there.hold_reasons(&view, step, policy, None, successor)).await?;
            if !held.is_empty() {
                reasons.push(HoldReason::Replica {
                    key: replica.clone(),
                    reasons: held,
                });
            }
        }
        Ok(reasons)
    }

    /// What `GetKeyLastUsage` says against the step, if anything.
    async fn use_hold(
        &self,
        key: &KeyView,
        step: HeldStep,
        policy: &Policy,
    ) -> Result<Option<HoldReason>, RotationError> {
        let usage = match self.store.last_usage(&key.arn).await {
            Ok(usage) => usage,
            Err(KmsError::AccessDenied { .. }) => {
                return Ok(Some(HoldReason::UsageUnknown {
                    why: "GetKeyLastUsage was refused (AccessDenied); kmsrot does not retire a key whose use it cannot check".into(),
                }));
            }
            Err(err) => return Err(err.into()),
        };
        let now = self.now().secs();
        let quiet_since = now - i64::from(policy.quiet_days) * DAY;
        let at = |secs: i64| rfc3339(aws_smithy_types::DateTime::from_secs(secs));
        // After disabling, any success means someone enabled it and used it again. A key kept
        // enabled (HMAC keys, by policy) answers to the quiet period at both steps.
        let since_disabled = (step == HeldStep::ScheduleDeletion && !policy.keep_enabled)
            .then(|| key.time(tags::RETIRED_AT).map(|t| t.secs()))
            .flatten();
        if let Some(last) = usage.last {
            match since_disabled {
                Some(retired) if last.at > retired => {
                    return Ok(Some(HoldReason::UsedSinceDisabled {
                        operation: last.operation,
                        at: at(last.at),
                        cloudtrail_event_id: last.cloudtrail_event_id,
                    }));
                }
                None if last.at > quiet_since => {
                    return Ok(Some(HoldReason::RecentUse {
                        operation: last.operation,
                        at: at(last.at),
                        cloudtrail_event_id: last.cloudtrail_event_id,
                        quiet_days: policy.quiet_days,
                    }));
                }
                _ => {}
            }
        }
        // KMS's record starts at "the date from which KMS began recording cryptographic
        // activity for this key, or the date the KMS key was created, whichever is later":
        // when that is after the key's creation and within the quiet period, an older use is
        // unknown.
        let created = key.creation.map(|c| c.secs());
        if since_disabled.is_none()
            && let Some(since) = usage.tracking_since
            && since > quiet_since
            && created.is_none_or(|c| since > c)
        {
            return Ok(Some(HoldReason::UsageUnknown {
                why: format!(
                    "KMS has recorded its use only since {}, less than the {}-day quiet period",
                    at(since),
                    policy.quiet_days
                ),
            }));
        }
        Ok(None)
    }

    /// Releases the hold a failed use put on an old key of `alias` (removes `kmsrot:hold`).
    /// The key's retirement then starts again at the next sweep, with every other check. For a
    /// retired key (a use since it was disabled holds its deletion), the deletion delay starts
    /// again from now, so that only a use after the release holds it again.
    pub async fn release(&self, alias: &AliasName, key_id: &str) -> Result<Release, RotationError> {
        let key = self.key(key_id).await?;
        if !key.serves(alias) {
            return Err(RotationError::NotOurs {
                alias: alias.clone(),
                region: self.region(),
                key: key.arn,
            });
        }
        let mut released = key.tag(tags::HOLD).map(str::to_owned);
        if released.is_some() {
            self.store.untag(&key.arn, &[tags::HOLD]).await?;
            tracing::info!(%alias, key = %key.arn, "hold released");
        }
        if key.stage() == Some(kmsrot_types::Stage::Retired) && !key.is_pending_deletion() {
            let now = rfc3339(self.now());
            self.store
                .tag(&key.arn, &[(tags::RETIRED_AT, now.clone())])
                .await?;
            released.get_or_insert_with(|| {
                format!("its deletion delay now counts from {now}, so that only a use after this release holds it")
            });
        }
        Ok(Release {
            alias: alias.clone(),
            key: key.arn,
            released,
        })
    }
}
