//! `cargo xtask bench`'s re-encryption figures: 1,000 objects of 4 KiB on the local emulator,
//! moved from a rotated alias's old key to its new one, in objects per second, three runs:
//!
//! - `kmsrot reencrypt` (the release binary), by copy in place, which is what `auto` does on an
//!   endpoint other than AWS's, and by `UpdateObjectEncryption` (`--method update`);
//! - `aws s3 cp --recursive` in place with `--sse aws:kms --sse-kms-key-id` (the AWS CLI,
//!   pinned in `tools/awscli/`), with its default settings;
//! - a raw loop of HEAD requests over the same objects (`kmsrot s3 keys`: one listing and a
//!   HEAD per object), the emulator's own ceiling for anything that must read each object.
//!
//! Every run re-encrypts a bucket of its own, filled beforehand, so no run sees another's work.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::delay_proxy::DelayProxy;
use crate::emulator::Emulator;
use crate::pytools;

/// Objects per bucket.
const OBJECTS: usize = 1000;
/// Bytes per object.
const OBJECT_SIZE: usize = 4096;
/// Runs of each tool.
const RUNS: usize = 3;
/// kmsrot's concurrency (and the HEAD loop's).
const CONCURRENCY: &str = "32";

/// What is measured, in table order.
const TOOLS: [&str; 4] = ["kmsrot-copy", "kmsrot-update", "awscli", "head"];

/// Runs the comparison and returns its rows for the bench table.
pub(crate) fn run(release: &Release) -> Result<String> {
    let kmsrot = release.kmsrot.clone();
    let awscli = pytools::install(pytools::AWSCLI)?;
    let emulator = Emulator::start(None, None)?;
    let mut tools = Tools::new(kmsrot, &emulator);
    tools.aws = awscli.bin().join("aws");
    let result = measure(&tools, &emulator);
    emulator.stop();
    result
}

/// The programs a benchmark runs, and the emulator's environment for them.
pub(crate) struct Tools {
    pub(crate) kmsrot: PathBuf,
    aws: PathBuf,
    env: Vec<(&'static str, String)>,
    endpoint: String,
}

impl Tools {
    /// The release `kmsrot` against `emulator` (and no AWS CLI).
    pub(crate) fn new(kmsrot: PathBuf, emulator: &Emulator) -> Self {
        Self {
            kmsrot,
            aws: PathBuf::from("aws"),
            env: emulator.client_env(),
            endpoint: emulator.endpoint(),
        }
    }

    /// The same tools, sending their requests to `endpoint` instead.
    fn via(&self, endpoint: String) -> Self {
        let env = self
            .env
            .iter()
            .map(|(k, v)| match *k {
                "AWS_ENDPOINT_URL" => (*k, endpoint.clone()),
                _ => (*k, v.clone()),
            })
            .collect();
        Self {
            kmsrot: self.kmsrot.clone(),
            aws: self.aws.clone(),
            env,
            endpoint,
        }
    }

    /// `program` with the emulator's environment (and nothing of a real account's).
    pub(crate) fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        for name in Emulator::foreign_env() {
            command.env_remove(name);
        }
        command
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args);
        command
    }

    pub(crate) fn kmsrot(&self, args: &[&str]) -> Result<Output> {
        checked(self.command(&self.kmsrot, args))
    }

    fn aws(&self, args: &[&str]) -> Result<Output> {
        checked(self.aws_command(args))
    }

    fn aws_command(&self, args: &[&str]) -> Command {
        let mut all = vec!["--endpoint-url", self.endpoint.as_str()];
        all.extend_from_slice(args);
        let mut command = self.command(&self.aws, &all);
        // The emulator's profile name exists for the SDK's sake; the AWS CLI insists on it.
        command.env_remove("AWS_PROFILE");
        command
    }
}

/// Runs a command to its end; fails, with its stderr, unless it succeeded.
pub(crate) fn checked(mut command: Command) -> Result<Output> {
    let out = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// The release binaries the benchmarks run: `kmsrot` and `kmsrot-envelope-bench`, built in one
/// cargo invocation, so that their shared crates are built once, with the same features, and
/// stay built for the next bench.
pub(crate) struct Release {
    pub(crate) kmsrot: PathBuf,
    pub(crate) envelope_bench: PathBuf,
}

/// Builds the release binaries the benchmarks run.
pub(crate) fn build_release() -> Result<Release> {
    println!("xtask: building the release kmsrot and kmsrot-envelope-bench");
    let status = crate::cargo()
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "kmsrot-cli",
            "--bin",
            "kmsrot",
            "-p",
            "kmsrot-testsuite",
            "--bin",
            "kmsrot-envelope-bench",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build exited with {status}");
    }
    let release = crate::target_dir().join("release");
    Ok(Release {
        kmsrot: release.join("kmsrot"),
        envelope_bench: release.join("kmsrot-envelope-bench"),
    })
}

fn measure(tools: &Tools, emulator: &Emulator) -> Result<String> {
    // An alias with an old key holding the data, then rotated to a new key.
    let alias = "alias/kmsrot-bench";
    let init: serde_json::Value = serde_json::from_slice(
        &tools
            .kmsrot(&["init", alias, "--mode", "manual", "--output", "json"])?
            .stdout,
    )?;
    let old = init["current"]["key_arn"]
        .as_str()
        .context("init reported no key")?
        .to_owned();

    let data = crate::target_dir().join("bench-objects");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    for i in 0..OBJECTS {
        let dir = data.join(["a", "b", "c/d", "e"][i % 4]);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("object-{i:04}.bin")),
            vec![(i % 256) as u8; OBJECT_SIZE],
        )?;
    }
    println!(
        "xtask: filling {} buckets of {OBJECTS} objects",
        RUNS * TOOLS.len() + PROXY_RUNS * PROXIED.len()
    );
    let data_dir = data.to_str().context("a UTF-8 path")?;
    let buckets = (0..RUNS)
        .flat_map(|run| {
            TOOLS
                .iter()
                .map(move |tool| format!("s3://kmsrot-bench-{run}-{tool}"))
        })
        .chain((0..PROXY_RUNS).flat_map(|run| {
            PROXIED
                .iter()
                .map(move |tool| format!("s3://kmsrot-bench-proxy-{run}-{tool}"))
        }));
    for bucket in buckets {
        tools.aws(&["s3", "mb", &bucket])?;
        tools.aws(&[
            "s3",
            "cp",
            data_dir,
            &format!("{bucket}/"),
            "--recursive",
            "--quiet",
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            &old,
        ])?;
    }
    tools.kmsrot(&["rotate", alias])?;
    let described: serde_json::Value = serde_json::from_slice(
        &tools
            .kmsrot(&["describe", alias, "--output", "json"])?
            .stdout,
    )?;
    let new = described["key_arn"]
        .as_str()
        .context("describe reported no key")?
        .to_owned();
    if new == old {
        bail!("the rotation did not move {alias}");
    }

    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); TOOLS.len()];
    for run in 0..RUNS {
        for (t, tool) in TOOLS.iter().enumerate() {
            let bucket = format!("s3://kmsrot-bench-{run}-{tool}");
            // A checkpoint of an earlier bench is for another emulator's keys.
            let _ = std::fs::remove_file(checkpoint(&bucket));
            let started = Instant::now();
            let out = match *tool {
                "kmsrot-copy" | "kmsrot-update" => tools.kmsrot(&[
                    "reencrypt",
                    &bucket,
                    "--alias",
                    alias,
                    "--concurrency",
                    CONCURRENCY,
                    "--method",
                    tool.trim_start_matches("kmsrot-"),
                    "--output",
                    "json",
                    "--resume",
                    &checkpoint(&bucket),
                ])?,
                "awscli" => tools.aws(&[
                    "s3",
                    "cp",
                    &format!("{bucket}/"),
                    &format!("{bucket}/"),
                    "--recursive",
                    "--quiet",
                    "--sse",
                    "aws:kms",
                    "--sse-kms-key-id",
                    &new,
                ])?,
                _ => tools.kmsrot(&[
                    "s3",
                    "keys",
                    &bucket,
                    "--concurrency",
                    CONCURRENCY,
                    "--output",
                    "json",
                ])?,
            };
            times[t].push(started.elapsed());
            if tool.starts_with("kmsrot-") {
                let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
                if report["moved"].as_u64() != Some(OBJECTS as u64) {
                    bail!("{tool} run {run} did not move every object: {report}");
                }
            }
        }
        // Every bucket of this run is now on the new key (the HEAD loop's was never moved).
        for tool in ["kmsrot-copy", "kmsrot-update", "awscli"] {
            let bucket = format!("s3://kmsrot-bench-{run}-{tool}");
            let keys: serde_json::Value = serde_json::from_slice(
                &tools
                    .kmsrot(&["s3", "keys", &bucket, "--alias", alias, "--output", "json"])?
                    .stdout,
            )?;
            let on_new = keys.as_array().map_or(0, |k| {
                k.iter().filter(|o| o["on_alias_key"] == true).count()
            });
            if on_new != OBJECTS {
                bail!(
                    "after {tool}, only {on_new} of {OBJECTS} objects in {bucket} are on the new key"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&data);
    let proxied = measure_proxied(tools, emulator, alias, &new)?;
    Ok(format!("{}\n{proxied}", table(&times)))
}

/// The delay the proxy adds to every request.
const DELAY: Duration = Duration::from_millis(200);
/// Runs of each tool through the proxy.
const PROXY_RUNS: usize = 2;
/// What is measured through the proxy: kmsrot's copy (HEAD, then a conditional copy), its
/// one-request copy (`--no-head`), and the AWS CLI.
const PROXIED: [&str; 3] = ["kmsrot-copy", "kmsrot-no-head", "awscli"];

/// One proxied run: its wall time, the client's CPU time, the requests the proxy passed on,
/// and the emulator's CPU time.
struct Proxied {
    wall: Duration,
    client_cpu: Duration,
    requests: u64,
    emulator_cpu: Duration,
}

/// The CPU time (user and system) of a process, from `/proc`.
fn process_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .context("a /proc stat line")?
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // USER_HZ, which Linux fixes at 100 for every architecture it exports it on.
    Ok(Duration::from_millis(ticks * 10))
}

/// Runs `command` under bash, whose `times` reports its children's CPU time on stderr.
fn with_cpu(command: &Command) -> Result<(Output, Duration)> {
    let mut bash = Command::new("bash");
    bash.args(["-c", "\"$@\"; status=$?; times >&2; exit $status", "bash"])
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => bash.env(key, value),
            None => bash.env_remove(key),
        };
    }
    let out = checked(bash)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let children = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("bash printed no times")?;
    let seconds = |t: &str| -> Result<f64> {
        let (minutes, rest) = t.split_once('m').context("a times field")?;
        Ok(minutes.parse::<f64>()? * 60.0 + rest.trim_end_matches('s').parse::<f64>()?)
    };
    let mut fields = children.split_whitespace();
    let user = seconds(fields.next().context("user time")?)?;
    let system = seconds(fields.next().context("system time")?)?;
    Ok((out, Duration::from_secs_f64(user + system)))
}

fn measure_proxied(tools: &Tools, emulator: &Emulator, alias: &str, new: &str) -> Result<String> {
    let proxy = DelayProxy::start(&emulator.address(), DELAY)?;
    let via = tools.via(proxy.endpoint());
    let pid = emulator.pid().context("the emulator's process")?;
    let mut runs: Vec<Vec<Proxied>> = (0..PROXIED.len()).map(|_| Vec::new()).collect();
    for run in 0..PROXY_RUNS {
        for (t, tool) in PROXIED.iter().enumerate() {
            println!(
                "xtask: {tool} through the {} ms proxy, run {}",
                DELAY.as_millis(),
                run + 1
            );
            let bucket = format!("s3://kmsrot-bench-proxy-{run}-{tool}");
            let _ = std::fs::remove_file(checkpoint(&bucket));
            let command = match *tool {
                "awscli" => via.aws_command(&[
                    "s3",
                    "cp",
                    &format!("{bucket}/"),
                    &format!("{bucket}/"),
                    "--recursive",
                    "--quiet",
                    "--sse",
                    "aws:kms",
                    "--sse-kms-key-id",
                    new,
                ]),
                _ => {
                    let checkpoint = checkpoint(&bucket);
                    let mut args = vec![
                        "reencrypt",
                        &bucket,
                        "--alias",
                        alias,
                        "--method",
                        "copy",
                        "--output",
                        "json",
                        "--resume",
                        &checkpoint,
                    ];
                    if *tool == "kmsrot-no-head" {
                        args.push("--no-head");
                    }
                    via.command(&via.kmsrot, &args)
                }
            };
            let requests = proxy.requests();
            let emulator_cpu = process_cpu(pid)?;
            let started = Instant::now();
            let (out, client_cpu) = with_cpu(&command)?;
            let wall = started.elapsed();
            if tool.starts_with("kmsrot") {
                let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
                if report["moved"].as_u64() != Some(OBJECTS as u64) {
                    bail!("{tool} through the proxy did not move every object: {report}");
                }
            }
            runs[t].push(Proxied {
                wall,
                client_cpu,
                requests: proxy.requests() - requests,
                emulator_cpu: process_cpu(pid)? - emulator_cpu,
            });
            let keys: serde_json::Value = serde_json::from_slice(
                &tools
                    .kmsrot(&["s3", "keys", &bucket, "--alias", alias, "--output", "json"])?
                    .stdout,
            )?;
            let on_new = keys.as_array().map_or(0, |k| {
                k.iter().filter(|o| o["on_alias_key"] == true).count()
            });
            if on_new != OBJECTS {
                bail!(
                    "after {tool} through the proxy, {on_new} of {OBJECTS} objects are on the new key"
                );
            }
        }
    }
    let mut rows = String::new();
    let mut rates = Vec::new();
    for (t, tool) in PROXIED.iter().enumerate() {
        let mut by_rate: Vec<&Proxied> = runs[t].iter().collect();
        by_rate.sort_by_key(|r| r.wall);
        let m = by_rate[by_rate.len() / 2];
        let rate = OBJECTS as f64 / m.wall.as_secs_f64();
        rates.push(rate);
        rows.push_str(&format!(
            "| {} | {rate:.0} | {:.2} | {:.2} ms | {:.0}% |\n",
            match *tool {
                "kmsrot-copy" => "kmsrot reencrypt --method copy (HEAD, then a conditional copy)",
                "kmsrot-no-head" =>
                    "kmsrot reencrypt --method copy --no-head (one conditional copy)",
                _ => "aws s3 cp --recursive (one copy)",
            },
            m.requests as f64 / OBJECTS as f64,
            m.client_cpu.as_secs_f64() * 1000.0 / OBJECTS as f64,
            100.0 * m.emulator_cpu.as_secs_f64() / m.wall.as_secs_f64(),
        ));
    }
    Ok(format!(
        "Re-encryption of {OBJECTS} objects through a loopback proxy that holds every request \
         {} ms (each tool at its defaults; the median of {PROXY_RUNS} runs; requests counted by \
         the proxy, listings included; client CPU from bash's `times`; the emulator's CPU share \
         from /proc):\n\n\
         | tool | objects/s | S3 requests per object | client CPU per object | emulator CPU |\n\
         |---|---|---|---|---|\n{rows}\n\
         kmsrot moves {:.1}× the AWS CLI's objects per second with a HEAD, {:.1}× without.\n",
        DELAY.as_millis(),
        rates[0] / rates[2],
        rates[1] / rates[2],
    ))
}

fn checkpoint(bucket: &str) -> String {
    let name = bucket.trim_start_matches("s3://");
    crate::target_dir()
        .join(format!("bench-{name}.checkpoint"))
        .to_string_lossy()
        .into_owned()
}

/// S3 requests each tool makes per object (besides the listing): kmsrot reads each object
/// before it changes it, and on an endpoint other than AWS's reads it again after an
/// UpdateObjectEncryption; the AWS CLI copies blindly.
const REQUESTS_PER_OBJECT: [f64; 4] = [2.0, 3.0, 1.0, 1.0];

fn table(times: &[Vec<Duration>]) -> String {
    let rate = |d: &Duration| OBJECTS as f64 / d.as_secs_f64();
    let mut rows = String::new();
    for run in 0..RUNS {
        rows.push_str(&format!("| run {} |", run + 1));
        for tool in times {
            rows.push_str(&format!(" {:.0} |", rate(&tool[run])));
        }
        rows.push('\n');
    }
    let median = |tool: &Vec<Duration>| {
        let mut rates: Vec<f64> = tool.iter().map(rate).collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let medians: Vec<f64> = times.iter().map(median).collect();
    let requests: Vec<f64> = medians
        .iter()
        .zip(REQUESTS_PER_OBJECT)
        .map(|(m, r)| m * r)
        .collect();
    rows.push_str(&format!(
        "| median | {:.0} | {:.0} | {:.0} | {:.0} |\n\
         | S3 requests per object | 2 (HEAD, copy) | 3 (HEAD, update, HEAD) | 1 (copy) | 1 (HEAD) |\n\
         | S3 requests per second, median | {:.0} | {:.0} | {:.0} | {:.0} |\n",
        medians[0], medians[1], medians[2], medians[3],
        requests[0], requests[1], requests[2], requests[3],
    ));
    format!(
        "Re-encryption of {OBJECTS} objects of {} KiB on the local emulator, objects per second \
         (kmsrot and the HEAD loop at concurrency {CONCURRENCY}; the AWS CLI with its defaults):\n\n\
         | | kmsrot, copy | kmsrot, UpdateObjectEncryption | aws s3 cp --recursive | HEAD loop (ceiling) |\n\
         |---|---|---|---|---|\n{rows}\n\
         kmsrot by copy moves {:.1}× the AWS CLI's objects per second; it makes {:.0}% of the \
         emulator's HEAD-loop request rate, the AWS CLI {:.0}%. By UpdateObjectEncryption: {:.1}× \
         and {:.0}%.\n",
        OBJECT_SIZE / 1024,
        medians[0] / medians[2],
        100.0 * requests[0] / requests[3],
        100.0 * requests[2] / requests[3],
        medians[1] / medians[2],
        100.0 * requests[1] / requests[3],
    )
}
