//! `kmsrot reencrypt`: move stored S3 objects to the key an alias names now, with progress,
//! a checkpoint to resume from, and a final report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kmsrot_core::s3::{MethodChoice, ObjectOutcome, Progress, ReencryptOptions, S3};
use kmsrot_types::s3::S3Location;
use kmsrot_types::{AliasRef, KeyArn};

use crate::Global;
use crate::exit::{Interrupted, ObjectsFailed, Throttled};
use crate::io::Sink;
use crate::output::{self, emit};

/// Arguments of `kmsrot reencrypt`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which objects: s3://BUCKET or s3://BUCKET/PREFIX.
    #[arg(value_name = "S3_URL")]
    at: S3Location,
    /// Move objects to the key this alias names now: `alias/NAME` or an alias ARN.
    #[arg(long, value_name = "ALIAS", env = "KMSROT_ALIAS")]
    alias: AliasRef,
    /// Move only objects under this key; repeat for more [default: every object not already
    /// on the target key].
    #[arg(long = "only-from", value_name = "KEY_ARN")]
    only_from: Vec<KeyArn>,
    /// Objects handled at once.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    concurrency: u16,
    /// Change nothing: report what would move.
    #[arg(long)]
    dry_run: bool,
    /// The checkpoint file: finished objects are recorded in it, and a run given an existing
    /// file skips them. Created when missing [default: a new file in the current directory,
    /// removed when the run completes without failures].
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// How objects move: `auto` uses UpdateObjectEncryption on AWS (no data moves) and a copy
    /// in place on other endpoints.
    #[arg(long, value_enum, default_value_t = MethodChoice::Auto)]
    method: MethodChoice,
    /// Move every listed object with one request, without reading it first: an
    /// UpdateObjectEncryption, or a copy conditional on the ETag the listing gave, S3 copying
    /// metadata and tags. Objects already on the target key move again; the bucket default's
    /// algorithm and Bucket Key setting apply; a website redirect is not kept. Archived or
    /// changed objects, and those UpdateObjectEncryption refuses, are read first as usual.
    #[arg(long, conflicts_with = "only_from")]
    no_head: bool,
    /// Change nothing: write DIR/manifest.csv and DIR/job.json for S3 Batch Operations, for
    /// buckets too large for one machine.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["dry_run", "resume"])]
    emit_batch_job: Option<PathBuf>,
}

pub(crate) async fn run(global: &Global, args: Args) -> Result<()> {
    let config = global.aws.load().await?;
    let s3 = S3::new(&config);
    let alias = kmsrot_core::Kms::new(&config).alias(args.alias.clone());
    let stop = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(stop.clone());
    let (checkpoint, own_checkpoint) =
        match (&args.resume, args.dry_run || args.emit_batch_job.is_some()) {
            (Some(path), _) => (Some(path.clone()), false),
            (None, true) => (None, false),
            (None, false) => (Some(default_checkpoint("reencrypt", &args.at)), true),
        };
    if let Some(path) = &checkpoint {
        eprintln!(
            "kmsrot: checkpoint {}; if this run stops, resume with --resume {}",
            path.display(),
            path.display()
        );
    }
    let options = ReencryptOptions {
        only_from: args.only_from,
        concurrency: usize::from(args.concurrency),
        dry_run: args.dry_run,
        method: args.method,
        checkpoint: checkpoint.clone(),
        stop: stop.clone(),
        no_head: args.no_head,
        ..ReencryptOptions::default()
    };
    let progress = Bar::new();
    if let Some(dir) = &args.emit_batch_job {
        let account = kmsrot_core::identity::caller_account(&config).await.ok();
        let job = s3
            .batch_job(&args.at, &alias, account.as_deref(), &options, &progress)
            .await
            .with_context(|| format!("planning a Batch Operations job for {}", args.at))?;
        progress.finish();
        // A manifest must list every object to move: nothing is written after a failure.
        if job.report.interrupted {
            return Err(Interrupted(job.report.pending(), None).into());
        }
        if !job.report.failed.is_empty() {
            for failure in &job.report.failed {
                eprintln!("kmsrot: {}: {}", failure.key, failure.reason);
            }
            return Err(ObjectsFailed(job.report.failed.len()).into());
        }
        write_batch_job(dir, &job)?;
        return emit(
            global.output,
            || {
                serde_json::json!({
                    "manifest": dir.join("manifest.csv"),
                    "job": dir.join("job.json"),
                    "objects": job.report.moved - job.unencrypted - job.dual_layer,
                    "unencrypted_left_out": job.unencrypted,
                    "dual_layer_left_out": job.dual_layer,
                    "report": job.report,
                })
            },
            || {
                Sink::Stdout.write(
                    output::batch_job_text(
                        &job.report,
                        job.unencrypted,
                        job.dual_layer,
                        dir,
                        kmsrot_core::s3::MANIFEST_KEY,
                    )
                    .as_bytes(),
                )
            },
        );
    }
    let report = match s3.reencrypt(&args.at, &alias, &options, &progress).await {
        Ok(report) => report,
        Err(err) => {
            // A checkpoint this run created and never used is not worth keeping.
            if let (true, Some(path)) = (own_checkpoint, &checkpoint)
                && std::fs::read_to_string(path).is_ok_and(|t| t.lines().count() <= 1)
                && std::fs::remove_file(path).is_ok()
            {
                // The start of the run named it for --resume; say it is gone, and why.
                eprintln!(
                    "kmsrot: removed the checkpoint {} (nothing was recorded in it); run again without --resume",
                    path.display()
                );
            }
            return Err(anyhow::Error::new(err)
                .context(format!("re-encrypting {} to {}", args.at, args.alias)));
        }
    };
    progress.finish();
    emit(
        global.output,
        || &report,
        || Sink::Stdout.write(output::reencrypt_text(&report).as_bytes()),
    )?;
    if report.throttled {
        return Err(Throttled(report.pending(), report.failed.len(), checkpoint).into());
    }
    if report.interrupted {
        return Err(Interrupted(report.pending(), checkpoint).into());
    }
    if !report.failed.is_empty() {
        return Err(ObjectsFailed(report.failed.len()).into());
    }
    if let (true, Some(path)) = (own_checkpoint, &checkpoint) {
        // Every object is done: the checkpoint has served its purpose.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// A checkpoint file name for a run of `command`, in the current directory.
pub(crate) fn default_checkpoint(command: &str, at: &S3Location) -> PathBuf {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    PathBuf::from(format!(
        "kmsrot-{command}-{}-{seconds}-{}.checkpoint",
        at.bucket,
        std::process::id()
    ))
}

/// The first Ctrl-C lets objects in flight finish; a second one stops at once.
pub(crate) fn watch_ctrl_c(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.store(true, Ordering::SeqCst);
            eprintln!("kmsrot: stopping after the objects in flight (Ctrl-C again to quit now)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(crate::exit::INTERRUPTED));
            }
        }
    });
}

fn write_batch_job(dir: &Path, job: &kmsrot_core::s3::BatchJob) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let manifest = dir.join("manifest.csv");
    std::fs::write(&manifest, &job.manifest_csv)
        .with_context(|| format!("writing {}", manifest.display()))?;
    let path = dir.join("job.json");
    std::fs::write(&path, output::render_json(&job.job)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Progress on stderr: an indicatif bar on a terminal, a plain line every few seconds (and one
/// per failed object) otherwise.
struct Bar {
    bar: Option<ProgressBar>,
    total: AtomicU64,
    total_bytes: AtomicU64,
    done: AtomicU64,
    bytes: AtomicU64,
    started: Instant,
    last_line: std::sync::Mutex<Instant>,
}

impl Bar {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            // Hidden until the listing gives it a length.
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} objects, {msg}, {rate}, ETA {eta}",
                )
                .expect("the template is valid")
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} objects/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            total: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            started: now,
            last_line: std::sync::Mutex::new(now),
        }
    }

    fn bytes_text(&self) -> String {
        format!(
            "{} of {}",
            output::bytes_text(self.bytes.load(Ordering::Relaxed)),
            output::bytes_text(self.total_bytes.load(Ordering::Relaxed))
        )
    }

    fn line(&self) {
        let done = self.done.load(Ordering::Relaxed);
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        eprintln!(
            "kmsrot: {done}/{} objects, {}, {:.0} objects/s",
            self.total.load(Ordering::Relaxed),
            self.bytes_text(),
            done as f64 / seconds
        );
    }

    fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => self.line(),
        }
    }
}

impl Progress for Bar {
    fn listed(&self, objects: u64, bytes: u64) {
        self.total.store(objects, Ordering::Relaxed);
        self.total_bytes.store(bytes, Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.set_message(self.bytes_text());
                bar.set_length(objects);
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            None => eprintln!(
                "kmsrot: {objects} objects, {} listed",
                output::bytes_text(bytes)
            ),
        }
    }

    fn object(&self, key: &str, bytes: u64, outcome: &ObjectOutcome) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                if let ObjectOutcome::Failed(reason) = outcome {
                    bar.println(format!("failed: {key}: {reason}"));
                }
                bar.inc(1);
                bar.set_message(self.bytes_text());
            }
            None => {
                if let ObjectOutcome::Failed(reason) = outcome {
                    eprintln!("kmsrot: failed: {key}: {reason}");
                }
                let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed() >= Duration::from_secs(2) {
                    *last = Instant::now();
                    drop(last);
                    self.line();
                }
            }
        }
    }
}
