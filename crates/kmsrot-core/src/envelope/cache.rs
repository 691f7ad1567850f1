//! A data-key cache, like the ESDK's caching cryptographic materials manager
//! (`framework/caching-cmm.md`): a data key is used for many messages, up to a maximum age
//! (required), a maximum number of messages and a maximum number of bytes.
//!
//! Entries are partitioned by alias (its Region and name), suite and encryption context, so a
//! data key is never used under another context or alias. As the ESDK's, the cache serves only
//! messages whose length is known in advance, and none longer than the byte limit. Each
//! message still has its own message ID, so its content key (derived with HKDF from the data
//! key and the message ID) is its own.
//!
//! The maximum age also bounds how long the key an alias named before a rotation still wraps
//! new data keys: a cached data key was wrapped when it was made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kmsrot_types::EncryptionContext;

use super::keyring::{EncryptionMaterials, EnvelopeFailure};
use crate::AliasKms;

/// How long and how much one data key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    /// The longest a data key is used after KMS made it.
    pub max_age: Duration,
    /// The most messages per data key (the ESDK's default: 2^32).
    pub max_messages: u64,
    /// The most plaintext bytes per data key (the ESDK's default: 2^63 - 1).
    pub max_bytes: u64,
}

impl CacheLimits {
    /// `max_age`, with the ESDK's defaults for the rest.
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            max_messages: 1 << 32,
            max_bytes: i64::MAX as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Partition {
    region: String,
    alias: String,
    signed: bool,
    context: Vec<(String, String)>,
}

#[derive(Debug)]
struct Entry {
    materials: Arc<EncryptionMaterials>,
    made: Instant,
    messages: u64,
    bytes: u64,
}

/// Counts of a cache's use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Messages served a cached data key.
    pub hits: u64,
    /// Data keys asked of KMS.
    pub misses: u64,
    /// Messages that bypassed the cache (too long).
    pub bypassed: u64,
}

/// A data-key cache, shared (behind an `Arc`) by the encryptions that should share data keys.
#[derive(Debug)]
pub struct DataKeyCache {
    limits: CacheLimits,
    capacity: usize,
    entries: Mutex<HashMap<Partition, Entry>>,
    stats: Mutex<CacheStats>,
}

impl DataKeyCache {
    /// A cache of at most `capacity` data keys, each used within `limits`.
    pub fn new(limits: CacheLimits, capacity: usize) -> Self {
        Self {
            limits,
            capacity: capacity.max(1),
            entries: Mutex::default(),
            stats: Mutex::default(),
        }
    }

    /// Its use so far.
    pub fn stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, f: impl FnOnce(&mut CacheStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Materials for a message of `length` bytes under `alias` and `context`: a cached data key
    /// while it is within the limits after this message, a new one from KMS otherwise.
    pub async fn materials(
        &self,
        alias: &AliasKms,
        context: &EncryptionContext,
        signed: bool,
        length: u64,
    ) -> Result<Arc<EncryptionMaterials>, EnvelopeFailure> {
        if length > self.limits.max_bytes {
            self.count(|s| s.bypassed += 1);
            return Ok(Arc::new(alias.envelope_materials(context, signed).await?));
        }
        let partition = Partition {
            region: alias.kms().region().to_owned(),
            alias: alias.alias().to_string(),
            signed,
            context: super::keyring::context_pairs(context),
        };
        if let Some(materials) = self.take(&partition, length) {
            self.count(|s| s.hits += 1);
            return Ok(materials);
        }
        // Made outside the lock: concurrent misses may each ask KMS, and the last one is kept.
        let materials = Arc::new(alias.envelope_materials(context, signed).await?);
        self.count(|s| s.misses += 1);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&partition) {
            // Evict the oldest entry.
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.made)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            partition,
            Entry {
                materials: materials.clone(),
                made: Instant::now(),
                messages: 1,
                bytes: length,
            },
        );
        Ok(materials)
    }

    /// The cached materials of a partition, counted for one more message of `length` bytes,
    /// if that keeps them within the limits; an entry past them is dropped.
    fn take(&self, partition: &Partition, length: u64) -> Option<Arc<EncryptionMaterials>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(partition)?;
        let within = entry.made.elapsed() < self.limits.max_age
            && entry.messages < self.limits.max_messages
            && entry
                .bytes
                .checked_add(length)
                .is_some_and(|b| b <= self.limits.max_bytes);
        if !within {
            entries.remove(partition);
            return None;
        }
        entry.messages += 1;
        entry.bytes += length;
        Some(entry.materials.clone())
    }
}
