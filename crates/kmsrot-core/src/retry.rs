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
