//! The change set: created, waited for, reviewed, and executed while the stack's events
//! stream. A change set with no changes is success: the stack is already as asked.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType};

use super::artifact::upload_template;
use super::events::{Phase, known_events, phase, report_failures, watch};
use super::key_update::check_key_update;
use super::outputs::outputs;
use super::parameters::{given_parameters, stack_parameters};
use super::plan::Plan;
use super::{DeployArgs, POLL, region_of};

/// How long a change set may take to be computed.
const CHANGE_SET_WAIT: Duration = Duration::from_secs(600);

/// Creates or updates the stack by change set, and returns its outputs.
pub(super) async fn deploy_stack(
    config: &SdkConfig,
    args: &DeployArgs,
    template: &str,
    plan: &Plan,
    key: &str,
) -> Result<BTreeMap<String, String>> {
    let cfn = CloudFormation::new(config);
    let name = &args.stack.stack_name;
    let region = region_of(config);
    let change_set_type = &plan.change_set_type;
    let parameters = stack_parameters(
        &plan.declared,
        &given_parameters(args),
        &plan.current,
        &plan.bucket,
        key,
    )?;

    let template_url = upload_template(config, &plan.bucket, &region, template).await?;
    let change_set = format!("kmsrot-{}", now_seconds());
    println!(
        "kmsrot-deploy: creating change set {change_set} ({}) for stack {name} in {region}",
        change_set_type.as_str()
    );
    cfn.create_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .change_set_type(change_set_type.clone())
        .template_url(&template_url)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityIam)
        .tags(
            aws_sdk_cloudformation::types::Tag::builder()
                .key("kmsrot:stack")
                .value(name)
                .build(),
        )
        .send()
        .await
        .context("CreateChangeSet")?;

    // Wait for the change set to be ready.
    let deadline = tokio::time::Instant::now() + CHANGE_SET_WAIT;
    let described = loop {
        let described = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(&change_set)
            .send()
            .await
            .context("DescribeChangeSet")?;
        match described.status() {
            Some(ChangeSetStatus::CreateComplete) => break described,
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or_default();
                if is_empty_change_set(reason) {
                    println!("kmsrot-deploy: stack {name} is up to date; nothing to change");
                    cfn.delete_change_set()
                        .stack_name(name)
                        .change_set_name(&change_set)
                        .send()
                        .await
                        .context("DeleteChangeSet")?;
                    return outputs(&cfn, name).await;
                }
                bail!("change set {change_set} failed: {reason}");
            }
            _ if tokio::time::Instant::now() > deadline => bail!(
                "change set {change_set} was not ready within {} s; see the CloudFormation console",
                CHANGE_SET_WAIT.as_secs()
            ),
            _ => tokio::time::sleep(POLL).await,
        }
    };
    // Large change sets come in pages.
    let mut changes = described.changes().to_vec();
    let mut token = described.next_token().map(str::to_owned);
    while let Some(next) = token {
        let page = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(&change_set)
            .next_token(next)
            .send()
            .await
            .context("DescribeChangeSet")?;
        changes.extend(page.changes().iter().cloned());
        token = page.next_token().map(str::to_owned);
    }
    if plan.change_set_type == ChangeSetType::Update
        && let Some(stack) = &plan.existing
        && let Err(err) = check_key_update(config, stack, &changes).await
    {
        cfn.delete_change_set()
            .stack_name(name)
            .change_set_name(&change_set)
            .send()
            .await
            .context("DeleteChangeSet")?;
        return Err(err.context(format!(
            "change set {change_set} was deleted; nothing changed"
        )));
    }
    for change in &changes {
        if let Some(rc) = change.resource_change() {
            println!(
                "  {:<8} {} ({}){}",
                rc.action().map_or("", |a| a.as_str()),
                rc.logical_resource_id().unwrap_or_default(),
                rc.resource_type().unwrap_or_default(),
                match rc.replacement().map(|r| r.as_str()) {
                    Some("True") => ", replaced",
                    Some("Conditional") => ", may be replaced",
                    _ => "",
                }
            );
        }
    }

    let stack_id = described.stack_id().unwrap_or(name).to_owned();
    let mut seen = known_events(&cfn, &stack_id).await?;
    cfn.execute_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .send()
        .await
        .context("ExecuteChangeSet")?;
    let (status, events) = watch(&cfn, &stack_id, &mut seen).await?;
    if phase(&status) != Phase::Succeeded {
        report_failures(&events);
        bail!("stack {name} in {region} ended in {status}");
    }
    println!("kmsrot-deploy: stack {name} is {status}");
    outputs(&cfn, name).await
}

/// Whether a failed change set failed only because it changes nothing: that is not an
/// error for a deploy.
pub(super) fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
