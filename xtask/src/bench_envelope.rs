//! `cargo xtask bench`'s envelope figures, with the release `kmsrot` against the local emulator:
//!
//! - `kmsrot envelope encrypt` and `decrypt` of 256 MiB on one core (`taskset -c 0`), file to
//!   file, for each committing suite, beside `aws-encryption-cli` (pinned in
//!   `tools/esdk-cli/`) on the same file and suite, and the ceilings of `openssl speed` on the
//!   same core: AES-256-GCM, and SHA-384, which the signed suite also runs over every byte;
//! - the peak resident memory of a 4 GiB stream through a pipe (`VmHWM`, read from `/proc`
//!   while the process runs);
//! - `kmsrot envelope rewrap` of a 1 GiB unsigned message, beside a full decrypt and encrypt;
//! - the KMS requests sent for 100,000 small messages with the data-key cache on
//!   (`kmsrot-envelope-bench`, which counts them with an interceptor).
//!
//! Files live under `/dev/shm` when it exists, so that the disk is not what is measured.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench_s3::{Release, Tools, checked};
use crate::emulator::Emulator;
use crate::pytools;

/// The file encrypted and decrypted.
const SIZE: usize = 256 * 1024 * 1024;
/// The stream whose peak memory is read.
const STREAM: u64 = 4 * 1024 * 1024 * 1024;
/// The message rewrapped.
const REWRAP_SIZE: usize = 1024 * 1024 * 1024;
/// Runs of kmsrot (and of the ESDK CLI, which takes seconds each).
const RUNS: usize = 5;
const ESDK_RUNS: usize = 3;
/// Rewrap runs (each on its own copy of the message).
const REWRAP_RUNS: usize = 3;
const ALIAS: &str = "alias/kmsrot-bench-envelope";

pub(crate) fn run(release: &Release, rewrap_dir: Option<&Path>) -> Result<String> {
    let kmsrot = release.kmsrot.clone();
    let bench = release.envelope_bench.clone();
    let esdk = pytools::install(pytools::ESDK_CLI)?
        .bin()
        .join("aws-encryption-cli");
    let emulator = Emulator::start(None, None)?;
    let tools = Tools::new(kmsrot, &emulator);
    let dir = work_dir()?;
    let rewrap = match rewrap_dir {
        Some(folder) => {
            let own = folder.join(format!("kmsrot-bench-rewrap-{}", std::process::id()));
            std::fs::create_dir_all(&own).with_context(|| format!("creating {}", own.display()))?;
            own
        }
        None => dir.clone(),
    };
    let result = measure(&tools, &esdk, &bench, &dir, &rewrap);
    let _ = std::fs::remove_dir_all(&rewrap);
    let _ = std::fs::remove_dir_all(&dir);
    emulator.stop();
    result
}

fn work_dir() -> Result<PathBuf> {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_owned()
    } else {
        crate::target_dir()
    };
    let dir = base.join(format!("kmsrot-bench-envelope-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Bytes that do not compress, from a xorshift generator.
fn write_data(path: &Path, len: usize) -> Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len());
        file.write_all(&block[..n])?;
        left -= n;
    }
    file.flush()?;
    Ok(())
}

fn on_core_0(program: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "-c".to_owned(),
        "0".to_owned(),
        program.display().to_string(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all
}

/// Times `runs` runs of a command on core 0; returns the sorted durations.
fn timed(tools: &Tools, program: &Path, args: &[&str], runs: usize) -> Result<Vec<Duration>> {
    timed_into(tools, program, args, runs, false)
}

/// As [`timed`]; with `discard`, stdout goes to /dev/null.
fn timed_into(
    tools: &Tools,
    program: &Path,
    args: &[&str],
    runs: usize,
    discard: bool,
) -> Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut command = tools.command(Path::new("taskset"), &[]);
        command.args(on_core_0(program, args));
        // The emulator's profile name exists for the Rust SDK; botocore insists on finding it.
        command.env_remove("AWS_PROFILE");
        if discard {
            command.stdout(Stdio::null());
        }
        let started = Instant::now();
        checked(command)?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times)
}

fn median(times: &[Duration]) -> Duration {
    times[times.len() / 2]
}

fn mbps(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64() / 1e6
}

/// `openssl speed` on core 0 for one algorithm, 16 KiB blocks: bytes per second.
fn openssl_speed(evp: &str) -> Result<f64> {
    let out = checked({
        let mut command = Command::new("taskset");
        command.args([
            "-c", "0", "openssl", "speed", "-evp", evp, "-bytes", "16384", "-seconds", "2",
        ]);
        command
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("openssl speed printed nothing")?;
    let field = last
        .split_whitespace()
        .last()
        .context("openssl speed's last line is empty")?;
    let thousands: f64 = field
        .trim_end_matches('k')
        .parse()
        .with_context(|| format!("reading openssl speed's {field:?}"))?;
    Ok(thousands * 1000.0)
}

/// Runs `child` to its end, reading its peak resident memory (`VmHWM`) as it goes.
fn peak_memory(mut child: Child) -> Result<u64> {
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib * 1024);
        }
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("the streamed process exited with {status}");
            }
            return Ok(peak);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Figures {
    rows: Vec<String>,
    notes: Vec<String>,
}

/// The file system type of `path`, from `/proc/self/mounts` (the longest mount point above it).
fn file_system(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    mounts
        .lines()
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let (_, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "unknown".into(), |(_, kind)| kind)
}

fn measure(
    tools: &Tools,
    esdk: &Path,
    bench: &Path,
    dir: &Path,
    rewrap_dir: &Path,
) -> Result<String> {
    let init: serde_json::Value = serde_json::from_slice(
        &tools
            .kmsrot(&["init", ALIAS, "--mode", "manual", "--output", "json"])?
            .stdout,
    )?;
    let key = init["current"]["key_arn"]
        .as_str()
        .context("init reported no key")?
        .to_owned();
    let input = dir.join("input");
    write_data(&input, SIZE)?;
    let input_text = input.display().to_string();
    let p = |name: &str| dir.join(name).display().to_string();
    let aes = openssl_speed("aes-256-gcm")?;
    let sha = openssl_speed("sha384")?;
    let mut figures = Figures {
        rows: Vec::new(),
        notes: Vec::new(),
    };
    println!("xtask: envelope encrypt and decrypt of 256 MiB");
    let wrapping = format!("key={key}");
    for (suite, unsigned, algorithm) in [
        ("0x0478", true, "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"),
        (
            "0x0578",
            false,
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        ),
    ] {
        let sealed = p(&format!("sealed-{suite}"));
        let opened = p(&format!("opened-{suite}"));
        let mut encrypt = vec![
            "envelope",
            "encrypt",
            "--alias",
            ALIAS,
            "-i",
            &input_text,
            "-o",
            &sealed,
        ];
        if unsigned {
            encrypt.push("--unsigned");
        }
        let enc = timed(tools, &tools.kmsrot, &encrypt, RUNS)?;
        // The same to stdout (/dev/null), without a new file to fill; and an empty input, for
        // the fixed cost (start-up, the AWS configuration, GenerateDataKey).
        let to_null: Vec<&str> = encrypt
            .iter()
            .copied()
            .filter(|a| *a != "-o" && *a != sealed.as_str())
            .collect();
        let streamed = timed_into(tools, &tools.kmsrot, &to_null, RUNS, true)?;
        let mut empty = to_null.clone();
        empty[5] = "/dev/null";
        let fixed = timed_into(tools, &tools.kmsrot, &empty, RUNS, true)?;
        let decrypt = [
            "envelope", "decrypt", "--alias", ALIAS, "-i", &sealed, "-o", &opened,
        ];
        let dec = timed(tools, &tools.kmsrot, &decrypt, RUNS)?;
        if std::fs::read(&opened)? != std::fs::read(&input)? {
            bail!("kmsrot's decryption of suite {suite} differs from the input");
        }
        let esdk_sealed = p(&format!("esdk-sealed-{suite}"));
        let esdk_opened = p(&format!("esdk-opened-{suite}"));
        let esdk_enc = timed(
            tools,
            esdk,
            &[
                "--encrypt",
                "-S",
                "-i",
                &input_text,
                "-o",
                &esdk_sealed,
                "--wrapping-keys",
                &wrapping,
                "--algorithm",
                algorithm,
                "--frame-length",
                "4096",
            ],
            ESDK_RUNS,
        )?;
        let esdk_dec = timed(
            tools,
            esdk,
            &[
                "--decrypt",
                "-S",
                "-i",
                &esdk_sealed,
                "-o",
                &esdk_opened,
                "--wrapping-keys",
                &wrapping,
            ],
            ESDK_RUNS,
        )?;
        for (op, ours, theirs) in [("encrypt", &enc, &esdk_enc), ("decrypt", &dec, &esdk_dec)] {
            let (ours, theirs) = (mbps(SIZE, median(ours)), mbps(SIZE, median(theirs)));
            figures.rows.push(format!(
                "| {op} 256 MiB, suite {suite}, one core | {ours:.0} MB/s (median of {RUNS}) | {theirs:.0} MB/s (median of {ESDK_RUNS}) | {:.1}× | {:.0}% of AES-256-GCM |",
                ours / theirs,
                100.0 * ours * 1e6 / aes,
            ));
        }
        let (streamed, fixed) = (median(&streamed), median(&fixed));
        figures.rows.push(format!(
            "| encrypt 256 MiB to /dev/null, suite {suite}, one core | {:.0} MB/s; {:.0} MB/s past the fixed {:.0} ms (start-up, configuration, GenerateDataKey) | | | |",
            mbps(SIZE, streamed),
            mbps(SIZE, streamed.saturating_sub(fixed)),
            fixed.as_secs_f64() * 1000.0,
        ));
        for path in [&sealed, &opened, &esdk_sealed, &esdk_opened] {
            let _ = std::fs::remove_file(path);
        }
    }
    let signed_ceiling = 1.0 / (1.0 / aes + 1.0 / sha);
    figures.notes.push(format!(
        "`openssl speed` on the same core, 16 KiB blocks: AES-256-GCM {:.0} MB/s, SHA-384 {:.0} MB/s. \
         The signed suite runs both over every byte (the signature covers the whole message), \
         so its ceiling is {:.0} MB/s.",
        aes / 1e6,
        sha / 1e6,
        signed_ceiling / 1e6
    ));

    println!("xtask: peak memory of a 4 GiB stream");
    for (what, unsigned) in [
        ("encrypt, suite 0x0478", true),
        ("encrypt, suite 0x0578", false),
    ] {
        let mut args = vec!["envelope", "encrypt", "--alias", ALIAS];
        if unsigned {
            args.push("--unsigned");
        }
        let child = tools
            .command(&tools.kmsrot, &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        let peak = feed_and_watch(child)?;
        figures.rows.push(format!(
            "| peak memory, 4 GiB stream, {what} | {:.1} MiB | | | |",
            peak as f64 / (1024.0 * 1024.0)
        ));
    }
    {
        let mut encrypt = tools
            .command(
                &tools.kmsrot,
                &["envelope", "encrypt", "--alias", ALIAS, "--unsigned"],
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let sealed = encrypt.stdout.take().context("a pipe")?;
        let decrypt = tools
            .command(&tools.kmsrot, &["envelope", "decrypt", "--alias", ALIAS])
            .stdin(Stdio::from(sealed))
            .stdout(Stdio::null())
            .spawn()?;
        let feeder = feed(encrypt.stdin.take().context("a pipe")?);
        let peak = peak_memory(decrypt)?;
        feeder
            .join()
            .map_err(|_| anyhow::anyhow!("the feeder panicked"))??;
        if !encrypt.wait()?.success() {
            bail!("the streamed encryption failed");
        }
        figures.rows.push(format!(
            "| peak memory, 4 GiB stream, decrypt, suite 0x0478 | {:.1} MiB | | | |",
            peak as f64 / (1024.0 * 1024.0)
        ));
    }

    println!("xtask: rewrap of a 1 GiB message");
    let r = |name: &str| rewrap_dir.join(name).display().to_string();
    let big = rewrap_dir.join("big");
    write_data(&big, REWRAP_SIZE)?;
    let big_text = big.display().to_string();
    let message = r("big-message");
    tools.kmsrot(&[
        "envelope",
        "encrypt",
        "--alias",
        ALIAS,
        "--unsigned",
        "-i",
        &big_text,
        "-o",
        &message,
    ])?;
    let copies: Vec<String> = (0..REWRAP_RUNS)
        .map(|i| p(&format!("big-message-{i}")))
        .collect();
    let _ = std::fs::remove_file(&big);
    for copy in &copies {
        std::fs::copy(&message, copy)?;
    }
    // Data at rest, as data to rewrap is: writeback still under way would be timed too (a
    // reflink flushes its source first, and the rewrap's fsync waits behind it).
    checked({
        let mut sync = Command::new("sync");
        sync.arg("--file-system").arg(rewrap_dir);
        sync
    })?;
    tools.kmsrot(&["rotate", ALIAS])?;
    let mut rewraps = Vec::new();
    for copy in &copies {
        let started = Instant::now();
        let out = tools.kmsrot(&[
            "--output", "json", "envelope", "rewrap", "--alias", ALIAS, copy,
        ])?;
        rewraps.push(started.elapsed());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        if report["moved"] != 1 {
            bail!("the rewrap moved nothing: {report}");
        }
    }
    rewraps.sort();
    let plain = r("big-plain");
    let again = r("big-again");
    let mut full = Vec::new();
    for _ in 0..REWRAP_RUNS {
        let started = Instant::now();
        tools.kmsrot(&[
            "envelope", "decrypt", "--alias", ALIAS, "-i", &message, "-o", &plain,
        ])?;
        tools.kmsrot(&[
            "envelope",
            "encrypt",
            "--alias",
            ALIAS,
            "--unsigned",
            "-i",
            &plain,
            "-o",
            &again,
        ])?;
        full.push(started.elapsed());
    }
    full.sort();
    for path in copies.iter().chain([&message, &plain, &again]) {
        let _ = std::fs::remove_file(path);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    figures.rows.push(format!(
        "| rewrap 1 GiB, suite 0x0478, file in place on {} | {:.0} ms (median of {REWRAP_RUNS}) | full decrypt and encrypt: {:.0} ms | {:.1}× | |",
        file_system(rewrap_dir),
        ms(median(&rewraps)),
        ms(median(&full)),
        median(&full).as_secs_f64() / median(&rewraps).as_secs_f64(),
    ));

    println!("xtask: KMS requests for 100,000 messages with the cache");
    let out = checked(tools.command(bench, &["--alias", ALIAS, "--messages", "100000"]))?;
    let cache: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    figures.rows.push(format!(
        "| KMS requests, 100,000 messages of 100 bytes, cache on (max age 300 s) | {} | | | {:.0} messages/s |",
        cache["kms_requests"],
        cache["messages"].as_f64().unwrap_or_default()
            / cache["seconds"].as_f64().unwrap_or(f64::NAN),
    ));
    Ok(table(&figures, dir))
}

/// Writes 4 GiB of zeros into `stdin` on a thread of its own.
fn feed(mut stdin: std::process::ChildStdin) -> std::thread::JoinHandle<Result<()>> {
    std::thread::spawn(move || {
        let block = vec![0u8; 1 << 16];
        let mut left = STREAM;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            stdin.write_all(&block[..n])?;
            left -= n as u64;
        }
        Ok(())
    })
}

fn feed_and_watch(mut child: Child) -> Result<u64> {
    let feeder = feed(child.stdin.take().context("a pipe")?);
    let peak = peak_memory(child)?;
    feeder
        .join()
        .map_err(|_| anyhow::anyhow!("the feeder panicked"))??;
    Ok(peak)
}

fn table(figures: &Figures, dir: &Path) -> String {
    format!(
        "Envelope encryption (the release `kmsrot`, files in {}; the ESDK is aws-encryption-cli \
         4.3.0 with the same suite and 4 KiB frames; both pinned to core 0):\n\n\
         | figure | kmsrot | aws-encryption-cli | ratio | note |\n|---|---|---|---|---|\n{}\n\n{}\n",
        dir.parent().unwrap_or(dir).display(),
        figures.rows.join("\n"),
        figures.notes.join("\n\n"),
    )
}
