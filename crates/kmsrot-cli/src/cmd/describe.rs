//! `kmsrot describe`: the key behind an alias.

use anyhow::{Context, Result};
use kmsrot_types::KeyRef;

use crate::Global;
use crate::output::{emit, key_fields, print_fields};

/// Arguments of `kmsrot describe`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The alias to describe (`alias/NAME` or an alias ARN); a key ID or key ARN also works.
    #[arg(value_name = "ALIAS")]
    key: KeyRef,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let kms = super::kms(global).await?;
    let info = kms
        .describe(&args.key)
        .await
        .with_context(|| format!("describing {}", args.key))?;
    emit(global.output, || &info, || print_fields(&key_fields(&info)))
}
