//! Disable as a canary. An old key is disabled before its deletion is scheduled, so that a
//! use nobody knew about fails loudly instead of losing data for good: KMS refuses it with
//! `DisabledException` (or `KMSInvalidStateException` once the deletion is scheduled), and
//! CloudTrail records the failed call. When such a record names an old key of a managed alias,
//! the key is enabled again (its deletion cancelled first) and its retirement is held
//! (`kmsrot:hold`) until someone releases it.

use kmsrot_types::{AliasName, CanaryVerdict, Stage, Undone, tags};

use super::{RotationError, Rotator};
use crate::KmsError;

/// The most KMS allows in a tag value.
const MAX_TAG_VALUE: usize = 256;

/// A cryptographic call on a key that KMS refused because of the key's state, as CloudTrail
/// recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedUse {
    /// The operation, for example `Decrypt`.
    pub operation: String,
    /// KMS's error code, `DisabledException` or `KMSInvalidStateException`.
    pub error_code: String,
    /// The caller's ARN, when CloudTrail names it.
    pub by: Option<String>,
    /// When, RFC 3339, when the record says.
    pub at: Option<String>,
    /// The CloudTrail event ID.
    pub cloudtrail_event_id: Option<String>,
}

impl FailedUse {
    /// The hold's record, as the key's `kmsrot:hold` tag keeps it (at most 256 characters).
    fn record(&self) -> String {
        let mut text = format!(
            "{} refused ({}) for {} at {}; CloudTrail event {}",
            self.operation,
            self.error_code,
            self.by.as_deref().unwrap_or("an unknown caller"),
            self.at.as_deref().unwrap_or("an unknown time"),
            self.cloudtrail_event_id.as_deref().unwrap_or("unknown"),
        );
        if text.chars().count() > MAX_TAG_VALUE {
            text = text.chars().take(MAX_TAG_VALUE - 3).collect::<String>() + "...";
        }
        text
    }
}

impl Rotator {
    /// Handles a failed use of `key_id`: an old key of a managed alias (previous or retired,
    /// disabled or pending deletion) is enabled again and held. Reads the key first, so the
    /// same record delivered twice changes nothing more.
    pub async fn canary(
        &self,
        key_id: &str,
        failed: &FailedUse,
    ) -> Result<CanaryVerdict, RotationError> {
        let key = match self.key(key_id).await {
            Ok(key) => key,
            Err(KmsError::NotFound { .. }) => {
                return Ok(CanaryVerdict::Gone {
                    key: key_id.to_owned(),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let Some(alias) = key
            .tag(tags::ALIAS)
            .and_then(|a| a.parse::<AliasName>().ok())
        else {
            return Ok(CanaryVerdict::Unmanaged {
                key: key.arn.to_string(),
            });
        };
        let old = matches!(key.stage(), Some(Stage::Previous | Stage::Retired));
        if !old || self.target(&alias).await.is_ok_and(|t| t.id == key.id) {
            return Ok(CanaryVerdict::NotRetiring {
                stage: key.stage(),
                key: key.arn,
                alias,
                key_state: key.state,
            });
        }
        if let Some(hold) = key.tag(tags::HOLD)
            && key.is_enabled()
        {
            return Ok(CanaryVerdict::AlreadyHeld {
                hold: hold.to_owned(),
                key: key.arn.clone(),
                alias,
            });
        }
        // The hold first: a crash after it leaves a held key that the next delivery enables.
        let hold = match key.tag(tags::HOLD) {
            Some(existing) => existing.to_owned(),
            None => {
                let record = failed.record();
                self.store
                    .tag(&key.arn, &[(tags::HOLD, record.clone())])
                    .await?;
                record
            }
        };
        let mut undone = Vec::new();
        if key.is_pending_deletion() {
            self.store.cancel_deletion(&key.arn).await?;
            undone.push(Undone::DeletionCancelled);
        }
        if !key.is_enabled() {
            self.store.enable_key(&key.arn).await?;
            undone.push(Undone::Enabled);
        }
        // Back to `previous`: once released, the retirement starts again from disabling, with
        // every check asked again.
        self.store
            .tag(&key.arn, &[(tags::STAGE, Stage::Previous.to_string())])
            .await?;
        self.store.untag(&key.arn, &[tags::RETIRED_AT]).await?;
        tracing::warn!(%alias, key = %key.arn, operation = failed.operation, "an old key was used while disabled: enabled again and held");
        Ok(CanaryVerdict::Held {
            key: key.arn,
            alias,
            undone,
            hold,
            operation: failed.operation.clone(),
            by: failed.by.clone(),
            cloudtrail_event_id: failed.cloudtrail_event_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_fits_in_a_tag_value() {
        let failed = FailedUse {
            operation: "Decrypt".into(),
            error_code: "DisabledException".into(),
            by: Some(format!(
                "arn:aws:iam::111122223333:role/{}",
                "r".repeat(300)
            )),
            at: Some("2026-12-03T10:00:00Z".into()),
            cloudtrail_event_id: Some("e1".into()),
        };
        let record = failed.record();
        assert_eq!(record.chars().count(), MAX_TAG_VALUE);
        assert!(record.starts_with("Decrypt refused (DisabledException) for arn:aws:iam::"));
        let short = FailedUse { by: None, ..failed };
        assert_eq!(
            short.record(),
            "Decrypt refused (DisabledException) for an unknown caller at 2026-12-03T10:00:00Z; CloudTrail event e1"
        );
    }
}
