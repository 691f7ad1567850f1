//! `kmsrot-validate`: checks a deployed kmsrot stack from its outputs and prints a pass/fail
//! table (or JSON). Exits 0 when every check passed or was skipped, 1 when one failed, 2 on
//! bad arguments or configuration.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on stdout and stderr"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use kmsrot_core::config::AwsOptions;
use kmsrot_testsuite::validate::{Options, Report, Verdict, validate};

/// Validate a deployed kmsrot stack: alias resolution, round trips through the alias, a
/// rotation with old data still readable, rollback, notifications, metrics, and latency.
///
/// It rotates the stack's alias once (and, in manual mode, rolls it back), as an operator
/// would; run it after a deploy, not against an alias in the middle of a change.
#[derive(Debug, Parser)]
#[command(name = "kmsrot-validate", version)]
struct Args {
    /// The stack `cargo xtask deploy` made.
    #[arg(long, default_value = "kmsrot", value_name = "NAME")]
    stack_name: String,
    #[command(flatten)]
    aws: AwsOptions,
    /// Round trips timed for the latency figures.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=10_000))]
    samples: u16,
    /// Seconds to wait for notifications and metrics (CloudWatch takes a minute or two to list
    /// a new metric).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    wait: u64,
    /// Run this `bootstrap` on this machine, under a local Lambda Runtime API with the deployed
    /// function's environment, instead of invoking the function through Lambda. For endpoints
    /// that cannot run functions, such as the local emulator.
    #[arg(long, value_name = "BOOTSTRAP")]
    local_runtime: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = match args.aws.load().await {
        Ok(config) => config,
        Err(err) => {
            eprintln!("kmsrot-validate: {err}");
            return ExitCode::from(2);
        }
    };
    let options = Options {
        stack_name: args.stack_name,
        samples: usize::from(args.samples),
        wait: Duration::from_secs(args.wait),
        local_runtime: args.local_runtime,
        endpoint_url: args.aws.endpoint_url,
    };
    let report = validate(&config, &options).await;
    match args.output {
        Output::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                eprintln!("kmsrot-validate: {err}");
                return ExitCode::FAILURE;
            }
        },
        Output::Text => print!("{}", table(&report)),
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn table(report: &Report) -> String {
    let mut out = format!(
        "kmsrot-validate: stack {} in {} (function run by {})\n\n",
        report.stack_name, report.region, report.invoked_by
    );
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    out.push_str(&format!("{:<width$}  result  detail\n", "check"));
    for check in &report.checks {
        let verdict = match check.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        out.push_str(&format!(
            "{:<width$}  {verdict:<6}  {}\n",
            check.name, check.detail
        ));
    }
    if !report.latency.is_empty() {
        out.push_str("\noperation    calls   p50 ms   p99 ms\n");
        for l in &report.latency {
            out.push_str(&format!(
                "{:<11}  {:>5}  {:>7.1}  {:>7.1}\n",
                l.operation, l.samples, l.p50_ms, l.p99_ms
            ));
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .count();
    out.push_str(&if failed == 0 {
        "\nall checks passed\n".to_owned()
    } else {
        format!("\n{failed} check(s) FAILED\n")
    });
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Args;

    /// Every `kmsrot-validate` command quoted in the README or `docs/` parses.
    #[test]
    fn every_documented_command_parses() {
        let checked = kmsrot_testsuite::docs::check_commands("kmsrot-validate", |args| {
            Args::try_parse_from(args)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        assert!(checked >= 1, "the deployment guide quotes kmsrot-validate");
    }

    /// Every `cargo xtask validate` command quoted in the README or `docs/` parses as this
    /// program's arguments: xtask passes them on unread, less a `--` separator.
    #[test]
    fn every_documented_xtask_validate_command_parses() {
        let ours = std::cell::Cell::new(0);
        kmsrot_testsuite::docs::check_commands("cargo xtask", |args| {
            // Split as `cargo`, `xtask`, `validate`, ….
            if args.get(2).map(String::as_str) != Some("validate") {
                return Ok(());
            }
            ours.set(ours.get() + 1);
            let args = std::iter::once("kmsrot-validate".to_owned())
                .chain(args[3..].iter().filter(|arg| *arg != "--").cloned());
            Args::try_parse_from(args)
                .map(drop)
                .map_err(|e| e.to_string())
        });
        assert!(ours.get() >= 2, "the docs quote cargo xtask validate");
    }
}
