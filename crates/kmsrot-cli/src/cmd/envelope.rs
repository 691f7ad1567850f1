//! `kmsrot envelope`: data of any size in the AWS Encryption SDK's message format, which the
//! ESDKs and `aws-encryption-cli` read and write; and rewrap, which moves messages to the key
//! an alias names now without touching their data.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use kmsrot_core::envelope::{
    CommitmentPolicy, DecryptOptions, EncryptOptions, Release, RewrapOutcome, Trust,
};
use kmsrot_core::s3::{
    ObjectOutcome, ObjectReader, ObjectUpload, ObjectWriter, Progress, RewrapOptions, S3, Uploaded,
};
use kmsrot_types::s3::{ObjectFailure, RewrapReport, S3Location};
use kmsrot_types::{AliasRef, KeyArn, Partition};
use serde::Serialize;

use crate::Global;
use crate::exit::{Interrupted, ObjectsFailed, UsageError};
use crate::io::Sink;
use crate::output::{self, Format, emit};

/// Arguments of `kmsrot envelope`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Encrypt data of any size into an AWS Encryption SDK message, its data key made through
    /// an alias.
    Encrypt(EncryptArgs),
    /// Decrypt an AWS Encryption SDK message whose data key a trusted KMS key wrapped.
    Decrypt(DecryptArgs),
    /// Move messages (files, or objects under an S3 prefix) to the key an alias names now,
    /// without decrypting their data.
    Rewrap(RewrapArgs),
}

/// Arguments of `kmsrot envelope encrypt`.
#[derive(Debug, clap::Args)]
pub(crate) struct EncryptArgs {
    /// The alias whose key makes the data key: `alias/NAME` or an alias ARN. Key IDs are
    /// refused, so that rotations reach every caller.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Encryption context pair, stored in the message and given to KMS; repeat for more.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Read the plaintext from FILE, or from the object s3://BUCKET/KEY [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE|S3_URL")]
    input: Option<PathBuf>,
    /// Write the message to FILE, or to the object s3://BUCKET/KEY [default: stdout]. Either
    /// appears only once the whole message is written.
    #[arg(short = 'o', long = "out", value_name = "FILE|S3_URL")]
    out: Option<PathBuf>,
    /// Bytes of plaintext per frame.
    #[arg(long, value_name = "BYTES", default_value_t = kmsrot_core::envelope::DEFAULT_FRAME_LENGTH,
          value_parser = clap::value_parser!(u32).range(1..))]
    frame_length: u32,
    /// Suite 0x0478 (AES-256-GCM, HKDF-SHA512, key commitment) without the ECDSA P-384
    /// signature of the default, 0x0578. Faster to write, and rewrapped without reading the
    /// data; but anyone who can decrypt can also forge a message.
    #[arg(long)]
    unsigned: bool,
}

/// Arguments of `kmsrot envelope decrypt`.
#[derive(Debug, clap::Args)]
pub(crate) struct DecryptArgs {
    /// Trust exactly the keys of this alias's history, as kmsrot's tags record it [default:
    /// any key of the caller's own account and partition].
    #[arg(long, value_name = "ALIAS", conflicts_with = "discovery_account")]
    alias: Option<AliasRef>,
    /// Trust any key of this AWS account (in the Region's partition), for data from other
    /// writers.
    #[arg(long, value_name = "ACCOUNT")]
    discovery_account: Option<String>,
    /// Encryption context pair the message must hold; repeat for more.
    #[arg(short = 'c', long = "context", value_name = "KEY=VALUE")]
    context: Vec<String>,
    /// Read the message from FILE, or from the object s3://BUCKET/KEY [default: stdin].
    #[arg(short = 'i', long = "in", value_name = "FILE|S3_URL")]
    input: Option<PathBuf>,
    /// Write the plaintext to FILE, or to the object s3://BUCKET/KEY (encrypted at rest as the
    /// bucket's default says) [default: stdout]. Either appears only once the whole message
    /// verified.
    #[arg(short = 'o', long = "out", value_name = "FILE|S3_URL")]
    out: Option<PathBuf>,
    /// Also read messages in suites without key commitment (the commitment policy
    /// require-encrypt-allow-decrypt), for data written by ESDKs before version 2.
    #[arg(long)]
    allow_non_committing: bool,
    /// Refuse messages with more encrypted data keys than this.
    #[arg(long, value_name = "N")]
    max_encrypted_data_keys: Option<usize>,
}

/// Arguments of `kmsrot envelope rewrap`.
#[derive(Debug, clap::Args)]
pub(crate) struct RewrapArgs {
    /// Move messages to the key this alias names now, from the keys of its history.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Files, rewrapped in place atomically; or one s3://BUCKET[/PREFIX].
    #[arg(value_name = "FILE|S3_URL", required = true)]
    targets: Vec<String>,
    /// Change nothing: report what would move.
    #[arg(long)]
    dry_run: bool,
    /// S3: the checkpoint file; finished objects are recorded in it, and a run given an
    /// existing file skips them [default: a new file in the current directory, removed when
    /// the run completes without failures].
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// S3: objects handled at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Refuse messages with more encrypted data keys than this.
    #[arg(long, value_name = "N")]
    max_encrypted_data_keys: Option<usize>,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    match args.command {
        Command::Encrypt(args) => encrypt(global, args).await,
        Command::Decrypt(args) => decrypt(global, args).await,
        Command::Rewrap(args) => rewrap(global, args).await,
    }
}

/// The object an `-i`/`-o` argument names, when it is an `s3://` URL.
fn s3_location(path: &Path) -> Result<Option<S3Location>> {
    match path.to_str() {
        Some(url) if url.starts_with("s3://") => {
            Ok(Some(url.parse().map_err(|e| UsageError(format!("{e}")))?))
        }
        _ => Ok(None),
    }
}

/// A stream's source, and its length when known: a file, an S3 object, or stdin.
async fn open_input(
    path: Option<&Path>,
    config: &kmsrot_core::config::SdkConfig,
) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    let Some(path) = path.filter(|p| *p != Path::new("-")) else {
        return Ok((
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())),
            None,
        ));
    };
    if let Some(at) = s3_location(path)? {
        let reader: ObjectReader = S3::new(config)
            .object_reader(&at)
            .await
            .with_context(|| format!("reading {at}"))?;
        let length = reader.len();
        return Ok((Box::new(BufReader::with_capacity(1 << 20, reader)), length));
    }
    let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let length = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(1 << 20, file)), length))
}

/// Where a command's stream goes: a temporary file beside the named one (readable by its
/// owner only), renamed over it once the command succeeded; an S3 multipart upload, completed
/// then; or stdout.
enum Output {
    File(PathBuf, tempfile::NamedTempFile),
    S3(ObjectUpload),
    Stdout,
}

/// The writing end of an [`Output`], which the stream owns while it runs.
enum Writer {
    File(BufWriter<File>),
    S3(ObjectWriter),
    Stdout(BufWriter<std::io::Stdout>),
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::File(w) => w.write(buf),
            Self::S3(w) => w.write(buf),
            Self::Stdout(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::File(w) => w.flush(),
            Self::S3(w) => w.flush(),
            Self::Stdout(w) => w.flush(),
        }
    }
}

impl Output {
    fn new(
        out: Option<PathBuf>,
        config: &kmsrot_core::config::SdkConfig,
        global: &Global,
        what: &str,
    ) -> Result<(Self, Writer)> {
        if let Some(at) = out.as_deref().map(s3_location).transpose()?.flatten() {
            let (writer, upload) = S3::new(config)
                .object_writer(&at)
                .with_context(|| format!("writing {at}"))?;
            return Ok((Self::S3(upload), Writer::S3(writer)));
        }
        match Sink::new(out) {
            Sink::File(path) => {
                let folder = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let temp = tempfile::Builder::new()
                    .prefix(".kmsrot-")
                    .tempfile_in(folder)
                    .with_context(|| format!("making a temporary file in {}", folder.display()))?;
                let file = temp
                    .as_file()
                    .try_clone()
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok((
                    Self::File(path, temp),
                    Writer::File(BufWriter::with_capacity(1 << 20, file)),
                ))
            }
            sink @ Sink::Stdout => {
                if global.output == Format::Json {
                    return Err(UsageError(format!(
                        "--output json prints a report on stdout: give -o FILE for the {what}"
                    ))
                    .into());
                }
                sink.check_binary_ok(what)?;
                Ok((
                    Self::Stdout,
                    Writer::Stdout(BufWriter::with_capacity(1 << 20, std::io::stdout())),
                ))
            }
        }
    }

    /// Whether what is written appears only once the command succeeds.
    fn atomic(&self) -> bool {
        !matches!(self, Self::Stdout)
    }

    /// Makes the output appear: the file renamed over the named one, or the object made.
    async fn finish(self, writer: Writer) -> Result<Option<Uploaded>> {
        match (self, writer) {
            (Self::File(path, temp), writer) => {
                drop(writer);
                temp.as_file()
                    .sync_all()
                    .with_context(|| format!("writing {}", path.display()))?;
                temp.persist(&path)
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(None)
            }
            (Self::S3(upload), Writer::S3(writer)) => Ok(Some(upload.complete(writer).await?)),
            _ => Ok(None),
        }
    }

    /// Leaves nothing behind after `err`: the temporary file is removed, the upload aborted.
    /// When the upload itself failed first, its error is the one to report.
    async fn fail(self, err: anyhow::Error) -> anyhow::Error {
        match self {
            Self::S3(upload) => match upload.abort().await {
                Some(upload_err) => anyhow::Error::new(upload_err).context(format!("{err:#}")),
                None => err,
            },
            Self::File(..) | Self::Stdout => err,
        }
    }
}

#[derive(Debug, Serialize)]
struct EncryptReport<'a> {
    alias: &'a AliasRef,
    key_arn: String,
    suite: String,
    frame_length: u32,
    plaintext_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Uploaded>,
}

async fn encrypt(global: &Global, args: EncryptArgs) -> Result<()> {
    let context = super::context(&args.context)?;
    let config = global.aws.load().await?;
    let (input, length) = open_input(args.input.as_deref(), &config).await?;
    let (output, writer) = Output::new(args.out, &config, global, "message")?;
    let alias = super::kms(global).await?.alias(args.alias.clone());
    let options = EncryptOptions {
        frame_length: args.frame_length,
        signed: !args.unsigned,
        cache: None,
    };
    let (encrypted, writer) = match alias
        .envelope_encrypt_stream(&context, input, writer, length, &options)
        .await
    {
        Ok(done) => done,
        Err(err) => {
            let err = anyhow::Error::new(err)
                .context(format!("encrypting the input through {}", args.alias));
            return Err(output.fail(err).await);
        }
    };
    let object = output.finish(writer).await?;
    tracing::info!(alias = %args.alias, key_arn = %encrypted.key, "envelope encrypted");
    if global.output == Format::Json {
        output::print_json(&EncryptReport {
            alias: &args.alias,
            key_arn: encrypted.key.to_string(),
            suite: format!("{:#06x}", encrypted.suite.id),
            frame_length: options.frame_length,
            plaintext_bytes: encrypted.plaintext_len,
            object,
        })?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct DecryptReport {
    key_arn: KeyArn,
    suite: String,
    encryption_context: std::collections::BTreeMap<String, String>,
    plaintext_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Uploaded>,
}

async fn decrypt(global: &Global, args: DecryptArgs) -> Result<()> {
    let required = super::context(&args.context)?;
    let config = global.aws.load().await?;
    let kms = super::kms(global).await?;
    let trust = match (&args.alias, &args.discovery_account) {
        (Some(alias), _) => Trust::Keys(
            kms.alias(alias.clone())
                .history()
                .await
                .with_context(|| format!("reading the history of {alias}"))?,
        ),
        (None, account) => {
            let account = match account {
                Some(account) => account.clone(),
                None => kmsrot_core::identity::caller_account(&config)
                    .await
                    .context(
                        "finding the caller's account, which --discovery-account would name",
                    )?,
            };
            let region = kms.region().to_owned();
            let partition = Partition::of_region(&region).ok_or_else(|| {
                UsageError(format!("Region {region} is in no partition kmsrot knows"))
            })?;
            Trust::Discovery { account, partition }
        }
    };
    let options = DecryptOptions {
        trust,
        required,
        policy: if args.allow_non_committing {
            CommitmentPolicy::RequireEncryptAllowDecrypt
        } else {
            CommitmentPolicy::default()
        },
        max_data_keys: args.max_encrypted_data_keys,
        release: Release::Verified,
    };
    let (input, _) = open_input(args.input.as_deref(), &config).await?;
    let (output, writer) = Output::new(args.out, &config, global, "plaintext")?;
    let options = DecryptOptions {
        // A file or an object appears only after the whole message verified; stdout gets a
        // signed message's plaintext only then.
        release: if output.atomic() {
            Release::Unverified
        } else {
            Release::Verified
        },
        ..options
    };
    let (opened, writer) = match kms.envelope_decrypt_stream(input, writer, &options).await {
        Ok(done) => done,
        Err(err) => {
            let err = anyhow::Error::new(err).context("decrypting the message");
            return Err(output.fail(err).await);
        }
    };
    let object = output.finish(writer).await?;
    tracing::info!(key_arn = %opened.key, "envelope decrypted");
    if global.output == Format::Json {
        output::print_json(&DecryptReport {
            key_arn: opened.key,
            suite: format!("{:#06x}", opened.header.suite.id),
            encryption_context: opened
                .header
                .context
                .iter()
                .filter(|(k, _)| k != kmsrot_core::envelope::PUBLIC_KEY_CONTEXT)
                .cloned()
                .collect(),
            plaintext_bytes: opened.plaintext_len,
            object,
        })?;
    }
    Ok(())
}

/// Says each object's outcome on stderr as it happens.
struct Lines;

impl Progress for Lines {
    fn object(&self, key: &str, _bytes: u64, outcome: &ObjectOutcome) {
        if let ObjectOutcome::Failed(reason) = outcome {
            eprintln!("kmsrot: {key}: {reason}");
        }
    }
}

async fn rewrap(global: &Global, args: RewrapArgs) -> Result<()> {
    let s3_targets = args
        .targets
        .iter()
        .filter(|t| t.starts_with("s3://"))
        .count();
    if s3_targets > 0 && (s3_targets > 1 || args.targets.len() > 1) {
        bail!(UsageError(
            "give either files or one s3://BUCKET[/PREFIX], not both".into()
        ));
    }
    let config = global.aws.load().await?;
    let kms = super::kms(global).await?;
    let alias = kms.alias(args.alias.clone());
    if s3_targets == 1 {
        let at: S3Location = args.targets[0]
            .parse()
            .map_err(|e| UsageError(format!("{e}")))?;
        return rewrap_s3(global, &config, &alias, at, &args).await;
    }
    let history = alias
        .history()
        .await
        .with_context(|| format!("reading the history of {}", args.alias))?;
    let target = history
        .first()
        .cloned()
        .with_context(|| format!("{} names no key", args.alias))?;
    let mut report = RewrapReport::new(
        format!("{} file(s)", args.targets.len()),
        args.alias.to_string(),
        target,
        args.dry_run,
    );
    report.listed = args.targets.len() as u64;
    for target in &args.targets {
        let path = Path::new(target);
        let outcome = if args.dry_run {
            would_rewrap_file(path, &history, args.max_encrypted_data_keys)
        } else {
            alias
                .envelope_rewrap_file(path, &history, args.max_encrypted_data_keys)
                .await
                .map_err(anyhow::Error::new)
        };
        match outcome {
            Ok(RewrapOutcome::Moved { from, .. }) => {
                report.moved += 1;
                *report.moved_from.entry(from.to_string()).or_default() += 1;
            }
            Ok(RewrapOutcome::Current(_)) => {
                *report
                    .skipped
                    .entry(kmsrot_core::s3::rewrap_skip::CURRENT.into())
                    .or_default() += 1;
            }
            Err(err) => {
                eprintln!("kmsrot: {target}: {err:#}");
                report.failed.push(ObjectFailure {
                    key: target.clone(),
                    version_id: None,
                    reason: format!("{err:#}"),
                });
            }
        }
    }
    finish_rewrap(global, &report, None)
}

/// What a dry run reports for a file, from its header alone.
fn would_rewrap_file(
    path: &Path,
    history: &[KeyArn],
    max_data_keys: Option<usize>,
) -> Result<RewrapOutcome> {
    let mut file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let (header, _, _) = kmsrot_core::envelope::stream::read_header_from(
        &mut file,
        CommitmentPolicy::default(),
        max_data_keys,
    )?;
    Ok(kmsrot_core::envelope::rewrap::preview(&header, history)?)
}

async fn rewrap_s3(
    global: &Global,
    config: &kmsrot_core::config::SdkConfig,
    alias: &kmsrot_core::AliasKms,
    at: S3Location,
    args: &RewrapArgs,
) -> Result<()> {
    let s3 = S3::new(config);
    let stop = Arc::new(AtomicBool::new(false));
    super::reencrypt::watch_ctrl_c(stop.clone());
    let (checkpoint, own) = match (&args.resume, args.dry_run) {
        (Some(path), _) => (Some(path.clone()), false),
        (None, true) => (None, false),
        (None, false) => (
            Some(super::reencrypt::default_checkpoint("rewrap", &at)),
            true,
        ),
    };
    if let Some(path) = &checkpoint {
        eprintln!(
            "kmsrot: checkpoint {}; if this run stops, resume with --resume {}",
            path.display(),
            path.display()
        );
    }
    let options = RewrapOptions {
        concurrency: usize::from(args.concurrency),
        dry_run: args.dry_run,
        checkpoint: checkpoint.clone(),
        stop,
        max_data_keys: args.max_encrypted_data_keys,
    };
    let report = s3
        .envelope_rewrap(&at, alias, &options, &Lines)
        .await
        .with_context(|| format!("rewrapping {at} to {}", args.alias))?;
    finish_rewrap(global, &report, checkpoint.clone())?;
    if let (true, Some(path)) = (own, &checkpoint) {
        // Every object is done: the checkpoint has served its purpose.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn finish_rewrap(
    global: &Global,
    report: &RewrapReport,
    checkpoint: Option<PathBuf>,
) -> Result<()> {
    emit(
        global.output,
        || report,
        || Sink::Stdout.write(output::rewrap_text(report).as_bytes()),
    )?;
    if report.interrupted {
        let handled = report.moved
            + report.skipped.values().sum::<u64>()
            + report.resumed
            + report.failed.len() as u64;
        return Err(Interrupted(report.listed - handled, checkpoint).into());
    }
    if !report.failed.is_empty() {
        return Err(ObjectsFailed(report.failed.len()).into());
    }
    Ok(())
}
