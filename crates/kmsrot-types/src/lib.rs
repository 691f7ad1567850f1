//! Shared vocabulary of kmsrot: key references, encryption contexts, the results that carry
//! the key ARN they were made with, key kinds (the specs and usages KMS offers and which
//! kmsrot manages), the rotation model (policy, stages, tag names, reports),
//! the rotation Lambda's events, requests, outcomes, notifications and metric names, and S3
//! locations, object encryption and re-encryption reports.
//!
//! This crate is pure data. It does no I/O and does not depend on the AWS SDK, so every other
//! crate (and anything that stores kmsrot's results) can use it. Every value kmsrot prints,
//! returns or stores round-trips through JSON; errors and helper types that are never stored
//! (the key-kind table, policy bounds, partitions) do not serialize.

#![warn(missing_docs)]

pub mod audit;
mod bytes;
mod context;
mod crypto;
pub mod event;
mod key_info;
pub mod key_kind;
mod key_ref;
pub mod metrics;
mod outcome;
mod report;
mod rotation;
pub mod s3;

pub use bytes::Base64Bytes;
pub use context::{ContextError, EncryptionContext};
pub use crypto::{AsymmetricCiphertext, Ciphertext, Mac, Signature};
pub use event::{Event, EventError, Invocation, Request};
pub use key_info::{KeyInfo, RotationStatus};
pub use key_kind::{KeyKind, KindError, SpecInfo};
pub use key_ref::{
    ALIAS_PREFIX, AliasArn, AliasName, AliasRef, KeyArn, KeyId, KeyRef, LOCK_ALIAS_PREFIX,
    MAX_ALIAS_LEN, ParseError, Partition, RESERVED_ALIAS_PREFIX, is_account_id,
};
pub use outcome::{
    AliasCheck, Deletion, Drift, Expiry, Notice, Notification, Outcome, TagChange, TagEdit,
};
pub use report::{
    Action, AliasOutcome, AliasStatus, CanaryVerdict, Compliance, Grant, GrantConstraints,
    GrantCopy, GuardVerdict, HeldStep, Hold, HoldReason, KeyChange, KeyStatus, Orphan,
    OrphanCleanup, RegionAlias, Release, SweepReport, Undone, is_service_principal,
};
pub use rotation::{Bound, GuardMode, Mode, Policy, PolicyError, Stage, tags, valid_rotation_id};
