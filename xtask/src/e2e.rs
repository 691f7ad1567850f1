//! The end-to-end test `cargo xtask test` runs after the workspace's tests, against the same
//! emulator: `cargo xtask deploy` of the one real template (a CREATE change set),
//! `kmsrot-validate` against the stack's outputs, a second deploy that must change nothing, an
//! update of the guard mode, an update of the key's policy that must be refused once
//! `kmsrot rotate` has moved the alias to a new key, and `cargo xtask destroy`.
//!
//! Where the emulator falls short (measured on moto 5.2.5):
//! - it cannot invoke a Lambda function (no Docker), so kmsrot-validate runs the packaged
//!   `bootstrap` under a local Lambda Runtime API with the deployed function's environment
//!   (`--local-runtime`), and reads its metrics from the EMF documents it writes;
//! - alarms, the topic policy, the email subscription, the function's dead-letter
//!   configuration and its event-invoke configuration are accepted but not created; the
//!   template's tidy tests (`template.rs`) check those resources instead;
//! - it enforces no parameter constraints or template rules; cfn-lint checks those.

use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::emulator::Emulator;

/// A region no other test uses, so the stack's sweep sees only its own alias.
const REGION: &str = "me-south-1";
const STACK: &str = "kmsrot-e2e";
const ALIAS: &str = "alias/kmsrot-e2e/app";

pub(crate) fn run(emulator: &Emulator) -> Result<()> {
    println!(
        "xtask: end-to-end: deploy, validate, redeploy, update, refused updates, destroy ({STACK} in {REGION})"
    );
    let package = crate::package::build()?;
    let xtask = std::env::current_exe().context("finding xtask itself")?;
    let endpoint = emulator.endpoint();
    let stack = [
        "--stack-name",
        STACK,
        "--region",
        REGION,
        "--endpoint-url",
        &endpoint,
    ];
    let alias_parameter = format!("AliasName={ALIAS}");
    let deploy_args = [
        &stack[..],
        &[
            "--create-artifact-bucket",
            "--parameter",
            &alias_parameter,
            "--parameter",
            "RotationMode=manual",
        ],
    ]
    .concat();

    let command = |program: &std::path::Path| {
        let mut command = Command::new(program);
        command.current_dir(crate::project_root());
        for name in Emulator::foreign_env() {
            command.env_remove(name);
        }
        command.envs(emulator.client_env());
        command
    };

    // `cargo xtask deploy` with more flags; its output is printed and returned.
    let deploy = |extra: &[&str]| -> Result<std::process::Output> {
        let output = command(&xtask)
            .arg("deploy")
            .args(&deploy_args)
            .args(extra)
            .output()
            .context("running cargo xtask deploy")?;
        print!("{}", String::from_utf8_lossy(&output.stdout));
        Ok(output)
    };
    // The workspace's binaries as `cargo test --workspace` builds them (already built: the
    // tests ran just before).
    let validator = crate::workspace_binary("kmsrot-validate")?;
    let built = |bin: &str| command(&crate::target_dir().join("debug").join(bin));

    // Deploy: a CREATE change set.
    let output = deploy(&[])?;
    if !output.status.success() {
        bail!(
            "cargo xtask deploy failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Validate against the outputs, with the packaged bootstrap as the function.
    let output = command(&validator)
        .args(stack)
        .arg("--local-runtime")
        .arg(&package.binary)
        .args(["--samples", "20", "--wait", "60", "--output", "json"])
        .output()
        .context("running kmsrot-validate")?;
    let report: Value = serde_json::from_slice(&output.stdout).with_context(|| {
        format!(
            "kmsrot-validate printed no report ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    for check in &checks {
        println!(
            "  {:<17} {:<5} {}",
            check["name"].as_str().unwrap_or_default(),
            check["verdict"].as_str().unwrap_or_default(),
            check["detail"].as_str().unwrap_or_default()
        );
    }
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    let expected = [
        "stack-outputs",
        "alias-resolution",
        "round-trip",
        "latency",
        "rotation",
        "rollback",
        "notifications",
        "metrics",
    ];
    if names != expected {
        bail!("kmsrot-validate ran {names:?}, expected {expected:?}");
    }
    // In manual mode nothing may be skipped.
    if let Some(check) = checks.iter().find(|c| c["verdict"] != "pass") {
        bail!("kmsrot-validate: {check}");
    }
    if !output.status.success() {
        bail!("kmsrot-validate exited with {}", output.status);
    }

    // Deploy again: nothing changed, so the change set is empty, which is not an error.
    let output = deploy(&[])?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !text.contains("is up to date") {
        bail!(
            "a second deploy of the same stack should change nothing ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // A real update: the function's guard mode. The key is untouched.
    let output = deploy(&["--parameter", "GuardMode=observe"])?;
    let text = String::from_utf8_lossy(&output.stdout);
    let guard_output = text
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["GuardMode", "observe"]);
    if !output.status.success() || !text.contains("UPDATE_COMPLETE") || !guard_output {
        bail!(
            "the update to GuardMode=observe did not complete ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // An update that would re-tag the stack's key is refused once kmsrot has written records
    // on it (the validation's rotation and rollback did), and once the alias names another
    // key; nothing changes.
    let refused = |why: &str| -> Result<()> {
        let output = deploy(&["--parameter", "MaxAgeDays=200"])?;
        let errors = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !errors.contains(why) || !errors.contains("kmsrot adopt") {
            bail!(
                "an update of the stack's key must be refused ({}), saying {why:?}: {errors}",
                output.status
            );
        }
        let refusal = errors.lines().rfind(|l| l.starts_with("xtask:"));
        println!(
            "xtask: refused as it should be: {}",
            refusal.unwrap_or_default()
        );
        Ok(())
    };
    refused("which carries kmsrot's records")?;
    let status = built("kmsrot")
        .args(["rotate", ALIAS])
        .args(&stack[2..])
        .status()
        .context("running kmsrot rotate")?;
    if !status.success() {
        bail!("kmsrot rotate failed ({status})");
    }
    refused("now names")?;

    // Destroy: refused without --yes, then done.
    let output = command(&xtask).arg("destroy").args(stack).output()?;
    if output.status.success() {
        bail!("cargo xtask destroy without --yes must refuse");
    }
    let status = command(&xtask)
        .arg("destroy")
        .args(stack)
        .arg("--yes")
        .status()?;
    if !status.success() {
        bail!("cargo xtask destroy failed ({status})");
    }
    println!("xtask: end-to-end passed");
    Ok(())
}
