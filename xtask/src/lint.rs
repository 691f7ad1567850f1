//! `cargo xtask lint`: formatting and clippy, warnings denied.

use anyhow::Result;
use xshell::{Shell, cmd};

pub(crate) fn run() -> Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(crate::project_root());
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings"
    )
    .run()?;
    Ok(())
}
