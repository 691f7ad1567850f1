//! The checkpoint file of a re-encryption run: JSON lines, the first saying what the run is
//! (bucket, prefix, target key), each next one an object that is finished. A line is written
//! (and flushed to the OS) as soon as its object is done, so a crash or Ctrl-C loses at most
//! the objects in flight, and those are found on the target key and skipped when resumed.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kmsrot_types::KeyArn;
use serde::{Deserialize, Serialize};

/// Why the checkpoint file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing it failed.
    #[error("checkpoint file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// It is not a kmsrot checkpoint.
    #[error("{path} is not a kmsrot re-encryption checkpoint: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The alias names another key than when the checkpoint was written.
    #[error(
        "checkpoint file {path} moved objects to {theirs}, and the alias now names {ours}: it was rotated since; start again with a new --resume file, which moves every object to the new key"
    )]
    TargetMoved {
        /// The file.
        path: PathBuf,
        /// The key the checkpoint moved objects to.
        theirs: KeyArn,
        /// The key the alias names now.
        ours: KeyArn,
    },
    /// It belongs to another run.
    #[error(
        "checkpoint file {path} belongs to another run ({theirs}), not this one ({ours}); give another --resume file, or run the same command as before"
    )]
    OtherRun {
        /// The file.
        path: PathBuf,
        /// The run it records.
        theirs: String,
        /// This run.
        ours: String,
    },
}

/// The kind of a rewrap run's checkpoint.
pub(crate) const REWRAP: &str = "envelope-rewrap";

/// The first line: which run this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) kmsrot_reencrypt_checkpoint: u32,
    /// [`REWRAP`] for an envelope rewrap; absent for a re-encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
    pub(crate) bucket: String,
    pub(crate) prefix: String,
    pub(crate) target_key_arn: KeyArn,
}

impl Header {
    fn describe(&self) -> String {
        let what = match self.kind.as_deref() {
            Some(REWRAP) => "rewrap of ",
            _ => "",
        };
        format!(
            "{what}s3://{}/{} to {}",
            self.bucket, self.prefix, self.target_key_arn
        )
    }
}

/// A finished object.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    key: String,
    result: String,
}

/// An open checkpoint: what earlier runs finished, and the file to append to.
#[derive(Debug)]
pub(crate) struct Checkpoint {
    path: PathBuf,
    file: Mutex<File>,
    pub(crate) done: HashSet<String>,
}

impl Checkpoint {
    /// Opens `path`, creating it when it does not exist. An existing file must be for the same
    /// run: the same bucket, prefix and target key.
    pub(crate) fn open(path: &Path, header: &Header) -> Result<Self, CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.to_owned(),
            source,
        };
        let mut done = HashSet::new();
        let existing = match File::open(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let mut fresh = true;
        if let Some(file) = existing {
            let mut lines = BufReader::new(file).lines();
            if let Some(first) = lines.next() {
                fresh = false;
                let theirs: Header = serde_json::from_str(&first.map_err(io)?).map_err(|e| {
                    CheckpointError::Malformed {
                        path: path.to_owned(),
                        why: format!("its first line is not a checkpoint header: {e}"),
                    }
                })?;
                if theirs.bucket == header.bucket
                    && theirs.prefix == header.prefix
                    && theirs.target_key_arn != header.target_key_arn
                {
                    return Err(CheckpointError::TargetMoved {
                        path: path.to_owned(),
                        theirs: theirs.target_key_arn,
                        ours: header.target_key_arn.clone(),
                    });
                }
                if &theirs != header {
                    return Err(CheckpointError::OtherRun {
                        path: path.to_owned(),
                        theirs: theirs.describe(),
                        ours: header.describe(),
                    });
                }
                for line in lines {
                    // A line cut short by a crash is the last one; its object is re-checked.
                    if let Ok(entry) = serde_json::from_str::<Done>(&line.map_err(io)?) {
                        done.insert(entry.key);
                    }
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if fresh {
            let mut line = serde_json::to_vec(header).expect("a header serializes");
            line.push(b'\n');
            file.write_all(&line).map_err(io)?;
        } else {
            // The last line may have been cut short by a crash: start a new one.
            file.write_all(b"\n").map_err(io)?;
        }
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
            done,
        })
    }

    /// Records a finished object, in one write.
    pub(crate) fn record(&self, key: &str, result: &str) -> Result<(), CheckpointError> {
        let mut line = serde_json::to_vec(&Done {
            key: key.to_owned(),
            result: result.to_owned(),
        })
        .expect("an entry serializes");
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&line).map_err(|source| CheckpointError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(prefix: &str) -> Header {
        Header {
            kmsrot_reencrypt_checkpoint: 1,
            kind: None,
            bucket: "b".into(),
            prefix: prefix.into(),
            target_key_arn:
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .parse()
                    .unwrap(),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("kmsrot-checkpoint-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn a_reopened_checkpoint_knows_what_was_done_even_after_a_torn_line() {
        let path = tmp("torn");
        let first = Checkpoint::open(&path, &header("p/")).unwrap();
        assert!(first.done.is_empty());
        first.record("p/a", "moved").unwrap();
        first.record("p/b \"quoted\"\nnewline", "skipped").unwrap();
        drop(first);
        // A crash in the middle of a write.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"key\":\"p/c\",\"res")
            .unwrap();
        let second = Checkpoint::open(&path, &header("p/")).unwrap();
        assert_eq!(second.done.len(), 2);
        assert!(second.done.contains("p/b \"quoted\"\nnewline"));
        second.record("p/c", "moved").unwrap();
        drop(second);
        let third = Checkpoint::open(&path, &header("p/")).unwrap();
        assert_eq!(
            third.done.len(),
            3,
            "the torn line did not eat the next one"
        );
    }

    #[test]
    fn a_checkpoint_of_another_run_is_refused() {
        let path = tmp("other");
        Checkpoint::open(&path, &header("p/")).unwrap();
        let err = Checkpoint::open(&path, &header("q/")).unwrap_err();
        assert!(err.to_string().contains("belongs to another run"), "{err}");
        let mut rotated = header("p/");
        rotated.target_key_arn =
            "arn:aws:kms:us-east-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab"
                .parse()
                .unwrap();
        let err = Checkpoint::open(&path, &rotated).unwrap_err();
        assert!(err.to_string().contains("rotated since"), "{err}");
        std::fs::write(&path, "hello\n").unwrap();
        let err = Checkpoint::open(&path, &header("p/")).unwrap_err();
        assert!(
            err.to_string()
                .contains("not a kmsrot re-encryption checkpoint"),
            "{err}"
        );
    }
}
