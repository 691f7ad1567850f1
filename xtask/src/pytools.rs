//! Pinned Python tools, each installed from `tools/<name>/requirements.txt` into its own
//! virtualenv under the user's cache folder. The virtualenv is keyed by a hash of the
//! requirements file, so every clone shares one install and a changed pin installs afresh.
//!
//! This is xtask's one door for tools that come from PyPI: the emulator (moto), cfn-lint,
//! cargo-zigbuild with its zig, the AWS CLI (for the benchmark), and aws-encryption-cli (for the
//! envelope interoperability tests and the benchmark).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::project_root;

/// A pinned Python tool: the folder under `tools/` holding its `requirements.txt`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool(&'static str);

/// The local AWS emulator (moto server).
pub(crate) const EMULATOR: Tool = Tool("emulator");
/// cfn-lint, for the CloudFormation template.
pub(crate) const CFN_LINT: Tool = Tool("cfn-lint");
/// cargo-zigbuild and zig, for a Lambda binary that links against an old glibc.
pub(crate) const LAMBDA_BUILD: Tool = Tool("lambda-build");
/// The AWS CLI, for the re-encryption benchmark beside `aws s3 cp`.
pub(crate) const AWSCLI: Tool = Tool("awscli");
/// aws-encryption-cli, for the envelope interoperability tests and benchmark.
pub(crate) const ESDK_CLI: Tool = Tool("esdk-cli");

/// An installed tool's virtualenv.
#[derive(Debug, Clone)]
pub(crate) struct Venv {
    root: PathBuf,
}

impl Venv {
    /// The virtualenv's Python interpreter.
    pub(crate) fn python(&self) -> PathBuf {
        self.root.join("bin/python")
    }

    /// The virtualenv's `bin` folder, where the tool's commands are.
    pub(crate) fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// `PATH` with this virtualenv's `bin` folder first.
    pub(crate) fn path_env(&self) -> Result<std::ffi::OsString> {
        let current = std::env::var_os("PATH").unwrap_or_default();
        let dirs = std::iter::once(self.bin()).chain(std::env::split_paths(&current));
        std::env::join_paths(dirs).context("building PATH")
    }
}

/// Makes sure the pinned tool is installed; returns its virtualenv.
pub(crate) fn install(tool: Tool) -> Result<Venv> {
    let Tool(name) = tool;
    let requirements = project_root()
        .join("tools")
        .join(name)
        .join("requirements.txt");
    let pins =
        fs::read(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let root = cache_root().join(format!("{name}-{:016x}", fnv1a(&pins)));
    let venv = Venv { root };
    let stamp = venv.root.join(".installed");
    if stamp.exists() {
        return Ok(venv);
    }
    println!("xtask: installing {name} into {}", venv.root.display());
    if venv.root.exists() {
        fs::remove_dir_all(&venv.root)?;
    }
    run_checked(
        Command::new(system_python())
            .args(["-m", "venv"])
            .arg(&venv.root),
    )?;
    run_checked(
        Command::new(venv.python())
            .args([
                "-m",
                "pip",
                "install",
                // pip's own lines ("Collecting …", "Installing …") show that the install moves;
                // a progress bar would only clutter CI's log.
                "--progress-bar",
                "off",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )?;
    // The stamp is written last, so an interrupted install is redone next time.
    fs::write(&stamp, b"")?;
    Ok(venv)
}

/// FNV-1a: a stable cache key for a requirements file (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("kmsrot");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/kmsrot"),
        None => project_root().join("target/cache"),
    }
}

fn system_python() -> &'static str {
    if which("python3") {
        "python3"
    } else {
        "python"
    }
}

/// Whether `program` is on `PATH`.
fn which(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

/// Runs a command, failing when it does not succeed.
fn run_checked(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} exited with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_changes_with_the_pins() {
        assert_ne!(fnv1a(b"moto[server]==5.2.5"), fnv1a(b"moto[server]==5.2.4"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
