//! The stack's outputs that the checks need, and the first check on them: the alias names
//! an enabled key that kmsrot manages as its current key.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use kmsrot_core::AliasKms;
use kmsrot_types::{AliasName, KeyInfo, Mode, tags};

/// The stack's outputs that the checks need.
#[derive(Debug, Clone)]
pub(super) struct Stack {
    pub(super) alias: AliasName,
    key_arn: String,
    pub(super) function: String,
    pub(super) topic_arn: String,
    pub(super) mode: Mode,
}

impl Stack {
    pub(super) fn from_outputs(outputs: &BTreeMap<String, String>) -> Result<Self> {
        let get = |name: &str| {
            outputs
                .get(name)
                .cloned()
                .with_context(|| format!("the stack has no output {name}"))
        };
        Ok(Self {
            alias: get("AliasName")?
                .parse()
                .context("output AliasName is not an alias name")?,
            key_arn: get("KeyArn")?,
            function: get("FunctionName")?,
            topic_arn: get("TopicArn")?,
            mode: get("RotationMode")?
                .parse()
                .context("output RotationMode is not a mode")?,
        })
    }
}

pub(super) async fn stack_outputs(
    config: &SdkConfig,
    name: &str,
) -> Result<BTreeMap<String, String>> {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    let out = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .with_context(|| format!("DescribeStacks {name}"))?;
    let stack = out
        .stacks()
        .first()
        .with_context(|| format!("no stack {name}"))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// The alias names an enabled key that kmsrot manages as its current key.
pub(super) async fn resolution(
    config: &SdkConfig,
    alias: &AliasKms,
    stack: &Stack,
) -> Result<(KeyInfo, String)> {
    let key = alias.describe().await?;
    if key.key_state != "Enabled" {
        bail!(
            "{} names {}, which is {}",
            stack.alias,
            key.key_arn,
            key.key_state
        );
    }
    let tags = aws_sdk_kms::Client::new(config)
        .list_resource_tags()
        .key_id(key.key_arn.to_string())
        .send()
        .await
        .context("ListResourceTags")?;
    let tag = |name: &str| {
        tags.tags()
            .iter()
            .find(|t| t.tag_key() == name)
            .map(|t| t.tag_value().to_owned())
    };
    if tag(tags::ALIAS).as_deref() != Some(stack.alias.as_str()) {
        bail!(
            "{} names {}, which is not tagged {}={}",
            stack.alias,
            key.key_arn,
            tags::ALIAS,
            stack.alias
        );
    }
    if tag(tags::STAGE).as_deref() != Some("current") {
        bail!(
            "{} names {}, whose {} is {:?}, not current",
            stack.alias,
            key.key_arn,
            tags::STAGE,
            tag(tags::STAGE)
        );
    }
    let mut detail = format!(
        "{} -> {} ({}, {}, {})",
        stack.alias, key.key_arn, key.key_state, key.key_spec, key.key_usage
    );
    if key.key_arn.to_string() != stack.key_arn {
        detail.push_str(&format!(
            "; the stack created {}, and rotations have moved the alias since",
            stack.key_arn
        ));
    }
    Ok((key, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_name_what_the_checks_need() {
        let mut outputs: BTreeMap<String, String> = [
            ("AliasName", "alias/app"),
            ("KeyArn", "arn:aws:kms:us-east-1:123456789012:key/k"),
            ("FunctionName", "f"),
            ("TopicArn", "arn:aws:sns:us-east-1:123456789012:t"),
            ("RotationMode", "manual"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let stack = Stack::from_outputs(&outputs).unwrap();
        assert_eq!(stack.mode, Mode::Manual);
        outputs.remove("TopicArn");
        let err = Stack::from_outputs(&outputs).unwrap_err();
        assert_eq!(err.to_string(), "the stack has no output TopicArn");
    }
}
