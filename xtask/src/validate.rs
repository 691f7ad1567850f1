//! `cargo xtask validate`: runs `kmsrot-validate` (kmsrot-testsuite) against a deployed stack,
//! with the arguments given here passed on unread. A `--` among them, which earlier versions
//! needed before kmsrot-validate's own flags, is dropped, so those command lines still work.

use anyhow::Result;

use crate::deploy::{PassedOn, run_tool};

/// `cargo xtask validate`.
pub(crate) fn run(passed: &PassedOn) -> Result<()> {
    let args = passed.args.iter().filter(|arg| *arg != "--");
    run_tool(&crate::workspace_binary("kmsrot-validate")?, args)
}
