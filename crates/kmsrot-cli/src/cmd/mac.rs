//! `kmsrot mac` and `kmsrot verify-mac`: HMACs that carry the ARN of the key that made them,
//! so they verify after the alias moves to a new HMAC key.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kmsrot_types::{AliasRef, Mac};

use crate::Global;
use crate::io::{Sink, read_document, read_input};
use crate::output::{Checked, print_verified, render_json};

/// Arguments of `kmsrot mac`.
#[derive(Debug, clap::Args)]
pub(crate) struct MacArgs {
    /// The alias of an HMAC key (usage GENERATE_VERIFY_MAC).
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Read the message (at most 4096 bytes) from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the MAC document (JSON: key ARN, algorithm, MAC) to FILE [default: stdout].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) async fn mac(global: &Global, args: MacArgs) -> Result<()> {
    let message = read_input(args.input.as_deref())?;
    let kms = super::kms(global).await?.alias(args.alias.clone());
    let mac = kms
        .generate_mac(&message)
        .await
        .with_context(|| format!("computing the MAC of {} bytes", message.len()))?;
    Sink::new(args.out).write(&render_json(&mac)?)
}

/// Arguments of `kmsrot verify-mac`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyMacArgs {
    /// The MAC document `kmsrot mac` wrote.
    #[arg(long, value_name = "FILE")]
    mac: PathBuf,
    /// Read the message from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    #[command(flatten)]
    trust: super::sign::TrustArgs,
}

pub(crate) async fn verify_mac(global: &Global, args: VerifyMacArgs) -> Result<()> {
    let mac: Mac = read_document(&args.mac, "MAC")?;
    let message = read_input(args.input.as_deref())?;
    let kms = super::kms(global).await?;
    let trusted = args.trust.trusted(&kms).await?;
    let region = kms.region().to_owned();
    super::sign::check_signer(trusted.as_ref(), &mac.key_arn, &region)?;
    let signer = kms
        .verify_mac(&message, &mac)
        .await
        .context("verifying the MAC")?;
    super::sign::check_signer(trusted.as_ref(), &signer, &region)?;
    let checked = if trusted.is_some() {
        Checked::Signer
    } else {
        Checked::NotSigner
    };
    print_verified(global.output, "made", &signer, checked)?;
    if trusted.is_none() {
        return Err(super::sign::Unchecked("MAC").into());
    }
    Ok(())
}
