//! Project tasks for kmsrot, in the rust-analyzer shape: `cargo xtask <task>`.
//!
//! xtask is the only place that starts the local AWS emulator. Outputs go to `target/dist`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask reports progress to the person or CI running it"
)]

mod bench;
mod bench_envelope;
mod bench_s3;
mod delay_proxy;
mod demo;
mod deploy;
mod e2e;
mod emulator;
mod lint;
mod package;
mod pytools;
mod template;
mod test;
mod tidy;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tasks for developing and shipping kmsrot.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Tell kmsrot's story against a fresh local emulator: init, encrypt and sign, rotate, old
    /// data still readable, status, rollback, and the deletion guard.
    Demo,
    /// Run the local AWS emulator (moto server with kmsrot's fidelity patches) in the foreground.
    Emulator(emulator::EmulatorArgs),
    /// Run every test of the workspace against a fresh local emulator, which is started on a
    /// free 127.0.0.1 port and stopped afterwards, even when tests fail.
    Test(test::TestArgs),
    /// Check formatting and run clippy with warnings denied.
    Lint,
    /// What CI runs: lint, then test.
    Ci,
    /// Measure what the issues name: the release Lambda's size and its start-up time, and S3
    /// re-encryption beside the AWS CLI.
    Bench(bench::BenchArgs),
    /// Build the release Lambda for Amazon Linux 2023 and zip it into target/dist; prints its
    /// size and SHA-256.
    PackageLambda,
    /// Package the Lambda, upload it, and create or update the CloudFormation stack by change
    /// set, streaming its events; prints the stack's outputs (kmsrot-deploy makes the calls;
    /// `cargo xtask deploy --help` lists its arguments).
    Deploy(deploy::PassedOn),
    /// Delete the stack (with --yes; without, list what would be deleted).
    Destroy(deploy::PassedOn),
    /// Check a deployed stack with kmsrot-validate: alias, round trips, rotation, rollback,
    /// metrics, notifications and latency (`cargo xtask validate --help` lists its arguments).
    Validate(deploy::PassedOn),
    /// Lint the CloudFormation template with the pinned cfn-lint.
    LintTemplate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Demo => demo::run(),
        Task::Emulator(args) => emulator::run(&args),
        Task::Test(args) => test::run(&args),
        Task::Lint => lint::run(),
        Task::Ci => lint::run().and_then(|()| test::run(&test::TestArgs::default())),
        Task::Bench(args) => bench::run(&args),
        Task::PackageLambda => package::run(),
        Task::Deploy(args) => deploy::deploy(&args),
        Task::Destroy(args) => deploy::destroy(&args),
        Task::Validate(args) => validate::run(&args),
        Task::LintTemplate => template::lint(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root. Read from the environment `cargo run` sets, not from the path baked in
/// at build time: builds are shared between clones (CI reuses one target folder), and a reused
/// xtask binary must serve the clone that runs it.
fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    Path::new(&manifest_dir)
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// `cargo`, for xtask to run, without the variables `cargo run` set for xtask itself
/// (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …). Build scripts rerun when such a variable changes
/// (ring's watches `CARGO_MANIFEST_DIR`), so a cargo that inherited them would rebuild much of
/// the dependency graph, and the next `cargo xtask` again.
fn cargo() -> std::process::Command {
    let mut command =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        ) || name.starts_with("CARGO_PKG_")
        {
            command.env_remove(name);
        }
    }
    command.current_dir(project_root());
    command
}

/// The workspace's programs, built as `cargo test --workspace` (the README's test command)
/// builds them, and the path of one of them. One build serves the tests, the demo, deploy
/// and validate: a `cargo build -p` of one package would resolve its dependencies' features
/// for that package alone and compile them again, and the next test run again. Cargo's
/// progress shows while it builds.
fn workspace_binary(name: &str) -> anyhow::Result<PathBuf> {
    use std::sync::OnceLock;
    static BUILT: OnceLock<()> = OnceLock::new();
    if BUILT.get().is_none() {
        println!("xtask: building the workspace (cargo test --workspace --no-run)");
        let status = cargo()
            .args(["test", "--workspace", "--locked", "--no-run"])
            .status()
            .map_err(|e| anyhow::anyhow!("running cargo: {e}"))?;
        if !status.success() {
            anyhow::bail!("building the workspace failed ({status})");
        }
        let _ = BUILT.set(());
    }
    Ok(target_dir().join("debug").join(name))
}

/// Cargo's build folder: `CARGO_TARGET_DIR` when set (CI shares one between clones), else
/// `target/` in the workspace.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project_root().join("target"), PathBuf::from)
}

#[cfg(test)]
mod docs {
    use clap::Parser;

    use super::Cli;

    /// Every `cargo xtask` command quoted in the README or `docs/` parses.
    #[test]
    fn every_documented_xtask_command_parses() {
        // `cargo xtask` is one program name here.
        let checked = kmsrot_testsuite::docs::check_commands("cargo xtask", |args| {
            Cli::try_parse_from(&args[1..])
                .map(drop)
                .map_err(|e| e.to_string())
        });
        assert!(checked >= 5, "the docs quote cargo xtask commands");
    }
}
