//! `cargo xtask package-lambda`: the release `bootstrap`, built to run on Amazon Linux 2023,
//! zipped for `provided.al2023` in `target/dist/`.
//!
//! The binary is built with cargo-zigbuild (pinned in `tools/lambda-build/`), which links
//! through zig against glibc [`GLIBC_FLOOR`], so it runs on any Linux with that glibc or newer;
//! the Lambda runtime `provided.al2023` has 2.34. The build is then checked: no symbol may
//! need a newer glibc than [`GLIBC_CEILING`]. The zip has fixed timestamps, so the same binary
//! always makes the same zip, and its SHA-256 names the artifact `deploy` uploads.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::pytools;

/// The Rust target the Lambda is built for. The stack's `Architectures` must match it
/// (a tidy test checks).
pub(crate) const RUST_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The Lambda architecture of [`RUST_TARGET`].
pub(crate) const LAMBDA_ARCHITECTURE: &str = "x86_64";
/// The Lambda runtime the zip is made for.
pub(crate) const LAMBDA_RUNTIME: &str = "provided.al2023";
/// The executable a `provided` runtime starts, and the function's handler.
pub(crate) const HANDLER: &str = "bootstrap";
/// The glibc the binary is linked against (cargo-lambda's default too).
const GLIBC_FLOOR: &str = "2.17";
/// The cargo profile the bootstrap is built with (`[profile.lambda]` in the root
/// `Cargo.toml`: release, built for size).
const PROFILE: &str = "lambda";
/// Amazon Linux 2023's glibc: no symbol may need a newer one.
const GLIBC_CEILING: (u32, u32) = (2, 34);

/// A packaged Lambda.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    /// The zip, holding `bootstrap` alone.
    pub(crate) zip: PathBuf,
    /// The binary inside it (it also runs here when this machine is x86_64 Linux, which is
    /// how the bench and the end-to-end test run it).
    pub(crate) binary: PathBuf,
    /// The zip's size in bytes.
    pub(crate) size: u64,
    /// The zip's SHA-256, lowercase hex.
    pub(crate) sha256: String,
}

/// `cargo xtask package-lambda`.
pub(crate) fn run() -> Result<()> {
    let package = build()?;
    println!(
        "xtask: {} for {LAMBDA_RUNTIME} on {LAMBDA_ARCHITECTURE} ({} bytes, {:.1} MiB)\nxtask: sha256 {}",
        package.zip.display(),
        package.size,
        package.size as f64 / (1024.0 * 1024.0),
        package.sha256,
    );
    Ok(())
}

/// Builds, checks and zips the release `bootstrap`.
pub(crate) fn build() -> Result<Package> {
    let venv = pytools::install(pytools::LAMBDA_BUILD)?;
    println!(
        "xtask: building the release bootstrap for {RUST_TARGET} (glibc {GLIBC_FLOOR}) with cargo-zigbuild"
    );
    let status = crate::cargo()
        .env("PATH", venv.path_env()?)
        .args([
            "zigbuild",
            "--profile",
            PROFILE,
            "--locked",
            "-p",
            "kmsrot-lambda",
        ])
        .args(["--bin", HANDLER, "--target"])
        .arg(format!("{RUST_TARGET}.{GLIBC_FLOOR}"))
        .status()
        .context("running cargo zigbuild")?;
    if !status.success() {
        bail!("cargo zigbuild exited with {status}");
    }
    let target = crate::target_dir();
    let binary = target.join(RUST_TARGET).join(PROFILE).join(HANDLER);
    let bytes = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    check_glibc(&bytes)?;

    let dist = target.join("dist");
    std::fs::create_dir_all(&dist)?;
    let zip = dist.join("kmsrot-lambda.zip");
    let archive = zip_bootstrap(&bytes)?;
    std::fs::write(&zip, &archive).with_context(|| format!("writing {}", zip.display()))?;
    Ok(Package {
        zip,
        binary,
        size: archive.len() as u64,
        sha256: sha256_hex(&archive),
    })
}

/// Fails when the binary needs a glibc newer than [`GLIBC_CEILING`]. The versions are read
/// from the `GLIBC_x.y` names the dynamic symbols' version requirements carry.
fn check_glibc(binary: &[u8]) -> Result<()> {
    let newest = glibc_versions(binary).into_iter().max();
    match newest {
        None => {
            bail!("the bootstrap names no glibc version; is it a dynamically linked glibc binary?")
        }
        Some(version) if version > GLIBC_CEILING => bail!(
            "the bootstrap needs glibc {}.{}, newer than Amazon Linux 2023's {}.{}",
            version.0,
            version.1,
            GLIBC_CEILING.0,
            GLIBC_CEILING.1
        ),
        Some(version) => {
            println!(
                "xtask: the bootstrap needs glibc {}.{} at most (Amazon Linux 2023 has {}.{})",
                version.0, version.1, GLIBC_CEILING.0, GLIBC_CEILING.1
            );
            Ok(())
        }
    }
}

/// Every `GLIBC_major.minor[.patch]` name in `binary`, as (major, minor).
fn glibc_versions(binary: &[u8]) -> Vec<(u32, u32)> {
    const NEEDLE: &[u8] = b"GLIBC_";
    let mut found = Vec::new();
    let mut rest = binary;
    while let Some(at) = rest.windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let after = &rest[at + NEEDLE.len()..];
        let end = after
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'.'))
            .unwrap_or(after.len());
        let mut parts = std::str::from_utf8(&after[..end])
            .unwrap_or_default()
            .split('.')
            .map(str::parse::<u32>);
        if let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) {
            found.push((major, minor));
        }
        rest = &after[end..];
    }
    found
}

/// A zip holding `bootstrap`, executable, with a fixed timestamp: the same binary always
/// gives the same zip, and so the same artifact key.
fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // The strongest deflate: Lambda fetches the zip on cold starts, and packaging pays
        // about a second for it, once.
        .compression_level(Some(9))
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    writer.start_file(HANDLER, options)?;
    writer.write_all(binary)?;
    Ok(writer.finish()?.into_inner())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_are_read_from_version_names() {
        let bytes = b"\0GLIBC_2.2.5\0GLIBC_2.17\0xGLIBC_2.34\0GLIBC_PRIVATE\0GLIBC_\0";
        assert_eq!(glibc_versions(bytes), [(2, 2), (2, 17), (2, 34)]);
        assert!(check_glibc(bytes).is_ok());
        let err = check_glibc(b"GLIBC_2.17\0GLIBC_2.38\0").unwrap_err();
        assert!(err.to_string().contains("needs glibc 2.38"), "{err}");
        assert!(check_glibc(b"static").is_err());
    }

    #[test]
    fn the_zip_holds_an_executable_bootstrap_and_is_reproducible() {
        let archive = zip_bootstrap(b"\x7fELF pretend").unwrap();
        assert_eq!(archive, zip_bootstrap(b"\x7fELF pretend").unwrap());
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&archive)).unwrap();
        assert_eq!(zip.len(), 1);
        let mut entry = zip.by_name(HANDLER).unwrap();
        assert_eq!(entry.unix_mode().map(|mode| mode & 0o777), Some(0o755));
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        assert_eq!(content, b"\x7fELF pretend");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
