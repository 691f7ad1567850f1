//! Project tasks for kmsrot, in the rust-analyzer shape: `cargo xtask <task>`.
//!
//! xtask is the only place that starts the local AWS emulator. Outputs go to `target/dist`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask reports progress to the person or CI running it"
)]

mod bench;
mod demo;
mod emulator;
mod lint;
mod test;
mod tidy;

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
    /// Measure what the issues name: the release Lambda's size and its start-up time.
    Bench,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Demo => demo::run(),
        Task::Emulator(args) => emulator::run(&args),
        Task::Test(args) => test::run(&args),
        Task::Lint => lint::run(),
        Task::Ci => lint::run().and_then(|()| test::run(&test::TestArgs::default())),
        Task::Bench => bench::run(),
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
