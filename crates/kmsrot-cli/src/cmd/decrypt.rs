//! `kmsrot decrypt`: decrypt a symmetric ciphertext, whichever key of the alias's history made
//! it. KMS finds the key from the ciphertext; kmsrot never names it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kmsrot_types::{AliasRef, Base64Bytes, KeyArn};
use serde::Serialize;

use crate::Global;
use crate::io::{Sink, read_input};
use crate::output::{Format, print_json};

/// Arguments of `kmsrot decrypt`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Encryption context pair used at encryption; repeat for more.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Read the ciphertext from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Write the plaintext to FILE [default: stdout].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// The input is base64 text (as `kmsrot encrypt --base64` writes it).
    #[arg(long)]
    base64: bool,
    /// The alias the data belongs to: the key that decrypted must be its current key or a key
    /// of its history (as kmsrot's tags record it), or the plaintext is dropped and the
    /// command fails
    #[arg(long, value_name = "ALIAS")]
    alias: Option<AliasRef>,
}

#[derive(Debug, Serialize)]
struct Report {
    key_arn: KeyArn,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<Base64Bytes>,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let context = super::context(&args.context)?;
    let sink = Sink::new(args.out);
    let json_only = global.output == Format::Json && matches!(sink, Sink::Stdout);
    let input = read_input(args.input.as_deref())?;
    let ciphertext = if args.base64 {
        let usage = |why: &str| crate::exit::UsageError(format!("the --base64 input {why}"));
        let text = std::str::from_utf8(&input).map_err(|_| usage("is not text"))?;
        STANDARD
            .decode(text.trim())
            .map_err(|err| usage(&format!("is not valid base64 ({err})")))?
    } else {
        input
    };
    let kms = super::kms(global).await?;
    let decrypted = match &args.alias {
        Some(alias) => {
            kms.alias(alias.clone())
                .decrypt(&ciphertext, &context)
                .await
        }
        None => kms.decrypt(&ciphertext, &context).await,
    }
    .with_context(|| format!("decrypting {} bytes of ciphertext", ciphertext.len()))?;
    tracing::info!(key_arn = %decrypted.key_arn, "decrypted");
    if json_only {
        return print_json(&Report {
            key_arn: decrypted.key_arn,
            plaintext: Some(decrypted.plaintext.expose().to_vec().into()),
        });
    }
    sink.write(decrypted.plaintext.expose())?;
    if global.output == Format::Json {
        print_json(&Report {
            key_arn: decrypted.key_arn,
            plaintext: None,
        })?;
    }
    Ok(())
}
