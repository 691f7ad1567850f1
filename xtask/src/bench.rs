//! `cargo xtask bench`: the figures the issues name, printed as a table and written to
//! `target/dist/bench.md`.
//!
//! - the release `bootstrap` (the rotation Lambda, as `package-lambda` builds it): its size,
//!   zipped and not, and the time from process start
//!   to its first poll of the Lambda Runtime API (`GET …/runtime/invocation/next`), served by
//!   a listener on 127.0.0.1. Start-up needs no AWS call, so no emulator is involved.
//! - envelope encryption, decryption and rewrap beside aws-encryption-cli and `openssl speed`,
//!   peak memory of a stream, and KMS requests with the data-key cache (`bench_envelope.rs`);
//! - re-encryption of S3 objects, objects per second, beside the AWS CLI and the emulator's
//!   HEAD ceiling (`bench_s3.rs`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Start-ups measured; the table shows the fastest, the median and the slowest.
const RUNS: usize = 15;

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Measure only the release Lambda (size and start-up), not envelope encryption or S3
    /// re-encryption, which need the emulator and take minutes.
    #[arg(long, conflicts_with = "skip_s3")]
    lambda_only: bool,
    /// Leave out S3 re-encryption.
    #[arg(long)]
    skip_s3: bool,
    /// Where to rewrap the 1 GiB message [default: beside the other files, in /dev/shm]. On a
    /// file system that shares extents (XFS, Btrfs), rewrap writes only the header's block.
    #[arg(long, value_name = "DIR")]
    rewrap_dir: Option<PathBuf>,
}

pub(crate) fn run(args: &BenchArgs) -> Result<()> {
    // The binary that ships: the one `package-lambda` zips.
    let package = crate::package::build()?;
    let binary = package.binary;
    let size = std::fs::metadata(&binary)
        .with_context(|| format!("reading {}", binary.display()))?
        .len();
    let zipped = package.size;

    let mut startups = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        startups.push(first_poll(&binary)?);
    }
    startups.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let table = format!(
        "| figure | value |\n|---|---|\n\
         | release `bootstrap` size | {size} bytes ({:.1} MiB) |\n\
         | zipped for Lambda | {zipped} bytes ({:.1} MiB) |\n\
         | start to first Runtime API poll, fastest of {RUNS} | {} |\n\
         | start to first Runtime API poll, median of {RUNS} | {} |\n\
         | start to first Runtime API poll, slowest of {RUNS} | {} |\n",
        size as f64 / (1024.0 * 1024.0),
        zipped as f64 / (1024.0 * 1024.0),
        ms(startups[0]),
        ms(startups[RUNS / 2]),
        ms(startups[RUNS - 1]),
    );
    let release = if args.lambda_only {
        None
    } else {
        Some(crate::bench_s3::build_release()?)
    };
    let table = match &release {
        Some(release) => format!(
            "{table}\n{}",
            crate::bench_envelope::run(release, args.rewrap_dir.as_deref())?
        ),
        None => table,
    };
    let table = match &release {
        Some(release) if !args.skip_s3 => format!("{table}\n{}", crate::bench_s3::run(release)?),
        _ => table,
    };
    println!("\n{table}");
    let dist = crate::target_dir().join("dist");
    std::fs::create_dir_all(&dist)?;
    std::fs::write(dist.join("bench.md"), &table)?;
    println!("xtask: written to {}", dist.join("bench.md").display());
    Ok(())
}

/// Starts `bootstrap` against a listener and returns the time until its first request for
/// the next event arrives.
fn first_poll(binary: &PathBuf) -> Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?.to_string();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "kmsrot-bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let (stream, _) = listener.accept().context("waiting for the first poll")?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let _ = (&stream).write_all(b"");
    if !line.starts_with("GET /2018-06-01/runtime/invocation/next") {
        bail!("the first request was not a poll for the next event: {line:?}");
    }
    Ok(elapsed)
}
