//! `kmsrot-deploy` against the emulator (`cargo xtask test` starts it): what it refuses before
//! anything is created, a stack left in REVIEW_IN_PROGRESS, and `--regions`. Each test has
//! Regions of its own. (The full deploy of the packaged Lambda, validated, is
//! `xtask/src/e2e.rs`; these deploy an empty zip, which CloudFormation on the emulator
//! accepts as the function's code.)

use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter};
use kmsrot_testsuite::TestEnv;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// `kmsrot-deploy` with the emulator's environment, from the workspace root.
fn deploy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kmsrot-deploy"))
        .current_dir(ROOT)
        .args(args)
        .output()
        .expect("kmsrot-deploy runs")
}

/// An empty zip archive (its end-of-central-directory record alone).
fn empty_zip(name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("kmsrot-deploy-{}-{name}.zip", std::process::id()));
    let mut bytes = b"PK\x05\x06".to_vec();
    bytes.resize(22, 0);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn stack_status(env: &TestEnv, name: &str) -> Option<String> {
    let cfn = CloudFormation::new(&env.config);
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out
            .stacks()
            .first()
            .and_then(|s| s.stack_status())
            .map(|s| s.as_str().to_owned()),
        Err(err) => {
            let message = format!(
                "{}",
                aws_sdk_cloudformation::error::DisplayErrorContext(&err)
            );
            assert!(message.contains("does not exist"), "{message}");
            None
        }
    }
}

#[tokio::test]
async fn a_parameter_without_a_value_is_refused_before_anything_is_created() {
    let region = "af-south-1";
    let env = TestEnv::in_region(region).await.unwrap();
    let zip = empty_zip("missing");
    let bucket = "kmsrot-deploy-missing-parameter";
    let out = deploy(&[
        "deploy",
        "--stack-name",
        "kmsrot-missing",
        "--region",
        region,
        "--artifact",
        zip.to_str().unwrap(),
        "--artifact-bucket",
        bucket,
        "--create-artifact-bucket",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "the template's parameter AliasName has no default and no value; give it with --parameter AliasName=VALUE"
        ),
        "{stderr}"
    );
    assert_eq!(stack_status(&env, "kmsrot-missing").await, None);
    let head = env.s3_client().head_bucket().bucket(bucket).send().await;
    assert!(head.is_err(), "the artifact bucket was created: {head:?}");
}

/// A change set that was created and never executed leaves a stack in REVIEW_IN_PROGRESS, with
/// parameters that were never in force. The next deploy is a create: it sends the values given
/// and the template's defaults, never UsePreviousValue.
#[tokio::test]
async fn a_stack_left_in_review_is_deployed_as_a_create() {
    let region = "ap-east-1";
    let env = TestEnv::in_region(region).await.unwrap();
    let name = "kmsrot-review";
    let template =
        std::fs::read_to_string(format!("{ROOT}/infrastructure/kms-rotation-stack.yaml")).unwrap();
    let parameter = |key: &str, value: &str| {
        Parameter::builder()
            .parameter_key(key)
            .parameter_value(value)
            .build()
    };
    CloudFormation::new(&env.config)
        .create_change_set()
        .stack_name(name)
        .change_set_name("never-executed")
        .change_set_type(ChangeSetType::Create)
        .template_body(template)
        .parameters(parameter("AliasName", "alias/kmsrot-review/old"))
        .parameters(parameter("ArtifactBucket", "nowhere"))
        .parameters(parameter("ArtifactKey", "nothing.zip"))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stack_status(&env, name).await.as_deref(),
        Some("REVIEW_IN_PROGRESS")
    );

    let zip = empty_zip("review");
    let out = deploy(&[
        "deploy",
        "--stack-name",
        name,
        "--region",
        region,
        "--artifact",
        zip.to_str().unwrap(),
        "--create-artifact-bucket",
        "--parameter",
        "AliasName=alias/kmsrot-review/app",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(CREATE)"), "{stdout}");
    assert_eq!(
        stack_status(&env, name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    let named = env
        .alias_target(&"alias/kmsrot-review/app".parse().unwrap())
        .await;
    assert!(named.is_ok(), "the stack made its alias: {named:?}");
    let out = deploy(&["destroy", "--stack-name", name, "--region", region, "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--regions`: each Region in turn, with its own bucket; a Region that fails is reported in
/// the table and the exit code, and the others stay deployed.
#[tokio::test]
async fn regions_deploy_in_turn_and_a_failed_region_is_reported() {
    let (first, second) = ("ap-southeast-3", "eu-south-1");
    let name = "kmsrot-regions";
    // Only the first Region has its bucket, and no --create-artifact-bucket: the second fails.
    let env = TestEnv::in_region(first).await.unwrap();
    env.s3_client()
        .create_bucket()
        .bucket(format!("kmsrot-regions-{first}"))
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(first))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let zip = empty_zip("regions");
    let out = deploy(&[
        "deploy",
        "--stack-name",
        name,
        "--regions",
        &format!("{first},{second}"),
        "--artifact",
        zip.to_str().unwrap(),
        "--artifact-bucket",
        "kmsrot-regions-{region}",
        "--parameter",
        "AliasName=alias/kmsrot-regions/app",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|l| !l.contains("by Region:"))
        .skip(1)
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    assert_eq!(
        table,
        [vec![first, "deployed"], vec![second, "FAILED:"]],
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("the deploy failed in 1 of 2 Regions ({second})")),
        "{stderr}"
    );
    assert_eq!(
        stack_status(&env, name).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    let other = TestEnv::in_region(second).await.unwrap();
    assert_eq!(stack_status(&other, name).await, None);
    let out = deploy(&["destroy", "--stack-name", name, "--region", first, "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One bucket name for several Regions is refused before any call.
    let out = deploy(&[
        "deploy",
        "--check-only",
        "--stack-name",
        name,
        "--regions",
        &format!("{first},{second}"),
        "--artifact-bucket",
        "one-bucket",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("put {region} in its name"));
}
