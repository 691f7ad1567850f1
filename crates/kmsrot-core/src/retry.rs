//! Whether a failure is worth trying again: decided here, once, for every error kmsrot-core
//! returns. The sweep's backoff, the Lambda's `errorType` (`Retryable` or `NonRetryable`) and
//! the CLI's advice all read these methods; nothing else decides it.
//!
//! The SDK's standard retry mode has already retried throttling and transient faults with
//! backoff by the time an error reaches here, so "retryable" means "the same call, later, may
//! succeed": every kmsrot operation is idempotent, so running it again is safe.

#[cfg(feature = "s3")]
use crate::s3::S3Error;
use crate::{KmsError, RotationError};

impl KmsError {
    /// Whether retrying the same call later may succeed: throttling past the SDK's retries,
    /// an unreachable endpoint, and KMS's (and the Resource Groups Tagging API's) transient
    /// faults.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::Unreachable { .. } => true,
            Self::Service { code, .. } => matches!(
                code.as_str(),
                "KMSInternalException"
                    | "DependencyTimeoutException"
                    | "KeyUnavailableException"
                    // The Resource Groups Tagging API's transient faults.
                    | "InternalServiceException"
                    | "PaginationTokenExpiredException"
            ),
            _ => false,
        }
    }
}

impl RotationError {
    /// Whether running the same operation again later may succeed: a retryable KMS failure
    /// (also inside a self-test). An alias `Busy` with another operation is not: an immediate
    /// retry would join the other run's rotation, and some `Busy` errors need an action first
    /// (finish or abort an unfinished rotation), so the caller is told instead.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Kms(err) => err.is_retryable(),
            Self::SelfTest { source, .. } => source.is_retryable(),
            _ => false,
        }
    }
}

#[cfg(feature = "s3")]
impl S3Error {
    /// Whether retrying later may succeed: throttling past the SDK's retries, an unreachable
    /// endpoint, S3's own transient faults, and a retryable KMS failure.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Kms(err) => err.is_retryable(),
            Self::Throttled { .. } | Self::Unreachable { .. } => true,
            Self::Service { code, .. } => matches!(
                code.as_str(),
                "InternalError" | "ServiceUnavailable" | "SlowDown" | "RequestTimeout"
            ),
            _ => false,
        }
    }
}

/// How long AWS may take to honour a key's new tags in authorization: "it might take up to five
/// minutes for the changes to take effect" (KMS developer guide, ABAC for AWS KMS). The stack's
/// role is authorized on a new key by the tags written at CreateKey.
pub const TAG_AUTHORIZATION_LAG: std::time::Duration = std::time::Duration::from_secs(300);

/// Runs `op` on a key created at `created`, and while the key is younger than
/// [`TAG_AUTHORIZATION_LAG`], retries it when `denied` says it failed with AccessDenied: after
/// 1 s, then twice as long each time, at most 30 s apart. Any other outcome, and an AccessDenied
/// once the key is older, is returned as it is. `op` must be safe to repeat (every engine step
/// is).
pub async fn while_tags_settle<T, E, Fut>(
    created: std::time::SystemTime,
    denied: impl Fn(&E) -> bool,
    mut op: impl FnMut() -> Fut,
) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let age = std::time::SystemTime::now()
        .duration_since(created)
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + TAG_AUTHORIZATION_LAG.saturating_sub(age);
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match op().await {
            Err(err) if denied(&err) && tokio::time::Instant::now() + wait <= deadline => {
                tracing::info!(
                    wait_secs = wait.as_secs(),
                    "AccessDenied on a key just created: its tags may not be honoured yet; retrying"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            outcome => return outcome,
        }
    }
}

impl RotationError {
    /// Whether this failed with KMS's AccessDenied (also inside a self-test).
    pub fn is_access_denied(&self) -> bool {
        match self {
            Self::Kms(err) => matches!(err, KmsError::AccessDenied { .. }),
            Self::SelfTest { source, .. } => matches!(**source, KmsError::AccessDenied { .. }),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use kmsrot_types::AliasName;

    use super::*;
    use crate::Subject;

    fn alias() -> AliasName {
        "alias/app".parse().unwrap()
    }

    fn service(code: &str) -> KmsError {
        KmsError::Service {
            operation: "Encrypt",
            subject: Subject::Region,
            region: "us-east-1".into(),
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn transient_faults_are_retryable_and_refusals_are_not() {
        assert!(service("KMSInternalException").is_retryable());
        assert!(service("DependencyTimeoutException").is_retryable());
        assert!(!service("ValidationException").is_retryable());
        let busy = RotationError::Busy {
            alias: alias(),
            region: "us-east-1".into(),
            what: "another rotation".into(),
        };
        assert!(
            !busy.is_retryable(),
            "another operation holds the alias: told, not retried"
        );
        assert!(RotationError::Kms(service("KMSInternalException")).is_retryable());
        let unmanaged = RotationError::AliasExists {
            alias: alias(),
            region: "us-east-1".into(),
        };
        assert!(!unmanaged.is_retryable());
        #[cfg(feature = "s3")]
        {
            assert!(S3Error::Kms(service("KMSInternalException")).is_retryable());
            assert!(!S3Error::Refused("SSE-C".into()).is_retryable());
        }
    }
}
