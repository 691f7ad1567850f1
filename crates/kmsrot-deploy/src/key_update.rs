//! The refusal to update the stack's key once kmsrot has used it: CloudFormation would
//! erase kmsrot's records on it.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use kmsrot_types::tags;

/// The template's managed key.
const MANAGED_KEY: &str = "ManagedKey";

/// CloudFormation sets a key's tags to exactly the template's whenever it updates the key.
/// Once kmsrot has moved the alias to a key it created, that would mark the stack's old key
/// `current` again next to the real one: refuse such an update.
pub(super) async fn check_key_update(
    config: &SdkConfig,
    stack: &aws_sdk_cloudformation::types::Stack,
    changes: &[aws_sdk_cloudformation::types::Change],
) -> Result<()> {
    let modifies_key = changes
        .iter()
        .filter_map(|c| c.resource_change())
        .any(|rc| {
            rc.logical_resource_id() == Some(MANAGED_KEY)
                && rc.action() == Some(&aws_sdk_cloudformation::types::ChangeAction::Modify)
        });
    if !modifies_key {
        return Ok(());
    }
    let output = |key: &str| {
        stack
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some(key))
            .and_then(|o| o.output_value())
    };
    let (Some(alias), Some(stack_key)) = (output("AliasName"), output("KeyArn")) else {
        return Ok(());
    };
    let named = kmsrot_core::Kms::new(config)
        .alias_from_str(alias)?
        .describe()
        .await
        .with_context(|| format!("finding the key {alias} names"))?
        .key_arn
        .to_string();
    let tags: BTreeMap<String, String> = aws_sdk_kms::Client::new(config)
        .list_resource_tags()
        .key_id(stack_key)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .with_context(|| format!("reading the tags of {stack_key}"))?
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    match key_update_refusal(alias, stack_key, &named, &tags) {
        Some(refusal) => bail!(refusal),
        None => Ok(()),
    }
}

/// The tags the template sets on its key. Every other `kmsrot:` tag is a record the engine
/// wrote, which an update of the key would erase.
const TEMPLATE_KEY_TAGS: [&str; 11] = [
    tags::ALIAS,
    tags::STAGE,
    tags::ROTATION_ID,
    tags::MODE,
    tags::MAX_AGE_DAYS,
    tags::PERIOD_DAYS,
    tags::GRACE_DAYS,
    tags::DELETE_AFTER_DAYS,
    tags::DELETION_WINDOW_DAYS,
    tags::QUIET_DAYS,
    tags::KEEP_ENABLED,
];

/// Why an update of the stack's key must not go ahead, if it must not: the alias has moved
/// to another key, or kmsrot has recorded state on this one.
fn key_update_refusal(
    alias: &str,
    stack_key: &str,
    named: &str,
    key_tags: &BTreeMap<String, String>,
) -> Option<String> {
    const WHY: &str = "CloudFormation would reset the key's tags to the template's, erasing kmsrot's records. Deploy without changing the key's parameters (RotationMode, RotationPeriodDays, MaxAgeDays, GraceDays, DeleteAfterDays, DeletionWindowDays, QuietDays, KeepOldKeysEnabled), and change the alias's policy with `kmsrot adopt` instead";
    if named != stack_key {
        return Some(format!(
            "this update changes the stack's key {stack_key}, but {alias} now names {named} (kmsrot rotated it). {WHY}"
        ));
    }
    let records: Vec<&str> = key_tags
        .keys()
        .map(String::as_str)
        .filter(|k| k.starts_with(tags::PREFIX) && !TEMPLATE_KEY_TAGS.contains(k))
        .collect();
    if !records.is_empty() {
        return Some(format!(
            "this update changes the stack's key {stack_key}, which carries kmsrot's records ({}). {WHY}",
            records.join(", ")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_key_is_not_updated_once_kmsrot_has_used_it() {
        let template_tags: BTreeMap<String, String> = TEMPLATE_KEY_TAGS
            .iter()
            .map(|t| ((*t).to_owned(), "x".to_owned()))
            .chain([("team".to_owned(), "payments".to_owned())])
            .collect();
        assert_eq!(
            key_update_refusal("alias/a", "arn:k1", "arn:k1", &template_tags),
            None
        );
        let refusal = key_update_refusal("alias/a", "arn:k1", "arn:k2", &template_tags).unwrap();
        assert!(
            refusal.contains("alias/a now names arn:k2") && refusal.contains("kmsrot adopt"),
            "{refusal}"
        );
        // Rolled back to the stack's key: the alias names it again, but it holds records.
        let mut rolled_back = template_tags.clone();
        rolled_back.insert(tags::PREVIOUS_KEY.into(), "k2".into());
        rolled_back.insert(tags::PROMOTED_AT.into(), "2026-11-30T00:00:00Z".into());
        let refusal = key_update_refusal("alias/a", "arn:k1", "arn:k1", &rolled_back).unwrap();
        assert!(
            refusal.contains("(kmsrot:previous-key, kmsrot:promoted-at)"),
            "{refusal}"
        );
    }
}
