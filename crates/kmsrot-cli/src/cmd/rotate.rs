//! `kmsrot rotate` and `kmsrot rollback`.

use anyhow::{Context, Result};
use kmsrot_core::RotateOptions;
use kmsrot_types::{Action, AliasName};
use serde::Serialize;

use crate::Global;
use crate::output::{Format, action_text, print_json};

/// Arguments of `kmsrot rotate`.
#[derive(Debug, clap::Args)]
pub(crate) struct RotateArgs {
    /// The managed alias.
    alias: AliasName,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Idempotency token of a manual rotation: retrying with the same ID finishes that
    /// rotation instead of starting another [default: a fresh ID]
    #[arg(long, value_name = "ID")]
    rotation_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    alias: &'a AliasName,
    dry_run: bool,
    actions: &'a [Action],
}

fn print(global: &Global, alias: &AliasName, dry_run: bool, actions: &[Action]) -> Result<()> {
    match global.output {
        Format::Json => print_json(&Report {
            alias,
            dry_run,
            actions,
        }),
        Format::Text => {
            let mut out = String::new();
            if actions.is_empty() {
                out.push_str(&format!(
                    "{alias}: nothing to do: that rotation is already done\n"
                ));
            }
            for action in actions {
                out.push_str(&format!("{alias}: {}\n", action_text(action)));
            }
            crate::io::Sink::Stdout.write(out.as_bytes())
        }
    }
}

pub(crate) async fn rotate(global: &Global, args: RotateArgs) -> Result<()> {
    let engine = super::rotator(global).await?;
    let options = RotateOptions {
        dry_run: args.dry_run,
        rotation_id: args.rotation_id,
    };
    let actions = engine
        .rotate(&args.alias, options)
        .await
        .with_context(|| format!("rotating {}", args.alias))?;
    print(global, &args.alias, args.dry_run, &actions)
}

/// Arguments of `kmsrot rollback`.
#[derive(Debug, clap::Args)]
pub(crate) struct RollbackArgs {
    /// The managed alias to move back to its previous key.
    alias: AliasName,
}

pub(crate) async fn rollback(global: &Global, args: RollbackArgs) -> Result<()> {
    let engine = super::rotator(global).await?;
    let action = engine
        .rollback(&args.alias)
        .await
        .with_context(|| format!("rolling back {}", args.alias))?;
    print(global, &args.alias, false, &[action])
}
