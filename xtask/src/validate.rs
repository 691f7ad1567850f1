//! `cargo xtask validate`: runs `kmsrot-validate` (kmsrot-testsuite) against a deployed stack.

use anyhow::{Context, Result, bail};

use crate::deploy::StackArgs;

/// Arguments of `cargo xtask validate`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ValidateArgs {
    #[command(flatten)]
    pub(crate) stack: StackArgs,
    /// More arguments for kmsrot-validate, after `--`; for example `-- --output json`.
    #[arg(last = true)]
    pub(crate) extra: Vec<String>,
}

/// The arguments kmsrot-validate gets for `args`.
pub(crate) fn validator_args(args: &ValidateArgs) -> Vec<String> {
    let mut out = vec!["--stack-name".to_owned(), args.stack.stack_name.clone()];
    let aws = &args.stack.aws;
    for (flag, value) in [
        ("--profile", &aws.profile),
        ("--region", &aws.region),
        ("--endpoint-url", &aws.endpoint_url),
    ] {
        if let Some(value) = value {
            out.extend([flag.to_owned(), value.clone()]);
        }
    }
    if let Some(attempts) = aws.max_attempts {
        out.extend(["--max-attempts".to_owned(), attempts.to_string()]);
    }
    out.extend(args.extra.iter().cloned());
    out
}

/// `cargo xtask validate`.
pub(crate) fn run(args: &ValidateArgs) -> Result<()> {
    let status = crate::cargo()
        .args(["run", "--quiet", "--locked", "-p", "kmsrot-testsuite"])
        .args(["--bin", "kmsrot-validate", "--"])
        .args(validator_args(args))
        .status()
        .context("running kmsrot-validate")?;
    if !status.success() {
        bail!("kmsrot-validate exited with {status}");
    }
    Ok(())
}
