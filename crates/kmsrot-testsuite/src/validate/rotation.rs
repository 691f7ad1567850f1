//! The rotation and the rollback by the stack's function, with data made before each still
//! opening after it.

use anyhow::{Context, Result, bail};
use kmsrot_core::{AliasKms, Kms};
use kmsrot_types::{AliasName, EncryptionContext, KeyArn, Mode, Outcome, Request};

use super::invoker::Invoker;
use super::round_trip::{Sealed, Usage};
use super::stack::Stack;

/// Rotates through the function; data sealed before must still open, and new data is sealed
/// under the key the alias names now. Returns that key, new sealed data, and a description.
pub(super) async fn rotation(
    invoker: &Invoker,
    kms: &Kms,
    alias: &AliasKms,
    usage: &Usage,
    before: &Sealed,
    context: &EncryptionContext,
    stack: &Stack,
) -> Result<(KeyArn, Sealed, String)> {
    let outcome = invoker
        .invoke(&Request::Rotate {
            alias: stack.alias.clone(),
            dry_run: false,
            rotation_id: None,
            accept_alias_conditions: false,
        })
        .await?;
    let Outcome::Rotated { actions, .. } = &outcome else {
        bail!("the function answered {outcome:?}, not a rotation");
    };
    let now = alias.describe().await?.key_arn;
    match stack.mode {
        Mode::Manual if &now == before.key_arn() => {
            bail!("the alias still names {now} after a manual rotation")
        }
        Mode::Automatic if &now != before.key_arn() => {
            bail!(
                "the alias moved from {} to {now}, but automatic rotation keeps the key",
                before.key_arn()
            )
        }
        _ => {}
    }
    usage
        .open(kms, before, context)
        .await
        .context("data made before the rotation no longer opens")?;
    let after = usage.seal(alias, context).await?;
    if after.key_arn() != &now {
        bail!(
            "new data was made under {}, but the alias names {now}",
            after.key_arn()
        );
    }
    usage.open(kms, &after, context).await?;
    Ok((
        now.clone(),
        after,
        format!(
            "{} action(s); {} now names {now}; data from before still opens",
            actions.len(),
            stack.alias
        ),
    ))
}

/// Rolls back through the function: the alias names the earlier key again, and data made
/// under the later key still opens.
pub(super) async fn rollback(
    invoker: &Invoker,
    kms: &Kms,
    (name, alias): (&AliasName, &AliasKms),
    usage: &Usage,
    (before, after): (&KeyArn, &KeyArn),
    new_sealed: &Sealed,
    context: &EncryptionContext,
) -> Result<String> {
    let outcome = invoker
        .invoke(&Request::Rollback {
            alias: name.clone(),
            from: Some(after.clone()),
        })
        .await?;
    if !matches!(outcome, Outcome::RolledBack { .. }) {
        bail!("the function answered {outcome:?}, not a rollback");
    }
    let now = alias.describe().await?.key_arn;
    if &now != before {
        bail!("after the rollback {name} names {now}, not {before}");
    }
    usage
        .open(kms, new_sealed, context)
        .await
        .context("data made under the rolled-back key no longer opens")?;
    Ok(format!(
        "{name} names {before} again; data made under {after} still opens"
    ))
}
