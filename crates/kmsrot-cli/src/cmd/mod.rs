//! One module per subcommand, each with its own `Args` and `run`.

pub(crate) mod audit;
pub(crate) mod completions;
pub(crate) mod decrypt;
pub(crate) mod describe;
pub(crate) mod encrypt;
pub(crate) mod event;
pub(crate) mod fleet;
pub(crate) mod guard;
pub(crate) mod mac;
pub(crate) mod manage;
pub(crate) mod reencrypt;
pub(crate) mod rotate;
pub(crate) mod s3;
pub(crate) mod sign;

use anyhow::Result;
use kmsrot_core::{Kms, Rotator};
use kmsrot_types::EncryptionContext;

use crate::Global;

/// The KMS service for this invocation, from the one AWS configuration door.
pub(crate) async fn kms(global: &Global) -> Result<Kms> {
    let config = global.aws.load().await?;
    Ok(Kms::new(&config))
}

/// The rotation engine for this invocation.
pub(crate) async fn rotator(global: &Global) -> Result<Rotator> {
    Ok(Rotator::new(kms(global).await?))
}

/// Parses repeated `--context key=value` flags.
pub(crate) fn context(pairs: &[String]) -> Result<EncryptionContext> {
    Ok(EncryptionContext::from_pairs(pairs)?)
}
