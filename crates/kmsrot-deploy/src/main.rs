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
/// CloudFormation's limit for a template sent by URL: "The URL must point to a template (max
/// size: 1 MB) that's located in an Amazon S3 bucket" (CreateChangeSet, `TemplateURL`).
const TEMPLATE_URL_LIMIT: usize = 1024 * 1024;
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
    /// With --regions it names one bucket per Region, so it must contain `{region}`.
    #[arg(long, value_name = "BUCKET")]
    artifact_bucket: Option<String>,
    /// Deploy the stack to each of these Regions in turn (comma-separated), each with its own
    /// artifact bucket; a Region that fails does not undo the others.
    #[arg(
        long,
        value_name = "REGION,…",
        value_delimiter = ',',
        conflicts_with = "region"
    )]
    regions: Vec<String>,
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
/// else happens. With `--regions`, each Region in turn.
fn deploy(args: &DeployArgs) -> Result<()> {
    let template =
        std::fs::read_to_string(TEMPLATE).with_context(|| format!("reading {TEMPLATE}"))?;
    check_parameters(&args.parameters)?;
    if template.len() > TEMPLATE_URL_LIMIT {
        bail!(
            "{TEMPLATE} is {} bytes, over CloudFormation's {TEMPLATE_URL_LIMIT} for a template sent by URL",
            template.len()
        );
    }
    let runtime = runtime()?;
    if args.regions.is_empty() {
        return runtime.block_on(deploy_in(
            args,
            &args.stack.aws,
            args.artifact_bucket.as_deref(),
            &template,
        ));
    }
    let regions = regions(&args.regions)?;
    if let Some(bucket) = &args.artifact_bucket
        && !bucket.contains(REGION_PLACEHOLDER)
    {
        bail!(
            "--artifact-bucket {bucket} would be one bucket for {} Regions, but an S3 bucket lives in one Region; put {REGION_PLACEHOLDER} in its name (for example --artifact-bucket my-artifacts-{REGION_PLACEHOLDER}), or leave it out for kmsrot-artifacts-ACCOUNT-REGION",
            regions.len()
        );
    }
    let mut results = Vec::new();
    for region in &regions {
        println!("kmsrot-deploy: Region {region}");
        let aws = AwsOptions {
            region: Some(region.clone()),
            ..args.stack.aws.clone()
        };
        let bucket = args
            .artifact_bucket
            .as_ref()
            .map(|b| b.replace(REGION_PLACEHOLDER, region));
        let result = runtime.block_on(deploy_in(args, &aws, bucket.as_deref(), &template));
        if let Err(err) = &result {
            eprintln!("kmsrot-deploy: {region}: {err:#}");
        }
        results.push((region.as_str(), result));
    }
    println!("kmsrot-deploy: stack {} by Region:", args.stack.stack_name);
    for (region, result) in &results {
        match result {
            Ok(()) if args.artifact.is_none() => println!("  {region:<16} checked"),
            Ok(()) => println!("  {region:<16} deployed"),
            Err(err) => println!("  {region:<16} FAILED: {}", first_line(err)),
        }
    }
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.is_err())
        .map(|(region, _)| *region)
        .collect();
    if !failed.is_empty() {
        bail!(
            "the deploy failed in {} of {} Regions ({}); the others are {}",
            failed.len(),
            results.len(),
            failed.join(", "),
            if args.artifact.is_none() {
                "ready"
            } else {
                "deployed and stay so"
            }
        );
    }
    Ok(())
}

/// What `--artifact-bucket` writes for the Region.
const REGION_PLACEHOLDER: &str = "{region}";

/// The Regions of `--regions`, each once, in the order given.
fn regions(given: &[String]) -> Result<Vec<String>> {
    let mut regions: Vec<String> = Vec::new();
    for region in given.iter().map(|r| r.trim()) {
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            bail!("--regions: {region:?} is not a Region name (for example us-east-1)");
        }
        if !regions.iter().any(|r| r == region) {
            regions.push(region.to_owned());
        }
    }
    Ok(regions)
}

/// An error's first line, for the table.
fn first_line(err: &anyhow::Error) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// One Region's deploy (or, with `--check-only`, its checks).
async fn deploy_in(
    args: &DeployArgs,
    aws: &AwsOptions,
    bucket: Option<&str>,
    template: &str,
) -> Result<()> {
    let config = load(aws).await?;
    let plan = plan(&config, args, template, bucket).await?;
    let Some(zip) = &args.artifact else {
        println!(
            "kmsrot-deploy: stack {} can be deployed; the checks passed",
            args.stack.stack_name
        );
        return Ok(());
    };
    let artifact = Artifact::read(zip.clone())?;
    let key = upload(&config, &plan.bucket, &artifact).await?;
    let outputs = deploy_stack(&config, args, template, &plan, &key).await?;
    print_outputs(&args.stack.stack_name, &outputs);
    Ok(())
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
            let rows = preview_rows(resources.iter().map(|r| {
                (
                    r.resource_type().unwrap_or_default(),
                    r.logical_resource_id().unwrap_or_default(),
                    r.physical_resource_id().unwrap_or_default(),
                )
            }));
            if rows.is_empty() {
                println!("  (no resources: the stack was never created)");
            }
            for row in rows {
                println!("  {row}");
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

/// The rows of destroy's preview: by type, then logical ID, with the physical ID when the
/// resource has one. A resource with no logical ID (which CloudFormation never lists) is left
/// out rather than printed blank.
fn preview_rows<'a>(resources: impl Iterator<Item = (&'a str, &'a str, &'a str)>) -> Vec<String> {
    let mut resources: Vec<_> = resources
        .filter(|(_, logical, _)| !logical.is_empty())
        .collect();
    resources.sort_unstable();
    let width = resources.iter().map(|(t, ..)| t.len()).max().unwrap_or(0);
    resources
        .into_iter()
        .map(|(kind, logical, physical)| {
            let physical = if physical.is_empty() {
                "(not created)"
            } else {
                physical
            };
            format!("{kind:<width$}  {logical}  {physical}")
        })
        .collect()
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
mod tests {
    use super::{preview_rows, regions};

    #[test]
    fn the_destroy_preview_is_sorted_by_type_and_never_blank() {
        let rows = preview_rows(
            [
                ("AWS::SNS::Topic", "Topic", "arn:aws:sns:us-east-1:1:t"),
                ("AWS::KMS::Key", "ManagedKey", ""),
                ("AWS::IAM::Role", "", "orphan"),
                ("AWS::KMS::Alias", "ManagedAlias", "alias/app"),
            ]
            .into_iter(),
        );
        assert_eq!(
            rows,
            [
                "AWS::KMS::Alias  ManagedAlias  alias/app",
                "AWS::KMS::Key    ManagedKey  (not created)",
                "AWS::SNS::Topic  Topic  arn:aws:sns:us-east-1:1:t",
            ]
        );
    }

    #[test]
    fn regions_are_named_once_each_in_order() {
        let given = ["eu-west-1", " us-east-1", "eu-west-1"].map(String::from);
        assert_eq!(regions(&given).unwrap(), ["eu-west-1", "us-east-1"]);
        let err = regions(&["us east".to_owned()]).unwrap_err();
        assert!(err.to_string().contains("not a Region name"), "{err}");
        assert!(regions(&[String::new()]).is_err());
    }
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
