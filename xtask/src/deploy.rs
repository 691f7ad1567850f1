//! `cargo xtask deploy` and `cargo xtask destroy`: xtask packages the Lambda, and
//! `kmsrot-deploy` (crates/kmsrot-deploy) makes the AWS calls, with the arguments given here
//! passed on unread. So xtask itself has no AWS SDK crate, and starts in seconds.
//!
//! A deploy runs `kmsrot-deploy deploy --check-only` first (the parameters, the template and
//! the stack's state), so that a mistake costs seconds rather than a release build; then it
//! packages the Lambda, and runs `kmsrot-deploy deploy --artifact ZIP`, which checks again
//! (the stack may have changed during the build) and deploys.

use std::ffi::OsStr;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The arguments of `deploy`, `destroy` or `validate`, passed on to the program that makes
/// the AWS calls; `--help` shows that program's own help.
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct PassedOn {
    /// Arguments for the program, `--help` to list them (for example `--stack-name NAME
    /// --region REGION --parameter AliasName=alias/app`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub(crate) args: Vec<String>,
}

impl PassedOn {
    pub(crate) fn wants_help(&self) -> bool {
        self.args.iter().any(|a| a == "--help" || a == "-h")
    }
}

/// Runs `program` with `args`, from the workspace root, failing when it fails.
pub(crate) fn run_tool<I, S>(program: &Path, args: I) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let name = program.file_name().unwrap_or_default().to_string_lossy();
    let status = std::process::Command::new(program)
        .current_dir(crate::project_root())
        .args(args)
        .status()
        .with_context(|| format!("running {name}"))?;
    if !status.success() {
        bail!("{name} exited with {status}");
    }
    Ok(())
}

/// `cargo xtask deploy`.
pub(crate) fn deploy(passed: &PassedOn) -> Result<()> {
    let deployer = crate::workspace_binary("kmsrot-deploy")?;
    if passed.wants_help() {
        return run_tool(&deployer, ["deploy", "--help"]);
    }
    run_tool(
        &deployer,
        ["deploy", "--check-only"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(passed.args.iter().cloned()),
    )?;
    let package = crate::package::build()?;
    run_tool(
        &deployer,
        ["deploy".to_owned(), "--artifact".to_owned()]
            .into_iter()
            .chain([package.zip.display().to_string()])
            .chain(passed.args.iter().cloned()),
    )
}

/// `cargo xtask destroy`.
pub(crate) fn destroy(passed: &PassedOn) -> Result<()> {
    let deployer = crate::workspace_binary("kmsrot-deploy")?;
    run_tool(
        &deployer,
        std::iter::once("destroy".to_owned()).chain(passed.args.iter().cloned()),
    )
}
