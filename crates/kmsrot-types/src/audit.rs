//! What `kmsrot audit code` reports: KMS keys hard-coded in source and configuration.

use serde::{Deserialize, Serialize};

use crate::{AliasName, KeyArn};

/// How sure the audit is that a match names a KMS key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// A bare UUID with no KMS context nearby: it may be any identifier. Reported, but it
    /// does not fail the audit.
    Low,
    /// A key ARN, a multi-Region key ID (`mrk-…`), or a UUID near KMS context.
    High,
}

/// An alias that names a hard-coded key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasHint {
    /// The alias.
    pub alias: AliasName,
    /// Whether kmsrot manages it (its key carries kmsrot's tags for it).
    pub managed: bool,
}

/// One hard-coded key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFinding {
    /// The file, as given or found under a given directory.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The text found: a key ARN or a key ID.
    pub text: String,
    /// The key ID in it.
    pub key_id: String,
    /// How sure the audit is.
    pub confidence: Confidence,
    /// Why it is taken for a key (or why it might not be one).
    pub why: String,
    /// With credentials: the key's ARN in the configured region, when it exists there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<KeyArn>,
    /// With credentials: the aliases that name the key, managed ones first. Code should
    /// name one of those instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<AliasHint>,
    /// With credentials: why the key could not be looked up, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<String>,
}

/// What `kmsrot audit account` can find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountIssue {
    /// An alias names a key that is pending deletion: its applications fail when KMS
    /// deletes it, and already fail to use it now.
    AliasNamesKeyPendingDeletion,
    /// An alias names a key that cannot be used: disabled, waiting for imported material,
    /// or unavailable.
    AliasNamesUnusableKey,
    /// A managed alias's key is older than its policy allows.
    Overdue,
    /// A managed alias does not meet its policy in another way (automatic rotation off or at
    /// another period, for example), or its policy tags are invalid.
    Noncompliant,
    /// A symmetric key whose automatic rotation is off, and that kmsrot does not rotate.
    RotationDisabled,
    /// A key that cannot rotate itself (asymmetric, HMAC, imported) and that kmsrot does not
    /// manage.
    NoRotation,
    /// An alias that kmsrot does not manage.
    UnmanagedAlias,
    /// A key or alias the audit could not read (access denied): it cannot vouch for it.
    Unreadable,
    /// A managed key has grants: who may use it by its ARN, whatever the alias names. For
    /// information: it does not count as a problem.
    Grants,
    /// A managed key has a grant for an AWS service, which keeps using the key by its ARN after
    /// a rotation (its old key's retirement is then held). For information.
    ServiceGrant,
    /// An old key's retirement is held (grants, recent use, other aliases, a failed use).
    RetirementHeld,
    /// Other aliases name a managed alias's key: a rotation is refused until they are given
    /// to move with it.
    SharedKey,
    /// In another Region of a managed multi-Region key set, the alias of the same name names
    /// a key other than the replica of the alias's current key.
    RegionDiverges,
    /// A managed alias names a replica of a multi-Region key: its set is rotated and retired
    /// from the primary's Region. For information.
    Replica,
    /// A key tagged for a managed alias that the alias does not track: not the key it names,
    /// not one of its previous keys, not the new key of a rotation under way. Left behind by
    /// a lost answer or an interrupted run (or tagged by someone else).
    Orphan,
    /// A managed key's policy authorizes through the alias (`kms:ResourceAliases`,
    /// `kms:RequestAlias`): when a rotation moves the alias, the principals it admits lose the
    /// old key. A manual rotation is refused until this is accepted.
    AliasCondition,
}

impl AccountIssue {
    /// Whether the finding is for information only (it does not make the audit fail).
    pub fn informational(self) -> bool {
        matches!(self, Self::Grants | Self::ServiceGrant | Self::Replica)
    }
}

/// One finding of `kmsrot audit account`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFinding {
    /// What is wrong.
    pub issue: AccountIssue,
    /// The alias concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasName>,
    /// The key concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyArn>,
    /// In words, with what to do.
    pub detail: String,
}

/// `kmsrot audit account`: the compliance of every customer-managed key and alias in one
/// region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountReport {
    /// The region.
    pub region: String,
    /// Customer-managed keys examined.
    pub keys: usize,
    /// Customer aliases examined.
    pub aliases: usize,
    /// What is wrong, most severe first.
    pub findings: Vec<AccountFinding>,
}

impl AccountReport {
    /// The findings that are problems (not for information only).
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| !f.issue.informational())
            .count()
    }
}
