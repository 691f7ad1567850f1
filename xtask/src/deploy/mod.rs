//! `cargo xtask deploy` and `cargo xtask destroy`: the CloudFormation stack in
//! `infrastructure/kms-rotation-stack.yaml`, deployed by change set. One code path serves AWS
//! and the local emulator; `--endpoint-url` is the only difference.
//!
//! This module holds the arguments and the two entry points; each step of a deploy is a
//! submodule: `parameters` and `plan` (checked before the build), `artifact` (the bucket and
//! the upload), `change_set` (create, review, execute), `key_update` (the refusal to update a
//! key kmsrot has used), `events` (streaming the stack's events) and `outputs`.

mod artifact;
mod change_set;
mod events;
mod key_update;
mod outputs;
mod parameters;
mod plan;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client as CloudFormation;
use kmsrot_core::config::AwsOptions;

use self::artifact::upload;
use self::change_set::deploy_stack;
use self::events::{known_events, report_failures, watch};
use self::outputs::print_outputs;
use self::parameters::{check_parameters, parse_parameter};
use self::plan::plan;
use crate::package;

/// The template, relative to the workspace root.
pub(crate) const TEMPLATE: &str = "infrastructure/kms-rotation-stack.yaml";
/// CloudFormation's limit for a template sent in the request (`TemplateBody`).
const TEMPLATE_BODY_LIMIT: usize = 51_200;
/// How often stack events are polled while waiting.
const POLL: Duration = Duration::from_secs(2);

/// Which stack, and where.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StackArgs {
    /// The stack's name.
    #[arg(long, default_value = "kmsrot", value_name = "NAME")]
    pub(crate) stack_name: String,
    #[command(flatten)]
    pub(crate) aws: AwsOptions,
}

/// Arguments of `cargo xtask deploy`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    pub(crate) stack: StackArgs,
    /// A template parameter, `KEY=VALUE` (repeatable). On an update, parameters not given keep
    /// their current value; on a create, they take the template's default.
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parse_parameter)]
    pub(crate) parameters: Vec<(String, String)>,
    /// The S3 bucket the Lambda zip is uploaded to [default: kmsrot-artifacts-ACCOUNT-REGION].
    #[arg(long, value_name = "BUCKET")]
    pub(crate) artifact_bucket: Option<String>,
    /// Create the artifact bucket if it does not exist (private, encrypted).
    #[arg(long)]
    pub(crate) create_artifact_bucket: bool,
}

/// Arguments of `cargo xtask destroy`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DestroyArgs {
    #[command(flatten)]
    pub(crate) stack: StackArgs,
    /// Really delete the stack. Without it, destroy only lists what would be deleted.
    #[arg(long)]
    pub(crate) yes: bool,
}

/// `cargo xtask deploy`: everything that can be checked is checked before the (slow) build.
pub(crate) fn deploy(args: &DeployArgs) -> Result<()> {
    let template = std::fs::read_to_string(crate::project_root().join(TEMPLATE))
        .with_context(|| format!("reading {TEMPLATE}"))?;
    check_parameters(&args.parameters)?;
    if template.len() > TEMPLATE_BODY_LIMIT {
        bail!(
            "{TEMPLATE} is {} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT} for a template sent inline",
            template.len()
        );
    }
    runtime()?.block_on(async {
        let config = load(&args.stack.aws).await?;
        let plan = plan(&config, args, &template).await?;
        let package = package::build()?;
        let key = upload(&config, &plan.bucket, &package).await?;
        let outputs = deploy_stack(&config, args, &template, &plan, &key).await?;
        print_outputs(&args.stack.stack_name, &outputs);
        Ok(())
    })
}

/// `cargo xtask destroy`.
pub(crate) fn destroy(args: &DestroyArgs) -> Result<()> {
    runtime()?.block_on(async {
        let config = load(&args.stack.aws).await?;
        let cfn = CloudFormation::new(&config);
        let name = &args.stack.stack_name;
        let region = region_of(&config);
        let Some(stack) = describe_stack(&cfn, name).await? else {
            println!("xtask: there is no stack {name} in {region}; nothing to destroy");
            return Ok(());
        };
        let stack_id = stack.stack_id().unwrap_or(name).to_owned();
        if !args.yes {
            println!("xtask: destroying stack {name} in {region} would delete:");
            let resources = cfn
                .list_stack_resources()
                .stack_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .context("ListStackResources")?;
            for resource in &resources {
                if let Some(id) = resource.logical_resource_id() {
                    println!(
                        "  {id} ({})",
                        resource.resource_type().unwrap_or_default()
                    );
                }
            }
            println!(
                "xtask: the managed key and its alias are retained (DeletionPolicy: Retain), so applications and old data keep working; keys that rotations created stay too. The notification key is scheduled for deletion after KMS's waiting period."
            );
            bail!("nothing was deleted; pass --yes to delete stack {name}");
        }
        let mut seen = known_events(&cfn, &stack_id).await?;
        cfn.delete_stack()
            .stack_name(name)
            .send()
            .await
            .context("DeleteStack")?;
        println!("xtask: deleting stack {name} in {region}");
        // Deleted stacks are found by ID only.
        let (status, events) = watch(&cfn, &stack_id, &mut seen).await?;
        match status.as_str() {
            "DELETE_COMPLETE" => {
                println!("xtask: stack {name} deleted");
                Ok(())
            }
            other => {
                report_failures(&events);
                bail!("deleting stack {name} ended in {other}")
            }
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn load(aws: &AwsOptions) -> Result<SdkConfig> {
    Ok(aws.load().await?)
}

fn region_of(config: &SdkConfig) -> String {
    config
        .region()
        .map_or_else(String::new, ToString::to_string)
}

async fn describe_stack(
    cfn: &CloudFormation,
    name: &str,
) -> Result<Option<aws_sdk_cloudformation::types::Stack>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(err) if is_missing_stack(&err) => Ok(None),
        Err(err) => Err(anyhow::Error::new(err).context(format!("DescribeStacks {name}"))),
    }
}

/// CloudFormation answers `ValidationError` "Stack with id NAME does not exist".
fn is_missing_stack<E>(err: &aws_sdk_cloudformation::error::SdkError<E>) -> bool
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("ValidationError")
            && e.message().is_some_and(|m| m.contains("does not exist"))
    })
}
