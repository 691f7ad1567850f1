//! One module per subcommand, each with its own `Args` and `run`.

pub(crate) mod audit;
pub(crate) mod completions;
pub(crate) mod decrypt;
pub(crate) mod describe;
pub(crate) mod encrypt;
pub(crate) mod envelope;
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

/// The rotation engine, told who it runs as (STS GetCallerIdentity), for the commands that
/// may create keys: a new key's policy is checked against CreateKey's lockout check for this
/// caller. When STS does not answer, the engine checks for the account instead.
pub(crate) async fn rotator_as_caller(global: &Global) -> Result<Rotator> {
    let config = global.aws.load().await?;
    Ok(told_caller(Rotator::new(Kms::new(&config)), &config).await)
}

/// `engine`, told who it runs as when STS answers.
pub(crate) async fn told_caller(
    engine: Rotator,
    config: &kmsrot_core::config::SdkConfig,
) -> Rotator {
    match kmsrot_core::identity::caller_arn(config).await {
        Ok(arn) => engine.with_caller(arn),
        Err(err) => {
            tracing::warn!(error = %err, "the caller is unknown; a new key's policy must let the account manage it");
            engine
        }
    }
}

/// Parses repeated `--context key=value` flags.
pub(crate) fn context(pairs: &[String]) -> Result<EncryptionContext> {
    Ok(EncryptionContext::from_pairs(pairs)?)
}
