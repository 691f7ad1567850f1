//! `kmsrot encrypt`: encrypt through an alias.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kmsrot_types::{AliasRef, Ciphertext};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::Global;
use crate::io::{Sink, read_input};
use crate::output::{Format, print_json};

/// Arguments of `kmsrot encrypt`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The alias to encrypt under: `alias/NAME` or an alias ARN. Key IDs are refused, so that
    /// rotations reach every caller.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Encryption context pair; repeat for more. Decryption must give the same pairs.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Read the plaintext from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the ciphertext to FILE [default: stdout].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the ciphertext as base64 text instead of raw bytes.
    #[arg(long)]
    base64: bool,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    alias: &'a AliasRef,
    #[serde(flatten)]
    ciphertext: &'a Ciphertext,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let context = super::context(&args.context)?;
    let sink = Sink::new(args.out);
    let json_only = global.output == Format::Json && matches!(sink, Sink::Stdout);
    if !json_only && !args.base64 {
        sink.check_binary_ok("ciphertext")?;
    }
    let plaintext = Zeroizing::new(read_input(args.input.as_deref())?);
    let kms = super::kms(global).await?.alias(args.alias.clone());
    let ciphertext = kms
        .encrypt(&plaintext, &context)
        .await
        .with_context(|| format!("encrypting {} bytes", plaintext.len()))?;
    tracing::info!(alias = %args.alias, key_arn = %ciphertext.key_arn, "encrypted");
    if !json_only {
        if args.base64 {
            sink.write(format!("{}\n", ciphertext.ciphertext.to_base64()).as_bytes())?;
        } else {
            sink.write(ciphertext.ciphertext.as_slice())?;
        }
    }
    if global.output == Format::Json {
        let mut report = serde_json::to_value(Report {
            alias: &args.alias,
            ciphertext: &ciphertext,
        })?;
        // With -o FILE the file holds the ciphertext; the JSON leaves the payload out.
        if !json_only && let Some(fields) = report.as_object_mut() {
            fields.remove("ciphertext");
        }
        print_json(&report)?;
    }
    Ok(())
}
