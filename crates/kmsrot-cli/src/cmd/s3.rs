//! `kmsrot s3`: objects written and read under the key an alias names, the key each object
//! really uses, and bucket default encryption that follows an alias.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kmsrot_core::s3::S3;
use kmsrot_types::AliasRef;
use kmsrot_types::s3::S3Location;

use crate::Global;
use crate::io::{Sink, read_input};
use crate::output::{self, Format, emit, print_json};

/// Arguments of `kmsrot s3`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: S3Command,
}

#[derive(Debug, clap::Subcommand)]
enum S3Command {
    /// Write an object encrypted (SSE-KMS) under the key the alias names now.
    Put(PutArgs),
    /// Read an object, and report the key it was encrypted under.
    Get(GetArgs),
    /// List the objects under a prefix with the key ARN each really uses.
    Keys(KeysArgs),
    /// Show a bucket's default encryption, with warnings; with --alias, set it to follow the
    /// alias.
    DefaultEncryption(DefaultArgs),
}

/// Arguments of `kmsrot s3 put`.
#[derive(Debug, clap::Args)]
struct PutArgs {
    /// Where: s3://BUCKET/KEY.
    #[arg(value_name = "S3_URL")]
    to: S3Location,
    /// The alias whose key encrypts the object: `alias/NAME` or an alias ARN.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Read the object's bytes from FILE [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// The object's Content-Type.
    #[arg(long, value_name = "TYPE")]
    content_type: Option<String>,
}

/// Arguments of `kmsrot s3 get`.
#[derive(Debug, clap::Args)]
struct GetArgs {
    /// Which object: s3://BUCKET/KEY.
    #[arg(value_name = "S3_URL")]
    from: S3Location,
    /// Write the object's bytes to FILE [default: stdout].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Arguments of `kmsrot s3 keys`.
#[derive(Debug, clap::Args)]
struct KeysArgs {
    /// Which objects: s3://BUCKET[/PREFIX].
    #[arg(value_name = "S3_URL")]
    at: S3Location,
    /// Mark which objects are under the key this alias names now.
    #[arg(long, value_name = "ALIAS")]
    alias: Option<AliasRef>,
    /// Objects read at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    concurrency: u16,
}

/// Arguments of `kmsrot s3 default-encryption`.
#[derive(Debug, clap::Args)]
struct DefaultArgs {
    /// The bucket: s3://BUCKET.
    #[arg(value_name = "S3_URL")]
    bucket: S3Location,
    /// Set the default to SSE-KMS under this alias (written as the alias's ARN, so new objects
    /// follow its rotations).
    #[arg(long, value_name = "ALIAS")]
    alias: Option<AliasRef>,
    /// With --alias: enable S3 Bucket Keys, which cut KMS requests.
    #[arg(long, requires = "alias")]
    bucket_key: bool,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let config = global.aws.load().await?;
    let s3 = S3::new(&config);
    let kms = kmsrot_core::Kms::new(&config);
    match args.command {
        S3Command::Put(args) => {
            let body = read_input(args.input.as_deref())?;
            let len = body.len();
            let written = s3
                .put(
                    &args.to,
                    body,
                    args.content_type.as_deref(),
                    &kms.alias(args.alias),
                )
                .await
                .with_context(|| format!("writing {len} bytes to {}", args.to))?;
            emit(
                global.output,
                || &written,
                || {
                    Sink::Stdout.write(
                        format!(
                            "wrote {} under {}{}\n",
                            written.location,
                            written.key_arn,
                            written
                                .version_id
                                .as_ref()
                                .map(|v| format!(" (version {v})"))
                                .unwrap_or_default()
                        )
                        .as_bytes(),
                    )
                },
            )
        }
        S3Command::Get(args) => {
            let sink = Sink::new(args.out);
            if global.output == Format::Text {
                sink.check_binary_ok("object data")?;
            }
            let fetched = s3
                .get(&args.from)
                .await
                .with_context(|| format!("reading {}", args.from))?;
            tracing::info!(encryption = %fetched.encryption.source(), "read {}", args.from);
            match (global.output, &sink) {
                (Format::Json, Sink::Stdout) => print_json(&serde_json::json!({
                    "location": args.from.to_string(),
                    "size": fetched.body.len(),
                    "content_type": fetched.content_type,
                    "encryption": fetched.encryption,
                })),
                _ => sink.write(&fetched.body),
            }
        }
        S3Command::Keys(args) => {
            let current = match &args.alias {
                Some(alias) => Some(S3::target_key(&kms.alias(alias.clone())).await?.key_arn),
                None => None,
            };
            let reports = s3
                .object_keys(&args.at, current.as_ref(), usize::from(args.concurrency))
                .await
                .with_context(|| format!("reading the objects under {}", args.at))?;
            emit(
                global.output,
                || &reports,
                || Sink::Stdout.write(output::object_keys_text(&reports).as_bytes()),
            )
        }
        S3Command::DefaultEncryption(args) => {
            let bucket = &args.bucket.bucket;
            let report = match &args.alias {
                Some(alias) => s3
                    .set_bucket_default(bucket, &kms.alias(alias.clone()), args.bucket_key)
                    .await
                    .with_context(|| format!("setting the default encryption of s3://{bucket}"))?,
                None => {
                    let account = kmsrot_core::identity::caller_account(&config).await.ok();
                    s3.bucket_encryption(bucket, account.as_deref())
                        .await
                        .with_context(|| {
                            format!("reading the default encryption of s3://{bucket}")
                        })?
                }
            };
            emit(
                global.output,
                || &report,
                || Sink::Stdout.write(output::bucket_encryption_text(&report).as_bytes()),
            )
        }
    }
}
