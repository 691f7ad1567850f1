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
pub(crate) fn run() -> Result<String> {
    let kmsrot = build_kmsrot()?;
    let awscli = pytools::install(pytools::AWSCLI)?;
    let emulator = Emulator::start(None, None)?;
    let tools = Tools {
        kmsrot,
        aws: awscli.bin().join("aws"),
        env: emulator.client_env(),
        endpoint: emulator.endpoint(),
    };
    let result = measure(&tools);
    emulator.stop();
    result
}

struct Tools {
    kmsrot: PathBuf,
    aws: PathBuf,
    env: Vec<(&'static str, String)>,
    endpoint: String,
}

impl Tools {
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        for name in Emulator::foreign_env() {
            command.env_remove(name);
        }
        command
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args);
        command
    }

    fn kmsrot(&self, args: &[&str]) -> Result<Output> {
        checked(self.command(&self.kmsrot, args))
    }

    fn aws(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["--endpoint-url", self.endpoint.as_str()];
        all.extend_from_slice(args);
        let mut command = self.command(&self.aws, &all);
        // The emulator's profile name exists for the SDK's sake; the AWS CLI insists on it.
        command.env_remove("AWS_PROFILE");
        checked(command)
    }
}

fn checked(mut command: Command) -> Result<Output> {
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

fn build_kmsrot() -> Result<PathBuf> {
    println!("xtask: building the release kmsrot binary");
    let status = crate::cargo()
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "kmsrot-cli",
            "--bin",
            "kmsrot",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build exited with {status}");
    }
    Ok(crate::target_dir().join("release").join("kmsrot"))
}

fn measure(tools: &Tools) -> Result<String> {
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
        RUNS * TOOLS.len()
    );
    let data_dir = data.to_str().context("a UTF-8 path")?;
    for run in 0..RUNS {
        for tool in TOOLS {
            let bucket = format!("s3://kmsrot-bench-{run}-{tool}");
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
    Ok(table(&times))
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
