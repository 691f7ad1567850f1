//! Who is calling: the account of the caller's credentials, from STS `GetCallerIdentity`.

use aws_config::SdkConfig;

/// The caller's account could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the caller's account with STS GetCallerIdentity: {reason}; check the credentials, or pass the account explicitly"
)]
pub struct IdentityError {
    reason: String,
}

/// The caller's identity (STS `GetCallerIdentity`).
async fn caller_identity(
    config: &SdkConfig,
) -> Result<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput, IdentityError> {
    aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|err| IdentityError {
            reason: crate::error::error_text(&err),
        })
}

/// The ARN of the caller's credentials (an IAM user, a role, or an assumed-role session).
pub async fn caller_arn(config: &SdkConfig) -> Result<String, IdentityError> {
    caller_identity(config)
        .await?
        .arn()
        .map(str::to_owned)
        .ok_or(IdentityError {
            reason: "the response names no ARN".into(),
        })
}

/// The account ID of the caller's credentials.
pub async fn caller_account(config: &SdkConfig) -> Result<String, IdentityError> {
    caller_identity(config)
        .await?
        .account()
        .map(str::to_owned)
        .ok_or(IdentityError {
            reason: "the response names no account".into(),
        })
}
