//! Exit codes, and how an error is shown. The README's table of exit codes mirrors this file.

use std::process::ExitCode;

use kmsrot_core::config::ConfigError;
use kmsrot_core::envelope::{EnvelopeError, EnvelopeFailure};
use kmsrot_core::s3::{CheckpointError, S3Error};
use kmsrot_core::{KmsError, RotationError};
use kmsrot_types::{ContextError, ParseError};

/// Any failure not listed below: I/O, an unreachable endpoint, an unexpected KMS error.
pub(crate) const FAILURE: u8 = 1;
/// The command line is wrong: unknown flag, malformed alias, malformed `--context`.
pub(crate) const USAGE: u8 = 2;
/// The alias or key does not exist.
pub(crate) const NOT_FOUND: u8 = 3;
/// The key exists but cannot do this now: disabled, pending deletion, other state, or the wrong
/// key type for the operation.
pub(crate) const KEY_UNUSABLE: u8 = 4;
/// A cryptographic check failed: corrupted ciphertext, wrong encryption context, wrong key,
/// signature or MAC that does not verify; an envelope message changed, truncated or malformed,
/// failing its key commitment, or with no data key wrapped by a trusted key.
pub(crate) const CRYPTO: u8 = 5;
/// Access denied, or no usable credentials or region.
pub(crate) const ACCESS: u8 = 6;
/// KMS throttled the request after every retry; try again later.
pub(crate) const THROTTLED: u8 = 7;
/// kmsrot refused an unsafe or unsupported change: unmanaged alias, alias exists, unsupported
/// key, spec or usage mismatch, nothing to roll back, a rotation still unfinished, on-demand
/// rotations used up, an invalid policy in a key's tags, a failed self-test of a new key, a
/// sweep in which some alias failed, a re-encryption or rewrap in which some object failed, an
/// S3 endpoint without UpdateObjectEncryption under `--method update`, an envelope message
/// without key commitment, with too many data keys, or not rewrappable, or (`kmsrot event`) an
/// event refused as malformed, forged or foreign, or whose outcome reports a failure.
pub(crate) const REFUSED: u8 = 8;
/// `verify` or `verify-mac` without `--alias` or `--key`: the signature or MAC is valid, but
/// nothing said which key should have made it, so the signer was not checked.
pub(crate) const UNCHECKED: u8 = 9;
/// `guard --mode observe` or `event --guard observe`: the guard raised an alert (a key a
/// managed alias needs is disabled or pending deletion, and was left so).
pub(crate) const ALERT: u8 = 10;
/// Interrupted (Ctrl-C) before every object was handled; resume with `--resume FILE`.
pub(crate) const INTERRUPTED: u8 = 130;

// The matches below name every variant, with no catch-all: a new error variant in
// kmsrot-core does not compile here until someone decides its exit code.

fn kms_code(kms: &KmsError) -> u8 {
    match kms {
        KmsError::InvalidAlias { .. }
        | KmsError::InvalidInput { .. }
        | KmsError::OtherRegion { .. } => USAGE,
        KmsError::NotFound { .. } => NOT_FOUND,
        KmsError::Disabled { .. }
        | KmsError::PendingDeletion { .. }
        | KmsError::InvalidState { .. }
        | KmsError::WrongKeyType { .. } => KEY_UNUSABLE,
        KmsError::InvalidCiphertext { .. }
        | KmsError::ContextMismatch { .. }
        | KmsError::IncorrectKey { .. }
        | KmsError::InvalidSignature { .. }
        | KmsError::NotInHistory { .. }
        | KmsError::InvalidMac { .. } => CRYPTO,
        KmsError::AccessDenied { .. } => ACCESS,
        KmsError::Throttled { .. } => THROTTLED,
        KmsError::LimitExceeded { .. } => REFUSED,
        KmsError::Unreachable { .. }
        | KmsError::Service { .. }
        | KmsError::UnexpectedResponse { .. } => FAILURE,
    }
}

fn rotation_code(err: &RotationError) -> u8 {
    match err {
        RotationError::Kms(kms) => kms_code(kms),
        RotationError::SelfTest { source, .. } => match kms_code(source) {
            FAILURE => REFUSED,
            code => code,
        },
        // A bad flag is a usage error; a bad policy in a key's tags is not.
        RotationError::Policy { .. } => USAGE,
        RotationError::PolicyTags { .. }
        | RotationError::Unmanaged { .. }
        | RotationError::AliasExists { .. }
        | RotationError::Unsupported { .. }
        | RotationError::Mismatch { .. }
        | RotationError::OnDemandLimit { .. }
        | RotationError::NoPrevious { .. }
        | RotationError::Busy { .. }
        | RotationError::SharedKey { .. }
        | RotationError::Inconsistent { .. }
        | RotationError::Tampered { .. } => REFUSED,
        RotationError::NotOurs { .. } => USAGE,
    }
}

fn s3_code(err: &S3Error) -> u8 {
    match err {
        S3Error::Kms(kms) => kms_code(kms),
        S3Error::NoSuchBucket { .. } | S3Error::NoSuchKey { .. } => NOT_FOUND,
        S3Error::WrongRegion { .. } => USAGE,
        S3Error::AccessDenied { .. } => ACCESS,
        S3Error::Throttled { .. } => THROTTLED,
        S3Error::Refused(_) => USAGE,
        S3Error::Checkpoint(CheckpointError::Io { .. }) => FAILURE,
        S3Error::Checkpoint(
            CheckpointError::Malformed { .. }
            | CheckpointError::TargetMoved { .. }
            | CheckpointError::OtherRun { .. },
        ) => USAGE,
        S3Error::UpdateUnsupported { .. } => REFUSED,
        S3Error::Unreachable { .. } | S3Error::Service { .. } => FAILURE,
    }
}

fn envelope_format_code(err: &EnvelopeError) -> u8 {
    match err {
        EnvelopeError::Truncated { .. }
        | EnvelopeError::Malformed(_)
        | EnvelopeError::Signature
        | EnvelopeError::Commitment
        | EnvelopeError::HeaderTag
        | EnvelopeError::FrameTag { .. }
        | EnvelopeError::Trailing(_) => CRYPTO,
        EnvelopeError::UnknownSuite(_)
        | EnvelopeError::NotCommitting(_)
        | EnvelopeError::TooManyDataKeys { .. } => REFUSED,
        EnvelopeError::DataKey(_) | EnvelopeError::Io(_) => FAILURE,
    }
}

fn envelope_code(err: &EnvelopeFailure) -> u8 {
    match err {
        EnvelopeFailure::Format(format) => envelope_format_code(format),
        EnvelopeFailure::Kms(kms) => kms_code(kms),
        EnvelopeFailure::Untrusted { .. } | EnvelopeFailure::Context { .. } => CRYPTO,
        EnvelopeFailure::NotRewrappable(_) => REFUSED,
    }
}

/// Whether the first error in the chain that kmsrot-core knows may succeed when run again,
/// as kmsrot-core decides it (its `retry` module).
fn retryable(err: &anyhow::Error) -> bool {
    for cause in err.chain() {
        if let Some(kms) = cause.downcast_ref::<KmsError>() {
            return kms.is_retryable();
        }
        if let Some(err) = cause.downcast_ref::<RotationError>() {
            return err.is_retryable();
        }
        if let Some(err) = cause.downcast_ref::<S3Error>() {
            return err.is_retryable();
        }
    }
    false
}

/// The exit code for an error, from the first error in its chain that kmsrot knows.
pub(crate) fn code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(kms) = cause.downcast_ref::<KmsError>() {
            return kms_code(kms);
        }
        if let Some(err) = cause.downcast_ref::<RotationError>() {
            return rotation_code(err);
        }
        if let Some(err) = cause.downcast_ref::<S3Error>() {
            return s3_code(err);
        }
        if let Some(err) = cause.downcast_ref::<EnvelopeFailure>() {
            return envelope_code(err);
        }
        if let Some(err) = cause.downcast_ref::<EnvelopeError>() {
            return envelope_format_code(err);
        }
        if cause.is::<Interrupted>() {
            return INTERRUPTED;
        }
        if cause.is::<crate::cmd::sign::Unchecked>() {
            return UNCHECKED;
        }
        if cause.is::<GuardAlert>() {
            return ALERT;
        }
        if let Some(err) = cause.downcast_ref::<kmsrot_core::offline::OfflineError>() {
            return match err {
                kmsrot_core::offline::OfflineError::Invalid => CRYPTO,
                kmsrot_core::offline::OfflineError::Unsupported { .. }
                | kmsrot_core::offline::OfflineError::BadPublicKey { .. } => USAGE,
            };
        }
        if cause.is::<Throttled>() {
            return THROTTLED;
        }
        if cause.is::<SweepFailed>()
            || cause.is::<EventRefused>()
            || cause.is::<OutcomeFailed>()
            || cause.is::<ObjectsFailed>()
        {
            return REFUSED;
        }
        if cause.is::<ParseError>()
            || cause.is::<ContextError>()
            || cause.is::<UsageError>()
            || cause.is::<kmsrot_core::audit::AuditError>()
        {
            return USAGE;
        }
        if cause.is::<ConfigError>() || cause.is::<crate::cmd::audit::Incomplete>() {
            return ACCESS;
        }
    }
    FAILURE
}

/// A sweep finished, and some aliases failed; the report says which.
#[derive(Debug, thiserror::Error)]
#[error("{0} of the swept aliases failed; see the report")]
pub(crate) struct SweepFailed(pub(crate) usize);

/// A re-encryption finished, and some objects failed; the report says which and why.
#[derive(Debug, thiserror::Error)]
#[error("{0} object(s) could not be re-encrypted; see the report, then run again to retry them")]
pub(crate) struct ObjectsFailed(pub(crate) usize);

/// A re-encryption was interrupted; the checkpoint file to resume from, when there is one.
#[derive(Debug)]
pub(crate) struct Interrupted(pub(crate) u64, pub(crate) Option<std::path::PathBuf>);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted with {} object(s) left", self.0)?;
        match &self.1 {
            Some(path) => write!(f, "; resume with --resume {}", path.display()),
            None => f.write_str("; run it again"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// A re-encryption stopped starting objects because S3 kept throttling: the objects not
/// started, those that failed, and the checkpoint to resume from.
#[derive(Debug)]
pub(crate) struct Throttled(
    pub(crate) u64,
    pub(crate) usize,
    pub(crate) Option<std::path::PathBuf>,
);

impl std::fmt::Display for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.0, self.1) {
            (0, failed) => write!(f, "S3 kept throttling: {failed} object(s) failed")?,
            (pending, 0) => write!(
                f,
                "S3 kept throttling, so {pending} object(s) were not started"
            )?,
            (pending, failed) => write!(
                f,
                "S3 kept throttling, so {pending} object(s) were not started and {failed} failed"
            )?,
        }
        f.write_str(" (see the report); run again later with a lower --concurrency")?;
        match &self.2 {
            Some(path) => write!(f, " and --resume {}", path.display()),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Throttled {}

/// A flag's value is invalid (beyond what clap checks).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// `kmsrot event`: the event was refused (malformed, forged, or from another account or
/// region) and nothing was done.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct EventRefused(pub(crate) String);

/// The guard, in observe mode, raised an alert.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct GuardAlert(pub(crate) String);

/// `kmsrot event`: the event was handled, and its outcome reports a failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}; see the outcome")]
pub(crate) struct OutcomeFailed(pub(crate) String);

/// Whether the error is a closed stdout (`kmsrot … | head`), which is not a failure.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints the whole error chain on stderr and returns the exit code.
pub(crate) fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let mut shown = err.to_string();
    eprintln!("error: {shown}");
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        // Messages often embed their cause already; print each piece of text once.
        if !shown.contains(&text) {
            eprintln!("  caused by: {text}");
            shown.push_str(&text);
        }
    }
    if retryable(err) {
        eprintln!(
            "  note: this may succeed when run again later; every kmsrot operation is safe to repeat"
        );
    }
    ExitCode::from(code(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmsrot_core::Subject;

    /// The advice to run again follows kmsrot-core's one decision, through any context.
    #[test]
    fn retryable_failures_say_a_later_run_may_succeed() {
        let alias = || "alias/app".parse().unwrap();
        let busy = RotationError::Busy {
            alias: alias(),
            region: "us-east-1".into(),
            what: "rotation r-1 is under way".into(),
        };
        assert!(!retryable(&anyhow::Error::new(busy).context("rotating")));
        let throttled = KmsError::Throttled {
            subject: kmsrot_core::Subject::Region,
            region: "us-east-1".into(),
            operation: "CreateKey",
        };
        assert!(retryable(
            &anyhow::Error::new(RotationError::Kms(throttled)).context("rotating")
        ));
        assert_eq!(
            code(&anyhow::Error::new(RotationError::Busy {
                alias: alias(),
                region: "us-east-1".into(),
                what: String::new(),
            })),
            REFUSED
        );
        let exists = RotationError::AliasExists {
            alias: alias(),
            region: "us-east-1".into(),
        };
        assert!(!retryable(&anyhow::Error::new(exists)));
        assert!(!retryable(&anyhow::anyhow!("no kmsrot error here")));
    }

    #[test]
    fn throttling_says_what_was_not_started_and_what_failed() {
        let path = std::path::PathBuf::from("run.checkpoint");
        assert_eq!(
            Throttled(0, 3, Some(path.clone())).to_string(),
            "S3 kept throttling: 3 object(s) failed (see the report); run again later with a lower --concurrency and --resume run.checkpoint"
        );
        assert_eq!(
            Throttled(5, 0, None).to_string(),
            "S3 kept throttling, so 5 object(s) were not started (see the report); run again later with a lower --concurrency"
        );
        assert!(
            Throttled(5, 2, None)
                .to_string()
                .contains("5 object(s) were not started and 2 failed")
        );
    }

    #[test]
    fn codes_follow_the_first_known_error_in_the_chain() {
        let region = || "us-east-1".to_owned();
        let subject = || Subject::Alias("alias/app".parse().unwrap());
        let check = |err: KmsError, want: u8| {
            let err = anyhow::Error::new(err).context("encrypting stdin");
            assert_eq!(code(&err), want, "{err:#}");
        };
        check(
            KmsError::NotFound {
                subject: subject(),
                region: region(),
            },
            NOT_FOUND,
        );
        check(
            KmsError::Disabled {
                subject: subject(),
                region: region(),
                key: None,
            },
            KEY_UNUSABLE,
        );
        check(
            KmsError::PendingDeletion {
                subject: subject(),
                region: region(),
                key: None,
            },
            KEY_UNUSABLE,
        );
        check(
            KmsError::InvalidCiphertext {
                subject: subject(),
                region: region(),
            },
            CRYPTO,
        );
        check(
            KmsError::ContextMismatch {
                subject: subject(),
                region: region(),
                keys: vec![],
            },
            CRYPTO,
        );
        check(
            KmsError::Throttled {
                subject: subject(),
                region: region(),
                operation: "Encrypt",
            },
            THROTTLED,
        );
        check(
            KmsError::AccessDenied {
                subject: subject(),
                region: region(),
                operation: "Encrypt",
                message: String::new(),
            },
            ACCESS,
        );
        check(
            KmsError::WrongKeyType {
                subject: subject(),
                region: region(),
                operation: "Sign",
                message: String::new(),
            },
            KEY_UNUSABLE,
        );
        check(
            KmsError::IncorrectKey {
                subject: subject(),
                region: region(),
            },
            CRYPTO,
        );
        check(
            KmsError::InvalidInput {
                subject: subject(),
                region: region(),
                operation: "Encrypt",
                message: String::new(),
            },
            USAGE,
        );
        let alias = || "alias/app".parse::<kmsrot_types::AliasName>().unwrap();
        let engine = |err: RotationError| code(&anyhow::Error::new(err).context("rotating"));
        use kmsrot_types::PolicyError;
        let flag = PolicyError::OutOfBounds {
            name: "period-days",
            value: 1,
            min: 90,
            max: 2560,
        };
        let tag = PolicyError::BadTag {
            name: "kmsrot:grace-days",
            value: "x".into(),
        };
        assert_eq!(
            engine(RotationError::Policy {
                alias: alias(),
                source: flag
            }),
            USAGE
        );
        assert_eq!(
            engine(RotationError::PolicyTags {
                alias: alias(),
                source: tag
            }),
            REFUSED
        );
        let unmanaged = RotationError::Unmanaged {
            alias: alias(),
            region: region(),
            key: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .parse()
                .unwrap(),
        };
        assert_eq!(engine(unmanaged), REFUSED);
        let throttled = KmsError::Throttled {
            subject: subject(),
            region: region(),
            operation: "Sign",
        };
        assert_eq!(engine(RotationError::Kms(throttled)), THROTTLED);
        let self_test = RotationError::SelfTest {
            alias: alias(),
            key: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .parse()
                .unwrap(),
            check: "sign/verify",
            source: Box::new(KmsError::Throttled {
                subject: subject(),
                region: region(),
                operation: "Sign",
            }),
        };
        assert_eq!(
            engine(self_test),
            THROTTLED,
            "a throttled self-test can be retried"
        );
        assert_eq!(code(&anyhow::Error::new(SweepFailed(2))), REFUSED);
        assert_eq!(
            code(&anyhow::Error::new(EventRefused("forged".into()))),
            REFUSED
        );
        assert_eq!(
            code(&anyhow::Error::new(OutcomeFailed("x".into()))),
            REFUSED
        );
        let config = anyhow::Error::new(ConfigError::NoRegion).context("loading AWS config");
        assert_eq!(code(&config), ACCESS);
        let parse = "alias/aws/s3"
            .parse::<kmsrot_types::AliasName>()
            .unwrap_err();
        assert_eq!(code(&anyhow::Error::new(parse)), USAGE);
        assert_eq!(code(&anyhow::anyhow!("disk full")), FAILURE);
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(
            &anyhow::Error::new(pipe).context("writing stdout")
        ));
    }
}
