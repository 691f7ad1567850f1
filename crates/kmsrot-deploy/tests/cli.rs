//! `kmsrot-deploy` as a program: what it refuses before any AWS call. (Deploying to the
//! emulator, end to end, is `xtask/src/e2e.rs`.)

use std::process::Command;

fn deploy(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kmsrot-deploy"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args(args)
        // No AWS call may happen: an unreachable endpoint would show as a different error.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("kmsrot-deploy runs")
}

#[test]
fn a_deploy_without_an_artifact_or_check_only_is_a_usage_error() {
    let out = deploy(&["deploy", "--stack-name", "s"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--artifact <ZIP>"), "{stderr}");
}

#[test]
fn a_parameter_deploy_sets_itself_is_refused_before_any_call() {
    let out = deploy(&["deploy", "--check-only", "--parameter", "ArtifactKey=x.zip"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--parameter ArtifactKey is set by deploy"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("127.0.0.1:9"),
        "no AWS call was made: {stderr}"
    );
}
