//! The local AWS emulator: moto server, pinned in `tools/emulator/requirements.txt`, run
//! through `tools/emulator/kmsrot_emulator.py`, which applies kmsrot's documented fidelity
//! patches.
//!
//! The emulator is installed like every pinned Python tool (`pytools`). [`Emulator`] starts it
//! on a free 127.0.0.1 port and stops it when dropped; it also exits when its parent does
//! (`--exit-with-parent`).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::project_root;

/// Arguments of `cargo xtask emulator`.
#[derive(Debug, clap::Args)]
pub(crate) struct EmulatorArgs {
    /// Port on 127.0.0.1 [default: a free one].
    #[arg(long)]
    port: Option<u16>,
    /// Create a symmetric key behind this alias in us-east-1 before serving, for trying
    /// kmsrot by hand (the README's quick start uses `alias/quickstart`).
    #[arg(long, value_name = "ALIAS")]
    seed_alias: Option<String>,
}

/// The alias `cargo xtask test` seeds, so that a test can check seeding works.
pub(crate) const TEST_SEED_ALIAS: &str = "alias/kmsrot-test/seeded";

/// `cargo xtask emulator`: runs in the foreground until interrupted.
pub(crate) fn run(args: &EmulatorArgs) -> Result<()> {
    let python = crate::pytools::install(crate::pytools::EMULATOR)?.python();
    let port = match args.port {
        Some(port) => port,
        None => free_port()?,
    };
    println!("xtask: local AWS emulator on http://127.0.0.1:{port} (Ctrl-C stops it)");
    println!(
        "xtask: export AWS_ENDPOINT_URL=http://127.0.0.1:{port} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    );
    let mut command = Command::new(python);
    command
        .arg(script())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg("--exit-with-parent");
    if let Some(alias) = &args.seed_alias {
        command.args(["--seed-alias", alias]);
    }
    let status = command.status().context("running the emulator")?;
    if !status.success() {
        bail!("the emulator exited with {status}");
    }
    Ok(())
}

/// A running emulator, stopped when dropped.
#[derive(Debug)]
pub(crate) struct Emulator {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl Emulator {
    /// Installs the emulator when missing, starts it on `port` (or a free one) and waits until
    /// it answers.
    pub(crate) fn start(port: Option<u16>, seed_alias: Option<&str>) -> Result<Self> {
        let python = crate::pytools::install(crate::pytools::EMULATOR)?.python();
        let port = match port {
            Some(port) => port,
            None => free_port()?,
        };
        let log = project_root().join("target").join("emulator.log");
        fs::create_dir_all(log.parent().expect("log has a parent"))?;
        let log_file =
            fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut command = Command::new(&python);
        command.arg(script()).args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--exit-with-parent",
        ]);
        if let Some(alias) = seed_alias {
            command.args(["--seed-alias", alias]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("starting the emulator")?;
        let mut emulator = Self {
            child: Some(child),
            port,
            log,
        };
        emulator.wait_ready()?;
        Ok(emulator)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                bail!("the emulator exited with {status} before it was ready:\n{log}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "the emulator did not answer on {addr} within 60 s; see {}",
            self.log.display()
        )
    }

    /// The emulator's process ID (for reading its CPU time).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `127.0.0.1:PORT`.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Service-specific endpoint variables (`AWS_ENDPOINT_URL_KMS`, …) of the person running
    /// the tests: they would override the emulator's endpoint, so tests run without them.
    pub(crate) fn foreign_env() -> Vec<String> {
        std::env::vars()
            .map(|(name, _)| name)
            .filter(|name| {
                name.starts_with("AWS_ENDPOINT_URL_")
                    || name == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
            })
            .collect()
    }

    /// The environment a client needs to use this emulator: the endpoint, a region, and
    /// dummy credentials (never real ones, so nothing can reach a real account).
    pub(crate) fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            // The AWS CLI (version 1, pinned in tools/awscli) reads this one, not AWS_REGION.
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_SESSION_TOKEN", "testing".into()),
            // Profiles and config files of the person running the tests must not leak in.
            ("AWS_PROFILE", "kmsrot-emulator".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Stops the emulator and returns the path of its log.
    pub(crate) fn stop(mut self) -> PathBuf {
        self.kill();
        self.log.clone()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn script() -> PathBuf {
    project_root().join("tools/emulator/kmsrot_emulator.py")
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}
