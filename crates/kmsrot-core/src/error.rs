//! kmsrot-core's one error type, and the mapping from KMS's error codes onto it.
//!
//! Every message names what was used (the alias, or the key ARN) and the region, and says what
//! to do next. `KMSInvalidStateException` says only "invalid state": [`Kms`](crate::Kms) refines
//! it into `Disabled`, `PendingDeletion` or `InvalidState` by asking KMS for the key's state.

use std::fmt;

use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use kmsrot_types::{AliasRef, EncryptionContext, KeyArn, KeyId, ParseError};

/// What a failed call was about, as its error message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A call through an alias.
    Alias(AliasRef),
    /// A call on one exact key, for example verifying a stored signature.
    Key(KeyArn),
    /// A key named by its bare ID (management calls only).
    KeyId(KeyId),
    /// A symmetric decryption, where KMS finds the key from the ciphertext itself.
    Ciphertext,
    /// A listing of the region's keys or aliases.
    Region,
}

impl Subject {
    /// The Region an ARN subject names (an alias ARN or a key ARN); none for the others.
    pub(crate) fn arn_region(&self) -> Option<&str> {
        match self {
            Self::Alias(AliasRef::Arn(arn)) => Some(arn.region()),
            Self::Key(arn) => Some(arn.region()),
            _ => None,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alias(alias) => write!(f, "alias `{alias}`"),
            Self::Key(arn) => write!(f, "key `{arn}`"),
            Self::KeyId(id) => write!(f, "key `{id}`"),
            Self::Ciphertext => f.write_str("the key named in the ciphertext"),
            Self::Region => f.write_str("the keys and aliases of the region"),
        }
    }
}

/// Everything that can go wrong talking to KMS, one variant per thing a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// An alias that could not be read: malformed, reserved, or a raw key where an alias is
    /// required.
    #[error("cannot use `{input}` in {region}: {source}")]
    InvalidAlias {
        /// The text given.
        input: String,
        /// The region in use.
        region: String,
        /// What is wrong with it.
        source: ParseError,
    },
    /// An alias or key ARN of another Region than the one in use: KMS keys are Regional, so
    /// the call is not made.
    #[error(
        "{subject} is in Region {named}, but kmsrot is using {region}: pass --region {named} (a KMS key is used in its own Region only)"
    )]
    OtherRegion {
        /// What was used.
        subject: Subject,
        /// The Region in use.
        region: String,
        /// The Region the ARN names.
        named: String,
        /// The call that was not made.
        operation: &'static str,
    },
    /// The alias or key does not exist.
    #[error(
        "{subject} does not exist in {region}{}; check the name, --region and --profile, or create it",
        other_region(.subject, .region)
    )]
    NotFound {
        /// What was looked for.
        subject: Subject,
        /// The region in use.
        region: String,
    },
    /// The key is disabled.
    #[error(
        "{subject} in {region}: the key{} is disabled; enable it (`aws kms enable-key`) to use it, and for new data an alias can point at an enabled key",
        key_suffix(.key)
    )]
    Disabled {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The disabled key, when known.
        key: Option<KeyArn>,
    },
    /// The key is scheduled for deletion.
    #[error(
        "{subject} in {region}: the key{} is pending deletion; cancel the deletion (`aws kms cancel-key-deletion`) and enable the key to use it, and for new data an alias can point at another key",
        key_suffix(.key)
    )]
    PendingDeletion {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The key pending deletion, when known.
        key: Option<KeyArn>,
    },
    /// The key is in another state that does not allow the operation (pending import,
    /// unavailable, creating, …).
    #[error(
        "{subject} in {region} names a key in state {state} that does not allow {operation}: {message}"
    )]
    InvalidState {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation refused.
        operation: &'static str,
        /// The key state, or `unknown`.
        state: String,
        /// KMS's message.
        message: String,
    },
    /// The ciphertext is corrupted or truncated, or was made with an encryption context that
    /// was not supplied.
    #[error(
        "the ciphertext cannot be decrypted by {subject} in {region}: it is corrupted or truncated, or it was encrypted with an encryption context; pass the same --context pairs that were used to encrypt"
    )]
    InvalidCiphertext {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
    },
    /// An encryption context was supplied and KMS refused the ciphertext with it.
    ///
    /// KMS answers a wrong context and an altered ciphertext with the same exception; kmsrot
    /// reports this variant whenever a context was given, since a context mismatch is then by
    /// far the likelier cause.
    #[error(
        "the encryption context ({}) does not match the one the ciphertext was encrypted with, for {subject} in {region}; pass exactly the pairs used to encrypt (or the ciphertext was altered)",
        .keys.join(", ")
    )]
    ContextMismatch {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The keys of the context given (never the values).
        keys: Vec<String>,
    },
    /// The ciphertext was made under a different key than the one named.
    #[error(
        "the ciphertext was not encrypted under {subject} in {region}; decrypt with the key ARN stored with the ciphertext"
    )]
    IncorrectKey {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
    },
    /// The key's usage or spec does not fit the operation.
    #[error(
        "{subject} in {region} cannot be used for {operation}: {message}; check its key spec and usage with `kmsrot describe`"
    )]
    WrongKeyType {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation attempted.
        operation: &'static str,
        /// What does not fit.
        message: String,
    },
    /// A signature did not verify.
    #[error(
        "the signature does not verify under {subject} in {region}: the message or the signature changed, or another key signed it"
    )]
    InvalidSignature {
        /// The key that was asked to verify.
        subject: Subject,
        /// The region in use.
        region: String,
    },
    /// A MAC did not verify.
    #[error(
        "the MAC does not verify under {subject} in {region}: the message or the MAC changed, or another key made it"
    )]
    InvalidMac {
        /// The key that was asked to verify.
        subject: Subject,
        /// The region in use.
        region: String,
    },
    /// A result was made by a key that is not the one trusted: not in the alias's history (as
    /// kmsrot's tags record it), or not the key given. A plaintext it decrypted is dropped.
    #[error(
        "{key} made it, and it is not a key of {subject} in {region} (nor of its history); refusing it: a document naming another key the caller may use would otherwise pass"
    )]
    NotInHistory {
        /// The alias or key that is trusted.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The key that made it.
        key: KeyArn,
    },
    /// The caller may not perform the operation.
    #[error(
        "access denied: {operation} on {subject} in {region}: {message}; check the key policy and the IAM permissions of the credentials in use (--profile)"
    )]
    AccessDenied {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation refused.
        operation: &'static str,
        /// KMS's message.
        message: String,
    },
    /// KMS kept throttling after every retry the retry configuration allows.
    #[error(
        "KMS throttled {operation} on {subject} in {region} after every allowed retry; slow down (lower concurrency), retry later, or raise --max-attempts"
    )]
    Throttled {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation throttled.
        operation: &'static str,
    },
    /// A KMS limit was reached, for example the cap on on-demand rotations of a key.
    #[error(
        "KMS refused {operation} on {subject} in {region} because a limit was reached: {message}"
    )]
    LimitExceeded {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation refused.
        operation: &'static str,
        /// KMS's message.
        message: String,
    },
    /// The request itself is invalid (too large, bad parameter).
    #[error("invalid {operation} request for {subject} in {region}: {message}")]
    InvalidInput {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation.
        operation: &'static str,
        /// What is wrong.
        message: String,
    },
    /// KMS could not be reached at all.
    #[error(
        "could not reach KMS in {region} for {operation}: {source}; check --endpoint-url, the network, and that credentials are configured"
    )]
    Unreachable {
        /// The region in use.
        region: String,
        /// The operation attempted.
        operation: &'static str,
        /// The transport error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other error KMS returned.
    #[error("KMS {operation} failed for {subject} in {region}: {code}: {message}")]
    Service {
        /// What was used.
        subject: Subject,
        /// The region in use.
        region: String,
        /// The operation.
        operation: &'static str,
        /// KMS's error code.
        code: String,
        /// KMS's message.
        message: String,
    },
    /// KMS answered without a field it always sends.
    #[error("KMS {operation} in {region} returned an unexpected response: {what}")]
    UnexpectedResponse {
        /// The region in use.
        region: String,
        /// The operation.
        operation: &'static str,
        /// What was missing or malformed.
        what: String,
    },
}

/// When an ARN names another Region than the one in use, says which is which: KMS looks for
/// it in the Region in use only.
fn other_region(subject: &Subject, region: &str) -> String {
    let Some(named) = subject.arn_region() else {
        return String::new();
    };
    if named == region {
        String::new()
    } else {
        format!(
            " (the ARN names Region {named}, but kmsrot is using {region}: pass --region {named})"
        )
    }
}

fn key_suffix(key: &Option<KeyArn>) -> String {
    key.as_ref().map(|k| format!(" ({k})")).unwrap_or_default()
}

impl KmsError {
    /// Reads a decryption failure in the light of the encryption context the caller gave:
    /// KMS answers a wrong context and an altered ciphertext alike, and when a context was
    /// given, a mismatch is the likelier cause.
    pub(crate) fn given_context(self, context: &EncryptionContext) -> Self {
        match self {
            Self::InvalidCiphertext { subject, region } if !context.is_empty() => {
                Self::ContextMismatch {
                    subject,
                    region,
                    keys: context.keys().map(str::to_owned).collect(),
                }
            }
            other => other,
        }
    }
}

/// Where a failed call happened: the operation, what it was about, and the region.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    pub(crate) operation: &'static str,
    pub(crate) subject: &'a Subject,
    pub(crate) region: &'a str,
}

impl Call<'_> {
    /// Maps an SDK error onto [`KmsError`] by KMS's error code. The key state behind
    /// `KMSInvalidStateException` is refined later by the caller, which can ask KMS.
    pub(crate) fn classify<E, R>(&self, err: SdkError<E, R>) -> KmsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let subject = self.subject.clone();
        let region = self.region.to_owned();
        let operation = self.operation;
        if !matches!(err, SdkError::ServiceError(_)) {
            if matches!(
                err,
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
            ) {
                return KmsError::Unreachable {
                    region,
                    operation,
                    source: Box::new(err),
                };
            }
            return KmsError::Service {
                subject,
                region,
                operation,
                code: "SdkError".into(),
                message: error_text(&err),
            };
        }
        // An answer that is not KMS's JSON (a proxy's 5xx page, say) has no code: name its
        // HTTP status instead.
        let status = err
            .raw_response()
            .and_then(|raw| {
                (raw as &dyn std::any::Any).downcast_ref::<aws_smithy_runtime_api::http::Response>()
            })
            .map(|raw| raw.status().as_u16());
        let (code, message) = match (err.code(), status) {
            (Some(code), _) => (
                code.to_owned(),
                err.message().unwrap_or_default().to_owned(),
            ),
            (None, Some(status)) => (
                format!("HTTP {status}"),
                "the answer was not a KMS error document".to_owned(),
            ),
            (None, None) => (
                "Unknown".to_owned(),
                "the answer was not a KMS error document".to_owned(),
            ),
        };
        match code.as_str() {
            "NotFoundException" => KmsError::NotFound { subject, region },
            "DisabledException" => KmsError::Disabled {
                key: key_in_message(&message),
                subject,
                region,
            },
            "KMSInvalidStateException" => KmsError::InvalidState {
                subject,
                region,
                operation,
                state: "unknown".into(),
                message,
            },
            "InvalidCiphertextException" => KmsError::InvalidCiphertext { subject, region },
            "IncorrectKeyException" => KmsError::IncorrectKey { subject, region },
            "InvalidKeyUsageException" | "UnsupportedOperationException" => {
                KmsError::WrongKeyType {
                    subject,
                    region,
                    operation,
                    message: if message.is_empty() {
                        "the key's usage does not allow it".into()
                    } else {
                        message
                    },
                }
            }
            "KMSInvalidSignatureException" => KmsError::InvalidSignature { subject, region },
            "KMSInvalidMacException" => KmsError::InvalidMac { subject, region },
            // Refused credentials (unknown, expired or badly signed) are access problems too.
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredTokenException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "MissingAuthenticationToken" => KmsError::AccessDenied {
                subject,
                region,
                operation,
                message,
            },
            "LimitExceededException" => KmsError::LimitExceeded {
                subject,
                region,
                operation,
                message,
            },
            "ThrottlingException" => KmsError::Throttled {
                subject,
                region,
                operation,
            },
            "ValidationException" | "InvalidArnException" | "InvalidGrantTokenException" => {
                KmsError::InvalidInput {
                    subject,
                    region,
                    operation,
                    message,
                }
            }
            _ => KmsError::Service {
                subject,
                region,
                operation,
                code,
                message,
            },
        }
    }
}

/// KMS names the key in some messages ("arn:aws:kms:…:key/… is disabled."); find it.
pub(crate) fn key_in_message(message: &str) -> Option<KeyArn> {
    message
        .split(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | ','))
        .map(|word| word.trim_end_matches('.'))
        .find_map(|word| word.parse().ok())
}

/// An error and its sources, each by its `Display`, joined with `: `. Never `Debug`: the SDK's
/// `Debug` of a failed call includes the raw response, body and all.
pub(crate) fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_key_arn_in_kms_messages() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            key_in_message(&format!("{arn} is pending deletion.")).map(|k| k.to_string()),
            Some(arn.to_owned())
        );
        assert_eq!(
            key_in_message(&format!("Key '{arn}' is disabled")).map(|k| k.to_string()),
            Some(arn.to_owned())
        );
        assert_eq!(key_in_message("no key here"), None);
    }

    #[test]
    fn an_arn_of_another_region_says_which_is_which() {
        let alias: AliasRef = "arn:aws:kms:eu-west-1:111122223333:alias/app"
            .parse()
            .unwrap();
        let err = KmsError::NotFound {
            subject: Subject::Alias(alias),
            region: "us-east-1".into(),
        };
        let message = err.to_string();
        assert!(
            message.contains("the ARN names Region eu-west-1, but kmsrot is using us-east-1: pass --region eu-west-1"),
            "{message}"
        );
        let same = KmsError::NotFound {
            subject: Subject::Alias("alias/app".parse().unwrap()),
            region: "us-east-1".into(),
        };
        assert!(!same.to_string().contains("ARN names"), "{same}");
    }

    #[test]
    fn messages_name_the_alias_the_region_and_what_to_do() {
        let subject = Subject::Alias("alias/app".parse().unwrap());
        let err = KmsError::NotFound {
            subject: subject.clone(),
            region: "eu-west-1".into(),
        };
        assert_eq!(
            err.to_string(),
            "alias `alias/app` does not exist in eu-west-1; check the name, --region and --profile, or create it"
        );
        let err = KmsError::ContextMismatch {
            subject,
            region: "eu-west-1".into(),
            keys: vec!["purpose".into(), "tenant".into()],
        };
        let text = err.to_string();
        assert!(text.contains("(purpose, tenant)"), "{text}");
        assert!(text.contains("alias `alias/app` in eu-west-1"), "{text}");
    }
}
