//! `cargo xtask deploy` and `cargo xtask destroy`: the CloudFormation stack in
//! `infrastructure/kms-rotation-stack.yaml`, deployed by change set. One code path serves AWS
//! and the local emulator; `--endpoint-url` is the only difference.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackEvent,
};
use aws_sdk_s3::Client as S3;
use kmsrot_core::config::AwsOptions;
use kmsrot_types::tags;

use crate::package::{self, Package};

/// The template, relative to the workspace root.
pub(crate) const TEMPLATE: &str = "infrastructure/kms-rotation-stack.yaml";
/// The template parameters `deploy` sets itself, from the uploaded artifact.
const ARTIFACT_PARAMETERS: [&str; 2] = ["ArtifactBucket", "ArtifactKey"];
/// CloudFormation's limit for a template sent in the request (`TemplateBody`).
const TEMPLATE_BODY_LIMIT: usize = 51_200;
/// How long a change set may take to be computed.
const CHANGE_SET_WAIT: Duration = Duration::from_secs(600);
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

fn parse_parameter(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
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

/// Refuses parameters that deploy sets itself.
fn check_parameters(parameters: &[(String, String)]) -> Result<()> {
    for (key, _) in parameters {
        if ARTIFACT_PARAMETERS.contains(&key.as_str()) {
            bail!(
                "--parameter {key} is set by deploy from the uploaded Lambda zip; choose the bucket with --artifact-bucket"
            );
        }
    }
    Ok(())
}

/// Uploads the zip, unless the bucket already holds it; returns its key.
async fn upload(config: &SdkConfig, bucket: &str, package: &Package) -> Result<String> {
    let s3 = S3::new(config);
    let key = package.artifact_key();
    let exists = s3.head_object().bucket(bucket).key(&key).send().await;
    match exists {
        Ok(_) => println!("xtask: s3://{bucket}/{key} is already uploaded"),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
            let body = aws_sdk_s3::primitives::ByteStream::from_path(&package.zip)
                .await
                .with_context(|| format!("reading {}", package.zip.display()))?;
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(body)
                .content_type("application/zip")
                .send()
                .await
                .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
            println!("xtask: uploaded s3://{bucket}/{key}");
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("HeadObject s3://{bucket}/{key}")));
        }
    }
    Ok(key)
}

/// What a deploy will do, settled before anything is built or uploaded.
#[derive(Debug)]
struct Plan {
    existing: Option<aws_sdk_cloudformation::types::Stack>,
    change_set_type: ChangeSetType,
    declared: Vec<String>,
    bucket: String,
}

/// Checks the stack's state, the parameters and the artifact bucket (creating it when
/// asked).
async fn plan(config: &SdkConfig, args: &DeployArgs, template: &str) -> Result<Plan> {
    let cfn = CloudFormation::new(config);
    let name = &args.stack.stack_name;
    let region = region_of(config);
    let existing = describe_stack(&cfn, name).await?;
    let change_set_type = match existing.as_ref().and_then(|s| s.stack_status()) {
        None => ChangeSetType::Create,
        Some(status) => match status.as_str() {
            // A stack made by a change set that was never executed.
            "REVIEW_IN_PROGRESS" => ChangeSetType::Create,
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" => bail!(
                "stack {name} in {region} is in {} after a failed create and cannot be updated; delete it with `cargo xtask destroy --stack-name {name} --yes`, then deploy again",
                status.as_str()
            ),
            s if s.ends_with("_IN_PROGRESS") => {
                bail!("stack {name} in {region} is busy ({s}); wait for it to finish")
            }
            _ => ChangeSetType::Update,
        },
    };
    let declared = template_parameters(&cfn, template).await?;
    // Unknown parameter names fail here, before the build.
    stack_parameters(
        &declared,
        &given_parameters(args),
        &HashSet::new(),
        "bucket",
        "key",
    )?;
    let bucket = match &args.artifact_bucket {
        Some(bucket) => bucket.clone(),
        None => {
            let account = kmsrot_core::identity::caller_account(config)
                .await
                .context("finding the account for the default artifact bucket")?;
            format!("kmsrot-artifacts-{account}-{region}")
        }
    };
    ensure_bucket(
        &S3::new(config),
        &bucket,
        &region,
        args.create_artifact_bucket,
    )
    .await?;
    Ok(Plan {
        existing,
        change_set_type,
        declared,
        bucket,
    })
}

fn given_parameters(args: &DeployArgs) -> BTreeMap<&str, &str> {
    args.parameters
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

async fn ensure_bucket(s3: &S3, bucket: &str, region: &str, create: bool) -> Result<()> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 301) =>
        {
            bail!(
                "the artifact bucket {bucket} is in another region; Lambda reads code only from a bucket in {region}: name one there with --artifact-bucket"
            )
        }
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 403) =>
        {
            bail!(
                "the artifact bucket {bucket} exists but this identity may not use it (403); name your own with --artifact-bucket"
            )
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("HeadBucket {bucket}")));
        }
    }
    if !create {
        bail!(
            "the artifact bucket {bucket} does not exist in {region}; pass --create-artifact-bucket to create it, or name another with --artifact-bucket"
        );
    }
    let mut request = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that takes no location constraint.
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request
        .send()
        .await
        .with_context(|| format!("creating the artifact bucket {bucket}"))?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("blocking public access to {bucket}"))?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("setting default encryption on {bucket}"))?;
    println!("xtask: created the artifact bucket {bucket} (private, encrypted)");
    Ok(())
}

/// Creates or updates the stack by change set, and returns its outputs.
async fn deploy_stack(
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
    let current: HashSet<String> = plan
        .existing
        .iter()
        .flat_map(|s| s.parameters())
        .filter_map(|p| p.parameter_key().map(str::to_owned))
        .collect();
    let parameters = stack_parameters(
        &plan.declared,
        &given_parameters(args),
        &current,
        &plan.bucket,
        key,
    )?;

    let change_set = format!("kmsrot-{}", now_seconds());
    println!(
        "xtask: creating change set {change_set} ({}) for stack {name} in {region}",
        change_set_type.as_str()
    );
    cfn.create_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .change_set_type(change_set_type.clone())
        .template_body(template)
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
                    println!("xtask: stack {name} is up to date; nothing to change");
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
    if let Some(stack) = &plan.existing
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
    println!("xtask: stack {name} is {status}");
    outputs(&cfn, name).await
}

/// The template's managed key.
const MANAGED_KEY: &str = "ManagedKey";

/// CloudFormation sets a key's tags to exactly the template's whenever it updates the key.
/// Once kmsrot has moved the alias to a key it created, that would mark the stack's old key
/// `current` again next to the real one: refuse such an update.
async fn check_key_update(
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
const TEMPLATE_KEY_TAGS: [&str; 9] = [
    tags::ALIAS,
    tags::STAGE,
    tags::ROTATION_ID,
    tags::MODE,
    tags::MAX_AGE_DAYS,
    tags::PERIOD_DAYS,
    tags::GRACE_DAYS,
    tags::DELETE_AFTER_DAYS,
    tags::DELETION_WINDOW_DAYS,
];

/// Why an update of the stack's key must not go ahead, if it must not: the alias has moved
/// to another key, or kmsrot has recorded state on this one.
fn key_update_refusal(
    alias: &str,
    stack_key: &str,
    named: &str,
    key_tags: &BTreeMap<String, String>,
) -> Option<String> {
    const WHY: &str = "CloudFormation would reset the key's tags to the template's, erasing kmsrot's records. Deploy without changing the key's parameters (RotationMode, RotationPeriodDays, MaxAgeDays, GraceDays, DeleteAfterDays, DeletionWindowDays), and change the alias's policy with `kmsrot adopt` instead";
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

/// The stack's parameters: those given, the artifact's, and on an update the current value
/// of every other parameter the stack has.
fn stack_parameters(
    declared: &[String],
    given: &BTreeMap<&str, &str>,
    current: &HashSet<String>,
    bucket: &str,
    key: &str,
) -> Result<Vec<Parameter>> {
    for name in given.keys() {
        if !declared.iter().any(|d| d == name) {
            bail!(
                "the template has no parameter {name}; it has: {}",
                declared.join(", ")
            );
        }
    }
    let mut parameters = Vec::new();
    for name in declared {
        let value = match name.as_str() {
            "ArtifactBucket" => Some(bucket),
            "ArtifactKey" => Some(key),
            other => given.get(other).copied(),
        };
        let parameter = Parameter::builder().parameter_key(name);
        match value {
            Some(value) => parameters.push(parameter.parameter_value(value).build()),
            None if current.contains(name) => {
                parameters.push(parameter.use_previous_value(true).build());
            }
            None => {}
        }
    }
    Ok(parameters)
}

/// The template's parameter names, as CloudFormation reads them (GetTemplateSummary, the
/// call made for this).
async fn template_parameters(cfn: &CloudFormation, template: &str) -> Result<Vec<String>> {
    let summary = cfn
        .get_template_summary()
        .template_body(template)
        .send()
        .await
        .with_context(|| format!("GetTemplateSummary of {TEMPLATE}"))?;
    Ok(summary
        .parameters()
        .iter()
        .filter_map(|p| p.parameter_key().map(str::to_owned))
        .collect())
}

/// Whether a failed change set failed only because it changes nothing: that is not an
/// error for a deploy.
fn is_empty_change_set(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    InProgress,
    Succeeded,
    Failed,
}

/// Where a stack status leaves a deploy or destroy.
fn phase(status: &str) -> Phase {
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" | "DELETE_COMPLETE" => {
            Phase::Succeeded
        }
        s if s.ends_with("_IN_PROGRESS") => Phase::InProgress,
        _ => Phase::Failed,
    }
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

/// The IDs of the stack's newest events: watching shows only what comes after them. (Events
/// are listed newest first, so the first page is enough.) Stack events carry the service's
/// clock, so this needs none of this machine's.
async fn known_events(cfn: &CloudFormation, stack_id: &str) -> Result<HashSet<String>> {
    match cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
    {
        Ok(page) => Ok(page
            .stack_events()
            .iter()
            .filter_map(|e| e.event_id().map(str::to_owned))
            .collect()),
        Err(err) if is_missing_stack(&err) => Ok(HashSet::new()),
        Err(err) => Err(anyhow::Error::new(err).context("DescribeStackEvents")),
    }
}

/// Streams the stack's new events until its status settles; returns that status and the
/// events.
async fn watch(
    cfn: &CloudFormation,
    stack_id: &str,
    seen: &mut HashSet<String>,
) -> Result<(String, Vec<StackEvent>)> {
    let mut all = Vec::new();
    loop {
        for event in new_events(cfn, stack_id, seen).await? {
            print_event(&event);
            all.push(event);
        }
        let status = match describe_stack(cfn, stack_id).await? {
            None => "DELETE_COMPLETE".to_owned(),
            Some(stack) => stack
                .stack_status()
                .map_or_else(String::new, |s| s.as_str().to_owned()),
        };
        if phase(&status) != Phase::InProgress {
            // Events that arrived with the final status.
            for event in new_events(cfn, stack_id, seen).await? {
                print_event(&event);
                all.push(event);
            }
            return Ok((status, all));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The stack's events not yet in `seen`, oldest first.
async fn new_events(
    cfn: &CloudFormation,
    stack_id: &str,
    seen: &mut HashSet<String>,
) -> Result<Vec<StackEvent>> {
    let mut fresh = Vec::new();
    let mut pages = cfn
        .describe_stack_events()
        .stack_name(stack_id)
        .into_paginator()
        .send();
    // Newest first: stop at the first event already seen.
    'pages: while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(err) if is_missing_stack(&err) => break,
            Err(err) => return Err(anyhow::Error::new(err).context("DescribeStackEvents")),
        };
        for event in page.stack_events() {
            let id = event.event_id().unwrap_or_default();
            if seen.contains(id) {
                break 'pages;
            }
            fresh.push(event.clone());
        }
    }
    seen.extend(fresh.iter().filter_map(|e| e.event_id().map(str::to_owned)));
    fresh.reverse();
    Ok(fresh)
}

fn print_event(event: &StackEvent) {
    let time = event
        .timestamp()
        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        .unwrap_or_default();
    let reason = event
        .resource_status_reason()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    println!(
        "  {time}  {:<28} {} ({}){reason}",
        event.resource_status().map_or("", |s| s.as_str()),
        event.logical_resource_id().unwrap_or_default(),
        event.resource_type().unwrap_or_default(),
    );
}

/// Prints the events of resources that failed, with CloudFormation's reasons.
fn report_failures(events: &[StackEvent]) {
    let failed: Vec<_> = events
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .collect();
    eprintln!("xtask: failed resources:");
    if failed.is_empty() {
        eprintln!("  (CloudFormation reported no failed resource)");
    }
    for event in failed {
        eprintln!(
            "  {} ({}): {} {}",
            event.logical_resource_id().unwrap_or_default(),
            event.resource_type().unwrap_or_default(),
            event.resource_status().map_or("", |s| s.as_str()),
            event
                .resource_status_reason()
                .unwrap_or("(no reason given)")
        );
    }
}

async fn outputs(cfn: &CloudFormation, name: &str) -> Result<BTreeMap<String, String>> {
    let stack = describe_stack(cfn, name)
        .await?
        .with_context(|| format!("stack {name} vanished"))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

fn print_outputs(name: &str, outputs: &BTreeMap<String, String>) {
    println!("xtask: outputs of stack {name}:");
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in outputs {
        println!("  {key:<width$}  {value}");
    }
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_key_value_pairs() {
        assert_eq!(
            parse_parameter("GuardMode=observe"),
            Ok(("GuardMode".into(), "observe".into()))
        );
        assert_eq!(
            parse_parameter("SweepSchedule=rate(1 day)=x"),
            Ok(("SweepSchedule".into(), "rate(1 day)=x".into()))
        );
        assert!(parse_parameter("GuardMode").is_err());
        assert!(parse_parameter("=x").is_err());
        assert!(check_parameters(&[("ArtifactKey".into(), "x".into())]).is_err());
    }

    #[test]
    fn update_keeps_current_values_and_create_takes_defaults() {
        let declared = ["AliasName", "GuardMode", "ArtifactBucket", "ArtifactKey"]
            .map(String::from)
            .to_vec();
        let given = BTreeMap::from([("GuardMode", "observe")]);
        let render = |ps: Vec<Parameter>| {
            ps.iter()
                .map(|p| {
                    format!(
                        "{}={}",
                        p.parameter_key().unwrap(),
                        p.parameter_value()
                            .unwrap_or(if p.use_previous_value() == Some(true) {
                                "(previous)"
                            } else {
                                "?"
                            })
                    )
                })
                .collect::<Vec<_>>()
        };
        let create = stack_parameters(&declared, &given, &HashSet::new(), "b", "k").unwrap();
        assert_eq!(
            render(create),
            ["GuardMode=observe", "ArtifactBucket=b", "ArtifactKey=k"]
        );
        let current = declared.iter().cloned().collect();
        let update = stack_parameters(&declared, &given, &current, "b", "k2").unwrap();
        assert_eq!(
            render(update),
            [
                "AliasName=(previous)",
                "GuardMode=observe",
                "ArtifactBucket=b",
                "ArtifactKey=k2"
            ]
        );
        let err = stack_parameters(
            &declared,
            &BTreeMap::from([("Nope", "x")]),
            &HashSet::new(),
            "b",
            "k",
        )
        .unwrap_err();
        assert!(err.to_string().contains("no parameter Nope"), "{err}");
    }

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

    #[test]
    fn stack_statuses_settle_into_phases() {
        assert_eq!(phase("CREATE_IN_PROGRESS"), Phase::InProgress);
        assert_eq!(
            phase("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Phase::InProgress
        );
        assert_eq!(phase("UPDATE_ROLLBACK_IN_PROGRESS"), Phase::InProgress);
        assert_eq!(phase("CREATE_COMPLETE"), Phase::Succeeded);
        assert_eq!(phase("UPDATE_COMPLETE"), Phase::Succeeded);
        assert_eq!(phase("DELETE_COMPLETE"), Phase::Succeeded);
        assert_eq!(phase("ROLLBACK_COMPLETE"), Phase::Failed);
        assert_eq!(phase("UPDATE_ROLLBACK_COMPLETE"), Phase::Failed);
        assert_eq!(phase("DELETE_FAILED"), Phase::Failed);
        assert!(is_empty_change_set(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(!is_empty_change_set("Template format error"));
    }
}
