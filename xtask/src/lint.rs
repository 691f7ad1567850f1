//! `cargo xtask lint`: formatting and clippy, warnings denied.

use anyhow::{Result, bail};

pub(crate) fn run() -> Result<()> {
    for args in [
        &["fmt", "--all", "--", "--check"][..],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    ] {
        let status = crate::cargo().args(args).status()?;
        if !status.success() {
            bail!("cargo {} failed ({status})", args.join(" "));
        }
    }
    Ok(())
}
