//! `kmsrot guard`: the deletion guard for one key, by hand (the Lambda runs it on CloudTrail
//! events); `kmsrot release`: the end of a hold that a failed use put on an old key.

use anyhow::{Context, Result};
use kmsrot_types::{AliasName, GuardMode, KeyArn, KeyChange};

use crate::Global;
use crate::output::{emit, verdict_text};

/// What happened to the key.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Change {
    /// It was scheduled for deletion.
    ScheduledDeletion,
    /// It was disabled.
    Disabled,
}

/// Arguments of `kmsrot guard`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The key (key ID or key ARN) that was disabled or scheduled for deletion.
    #[arg(value_parser = key_id_or_arn)]
    key: String,
    /// What happened to it.
    #[arg(long, value_enum)]
    change: Change,
    /// enforce: undo the change when a managed alias still needs the key; observe: only
    /// report.
    #[arg(long, default_value = "enforce")]
    mode: GuardMode,
}

/// A key ID or key ARN (a usage error otherwise).
fn key_id_or_arn(text: &str) -> Result<String, String> {
    if text.parse::<KeyArn>().is_ok() || text.parse::<kmsrot_types::KeyId>().is_ok() {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a key ID or key ARN"))
    }
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let engine = super::rotator(global).await?;
    let change = match args.change {
        Change::ScheduledDeletion => KeyChange::ScheduledDeletion,
        Change::Disabled => KeyChange::Disabled,
    };
    let verdict = engine
        .guard(&args.key, change, args.mode)
        .await
        .with_context(|| format!("guarding {}", args.key))?;
    emit(
        global.output,
        || &verdict,
        || crate::io::Sink::Stdout.write(format!("{}\n", verdict_text(&verdict)).as_bytes()),
    )?;
    if matches!(verdict, kmsrot_types::GuardVerdict::Alert { .. }) {
        return Err(crate::exit::GuardAlert(verdict_text(&verdict)).into());
    }
    Ok(())
}

/// Arguments of `kmsrot release`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReleaseArgs {
    /// The managed alias the key served.
    alias: AliasName,
    /// The old key to release (its ARN, as `kmsrot status` shows it).
    #[arg(long, value_name = "KEY_ARN")]
    key: KeyArn,
}

pub(crate) async fn release(global: &Global, args: ReleaseArgs) -> Result<()> {
    let engine = super::rotator(global).await?;
    let release = engine
        .release(&args.alias, &args.key.to_string())
        .await
        .with_context(|| format!("releasing {} of {}", args.key, args.alias))?;
    emit(
        global.output,
        || &release,
        || {
            let text = match &release.released {
                Some(hold) => format!(
                    "released {} of `{}` (the hold was: {hold}); the next sweep retires it again, after its checks\n",
                    release.key, release.alias
                ),
                None => format!(
                    "{} of `{}` has no hold: nothing to release\n",
                    release.key, release.alias
                ),
            };
            crate::io::Sink::Stdout.write(text.as_bytes())
        },
    )
}
