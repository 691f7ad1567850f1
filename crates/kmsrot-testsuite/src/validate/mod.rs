//! The validation suite behind `kmsrot-validate`: checks a deployed kmsrot stack from its
//! outputs, the way an application and an operator would use it.
//!
//! The checks, in order: the stack's outputs; alias resolution; a round trip through the
//! alias (encrypt and decrypt, sign and verify, or MAC and verify, by key usage); latency of
//! that pair (p50 and p99); a rotation by the stack's function (manual or on-demand, by mode)
//! after which data made before it still opens; a rollback (manual mode); the notifications
//! of both on the stack's topic; and the function's metrics.
//!
//! The function is invoked through the Lambda API, or, with a local runtime, its `bootstrap`
//! runs on this machine under a local Lambda Runtime API with the deployed function's
//! environment. The second serves endpoints that cannot run Lambda functions (the local
//! emulator); there, the metrics check reads the EMF documents the function writes, which
//! Lambda would hand to CloudWatch.

mod invoker;
mod latency;
mod metrics;
mod notifications;
mod report;
mod rotation;
mod round_trip;
mod stack;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use kmsrot_core::Kms;
use kmsrot_types::{EncryptionContext, Mode};

use crate::inbox::Inbox;

pub use self::latency::percentile;
pub use self::report::{Check, Latency, Report, Verdict};

use self::invoker::{Invoker, LocalRuntime};
use self::latency::latency;
use self::metrics::cloudwatch_metrics;
use self::notifications::notifications;
use self::report::Found;
use self::rotation::{rollback, rotation};
use self::round_trip::Usage;
use self::stack::{Stack, resolution, stack_outputs};

/// What to validate, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The deployed stack.
    pub stack_name: String,
    /// Round trips timed for the latency figures.
    pub samples: usize,
    /// How long to wait for notifications and metrics to arrive.
    pub wait: Duration,
    /// Run this `bootstrap` locally instead of invoking the deployed function.
    pub local_runtime: Option<PathBuf>,
    /// The endpoint the local runtime's function is given (`AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
}

/// Runs every check against the stack; never fails as a whole, a failing check is recorded.
pub async fn validate(config: &SdkConfig, options: &Options) -> Report {
    let started = SystemTime::now();
    let mut report = Report {
        stack_name: options.stack_name.clone(),
        region: config.region().map(ToString::to_string).unwrap_or_default(),
        invoked_by: if options.local_runtime.is_some() {
            "local-runtime"
        } else {
            "lambda"
        },
        checks: Vec::new(),
        latency: Vec::new(),
    };
    let stack = match stack_outputs(config, &options.stack_name).await {
        Ok(outputs) => Stack::from_outputs(&outputs),
        Err(err) => Err(err),
    };
    let stack = match stack {
        Ok(stack) => {
            report.record(
                "stack-outputs",
                Ok(Found::Pass(format!(
                    "{} ({} mode), function {}",
                    stack.alias, stack.mode, stack.function
                ))),
            );
            stack
        }
        Err(err) => {
            report.record("stack-outputs", Err(err));
            return report;
        }
    };
    let kms = Kms::new(config);
    let alias = kms.alias(stack.alias.clone().into());
    let mut context = EncryptionContext::new();
    context.insert("kmsrot-validate", options.stack_name.clone());

    let (before_key, usage) = match resolution(config, &alias, &stack).await {
        Ok((key, detail)) => {
            report.record("alias-resolution", Ok(Found::Pass(detail)));
            match Usage::of(&key.key_usage, &key.key_spec) {
                Ok(usage) => (key.key_arn, usage),
                Err(err) => {
                    report.record("round-trip", Err(err));
                    return report;
                }
            }
        }
        Err(err) => {
            report.record("alias-resolution", Err(err));
            return report;
        }
    };

    let round_trip = async {
        let sealed = usage.seal(&alias, &context).await?;
        usage.open(&kms, &sealed, &context).await?;
        anyhow::Ok(sealed)
    };
    let sealed = match round_trip.await {
        Ok(sealed) => {
            let (seal, open) = usage.operations();
            report.record(
                "round-trip",
                Ok(Found::Pass(format!(
                    "{seal} and {open} through {} under {}",
                    stack.alias,
                    sealed.key_arn()
                ))),
            );
            sealed
        }
        Err(err) => {
            report.record("round-trip", Err(err));
            return report;
        }
    };

    match latency(&usage, &kms, &alias, &context, options.samples).await {
        Ok(figures) => {
            let detail = figures
                .iter()
                .map(|l| {
                    format!(
                        "{} p50 {:.1} ms, p99 {:.1} ms",
                        l.operation, l.p50_ms, l.p99_ms
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            report.record(
                "latency",
                Ok(Found::Pass(format!(
                    "{detail} ({} calls each)",
                    options.samples
                ))),
            );
            report.latency = figures;
        }
        Err(err) => report.record("latency", Err(err)),
    }

    // Subscribe before anything is sent.
    let inbox = Inbox::subscribe(config, &stack.topic_arn, "validate").await;
    let invoker = match &options.local_runtime {
        Some(binary) => LocalRuntime::start(
            config,
            &stack.function,
            binary,
            options.endpoint_url.as_deref(),
        )
        .await
        .map(|local| Invoker::Local(Box::new(local))),
        None => Ok(Invoker::Lambda(
            aws_sdk_lambda::Client::new(config),
            stack.function.clone(),
        )),
    };
    let invoker = match invoker {
        Ok(invoker) => invoker,
        Err(err) => {
            report.record("rotation", Err(err));
            return report;
        }
    };

    let rotated = rotation(&invoker, &kms, &alias, &usage, &sealed, &context, &stack).await;
    let after_key = rotated.as_ref().ok().map(|(key, _, _)| key.clone());
    let new_sealed = rotated.as_ref().ok().map(|(_, sealed, _)| sealed.clone());
    report.record(
        "rotation",
        rotated.map(|(_, _, detail)| Found::Pass(detail)),
    );

    let rolled_back = match (stack.mode, &after_key, &new_sealed) {
        (Mode::Automatic, _, _) => Ok(Found::Skip(
            "automatic mode rotates key material inside one key, and KMS keeps every older material; there is no other key to go back to".into(),
        )),
        (Mode::Manual, Some(after), Some(new_sealed)) => rollback(
            &invoker,
            &kms,
            (&stack.alias, &alias),
            &usage,
            (&before_key, after),
            new_sealed,
            &context,
        )
        .await
        .map(Found::Pass),
        (Mode::Manual, _, _) => Ok(Found::Skip("the rotation failed".into())),
    };
    let rollback_expected = matches!(rolled_back, Ok(Found::Pass(_)));
    report.record("rollback", rolled_back);

    let notified = match &inbox {
        Ok(inbox) => notifications(inbox, &stack.alias, rollback_expected, options.wait).await,
        Err(err) => Err(anyhow::anyhow!("{err:#}")),
    };
    report.record("notifications", notified.map(Found::Pass));
    if let Ok(inbox) = inbox
        && let Err(err) = inbox.remove().await
    {
        tracing::warn!(error = %format!("{err:#}"), "could not remove the validation queue");
    }

    let measured = match &invoker {
        Invoker::Local(local) => local.metrics(&stack.alias).await,
        Invoker::Lambda(..) => {
            let cloudwatch = aws_sdk_cloudwatch::Client::new(config);
            cloudwatch_metrics(&cloudwatch, &stack.alias, started, options.wait).await
        }
    };
    report.record("metrics", measured.map(Found::Pass));
    if let Invoker::Local(local) = invoker {
        local.stop().await;
    }
    report
}
