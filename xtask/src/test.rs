//! `cargo xtask test`: cfn-lint over the template, then the whole workspace's tests against a
//! fresh local emulator (with the pinned aws-encryption-cli for the envelope tests), then the end-to-end deploy, validate and destroy (`e2e.rs`) against
//! the same emulator.

use anyhow::{Context, Result, bail};

use crate::emulator::{Emulator, TEST_SEED_ALIAS};

/// Arguments of `cargo xtask test`.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct TestArgs {
    /// Skip the end-to-end deploy, validate and destroy that follows the tests.
    #[arg(long)]
    no_e2e: bool,
    /// Extra arguments for `cargo test`, after `--`; for example `-- -p kmsrot-types`.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

pub(crate) fn run(args: &TestArgs) -> Result<()> {
    crate::template::lint()?;
    // The envelope tests run aws-encryption-cli against the same emulator.
    let esdk_cli = crate::pytools::install(crate::pytools::ESDK_CLI)?
        .bin()
        .join("aws-encryption-cli");
    let emulator = Emulator::start(None, Some(TEST_SEED_ALIAS))?;
    println!("xtask: emulator ready at {}", emulator.endpoint());
    let mut command = crate::cargo();
    for name in Emulator::foreign_env() {
        command.env_remove(name);
    }
    let status = command
        .current_dir(crate::project_root())
        .args(["test", "--workspace", "--locked"])
        .args(&args.cargo_args)
        .envs(emulator.client_env())
        .env("KMSROT_TEST_SEED_ALIAS", TEST_SEED_ALIAS)
        .env("KMSROT_TEST_ESDK_CLI", &esdk_cli)
        .status()
        .context("running cargo test")?;
    let e2e = if status.success() && !args.no_e2e {
        crate::e2e::run(&emulator)
    } else {
        Ok(())
    };
    // Stopping explicitly (Drop would too) so that the emulator's log is kept on failure.
    let log = emulator.stop();
    if let Err(err) = e2e {
        eprintln!(
            "xtask: the end-to-end test failed; the emulator's log is at {}",
            log.display()
        );
        return Err(err);
    }
    if !status.success() {
        eprintln!(
            "xtask: tests failed; the emulator's log is at {}",
            log.display()
        );
        bail!("cargo test exited with {status}");
    }
    Ok(())
}
