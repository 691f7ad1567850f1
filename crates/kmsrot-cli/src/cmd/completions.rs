//! `kmsrot completions SHELL`: the shell completion script, on stdout.

use anyhow::Result;
use clap::CommandFactory;

/// Arguments of `kmsrot completions`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::Cli::command(),
        "kmsrot",
        &mut script,
    );
    crate::io::Sink::Stdout.write(&script)
}
