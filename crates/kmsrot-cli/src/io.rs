//! Reading input and writing output: files, or stdin and stdout when no file is named.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Reads a JSON document that kmsrot wrote (a signature or MAC document), naming `what` it
/// should be when it is not.
pub(crate) fn read_document<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a kmsrot {what} document", path.display()))
}

/// Reads a whole file, or stdin when `path` is `None` or `-`.
pub(crate) fn read_input(path: Option<&Path>) -> Result<Vec<u8>> {
    match path.filter(|p| *p != Path::new("-")) {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display())),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("reading stdin")?;
            Ok(bytes)
        }
    }
}

/// Writes a file readable by its owner only when it is created: it may hold plaintext.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Where a command's main output goes.
#[derive(Debug, Clone)]
pub(crate) enum Sink {
    /// A file, written whole.
    File(PathBuf),
    /// Standard output.
    Stdout,
}

impl Sink {
    pub(crate) fn new(path: Option<PathBuf>) -> Self {
        match path {
            Some(path) if path != Path::new("-") => Self::File(path),
            _ => Self::Stdout,
        }
    }

    /// Refuses to put binary data on a terminal, where it would garble the screen.
    pub(crate) fn check_binary_ok(&self, what: &str) -> Result<()> {
        if matches!(self, Self::Stdout) && std::io::stdout().is_terminal() {
            bail!(
                "refusing to write binary {what} to a terminal; use -o FILE, --base64, or redirect stdout"
            );
        }
        Ok(())
    }

    pub(crate) fn write(&self, bytes: &[u8]) -> Result<()> {
        match self {
            Self::File(path) => {
                write_private(path, bytes).with_context(|| format!("writing {}", path.display()))
            }
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .context("writing stdout")
            }
        }
    }
}
