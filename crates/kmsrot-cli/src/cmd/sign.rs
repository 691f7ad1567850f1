//! `kmsrot sign` and `kmsrot verify`: signatures that carry the ARN of the key that made
//! them, so they verify after the alias moves.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kmsrot_types::{AliasRef, Signature};

use crate::Global;
use crate::io::{Sink, read_document, read_input};
use crate::output::{print_verified, render_json};

/// Arguments of `kmsrot sign`.
#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The alias of an asymmetric SIGN_VERIFY key.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Read the message (at most 4096 bytes) from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the signature document (JSON: key ARN, algorithm, signature) to FILE
    /// [default: stdout].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(crate) async fn sign(global: &Global, args: SignArgs) -> Result<()> {
    let message = read_input(args.input.as_deref())?;
    let kms = super::kms(global).await?.alias(args.alias.clone());
    let signature = kms
        .sign(&message)
        .await
        .with_context(|| format!("signing {} bytes", message.len()))?;
    Sink::new(args.out).write(&render_json(&signature)?)
}

/// Arguments of `kmsrot verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The signature document `kmsrot sign` wrote.
    #[arg(long, value_name = "FILE")]
    signature: PathBuf,
    /// Read the message from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
}

pub(crate) async fn verify(global: &Global, args: VerifyArgs) -> Result<()> {
    let signature: Signature = read_document(&args.signature, "signature")?;
    let message = read_input(args.input.as_deref())?;
    let kms = super::kms(global).await?;
    kms.verify(&message, &signature)
        .await
        .context("verifying")?;
    print_verified(global.output, "signed", &signature.key_arn)
}
