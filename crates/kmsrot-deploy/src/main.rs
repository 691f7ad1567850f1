//! `kmsrot-deploy`: the CloudFormation stack in `infrastructure/kms-rotation-stack.yaml`,
//! deployed by change set, and destroyed. One code path serves AWS and the local emulator;
//! `--endpoint-url` is the only difference. People run it through `cargo xtask deploy` and
//! `cargo xtask destroy`, which package the Lambda first and pass their arguments on: this
//! binary holds the AWS calls, so that xtask itself needs no AWS SDK crate and builds in
//! seconds.
//!
//! `main.rs` holds the arguments and the two entry points; each step of a deploy is a module:
//! `parameters` and `plan` (checked before the Lambda is built: `deploy --check-only`),
//! `artifact` (the bucket and the upload), `change_set` (create, review, execute),
//! `key_update` (the refusal to update a key kmsrot has used), `events` (streaming the stack's
//! events) and `outputs`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a deployment tool reports its progress to the person or CI running it"
)]

mod artifact;
mod change_set;
mod events;
mod key_update;
mod outputs;
mod parameters;
mod plan;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client as CloudFormation;
use clap::{Parser, Subcommand};
use kmsrot_core::config::AwsOptions;
use sha2::Digest;

use self::artifact::upload;
use self::change_set::deploy_stack;
use self::events::{known_events, report_failures, watch};
use self::outputs::print_outputs;
use self::parameters::{check_parameters, parse_parameter};
use self::plan::plan;

/// Deploys and destroys kmsrot's CloudFormation stack (run it as `cargo xtask deploy` and
/// `cargo xtask destroy`).
#[derive(Debug, Parser)]
#[command(name = "kmsrot-deploy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or update the stack by change set, streaming its events; prints the outputs.
    Deploy(DeployArgs),
    /// Delete the stack (with --yes; without, list what would be deleted).
    Destroy(DestroyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Deploy(args) => deploy(&args),
        Command::Destroy(args) => destroy(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kmsrot-deploy: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The Lambda's zip, as `cargo xtask package-lambda` wrote it.
#[derive(Debug)]
struct Artifact {
    zip: PathBuf,
    sha256: String,
}

impl Artifact {
    fn read(zip: PathBuf) -> Result<Self> {
        let bytes = std::fs::read(&zip).with_context(|| format!("reading {}", zip.display()))?;
        let sha256 = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self { zip, sha256 })
    }

    /// The S3 key the zip is uploaded under: content-addressed, so that a changed build
    /// changes the stack's code and an unchanged one leaves it alone.
    fn key(&self) -> String {
        format!("kmsrot-lambda/bootstrap-{}.zip", &self.sha256[..16])
    }
}

/// The template, relative to the workspace root.
const TEMPLATE: &str = "infrastructure/kms-rotation-stack.yaml";
/// CloudFormation's limit for a template sent in the request (`TemplateBody`).
const TEMPLATE_BODY_LIMIT: usize = 51_200;
/// How often stack events are polled while waiting.
const POLL: Duration = Duration::from_secs(2);

/// Which stack, and where.
#[derive(Debug, Clone, clap::Args)]
struct StackArgs {
    /// The stack's name.
    #[arg(long, default_value = "kmsrot", value_name = "NAME")]
    stack_name: String,
    #[command(flatten)]
    aws: AwsOptions,
}

/// Arguments of `deploy` (`cargo xtask deploy`).
#[derive(Debug, Clone, clap::Args)]
struct DeployArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Only check: the parameters, the template and the stack's state (reading only). xtask
    /// runs this before it builds the Lambda, so that a mistake costs seconds, not a build.
    #[arg(long, conflicts_with = "artifact")]
    check_only: bool,
    /// The Lambda's zip to upload (xtask passes the one it has just packaged).
    #[arg(long, value_name = "ZIP", required_unless_present = "check_only")]
    artifact: Option<PathBuf>,
    /// A template parameter, `KEY=VALUE` (repeatable). On an update, parameters not given keep
    /// their current value; on a create, they take the template's default.
    #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parse_parameter)]
    parameters: Vec<(String, String)>,
    /// The S3 bucket the Lambda zip is uploaded to [default: kmsrot-artifacts-ACCOUNT-REGION].
    #[arg(long, value_name = "BUCKET")]
    artifact_bucket: Option<String>,
    /// Create the artifact bucket if it does not exist (private, encrypted).
    #[arg(long)]
    create_artifact_bucket: bool,
}

/// Arguments of `destroy` (`cargo xtask destroy`).
#[derive(Debug, Clone, clap::Args)]
struct DestroyArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Really delete the stack. Without it, destroy only lists what would be deleted.
    #[arg(long)]
    yes: bool,
}

/// `deploy`: everything that can be checked is checked first; with `--check-only`, nothing
/// else happens.
fn deploy(args: &DeployArgs) -> Result<()> {
    let template =
        std::fs::read_to_string(TEMPLATE).with_context(|| format!("reading {TEMPLATE}"))?;
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
        let Some(zip) = &args.artifact else {
            println!(
                "kmsrot-deploy: stack {} can be deployed; the checks passed",
                args.stack.stack_name
            );
            return Ok(());
        };
        let artifact = Artifact::read(zip.clone())?;
        let key = upload(&config, &plan.bucket, &artifact).await?;
        let outputs = deploy_stack(&config, args, &template, &plan, &key).await?;
        print_outputs(&args.stack.stack_name, &outputs);
        Ok(())
    })
}

/// `destroy`.
fn destroy(args: &DestroyArgs) -> Result<()> {
    runtime()?.block_on(async {
        let config = load(&args.stack.aws).await?;
        let cfn = CloudFormation::new(&config);
        let name = &args.stack.stack_name;
        let region = region_of(&config);
        let Some(stack) = describe_stack(&cfn, name).await? else {
            println!("kmsrot-deploy: there is no stack {name} in {region}; nothing to destroy");
            return Ok(());
        };
        let stack_id = stack.stack_id().unwrap_or(name).to_owned();
        if !args.yes {
            println!("kmsrot-deploy: destroying stack {name} in {region} would delete:");
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
                "kmsrot-deploy: the managed key and its alias are retained (DeletionPolicy: Retain), so applications and old data keep working; keys that rotations created stay too. The notification key is scheduled for deletion after KMS's waiting period."
            );
            bail!("nothing was deleted; pass --yes to delete stack {name}");
        }
        let mut seen = known_events(&cfn, &stack_id).await?;
        cfn.delete_stack()
            .stack_name(name)
            .send()
            .await
            .context("DeleteStack")?;
        println!("kmsrot-deploy: deleting stack {name} in {region}");
        // Deleted stacks are found by ID only.
        let (status, events) = watch(&cfn, &stack_id, &mut seen).await?;
        match status.as_str() {
            "DELETE_COMPLETE" => {
                println!("kmsrot-deploy: stack {name} deleted");
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

#[cfg(test)]
mod docs {
    use clap::Parser;

    use super::Cli;

    /// Every `cargo xtask deploy` and `cargo xtask destroy` line quoted in the README or
    /// `docs/` parses as this program's arguments (xtask passes them on unread).
    #[test]
    fn every_documented_deploy_and_destroy_command_parses() {
        let ours = std::cell::Cell::new(0);
        kmsrot_testsuite::docs::check_commands("cargo xtask", |args| {
            // `cargo xtask deploy …` (split as `cargo`, `xtask`, `deploy`, …) arrives here as
            // `kmsrot-deploy deploy …`.
            match args.get(2).map(String::as_str) {
                Some(command @ ("deploy" | "destroy")) => {
                    ours.set(ours.get() + 1);
                    let mut args: Vec<String> = std::iter::once("kmsrot-deploy".to_owned())
                        .chain(args[2..].iter().cloned())
                        .collect();
                    if command == "deploy" {
                        // xtask adds the artifact it has just packaged.
                        args.extend(["--artifact".to_owned(), "bootstrap.zip".to_owned()]);
                    }
                    Cli::try_parse_from(args)
                        .map(drop)
                        .map_err(|e| e.to_string())
                }
                _ => Ok(()),
            }
        });
        assert!(
            ours.get() >= 5,
            "the docs quote deploy and destroy commands"
        );
    }
}
