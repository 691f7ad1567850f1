//! `kmsrot event`: runs one event or request (for example one taken from the Lambda's
//! dead-letter queue) through the Lambda's own handler, locally, and prints the outcome.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kmsrot_lambda::{HandlerError, MetricsMode, Settings, State};
use kmsrot_types::{GuardMode, Outcome};

use crate::Global;
use crate::exit::{EventRefused, OutcomeFailed, UsageError};
use crate::output::{emit, outcome_text};

/// Arguments of `kmsrot event`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The event or request, as JSON: a file, or `-` for standard input.
    #[arg(value_name = "FILE|-")]
    file: PathBuf,
    /// enforce: undo the disabling or deletion of a key a managed alias needs; observe: only
    /// report.
    #[arg(long, default_value = "enforce")]
    guard: GuardMode,
    /// Act only on events of this account [default: the caller's, from STS
    /// GetCallerIdentity].
    #[arg(long, value_name = "ACCOUNT_ID")]
    account: Option<String>,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let input = crate::io::read_input(Some(&args.file))?;
    // EventBridge's limit: "The total entry size must be less than 256KB" (PutEvents).
    const MAX_EVENT: usize = 256 * 1024;
    if input.len() > MAX_EVENT {
        return Err(EventRefused(format!(
            "{} is {} bytes; an EventBridge event is at most {MAX_EVENT} bytes",
            args.file.display(),
            input.len()
        ))
        .into());
    }
    let payload: serde_json::Value = serde_json::from_slice(&input)
        .with_context(|| format!("{} is not JSON", args.file.display()))
        .map_err(|err| EventRefused(format!("{err:#}")))?;
    let config = global.aws.load().await?;
    let account = match args.account {
        Some(account) if kmsrot_types::is_account_id(&account) => account,
        Some(account) => {
            return Err(anyhow::Error::new(UsageError(format!(
                "--account {account:?} is not an AWS account ID (12 digits)"
            ))));
        }
        None => kmsrot_core::identity::caller_account(&config).await?,
    };
    let region = config
        .region()
        .map(ToString::to_string)
        .context("no region is configured")?;
    let mut settings = Settings::new(region);
    settings.guard_mode = args.guard;
    settings.expected_account = Some(account.clone());
    // A local replay publishes nothing: the Lambda already counted and notified what it could.
    settings.metrics = MetricsMode::Off;
    let state = State::new(&config, settings);
    let outcome = match kmsrot_lambda::handle(payload, Some(&account), &state).await {
        Ok(outcome) => outcome,
        Err(HandlerError::Rotation(err)) => return Err(err.into()),
        Err(err) => return Err(EventRefused(err.to_string()).into()),
    };
    emit(
        global.output,
        || &outcome,
        || crate::io::Sink::Stdout.write(outcome_text(&outcome).as_bytes()),
    )?;
    match &outcome {
        Outcome::Swept { report } if report.failed() > 0 => {
            Err(OutcomeFailed(format!("{} of the swept aliases failed", report.failed())).into())
        }
        Outcome::MaterialRotated { aliases, .. } if aliases.iter().any(|a| !a.ok) => {
            Err(OutcomeFailed("a managed alias names a key that is not enabled".into()).into())
        }
        Outcome::Guarded { verdict, .. }
            if matches!(verdict, kmsrot_types::GuardVerdict::Alert { .. }) =>
        {
            Err(crate::exit::GuardAlert(crate::output::verdict_text(verdict)).into())
        }
        _ => Ok(()),
    }
}
