//! `kmsrot audit code`: KMS keys hard-coded in source and configuration, and (with
//! credentials) the alias to name instead. It exits 1 when it finds a key with high
//! confidence, so it can gate CI. `kmsrot audit account`: the compliance of the region's
//! keys and aliases; it exits 1 when something is wrong.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use kmsrot_core::{KmsError, RotationError};
use kmsrot_types::KeyArn;
use kmsrot_types::audit::{AliasHint, CodeFinding, Confidence};

use crate::Global;
use crate::output::emit;

/// Arguments of `kmsrot audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Find KMS key IDs and key ARNs hard-coded in files (respecting .gitignore); exits 1
    /// when it finds one.
    Code(CodeArgs),
    /// Report the compliance of every customer-managed key and alias in the region; exits 1
    /// when something is wrong.
    Account,
}

/// Arguments of `kmsrot audit code`.
#[derive(Debug, clap::Args)]
struct CodeArgs {
    /// Files or directories to search.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Do not look the keys up in KMS (by default, when AWS credentials and a region are
    /// available, each key is looked up and the aliases that name it are suggested).
    #[arg(long)]
    no_lookup: bool,
}

/// The audit found hard-coded keys.
#[derive(Debug, thiserror::Error)]
#[error("{0} hard-coded KMS key reference(s) found; name an alias instead")]
pub(crate) struct KeysFound(pub(crate) usize);

/// The account audit found something wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0} compliance finding(s); see the report")]
pub(crate) struct Noncompliant(pub(crate) usize);

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    match args.command {
        AuditCommand::Code(args) => code(global, args).await,
        AuditCommand::Account => account(global).await,
    }
}

async fn account(global: &Global) -> Result<()> {
    let engine = super::rotator(global).await?;
    let report = engine
        .audit_account()
        .await
        .context("auditing the region's keys and aliases")?;
    emit(
        global.output,
        || &report,
        || crate::io::Sink::Stdout.write(crate::output::account_text(&report).as_bytes()),
    )?;
    match report.problems() {
        0 => Ok(()),
        n => Err(Noncompliant(n).into()),
    }
}

/// The code audit could not read everything.
#[derive(Debug, thiserror::Error)]
#[error("{0} file(s) or directories could not be read, so the audit is incomplete")]
pub(crate) struct Incomplete(pub(crate) usize);

async fn code(global: &Global, args: CodeArgs) -> Result<()> {
    let scan = kmsrot_core::audit::scan_paths(&args.paths)?;
    for why in &scan.unreadable {
        tracing::warn!("audit: cannot read {why}");
    }
    let mut findings = scan.findings;
    if !args.no_lookup {
        look_up(global, &mut findings).await;
    }
    let high = findings
        .iter()
        .filter(|f| f.confidence == Confidence::High)
        .count();
    emit(
        global.output,
        || {
            serde_json::json!({
                "findings": findings,
                "high_confidence": high,
                "low_confidence": findings.len() - high,
                "unreadable": scan.unreadable,
            })
        },
        || crate::io::Sink::Stdout.write(crate::output::audit_text(&findings).as_bytes()),
    )?;
    match (high, scan.unreadable.len()) {
        (0, 0) => Ok(()),
        (0, n) => Err(Incomplete(n).into()),
        (n, _) => Err(KeysFound(n).into()),
    }
}

/// Looks each distinct key up in the configured region: its ARN and the aliases that name
/// it. Without usable AWS configuration, every finding says why it was not looked up.
async fn look_up(global: &Global, findings: &mut [CodeFinding]) {
    let engine = match global.aws.load().await {
        Ok(config) => kmsrot_core::Rotator::new(kmsrot_core::Kms::new(&config)),
        Err(err) => {
            let note = format!("not looked up: {err}");
            for f in findings.iter_mut() {
                f.lookup = Some(note.clone());
            }
            return;
        }
    };
    let region = engine.kms().region().to_owned();
    type Found = Result<(KeyArn, Vec<AliasHint>), String>;
    let mut known: BTreeMap<String, Found> = BTreeMap::new();
    // After a failure other than "no such key" (no credentials, access denied), the other
    // keys would fail the same way: they are not looked up.
    let mut stop: Option<String> = None;
    for f in findings.iter_mut() {
        let arn = f.text.parse::<KeyArn>().ok();
        if let Some(other) = arn
            .as_ref()
            .filter(|a| a.region() != region)
            .map(|a| a.region().to_owned())
        {
            f.lookup = Some(format!(
                "not looked up: the key is in {other}; run with --region {other}"
            ));
            continue;
        }
        if let Some(why) = &stop {
            f.lookup = Some(why.clone());
            continue;
        }
        // KMS key IDs are lower case; the text may not be.
        let query = arn.map_or_else(|| f.key_id.clone(), |a| a.to_string());
        if !known.contains_key(&query) {
            let found = match engine.aliases_naming(&query).await {
                Ok(found) => Ok(found),
                Err(RotationError::Kms(KmsError::NotFound { .. })) => {
                    Err(format!("no such key in {region}"))
                }
                Err(other) => {
                    let why = format!("not looked up: {other}");
                    stop = Some(why.clone());
                    Err(why)
                }
            };
            known.insert(query.clone(), found);
        }
        match &known[&query] {
            Ok((arn, aliases)) => {
                f.key_arn = Some(arn.clone());
                f.aliases = aliases.clone();
                if f.confidence == Confidence::Low {
                    // A look-alike that is a real key of this account is a finding.
                    f.confidence = Confidence::High;
                    f.why = "a key ID of an existing key in this account".into();
                }
            }
            Err(note) => f.lookup = Some(note.clone()),
        }
    }
}
