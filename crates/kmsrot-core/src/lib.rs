//! kmsrot's library: alias-safe access to AWS KMS, and the rotation engine.
//!
//! - [`config`] is the one place where AWS configuration is built.
//! - [`Kms`] is the KMS service: key metadata, symmetric decryption, and verification by the
//!   exact key ARN stored with a result.
//! - [`AliasKms`] is the data plane, reached only through an alias: encrypt, data keys,
//!   re-encrypt, sign, MAC and RSA encryption. A raw key ID cannot construct it.
//!
//! - [`engine::Rotator`] is the rotation engine: managed aliases, manual and automatic
//!   rotation, rollback, the deletion guard and the fleet sweep, with all state in key tags.
//! - [`key_policy`] prepares the key policy a manual rotation gives its new key: what it
//!   rewrites, what it cannot carry over, and whether `CreateKey` would refuse it.
//!
//! - [`metrics`] publishes kmsrot's metrics (Embedded Metric Format or `PutMetricData`), and
//!   [`notify`] its SNS notifications; neither ever fails its caller.
//! - `s3` (feature `s3`) is S3 SSE-KMS through aliases: objects written under the key an alias
//!   names, bucket defaults that follow the alias, and re-encryption of stored objects to the
//!   current key.
//! - `identity` (feature `identity`) reads the caller's account.
//! - `audit` (feature `audit`) finds KMS keys hard-coded in source and configuration.
//!
//! The features leave out what the rotation Lambda does not use, so that its bootstrap neither
//! compiles nor carries it.
//!
//! Functions take a built client or an `&SdkConfig`; none loads configuration itself.

#![warn(missing_docs)]

#[cfg(feature = "audit")]
pub mod audit;
pub mod config;
pub mod engine;
pub mod envelope;
mod error;
#[cfg(feature = "identity")]
pub mod identity;
pub mod key_policy;
mod kms;
pub mod metrics;
pub mod notify;
pub mod observe;
pub mod offline;
pub mod retry;
#[cfg(feature = "s3")]
pub mod s3;
mod secret;

pub use engine::{AliasChange, FailedUse, RotateOptions, RotationError, Rotator, SweepOptions};
pub use error::{KmsError, Subject};
pub use kms::{AliasKms, DataKey, Decrypted, HistoryKey, Kms, ReEncrypted};
pub use metrics::Metrics;
pub use notify::Notifier;
pub use secret::SecretBytes;

/// KMS's limit on the plaintext of `Encrypt` and on a raw message to `Sign` or `GenerateMac`.
pub const MAX_KMS_MESSAGE: usize = 4096;
