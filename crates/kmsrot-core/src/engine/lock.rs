//! The alias's lock: one run at a time rotates, rolls back, aborts or advances a managed alias.
//!
//! KMS has no compare-and-swap on tags (the last TagResource wins), but CreateAlias is one: it
//! fails with `AlreadyExistsException`, "The request was rejected because it attempted to create
//! a resource that already exists." So the lock of `alias/NAME` is an alias of its own,
//! `alias/kmsrot-lock/NAME`, created (naming the alias's key) before a run changes anything and
//! deleted when it is done, whatever the outcome. A run that finds it reports the alias busy
//! and changes nothing.
//!
//! A run that dies leaves its lock behind. ListAliases gives each alias's `CreationDate` ("Date
//! and time that the alias was most recently created"): a lock older than [`LOCK_TIMEOUT`] (a
//! Lambda run lasts at most 900 s) is taken over, once. Every step of a rotation reads its state
//! first, so the run that takes over finishes what the dead one left.

use kmsrot_types::AliasName;

use super::keys::{KeyView, alias_subject};
use super::{RotationError, Rotator, rfc3339};
use crate::KmsError;

/// The prefix of lock aliases. No alias under it is managed; `init` and `adopt` refuse it.
pub(crate) const LOCK_PREFIX: &str = kmsrot_types::LOCK_ALIAS_PREFIX;

/// A lock older than this was left by a run that stopped: it is taken over (unless the engine
/// was given another timeout).
pub(crate) const LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);

/// Whether `alias` is one of kmsrot's locks.
pub(crate) fn is_lock(alias: &AliasName) -> bool {
    alias.is_lock()
}

/// The lock alias of `alias`, or why it has none (too long for KMS's 256 characters).
fn lock_name(alias: &AliasName) -> Result<AliasName, String> {
    let name = alias.as_str().trim_start_matches("alias/");
    format!("{LOCK_PREFIX}{name}").parse().map_err(|_| {
        format!(
            "its lock alias `{LOCK_PREFIX}{name}` would be longer than KMS allows (256 characters); kmsrot cannot rotate an alias whose name is longer than {} characters",
            256 - LOCK_PREFIX.len() + "alias/".len()
        )
    })
}

/// The prefix of take-over markers: `alias/kmsrot-lock-takeover/SECONDS/NAME` exists while a
/// run that took over the lock of `alias/NAME` created at SECONDS holds it.
const TAKEOVER_PREFIX: &str = "alias/kmsrot-lock-takeover/";

/// A lock held: the lock alias, and the marker of the take-over that got it, if one did.
struct Held {
    lock: AliasName,
    marker: Option<AliasName>,
}

fn takeover_name(alias: &AliasName, created: i64) -> Result<AliasName, String> {
    let name = alias.as_str().trim_start_matches("alias/");
    format!("{TAKEOVER_PREFIX}{created}/{name}").parse().map_err(|_| {
        format!(
            "its lock is stale, and the alias's name is too long for the take-over marker; delete the lock by hand: `aws kms delete-alias --alias-name {LOCK_PREFIX}{name}`"
        )
    })
}

fn is_takeover_of(marker: &AliasName, alias: &AliasName) -> bool {
    let name = alias.as_str().trim_start_matches("alias/");
    marker
        .as_str()
        .strip_prefix(TAKEOVER_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(secs, rest)| rest == name && secs.bytes().all(|b| b.is_ascii_digit()))
}

fn real_now() -> i64 {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs()
}

impl Rotator {
    /// Runs `work` holding the alias's lock (naming `key`, the key the alias names), and
    /// releases the lock afterwards, whatever `work` returned.
    pub(crate) async fn locked<T, Fut>(
        &self,
        alias: &AliasName,
        key: &KeyView,
        work: impl FnOnce() -> Fut,
    ) -> Result<T, RotationError>
    where
        Fut: Future<Output = Result<T, RotationError>>,
    {
        let held = Box::pin(self.lock(alias, key)).await?;
        // Boxed: the work is a whole rotation or sweep step, and the Lambda's stack is small.
        let outcome = Box::pin(work()).await;
        Box::pin(self.unlock(alias, &held)).await;
        outcome
    }

    /// Takes the alias's lock, taking over one left by a run that stopped.
    async fn lock(&self, alias: &AliasName, key: &KeyView) -> Result<Held, RotationError> {
        let lock = lock_name(alias).map_err(|why| self.unsupported(alias, why))?;
        let mut marker: Option<AliasName> = None;
        // A lock released between our CreateAlias and our read of it: try again, a few times.
        let mut released = 0;
        loop {
            match self.store.create_alias(&lock, &key.id).await {
                Ok(()) => return Ok(Held { lock, marker }),
                Err(KmsError::Service { code, .. }) if code == "AlreadyExistsException" => {}
                Err(KmsError::PendingDeletion { .. } | KmsError::InvalidState { .. }) => {
                    return Err(self.unsupported(
                        alias,
                        format!(
                            "its key {} is {}, and KMS refuses the alias's lock ({lock}) on a key in that state. Cancel the deletion first (`kmsrot guard {} --change scheduled-deletion`, or `aws kms cancel-key-deletion`)",
                            key.arn, key.state, key.arn
                        ),
                    ));
                }
                Err(err) => return Err(err.into()),
            }
            let holder = match self
                .store
                .describe(lock.as_str(), &alias_subject(&lock))
                .await
            {
                Ok(holder) => holder,
                Err(KmsError::NotFound { .. }) if released < 3 => {
                    released += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 * released)).await;
                    continue;
                }
                Err(KmsError::NotFound { .. }) => {
                    return Err(self.busy(
                        alias,
                        format!(
                            "its lock ({lock}) is being taken and released by other runs; try again"
                        ),
                    ));
                }
                Err(err) => return Err(err.into()),
            };
            let dated = self.store.aliases_dated(&holder.arn).await?;
            let created = dated
                .iter()
                .find(|(name, _)| name == &lock)
                .and_then(|(_, created)| *created);
            let timeout = self.lock_timeout.as_secs() as i64;
            match created {
                Some(created) if marker.is_none() && real_now() - created >= timeout => {
                    // Taking over is itself a compare-and-swap: only the run that creates this
                    // lock generation's marker deletes the old lock. The marker lives as long
                    // as the new lock, so a run that still reads the old lock's date cannot
                    // take the new one over.
                    let taking = takeover_name(alias, created)
                        .map_err(|why| self.unsupported(alias, why))?;
                    match self.store.create_alias(&taking, &key.id).await {
                        Ok(()) => {}
                        Err(KmsError::Service { code, .. }) if code == "AlreadyExistsException" => {
                            return Err(self.busy(
                                alias,
                                format!(
                                    "another kmsrot run is taking over its stale lock ({lock})"
                                ),
                            ));
                        }
                        Err(err) => return Err(err.into()),
                    }
                    tracing::warn!(%alias, %lock, created = %rfc3339(aws_smithy_types::DateTime::from_secs(created)), "taking over a lock left by a run that stopped");
                    // Markers of earlier take-overs whose runs stopped too.
                    for (name, made) in &dated {
                        if name != &taking
                            && is_takeover_of(name, alias)
                            && made.is_some_and(|m| real_now() - m >= timeout)
                        {
                            let _ = self.store.delete_alias(name).await;
                        }
                    }
                    match self.store.delete_alias(&lock).await {
                        Ok(()) | Err(KmsError::NotFound { .. }) => {}
                        Err(err) => return Err(err.into()),
                    }
                    marker = Some(taking);
                }
                _ => {
                    if let Some(taking) = &marker {
                        // Another run took the lock after this one deleted the stale one.
                        let _ = self.store.delete_alias(taking).await;
                    }
                    let since = created
                        .map(|c| {
                            format!(
                                " since {}",
                                rfc3339(aws_smithy_types::DateTime::from_secs(c))
                            )
                        })
                        .unwrap_or_default();
                    return Err(self.busy(
                        alias,
                        format!(
                            "another kmsrot run holds its lock ({lock}{since}); try again once it has finished (a lock left by a run that stopped is taken over after {} s)",
                            self.lock_timeout.as_secs()
                        ),
                    ));
                }
            }
        }
    }

    /// Releases the lock, then the marker of a take-over. A failure is logged, not returned:
    /// the work is done, and a lock left behind is taken over once it is old.
    async fn unlock(&self, alias: &AliasName, held: &Held) {
        for name in std::iter::once(&held.lock).chain(&held.marker) {
            match self.store.delete_alias(name).await {
                Ok(()) | Err(KmsError::NotFound { .. }) => {}
                Err(err) => {
                    tracing::warn!(%alias, lock = %name, error = %err, "could not release the lock; it is taken over once it is old");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_sit_under_their_prefix_and_long_names_are_refused() {
        let alias: AliasName = "alias/team/payments".parse().unwrap();
        let lock = lock_name(&alias).unwrap();
        assert_eq!(lock.as_str(), "alias/kmsrot-lock/team/payments");
        assert!(is_lock(&lock));
        assert!(!is_lock(&alias));
        let longest: AliasName = format!("alias/{}", "a".repeat(256 - 6 - 12))
            .parse()
            .unwrap();
        assert_eq!(lock_name(&longest).unwrap().as_str().len(), 256);
        let too_long: AliasName = format!("alias/{}", "a".repeat(256 - 6 - 11))
            .parse()
            .unwrap();
        let why = lock_name(&too_long).unwrap_err();
        assert!(why.contains("longer than 244 characters"), "{why}");
        let marker = takeover_name(&alias, 1_796_000_000).unwrap();
        assert_eq!(
            marker.as_str(),
            "alias/kmsrot-lock-takeover/1796000000/team/payments"
        );
        assert!(marker.is_lock() && is_takeover_of(&marker, &alias));
        let other: AliasName = "alias/payments".parse().unwrap();
        assert!(!is_takeover_of(&marker, &other));
    }
}
