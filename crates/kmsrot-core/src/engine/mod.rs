//! The rotation engine. KMS is its only store of state: every fact it needs lives in tags on
//! the keys (see [`kmsrot_types::tags`]), so there is nothing to deploy or lose, and every
//! operation starts by reading that state.
//!
//! - [`Rotator::init`] and [`Rotator::adopt`] put an alias under a [`Policy`].
//! - [`Rotator::rotate`] runs a manual rotation in idempotent steps (create, test, promote),
//!   or an on-demand rotation of the key material in automatic mode.
//! - [`Rotator::rollback`] moves the alias back to its previous key.
//! - [`Rotator::guard`] undoes the disabling or deletion of a key a managed alias still needs.
//! - [`Rotator::sweep`] brings every managed alias in line with its policy.
//!
//! Every step reads the state first and returns when its work is already done, so running an
//! operation again after a crash at any point converges.

mod audit;
mod canary;
mod events;
mod guard;
mod holds;
mod keys;
mod lifecycle;
mod lock;
mod manage;
mod orphans;
mod plan;
mod regions;
mod rollback;
mod rotate;
mod self_test;
mod store;
mod sweep;

use aws_smithy_types::DateTime;
use kmsrot_types::{AliasName, KeyArn, PolicyError};

use crate::{Kms, KmsError};
use store::Store;

pub use canary::FailedUse;
pub use events::AliasChange;
pub use rotate::RotateOptions;
pub use sweep::SweepOptions;

/// KMS's documented cap on on-demand rotations of one key: "You can perform on-demand key
/// rotation a maximum of 25 times per KMS key" (RotateKeyOnDemand, in aws-sdk-kms 1.111's
/// doc comment). kmsrot counts down from it for reporting, and leaves the refusal to KMS
/// (`LimitExceededException`).
pub const ON_DEMAND_CAP: u32 = 25;

/// Everything the engine can refuse or fail with. KMS's own errors pass through as
/// [`RotationError::Kms`].
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// A KMS call failed.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The policy given is not valid.
    #[error("invalid rotation policy for `{alias}`: {source}")]
    Policy {
        /// The alias.
        alias: AliasName,
        /// What is wrong.
        source: PolicyError,
    },
    /// The policy in the tags of the alias's key is not valid.
    #[error("the rotation policy in the tags of `{alias}`'s key is invalid: {source}")]
    PolicyTags {
        /// The alias.
        alias: AliasName,
        /// What is wrong.
        source: PolicyError,
    },
    /// The alias's key carries no kmsrot tags for this alias.
    #[error(
        "alias `{alias}` in {region} is not managed by kmsrot (its key {key} has no `kmsrot:alias` tag for it); run `kmsrot adopt {alias}` first"
    )]
    Unmanaged {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// The key the alias names.
        key: KeyArn,
    },
    /// A key given for an alias is not one of that alias's keys.
    #[error(
        "{key} in {region} is not a key of `{alias}` (its `kmsrot:alias` tag does not name it); give a key from `kmsrot status {alias}`"
    )]
    NotOurs {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// The key given.
        key: KeyArn,
    },
    /// Other aliases name the key a rotation would replace; they would stay on the old key.
    #[error(
        "refusing to rotate `{alias}` in {region}: {key} is also named by {}, which would stay on the old key (and hold its retirement); rotate them together with {}, or point them elsewhere first",
        aliases.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "),
        aliases.iter().map(|a| format!("--with-alias {a}")).collect::<Vec<_>>().join(" ")
    )]
    SharedKey {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// Its current key.
        key: KeyArn,
        /// The other aliases that name it and were not given to move together.
        aliases: Vec<AliasName>,
    },
    /// `init` on an alias that exists.
    #[error("alias `{alias}` already exists in {region}; use `kmsrot adopt {alias}` to manage it")]
    AliasExists {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
    },
    /// The key cannot be managed the way asked (origin, key store, spec, usage or mode).
    #[error("alias `{alias}` in {region} cannot be managed this way: {reason}")]
    Unsupported {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// Why (naming the key), and what to do.
        reason: String,
    },
    /// The new key differs from the current one in spec or usage; the alias was not moved.
    #[error(
        "refusing to point `{alias}` at {new_key}: it is {new_spec}/{new_usage} and the current key is {spec}/{usage}; UpdateAlias needs the same key type and usage, and applications expect them"
    )]
    Mismatch {
        /// The alias.
        alias: AliasName,
        /// The key that was to become current.
        new_key: KeyArn,
        /// Its spec.
        new_spec: String,
        /// Its usage.
        new_usage: String,
        /// The current key's spec.
        spec: String,
        /// The current key's usage.
        usage: String,
    },
    /// The new key failed its round trip; the alias was not moved.
    #[error(
        "the new key {key} for `{alias}` failed its {check} round trip, so the alias was not moved"
    )]
    SelfTest {
        /// The alias.
        alias: AliasName,
        /// The new key.
        key: KeyArn,
        /// Which round trip.
        check: &'static str,
        /// The failure.
        source: Box<KmsError>,
    },
    /// KMS refused another on-demand rotation.
    #[error(
        "KMS refused an on-demand rotation of {key} (`{alias}` in {region}): its on-demand rotations are used up ({used} done; KMS allows {ON_DEMAND_CAP} per key). Rely on automatic rotation, or rotate manually to a new key with `--mode manual`"
    )]
    OnDemandLimit {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// The key.
        key: KeyArn,
        /// On-demand rotations already done, from ListKeyRotations.
        used: u32,
    },
    /// Rollback without a previous key to go back to.
    #[error("alias `{alias}` in {region} has no previous key to roll back to: {why}")]
    NoPrevious {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// Why.
        why: String,
    },
    /// Another operation on the alias is unfinished or under way; nothing was changed.
    #[error("alias `{alias}` in {region} is busy: {what}")]
    Busy {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// What is under way, and what to do.
        what: String,
    },
    /// What kmsrot's tags claim about a key does not hold (someone who may tag keys changed
    /// them): the engine refuses to act on it.
    #[error(
        "alias `{alias}` in {region}: TAMPERED: kmsrot will not use {key}: {why}. Check who changed its `kmsrot:*` tags (CloudTrail TagResource)"
    )]
    Tampered {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// The key refused.
        key: KeyArn,
        /// What does not hold.
        why: String,
    },
    /// The tags contradict each other or KMS; the engine stops rather than guess.
    #[error("alias `{alias}` in {region}: {what}; fix the `kmsrot:*` tags or ask for help")]
    Inconsistent {
        /// The alias.
        alias: AliasName,
        /// The region.
        region: String,
        /// What is inconsistent.
        what: String,
    },
}

/// The rotation engine for one region. Cheap to clone: clones share the client and the pace.
#[derive(Debug, Clone)]
pub struct Rotator {
    store: Store,
    now: Option<DateTime>,
    /// Who the engine runs as (an IAM principal ARN), for CreateKey's policy lockout check.
    caller: Option<String>,
    /// How old (by the real clock) an alias's lock must be before a run takes it over.
    lock_timeout: std::time::Duration,
}

impl Rotator {
    /// An engine on a KMS service, with no limit on its call rate.
    pub fn new(kms: Kms) -> Self {
        Self {
            store: Store::new(kms),
            now: None,
            caller: None,
            lock_timeout: lock::LOCK_TIMEOUT,
        }
    }

    /// Finds keys by their tags through the Resource Groups Tagging API (`tag:GetResources`)
    /// instead of listing every key in the region and reading its tags: for the key a deleted
    /// key was replaced by, whether a changed alias is managed, and orphan keys. What it finds
    /// is re-read from KMS, since the tagging API is eventually consistent; when it refuses
    /// the caller, the engine reads every key's tags instead.
    pub fn with_tagging(mut self, client: aws_sdk_resourcegroupstagging::Client) -> Self {
        self.store.set_tagging(client);
        self
    }

    /// [`Rotator::with_tagging`] with a client made from `config` (the caller's AWS
    /// configuration, as [`crate::config::AwsOptions::load`] builds it).
    pub fn with_tagging_of(self, config: &crate::config::SdkConfig) -> Self {
        self.with_tagging(aws_sdk_resourcegroupstagging::Client::new(config))
    }

    /// Limits this engine (and its clones) to `calls_per_second` KMS calls, spread evenly.
    pub fn with_rate(mut self, calls_per_second: f64) -> Self {
        self.store.set_rate(calls_per_second);
        self
    }

    /// The same engine in another Region, for a multi-Region key's replicas: same clock, same
    /// pace.
    pub(crate) fn in_region(&self, region: &str) -> Self {
        Self {
            store: self.store.in_region(region),
            now: self.now,
            caller: self.caller.clone(),
            lock_timeout: self.lock_timeout,
        }
    }

    /// Tells the engine who it runs as (the ARN STS's GetCallerIdentity reports, or the role's
    /// ARN), so that a rotation checks the new key's policy against CreateKey's lockout check
    /// for that principal. Without it, the policy must let the account (its root) manage the
    /// key.
    pub fn with_caller(mut self, arn: impl Into<String>) -> Self {
        self.caller = Some(arn.into());
        self
    }

    /// How old an alias's lock (see [`kmsrot_types::LOCK_ALIAS_PREFIX`]) must be before this
    /// engine takes it over as left by a run that stopped: 900 s unless set (a Lambda run
    /// lasts at most that long). Measured by the real clock, not [`Rotator::with_clock`]'s.
    pub fn with_lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Fixes the engine's clock, for a what-if (how would the sweep see the fleet on that
    /// date?) and for tests.
    pub fn with_clock(mut self, now: DateTime) -> Self {
        self.now = Some(now);
        self
    }

    /// A fresh rotation ID (the time and a random suffix), for a caller that wants to know
    /// the ID before the rotation starts.
    pub fn new_rotation_id() -> String {
        new_rotation_id(DateTime::from(std::time::SystemTime::now()))
    }

    /// The KMS service.
    pub fn kms(&self) -> &Kms {
        self.store.kms()
    }

    fn region(&self) -> String {
        self.store.region().to_owned()
    }

    fn now(&self) -> DateTime {
        self.now
            .unwrap_or_else(|| DateTime::from(std::time::SystemTime::now()))
    }

    fn unmanaged(&self, alias: &AliasName, key: &KeyArn) -> RotationError {
        RotationError::Unmanaged {
            alias: alias.clone(),
            region: self.region(),
            key: key.clone(),
        }
    }

    fn unsupported(&self, alias: &AliasName, reason: impl Into<String>) -> RotationError {
        RotationError::Unsupported {
            alias: alias.clone(),
            region: self.region(),
            reason: reason.into(),
        }
    }

    fn busy(&self, alias: &AliasName, what: impl Into<String>) -> RotationError {
        RotationError::Busy {
            alias: alias.clone(),
            region: self.region(),
            what: what.into(),
        }
    }

    fn inconsistent(&self, alias: &AliasName, what: impl Into<String>) -> RotationError {
        RotationError::Inconsistent {
            alias: alias.clone(),
            region: self.region(),
            what: what.into(),
        }
    }
}

/// RFC 3339 text of a time, as kmsrot writes it in tags.
fn rfc3339(time: DateTime) -> String {
    time.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// A fresh rotation ID: the time and a random suffix, so that IDs sort and never repeat.
fn new_rotation_id(now: DateTime) -> String {
    format!("r{}-{:08x}", now.secs(), fastrand::u32(..))
}
