//! `kmsrot sweep` and `kmsrot status`: every managed alias at once.

use anyhow::{Context, Result};
use kmsrot_core::SweepOptions;
use kmsrot_types::AliasName;

use crate::Global;
use crate::exit::SweepFailed;
use crate::output::{STATUS_HEADERS, emit, outcome_lines, print_table, status_notes, status_row};

/// Arguments of `kmsrot sweep`.
#[derive(Debug, clap::Args)]
pub(crate) struct SweepArgs {
    /// Print what is due and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Aliases processed at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// KMS calls per second, across all aliases. KMS allows only a few management calls per
    /// second per account, shared with everything else in it.
    #[arg(long, value_name = "R", default_value_t = 5.0, value_parser = positive_rate)]
    rate: f64,
    /// Where the sweep's metrics go (namespace KMSRotation, dimension Alias): nowhere, or
    /// CloudWatch with PutMetricData. A failure to publish them is reported on stderr and
    /// never fails the sweep.
    #[arg(long, value_enum, default_value_t = MetricsTarget::None)]
    metrics: MetricsTarget,
}

/// `--rate`: a positive number of calls per second (a usage error otherwise).
fn positive_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("{text:?} is not a positive number of calls per second"))
}

/// Where `kmsrot sweep` sends its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MetricsTarget {
    /// Nowhere.
    None,
    /// CloudWatch PutMetricData, in batches.
    Cloudwatch,
}

pub(crate) async fn sweep(global: &Global, args: SweepArgs) -> Result<()> {
    let config = global.aws.load().await?;
    // A sweep may rotate: a new key's policy is checked for the caller.
    let engine = super::told_caller(
        kmsrot_core::Rotator::new(kmsrot_core::Kms::new(&config))
            .with_rate(args.rate)
            .with_tagging_of(&config),
        &config,
    )
    .await;
    let options = SweepOptions {
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        ..SweepOptions::default()
    };
    let report = engine
        .sweep(options)
        .await
        .context("sweeping managed aliases")?;
    emit(
        global.output,
        || &report,
        || {
            let mut out = String::new();
            if report.aliases.is_empty() {
                out.push_str("no managed aliases in this region\n");
            }
            for outcome in &report.aliases {
                for line in outcome_lines(outcome, report.dry_run) {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            out.push_str(&sweep_summary(&report));
            crate::io::Sink::Stdout.write(out.as_bytes())
        },
    )?;
    if args.metrics == MetricsTarget::Cloudwatch && !report.dry_run {
        let outcome = kmsrot_types::Outcome::Swept {
            report: report.clone(),
        };
        let data = kmsrot_core::observe::data_of(&outcome);
        kmsrot_core::Metrics::cloudwatch(&config)
            .publish(&data, kmsrot_core::metrics::now_millis())
            .await;
    }
    match report.failed() {
        0 => Ok(()),
        n => Err(SweepFailed(n).into()),
    }
}

/// The sweep's last lines: orphan keys, what it did not reach, and what it cost.
fn sweep_summary(report: &kmsrot_types::SweepReport) -> String {
    let mut out = String::new();
    for orphan in &report.orphans {
        out.push_str(&crate::output::orphan_text(orphan, report.dry_run));
        out.push('\n');
    }
    if report.not_reached > 0 {
        out.push_str(&format!(
            "{} managed alias(es) not reached before the run's limit; the next run starts at another place\n",
            report.not_reached
        ));
    }
    out.push_str(&format!("{} KMS request(s) sent\n", report.kms_calls));
    out
}

/// Arguments of `kmsrot status`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// Managed aliases to show [default: every managed alias in the region]
    aliases: Vec<AliasName>,
}

pub(crate) async fn status(global: &Global, args: StatusArgs) -> Result<()> {
    // Orphan keys are found by their tags (tag:GetResources), not by reading every key's.
    let config = global.aws.load().await?;
    let engine = kmsrot_core::Rotator::new(kmsrot_core::Kms::new(&config)).with_tagging_of(&config);
    let statuses = if args.aliases.is_empty() {
        engine
            .status_all()
            .await
            .context("reading the managed aliases")?
    } else {
        let mut statuses = Vec::new();
        for alias in &args.aliases {
            statuses.push(
                engine
                    .status(alias)
                    .await
                    .with_context(|| format!("reading {alias}"))?,
            );
        }
        statuses
    };
    emit(
        global.output,
        || &statuses,
        || {
            let rows: Vec<_> = statuses.iter().map(status_row).collect();
            print_table(&STATUS_HEADERS, &rows)?;
            let notes: String = statuses
                .iter()
                .flat_map(status_notes)
                .map(|line| format!("{line}\n"))
                .collect();
            crate::io::Sink::Stdout.write(notes.as_bytes())
        },
    )
}
