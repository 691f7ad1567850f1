//! The S3 error type, and the mapping from S3's answers onto it (as `crate::error` is for
//! KMS).

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::checkpoint::CheckpointError;
use crate::KmsError;
use crate::error::error_text;

/// Everything that can go wrong with S3 (and the KMS key behind an alias).
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The alias could not be used for SSE-KMS.
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The bucket does not exist, or the caller cannot see it.
    #[error("bucket `{bucket}` does not exist in {region}; check the name, --region and --profile")]
    NoSuchBucket {
        /// The bucket.
        bucket: String,
        /// The region in use.
        region: String,
    },
    /// The bucket is in another region.
    #[error(
        "bucket `{bucket}` is not in {region}; pass the bucket's region with --region (S3 answered {code})"
    )]
    WrongRegion {
        /// The bucket.
        bucket: String,
        /// The region in use.
        region: String,
        /// What S3 answered.
        code: String,
    },
    /// The object does not exist.
    #[error("{location} does not exist in {region}; check the key and --region")]
    NoSuchKey {
        /// The object.
        location: String,
        /// The region in use.
        region: String,
    },
    /// The caller may not do this.
    #[error(
        "access denied: S3 {operation} on {target} in {region}: {message}; check the bucket policy, the key policy and the IAM permissions of the credentials in use (--profile)"
    )]
    AccessDenied {
        /// The operation refused.
        operation: &'static str,
        /// The bucket or object.
        target: String,
        /// The region in use.
        region: String,
        /// S3's message.
        message: String,
    },
    /// S3 kept throttling after every allowed retry.
    #[error(
        "S3 throttled {operation} on {target} in {region} after every allowed retry; lower --concurrency, retry later, or raise --max-attempts"
    )]
    Throttled {
        /// The operation throttled.
        operation: &'static str,
        /// The bucket or object.
        target: String,
        /// The region in use.
        region: String,
    },
    /// The endpoint could not be reached.
    #[error(
        "S3 {operation} in {region} could not reach the endpoint: {message}; check the network, --region and --endpoint-url"
    )]
    Unreachable {
        /// The operation attempted.
        operation: &'static str,
        /// The region in use.
        region: String,
        /// What the HTTP client said.
        message: String,
    },
    /// Any other S3 error.
    #[error("S3 {operation} failed for {target} in {region}: {code}: {message}")]
    Service {
        /// The operation.
        operation: &'static str,
        /// The bucket or object.
        target: String,
        /// The region in use.
        region: String,
        /// S3's error code, or the HTTP status.
        code: String,
        /// S3's message.
        message: String,
    },
    /// The object cannot be read by kmsrot (SSE-C), or the request makes no sense.
    #[error("{0}")]
    Refused(String),
    /// The endpoint does not implement `UpdateObjectEncryption`, and `--method update` was
    /// asked for.
    #[error(
        "the S3 endpoint in {region} does not implement UpdateObjectEncryption ({code}); run again with --method copy, which copies each object in place"
    )]
    UpdateUnsupported {
        /// The region in use.
        region: String,
        /// What the endpoint answered.
        code: String,
    },
    /// The checkpoint file could not be used.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Why a HEAD that S3 answers with a bare 400 is reported as it is.
pub(crate) const SSE_C_HEAD: &str = "S3 answered HEAD with 400 and no reason, which it does for an object encrypted with a customer-provided key (SSE-C): only that key can read or re-encrypt it, and kmsrot never has it";

/// A failed S3 call, before it is given a meaning.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: Option<u16>,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) unreachable: bool,
}

impl Failure {
    pub(crate) fn of<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let unreachable = matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
        );
        let code = err
            .code()
            .map(str::to_owned)
            .or_else(|| status.map(|s| format!("HTTP {s}")))
            .unwrap_or_else(|| "SdkError".into());
        let message = match err.message() {
            Some(m) => m.to_owned(),
            None if matches!(err, SdkError::ServiceError(_)) => String::new(),
            None => error_text(err),
        };
        Self {
            status,
            code,
            message,
            unreachable,
        }
    }

    pub(crate) fn is_throttling(&self) -> bool {
        matches!(
            self.code.as_str(),
            "SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded"
        ) || self.status == Some(503)
    }

    /// One line for a report: the code and message, and what to do for common causes.
    pub(crate) fn reason(&self) -> String {
        let advice = match self.code.as_str() {
            _ if self.is_throttling() => {
                "; S3 throttled it after every retry: run again later with a lower --concurrency"
            }
            "PreconditionFailed" | "ConditionalRequestConflict" => {
                "; the object changed while it was being re-encrypted: run again to pick up the new version"
            }
            "AccessDenied" => {
                "; the caller needs s3:GetObject and s3:PutObject on the object, kms:Decrypt on its key and kms:GenerateDataKey on the target key"
            }
            c if c.starts_with("KMS.") => "; the object's key or the target key cannot be used now",
            "InvalidObjectState" => "; the object is archived: restore it first",
            _ => "",
        };
        match self.message.as_str() {
            "" => format!("{}{advice}", self.code),
            m => format!("{}: {m}{advice}", self.code),
        }
    }

    pub(crate) fn into_error(self, operation: &'static str, target: &str, region: &str) -> S3Error {
        let (target, region) = (target.to_owned(), region.to_owned());
        if self.unreachable {
            return S3Error::Unreachable {
                operation,
                region,
                message: self.message,
            };
        }
        if self.is_throttling() {
            return S3Error::Throttled {
                operation,
                target,
                region,
            };
        }
        let bucket_of = |target: &str| {
            target
                .trim_start_matches("s3://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        match (self.code.as_str(), self.status) {
            ("PermanentRedirect" | "AuthorizationHeaderMalformed", _) | (_, Some(301)) => {
                S3Error::WrongRegion {
                    bucket: bucket_of(&target),
                    region,
                    code: self.code,
                }
            }
            ("NoSuchBucket", _) => S3Error::NoSuchBucket {
                bucket: bucket_of(&target),
                region,
            },
            ("NoSuchKey" | "NotFound", _) | (_, Some(404)) => S3Error::NoSuchKey {
                location: target,
                region,
            },
            ("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch", _)
            | (_, Some(403)) => S3Error::AccessDenied {
                operation,
                target,
                region,
                message: self.message,
            },
            _ => S3Error::Service {
                operation,
                target,
                region,
                code: self.code,
                message: self.message,
            },
        }
    }
}
