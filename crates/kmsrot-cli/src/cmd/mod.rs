//! One module per subcommand, each with its own `Args` and `run`.

pub(crate) mod decrypt;
pub(crate) mod describe;
pub(crate) mod encrypt;

use anyhow::Result;
use kmsrot_core::Kms;
use kmsrot_types::EncryptionContext;

use crate::Global;

/// The KMS service for this invocation, from the one AWS configuration door.
pub(crate) async fn kms(global: &Global) -> Result<Kms> {
    let config = global.aws.load().await?;
    Ok(Kms::new(&config))
}

/// Parses repeated `--context key=value` flags.
pub(crate) fn context(pairs: &[String]) -> Result<EncryptionContext> {
    Ok(EncryptionContext::from_pairs(pairs)?)
}
