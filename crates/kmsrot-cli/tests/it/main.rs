//! The `kmsrot` binary end to end, against the local emulator that `cargo xtask test` starts.
//! One binary, one module per subject; the helpers that run `kmsrot` are here.

mod audit;
mod data;
mod envelope;
mod guard;
mod rotation;
mod s3;
mod usage;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kmsrot_testsuite::TestEnv;

pub(crate) fn kmsrot(args: &[&str], stdin: Option<&[u8]>) -> Output {
    kmsrot_in(Path::new("."), args, stdin)
}

/// Runs `kmsrot` in `dir`.
pub(crate) fn kmsrot_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmsrot"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kmsrot runs");
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        // kmsrot may exit before reading stdin (a usage error), closing the pipe first.
        match pipe.write_all(stdin.unwrap_or_default()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run failed with `code`, and its stderr says `message`.
pub(crate) fn expect_failure(out: &Output, code: i32, message: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(message), "{}", stderr(out));
}

pub(crate) fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kmsrot-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(crate) async fn env() -> TestEnv {
    TestEnv::from_env().await.expect("test environment")
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}
