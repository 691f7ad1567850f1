//! The stack's outputs, read after a deploy and printed.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_cloudformation::Client as CloudFormation;

use super::describe_stack;

pub(super) async fn outputs(cfn: &CloudFormation, name: &str) -> Result<BTreeMap<String, String>> {
    let stack = describe_stack(cfn, name)
        .await?
        .with_context(|| format!("stack {name} vanished"))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

pub(super) fn print_outputs(name: &str, outputs: &BTreeMap<String, String>) {
    println!("kmsrot-deploy: outputs of stack {name}:");
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in outputs {
        println!("  {key:<width$}  {value}");
    }
}
