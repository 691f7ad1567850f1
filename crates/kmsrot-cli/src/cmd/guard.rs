//! `kmsrot guard`: the deletion guard for one key, by hand (the Lambda runs it on CloudTrail
//! events).

use anyhow::{Context, Result};
use kmsrot_types::{GuardMode, KeyChange};

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
    key: String,
    /// What happened to it.
    #[arg(long, value_enum)]
    change: Change,
    /// enforce: undo the change when a managed alias still needs the key; observe: only
    /// report.
    #[arg(long, default_value = "enforce")]
    mode: GuardMode,
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
    )
}
