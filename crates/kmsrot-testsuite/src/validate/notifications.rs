//! The notifications of the rotation and the rollback, read from the stack's topic.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kmsrot_types::AliasName;

use crate::inbox::Inbox;

pub(super) async fn notifications(
    inbox: &Inbox,
    alias: &AliasName,
    rollback: bool,
    wait: Duration,
) -> Result<String> {
    let wanted: &[&str] = if rollback {
        &["rotation_done", "rollback"]
    } else {
        &["rotation_done"]
    };
    let deadline = Instant::now() + wait;
    let mut kinds = Vec::new();
    loop {
        for message in inbox.drain(0, Duration::from_secs(1)).await? {
            if message.body["alias"].as_str() == Some(alias.as_str())
                && let Some(kind) = message.body["kind"].as_str()
            {
                kinds.push(kind.to_owned());
            }
        }
        if wanted.iter().all(|w| kinds.iter().any(|k| k == w)) {
            return Ok(format!("received {} for {alias}", kinds.join(", ")));
        }
        if Instant::now() >= deadline {
            bail!(
                "within {} s the topic delivered {:?} for {alias}, expected {wanted:?}",
                wait.as_secs(),
                kinds
            );
        }
    }
}
