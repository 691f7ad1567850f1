//! `kmsrot rotate` and `kmsrot rollback`.

use anyhow::{Context, Result};
use kmsrot_core::{RotateOptions, Rotator};
use kmsrot_types::{Action, AliasName, KeyArn};
use serde::Serialize;

use crate::Global;
use crate::output::{Format, action_text, emit};

/// Arguments of `kmsrot rotate`.
#[derive(Debug, clap::Args)]
pub(crate) struct RotateArgs {
    /// The managed alias.
    alias: AliasName,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Idempotency token of a manual rotation: retrying with the same ID finishes that
    /// rotation instead of starting another [default: a fresh ID, shown if the rotation fails]
    #[arg(long, value_name = "ID", conflicts_with = "abort", value_parser = rotation_id)]
    rotation_id: Option<String>,
    /// Give up an unfinished manual rotation: its new key (never used through the alias) is
    /// scheduled for deletion, and the current key stays current. A rotation that already
    /// moved the alias is finished instead; a rollback that stopped before moving the alias
    /// is given up too.
    #[arg(long, conflicts_with = "dry_run")]
    abort: bool,
    /// Another alias that names the same key and moves to the new key with this one
    /// (repeatable). Without it, a manual rotation is refused while another alias names the
    /// key, since that alias would stay on the old key.
    #[arg(long = "with-alias", value_name = "ALIAS", conflicts_with = "abort")]
    with_alias: Vec<AliasName>,
    /// Do not create the current key's grants again on the new key (by default every grant
    /// not made for an AWS service is copied, with its grantee, operations, constraints and
    /// name).
    #[arg(long, conflicts_with = "abort")]
    no_copy_grants: bool,
    /// Rotate although the key policy authorizes through the alias (`kms:ResourceAliases`
    /// or `kms:RequestAlias` conditions): the principals it admits lose the old key, and the
    /// data it encrypted, as soon as the alias moves. Refused without it.
    #[arg(long, conflicts_with = "abort")]
    accept_alias_conditions: bool,
}

/// `--rotation-id`: it becomes a tag value, so it is held to what kmsrot's IDs use.
fn rotation_id(text: &str) -> Result<String, String> {
    kmsrot_types::valid_rotation_id(text).map(|()| text.to_owned())
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    alias: &'a AliasName,
    dry_run: bool,
    actions: &'a [Action],
}

fn print(global: &Global, alias: &AliasName, dry_run: bool, actions: &[Action]) -> Result<()> {
    emit(
        global.output,
        || Report {
            alias,
            dry_run,
            actions,
        },
        || {
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
        },
    )
}

pub(crate) async fn rotate(global: &Global, args: RotateArgs) -> Result<()> {
    let engine = super::rotator_as_caller(global).await?;
    if args.abort {
        let actions = engine
            .abort(&args.alias)
            .await
            .with_context(|| format!("giving up the rotation of {}", args.alias))?;
        if actions.is_empty() && global.output == Format::Text {
            return crate::io::Sink::Stdout
                .write(format!("{}: no rotation is unfinished\n", args.alias).as_bytes());
        }
        return print(global, &args.alias, false, &actions);
    }
    // The ID is chosen here, so that a failure can say how to finish exactly this rotation.
    let rotation_id = args.rotation_id.unwrap_or_else(Rotator::new_rotation_id);
    let options = RotateOptions {
        dry_run: args.dry_run,
        rotation_id: Some(rotation_id.clone()),
        no_copy_grants: args.no_copy_grants,
        move_with: args.with_alias,
        accept_alias_conditions: args.accept_alias_conditions,
    };
    let actions = engine.rotate(&args.alias, options).await.map_err(|err| {
        // Only a rotation that may have started has anything to finish or give up.
        let started = !matches!(
            err,
            kmsrot_core::RotationError::Unmanaged { .. }
                | kmsrot_core::RotationError::Unsupported { .. }
                | kmsrot_core::RotationError::Policy { .. }
                | kmsrot_core::RotationError::PolicyTags { .. }
                | kmsrot_core::RotationError::SharedKey { .. }
                | kmsrot_core::RotationError::Kms(kmsrot_core::KmsError::NotFound { .. })
        );
        let alias = &args.alias;
        let context = if started {
            format!(
                "rotating {alias} (rotation {rotation_id}); once the cause is fixed, `kmsrot rotate {alias} --rotation-id {rotation_id}` finishes this rotation, and `--abort` gives it up"
            )
        } else {
            format!("rotating {alias}: nothing was started")
        };
        anyhow::Error::new(err).context(context)
    })?;
    print(global, &args.alias, args.dry_run, &actions)
}

/// Arguments of `kmsrot rollback`.
#[derive(Debug, clap::Args)]
pub(crate) struct RollbackArgs {
    /// The managed alias to move back to its previous key.
    alias: AliasName,
    /// Roll back only while the alias names this key, and report success when it is already
    /// back on the key before it: safe to retry.
    #[arg(long, value_name = "KEY_ARN")]
    from: Option<KeyArn>,
}

pub(crate) async fn rollback(global: &Global, args: RollbackArgs) -> Result<()> {
    let engine = super::rotator(global).await?;
    let action = engine
        .rollback(&args.alias, args.from.as_ref())
        .await
        .with_context(|| format!("rolling back {}", args.alias))?;
    print(global, &args.alias, false, &[action])
}
