//! `kmsrot audit account`: the compliance of every customer-managed key and customer alias
//! in the region. It only reads.

use std::collections::BTreeMap;

use kmsrot_types::audit::{AccountFinding, AccountIssue, AccountReport};
use kmsrot_types::{AliasName, RotationStatus, tags};

use super::keys::KeyView;
use super::orphans::Tracker;
use super::{RotationError, Rotator};
use crate::{KmsError, Subject};

impl Rotator {
    /// Reads every customer alias and customer-managed key of the region and reports what
    /// is wrong: aliases naming disabled keys or keys pending deletion, managed aliases out
    /// of policy, keys that nothing rotates, and aliases kmsrot does not manage.
    pub async fn audit_account(&self) -> Result<AccountReport, RotationError> {
        let mut findings = Vec::new();
        let mut views: BTreeMap<String, KeyView> = BTreeMap::new();
        let aliases = self.store.aliases(None).await?;
        for (alias, target) in &aliases {
            let Some(target) = target else { continue };
            let key = match self.key(target).await {
                Ok(key) => key,
                Err(KmsError::NotFound { .. }) => continue,
                Err(err @ KmsError::AccessDenied { .. }) => {
                    findings.push(unreadable(Some(alias.clone()), None, &err));
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            findings.extend(self.alias_findings(alias, &key).await?);
            views.insert(key.id.clone(), key);
        }
        let mut keys = 0;
        // The keys each managed alias tracks (its key, its history, a rotation's new key),
        // read once per alias when a key tagged for it turns up.
        let mut tracker = Tracker::listed(&aliases);
        for arn in self.store.key_arns(&Subject::Region).await? {
            let id = arn.key_id().to_string();
            let key = match views.remove(&id) {
                Some(key) => key,
                None => match self.key(&id).await {
                    Ok(key) => key,
                    Err(KmsError::NotFound { .. }) => continue,
                    Err(err @ KmsError::AccessDenied { .. }) => {
                        findings.push(unreadable(None, None, &err));
                        continue;
                    }
                    Err(err) => return Err(err.into()),
                },
            };
            if key.key_manager != "CUSTOMER" {
                continue;
            }
            keys += 1;
            if let Some(finding) = self.orphan_finding(&key, &mut tracker).await? {
                findings.push(finding);
            }
            findings.extend(self.key_finding(&key).await?);
        }
        findings.sort_by(|a, b| {
            let key = |f: &AccountFinding| {
                (
                    f.issue,
                    f.alias.as_ref().map(|a| a.as_str().to_owned()),
                    f.key.as_ref().map(ToString::to_string),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(AccountReport {
            region: self.region(),
            keys,
            aliases: aliases.len(),
            findings,
        })
    }

    /// A key tagged for a managed alias that does not track it.
    async fn orphan_finding(
        &self,
        key: &KeyView,
        tracker: &mut Tracker,
    ) -> Result<Option<AccountFinding>, RotationError> {
        let Some(orphan) = self.orphan_of(key, tracker).await? else {
            return Ok(None);
        };
        let alias = &orphan.alias;
        let names = match &orphan.alias_names {
            Some(target) => format!("`{alias}` names {target}"),
            None => format!("`{alias}` does not exist"),
        };
        Ok(Some(AccountFinding {
            issue: AccountIssue::Orphan,
            alias: Some(alias.clone()),
            key: Some(key.arn.clone()),
            detail: format!(
                "{} ({}, stage {}) is tagged for `{alias}`, but {names} and does not track it (not its key, a previous key, nor a rotation's new key): a lost answer or an interrupted run left it, or someone tagged it. The sweep disables it, and later schedules its deletion, when KMS shows it unused; or check its grants and last use and schedule its deletion yourself",
                key.arn,
                key.state,
                orphan.stage.as_deref().unwrap_or("none")
            ),
        }))
    }

    /// What is wrong with one alias and the key it names.
    async fn alias_findings(
        &self,
        alias: &AliasName,
        key: &KeyView,
    ) -> Result<Vec<AccountFinding>, RotationError> {
        let mut found = Vec::new();
        let finding = |issue, detail: String| AccountFinding {
            issue,
            alias: Some(alias.clone()),
            key: Some(key.arn.clone()),
            detail,
        };
        if key.is_pending_deletion() {
            found.push(finding(
                AccountIssue::AliasNamesKeyPendingDeletion,
                format!(
                    "`{alias}` names {}, which is pending deletion; cancel it with `kmsrot guard {} --change scheduled-deletion` (managed aliases) or `aws kms cancel-key-deletion`",
                    key.arn, key.arn
                ),
            ));
        } else if !key.is_enabled() {
            found.push(finding(
                AccountIssue::AliasNamesUnusableKey,
                format!(
                    "`{alias}` names {}, which is {}; enable it (or import its material) or move the alias",
                    key.arn, key.state
                ),
            ));
        }
        if !key.serves(alias) {
            let advice = match key.cannot_rotate() {
                // `adopt` would refuse it: say why, and what rotates it instead.
                Some(why) => format!("kmsrot cannot manage it: {why}"),
                None => format!("run `kmsrot adopt {alias}`"),
            };
            found.push(finding(
                AccountIssue::UnmanagedAlias,
                format!("`{alias}` is not managed by kmsrot; {advice}"),
            ));
            return Ok(found);
        }
        match self.status_of(alias, key).await {
            Ok(status) => {
                let grants = status.current.grants.as_deref().unwrap_or_default();
                if !grants.is_empty() {
                    found.push(finding(
                        AccountIssue::Grants,
                        format!(
                            "`{alias}`'s key has {} grant(s): {}",
                            grants.len(),
                            grants
                                .iter()
                                .map(kmsrot_types::Grant::summary)
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    ));
                }
                for warning in &status.warnings {
                    found.push(finding(
                        AccountIssue::ServiceGrant,
                        format!("`{alias}`: {warning}"),
                    ));
                }
                if !status.other_aliases.is_empty() {
                    found.push(finding(
                        AccountIssue::SharedKey,
                        format!(
                            "`{alias}`'s key is also named by {}; `kmsrot rotate {alias}` needs {}",
                            status
                                .other_aliases
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            status
                                .other_aliases
                                .iter()
                                .map(|a| format!("--with-alias {a}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                    ));
                }
                for region in status.regions.iter().filter(|r| r.diverges()) {
                    found.push(finding(
                        AccountIssue::RegionDiverges,
                        format!(
                            "`{alias}` in {} names {}, not {}, the replica of the key it names here: applications there do not follow this alias's rotations; point it at the replica",
                            region.region,
                            region
                                .alias_names
                                .as_ref()
                                .map_or_else(String::new, ToString::to_string),
                            region.replica
                        ),
                    ));
                }
                for condition in &status.alias_conditions {
                    found.push(finding(
                        AccountIssue::AliasCondition,
                        format!("`{alias}`: {condition}"),
                    ));
                }
                if let Some(primary) = &status.primary_region {
                    found.push(finding(
                        AccountIssue::Replica,
                        format!(
                            "`{alias}` names a replica of a multi-Region key; its set is rotated and retired from {primary}"
                        ),
                    ));
                }
                for hold in &status.holds {
                    found.push(AccountFinding {
                        issue: AccountIssue::RetirementHeld,
                        alias: Some(alias.clone()),
                        key: Some(hold.key.clone()),
                        detail: format!(
                            "`{alias}`: retiring {} is held: {}",
                            hold.key,
                            hold.reasons
                                .iter()
                                .map(kmsrot_types::HoldReason::describe)
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                    });
                }
                let compliance = status.compliance;
                if compliance.overdue {
                    found.push(finding(
                        AccountIssue::Overdue,
                        format!(
                            "`{alias}`'s key is {} days old, {} allowed; `kmsrot rotate {alias}` or let the sweep run",
                            compliance.age_days, compliance.max_age_days
                        ),
                    ));
                }
                for text in compliance.findings {
                    found.push(finding(
                        AccountIssue::Noncompliant,
                        format!("`{alias}`: {text}"),
                    ));
                }
            }
            Err(err @ RotationError::PolicyTags { .. }) => {
                found.push(finding(AccountIssue::Noncompliant, err.to_string()));
            }
            // One alias that cannot be read (access denied, an odd state) does not stop the
            // report; it says so.
            Err(err) => found.push(finding(
                AccountIssue::Unreadable,
                format!("`{alias}` could not be assessed: {err}"),
            )),
        }
        Ok(found)
    }

    /// Whether anything rotates an enabled key: KMS (automatic rotation on), or kmsrot (the
    /// key serves a managed alias).
    async fn key_finding(&self, key: &KeyView) -> Result<Option<AccountFinding>, RotationError> {
        if !key.is_enabled() || key.tag(tags::ALIAS).is_some() {
            return Ok(None);
        }
        let status = self.store.rotation_status(key).await?;
        if let (RotationStatus::Disabled | RotationStatus::Unsupported, Some(why)) =
            (&status, key.cannot_rotate())
        {
            return Ok(Some(AccountFinding {
                issue: AccountIssue::NoRotation,
                alias: None,
                key: Some(key.arn.clone()),
                detail: format!(
                    "{} is not rotated, and kmsrot cannot manage it: {why}",
                    key.arn
                ),
            }));
        }
        let (issue, detail) = match status {
            RotationStatus::Disabled => (
                AccountIssue::RotationDisabled,
                format!(
                    "{} has automatic rotation off; enable it, or manage its alias with `kmsrot adopt`",
                    key.arn
                ),
            ),
            RotationStatus::Unsupported => (
                AccountIssue::NoRotation,
                format!(
                    "{} ({}) cannot rotate itself and kmsrot does not manage it; `kmsrot adopt` its alias in manual mode",
                    key.arn, key.spec
                ),
            ),
            RotationStatus::Unknown => (
                AccountIssue::Unreadable,
                format!(
                    "{}: its rotation status cannot be read (kms:GetKeyRotationStatus)",
                    key.arn
                ),
            ),
            RotationStatus::Enabled { .. } => return Ok(None),
        };
        Ok(Some(AccountFinding {
            issue,
            alias: None,
            key: Some(key.arn.clone()),
            detail,
        }))
    }
}

/// A finding for something the audit may not read.
fn unreadable(
    alias: Option<AliasName>,
    key: Option<kmsrot_types::KeyArn>,
    err: &KmsError,
) -> AccountFinding {
    AccountFinding {
        issue: AccountIssue::Unreadable,
        alias,
        key,
        detail: format!("cannot be audited: {err}"),
    }
}
