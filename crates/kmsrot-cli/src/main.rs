//! `kmsrot`: alias-safe KMS encryption and safe key rotation from the shell.
//!
//! This binary is the only place in kmsrot that formats for people. Every command also speaks
//! `--output json` for scripts. Exit codes are listed in [`exit`] and in the README.

#![allow(
    clippy::print_stderr,
    reason = "the CLI reports errors to the person running it on stderr"
)]

mod cmd;
mod exit;
mod io;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kmsrot_core::config::AwsOptions;

use crate::output::Format;

/// Alias-safe AWS KMS encryption and key rotation.
///
/// Applications name keys only through aliases; kmsrot keeps what they encrypted, signed or
/// MACed usable when the alias moves to a new key.
/// The heading of the options every command takes, apart from each command's own.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(name = "kmsrot", version, propagate_version = true)]
struct Cli {
    /// More diagnostics on stderr: -v info, -vv debug, -vvv trace. Never plaintext or keys.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    verbose: u8,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text, help_heading = GLOBAL)]
    output: Format,
    #[command(flatten, next_help_heading = GLOBAL)]
    aws: AwsOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Encrypt up to 4096 bytes under the key an alias names.
    Encrypt(cmd::encrypt::Args),
    /// Decrypt a symmetric ciphertext, whichever key of the alias's history made it.
    Decrypt(cmd::decrypt::Args),
    /// Envelope encryption in the AWS Encryption SDK's format: data of any size, and rewrap
    /// after a rotation.
    Envelope(cmd::envelope::Args),
    /// Show the key behind an alias (or a key ID or ARN): spec, usage, state, rotation.
    Describe(cmd::describe::Args),
    /// Sign a message through an alias; the signature records the key ARN.
    Sign(cmd::sign::SignArgs),
    /// Verify a signature with the exact key that made it.
    Verify(cmd::sign::VerifyArgs),
    /// Compute an HMAC through an alias; the MAC document records the key ARN.
    Mac(cmd::mac::MacArgs),
    /// Verify a MAC document with the exact key that made it.
    VerifyMac(cmd::mac::VerifyMacArgs),
    /// Create a key and an alias for it, under a rotation policy.
    Init(cmd::manage::InitArgs),
    /// Start managing an existing alias and its key (tags only; nothing else changes).
    Adopt(cmd::manage::AdoptArgs),
    /// Rotate a managed alias now: a new key (manual mode) or new key material (automatic).
    Rotate(cmd::rotate::RotateArgs),
    /// Move a managed alias back to its previous key, restoring that key if needed.
    Rollback(cmd::rotate::RollbackArgs),
    /// Bring every managed alias in line with its policy: rotate, retire, delete, repair.
    Sweep(cmd::fleet::SweepArgs),
    /// Show managed aliases: keys, mode, stage, age, next rotation, compliance.
    Status(cmd::fleet::StatusArgs),
    /// Undo the disabling or scheduled deletion of a key a managed alias still needs.
    Guard(cmd::guard::Args),
    /// Release the hold a failed use put on an old key, so that its retirement can go on.
    Release(cmd::guard::ReleaseArgs),
    /// Run one Lambda event or request (for example from its dead-letter queue) locally.
    Event(cmd::event::Args),
    /// Audit: hard-coded KMS keys in files (`audit code`), or the region's key and alias
    /// compliance (`audit account`).
    Audit(cmd::audit::Args),
    /// Move stored S3 objects to the key an alias names now (resumable; --dry-run to preview).
    Reencrypt(cmd::reencrypt::Args),
    /// S3 through aliases: put and get objects, the key each object uses, bucket defaults.
    S3(cmd::s3::Args),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(cmd::completions::Args),
}

/// What every command receives: the output format and the AWS options.
#[derive(Debug)]
struct Global {
    output: Format,
    aws: AwsOptions,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(exit::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return exit::report(&anyhow::Error::new(err).context("starting the runtime")),
    };
    let global = Global {
        output: cli.output,
        aws: cli.aws,
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Encrypt(args) => cmd::encrypt::run(&global, args).await,
            Command::Decrypt(args) => cmd::decrypt::run(&global, args).await,
            Command::Envelope(args) => cmd::envelope::run(&global, args).await,
            Command::Describe(args) => cmd::describe::run(&global, args).await,
            Command::Sign(args) => cmd::sign::sign(&global, args).await,
            Command::Verify(args) => cmd::sign::verify(&global, args).await,
            Command::Mac(args) => cmd::mac::mac(&global, args).await,
            Command::VerifyMac(args) => cmd::mac::verify_mac(&global, args).await,
            Command::Init(args) => cmd::manage::init(&global, args).await,
            Command::Adopt(args) => cmd::manage::adopt(&global, args).await,
            Command::Rotate(args) => cmd::rotate::rotate(&global, args).await,
            Command::Rollback(args) => cmd::rotate::rollback(&global, args).await,
            Command::Sweep(args) => cmd::fleet::sweep(&global, args).await,
            Command::Status(args) => cmd::fleet::status(&global, args).await,
            Command::Guard(args) => cmd::guard::run(&global, args).await,
            Command::Release(args) => cmd::guard::release(&global, args).await,
            Command::Event(args) => cmd::event::run(&global, args).await,
            Command::Audit(args) => cmd::audit::run(&global, args).await,
            Command::Reencrypt(args) => cmd::reencrypt::run(&global, args).await,
            Command::S3(args) => cmd::s3::run(&global, args).await,
            Command::Completions(args) => cmd::completions::run(&args),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => exit::report(&err),
    }
}

/// Diagnostics go to stderr. kmsrot's own crates follow `-v`; the SDK and HTTP crates are
/// capped at debug, because their trace level can print request bodies, and logs must never
/// contain plaintext, data keys or ciphertext bodies.
fn init_tracing(verbose: u8) {
    let (ours, theirs) = match verbose {
        0 => ("warn", "warn"),
        1 => ("info", "warn"),
        2 => ("debug", "info"),
        _ => ("trace", "debug"),
    };
    // aws-config warns, once per provider, that it found no region in IMDS (a Debug dump of
    // the error); kmsrot says what to do itself, so those wait for -vv.
    let config = if verbose < 2 { "error" } else { theirs };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{theirs},aws_config={config},kmsrot={ours},kmsrot_core={ours},kmsrot_cli={ours},kmsrot_lambda={ours}"
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbose > 1)
        .init();
}

/// The docs stay true to the flags: every command has a section in `docs/CLI.md`, and every
/// `kmsrot` command quoted in the README or `docs/` parses.
#[cfg(test)]
mod docs {
    use clap::{CommandFactory, Parser};

    use super::Cli;

    fn read() -> String {
        let path = kmsrot_testsuite::docs::workspace_root().join("docs/CLI.md");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn examples(text: &str) -> Vec<String> {
        kmsrot_testsuite::docs::commands(text, "kmsrot")
    }

    #[test]
    fn every_documented_example_parses() {
        let in_cli_md = examples(&read());
        assert!(in_cli_md.len() >= 30, "{in_cli_md:?}");
        let checked = kmsrot_testsuite::docs::check_commands("kmsrot", |args| {
            Cli::try_parse_from(args)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        assert!(checked >= in_cli_md.len(), "README and the docs");
    }

    /// `kmsrot init --help` and the README name every key spec of the key-kind table.
    #[test]
    fn init_help_and_the_readme_name_every_key_spec() {
        let command = Cli::command();
        let init = command.find_subcommand("init").expect("init");
        let help = init
            .get_arguments()
            .find(|arg| arg.get_id() == "key_spec")
            .and_then(|arg| arg.get_help())
            .expect("--key-spec has help")
            .to_string();
        let readme = kmsrot_testsuite::docs::workspace_root().join("README.md");
        let readme = std::fs::read_to_string(readme).unwrap();
        for (name, text) in [("kmsrot init --help", help), ("README.md", readme)] {
            let words: std::collections::BTreeSet<&str> = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .collect();
            for spec in kmsrot_types::key_kind::SPECS {
                assert!(
                    words.contains(spec.spec),
                    "{name} does not name {}",
                    spec.spec
                );
            }
        }
    }

    #[test]
    fn every_command_has_a_section() {
        let docs = read();
        for command in Cli::command().get_subcommands() {
            let name = command.get_name();
            if name != "help" {
                let heading = format!("\n## kmsrot {name}\n");
                let Some(start) = docs.find(&heading) else {
                    panic!("docs/CLI.md has no section for `kmsrot {name}`");
                };
                let section = &docs[start + heading.len()..];
                let section = &section[..section.find("\n## ").unwrap_or(section.len())];
                assert!(
                    examples(section)
                        .iter()
                        .any(|e| e.starts_with(&format!("kmsrot {name}"))),
                    "docs/CLI.md's section on `kmsrot {name}` has no example of it"
                );
            }
        }
    }
}
