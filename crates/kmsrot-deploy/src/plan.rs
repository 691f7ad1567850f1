//! The plan of a deploy: the stack's state, the parameters and the artifact bucket, checked
//! before anything is built or uploaded.

use std::collections::HashSet;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::ChangeSetType;
use aws_sdk_s3::Client as S3;

use super::artifact::ensure_bucket;
use super::parameters::{check_missing, given_parameters, stack_parameters, template_parameters};
use super::{DeployArgs, describe_stack, region_of};

/// What a deploy will do, settled before anything is built or uploaded.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) existing: Option<aws_sdk_cloudformation::types::Stack>,
    pub(super) change_set_type: ChangeSetType,
    pub(super) declared: Vec<String>,
    /// The parameters the stack has now, whose values an update keeps: none on a create,
    /// including the create of a stack left in REVIEW_IN_PROGRESS (it never had values).
    pub(super) current: HashSet<String>,
    pub(super) bucket: String,
}

/// Checks the stack's state, the parameters and the artifact bucket (creating it when
/// asked, and only once everything else passed). `bucket` is the artifact bucket given for
/// this Region, if one was.
pub(super) async fn plan(
    config: &SdkConfig,
    args: &DeployArgs,
    template: &str,
    bucket: Option<&str>,
) -> Result<Plan> {
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
    let declared = template_parameters(template)?;
    let current: HashSet<String> = match change_set_type {
        ChangeSetType::Update => existing
            .iter()
            .flat_map(|s| s.parameters())
            .filter_map(|p| p.parameter_key().map(str::to_owned))
            .collect(),
        _ => HashSet::new(),
    };
    // Unknown parameter names, and parameters left without a value, fail here, before the
    // build and before anything is created.
    stack_parameters(
        &declared.names,
        &given_parameters(args),
        &HashSet::new(),
        "bucket",
        "key",
    )?;
    check_missing(&declared.without_default, &given_parameters(args), &current)
        .with_context(|| format!("stack {name} in {region}"))?;
    let bucket = match bucket {
        Some(bucket) => bucket.to_owned(),
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
        declared: declared.names,
        current,
        bucket,
    })
}
