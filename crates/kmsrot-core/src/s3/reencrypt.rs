//! Re-encryption of existing objects to the key an alias names now.
//!
//! Each object under the prefix is read with HEAD (the current version, in a versioned
//! bucket), then either left alone (already on the target key, not under an `--only-from` key),
//! reported as failed (SSE-C, whose key kmsrot never has) or moved: with
//! `UpdateObjectEncryption`, which re-wraps the object's data key without moving data, or by
//! copying the object onto itself under the new key. A copy keeps metadata, content type, tags
//! and storage class, and is made only if the object is still the version that was read
//! (`x-amz-copy-source-if-match`), so a concurrent write is never overwritten with older data.
//! Nothing is ever deleted: in a versioned bucket the copy is a new version, and the old one
//! stays.
//!
//! A dual-layer (DSSE-KMS) object is always copied, and stays DSSE-KMS under the new key:
//! `UpdateObjectEncryption` does not take DSSE-KMS objects, and could only make them SSE-KMS.
//! S3 Bucket Keys: an SSE-KMS object keeps its own setting; an object moved from SSE-S3 (or
//! none) takes the bucket default's, as a new object in the bucket would; DSSE-KMS has none
//! (S3 does not support Bucket Keys for it).
//!
//! Objects move `concurrency` at a time (`buffer_unordered`); an object larger than
//! [`MAX_SINGLE_COPY`] (5 GiB, S3's limit for one copy) is copied in parts. Each outcome is told
//! to a [`Progress`] (the CLI draws it) and each finished object is written to the checkpoint
//! file, so a run can resume. S3 throttling past the SDK's retries stops the run from starting
//! more objects.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ServerSideEncryption,
    SsekmsEncryption, StorageClass, TaggingDirective,
};
use futures_util::StreamExt;
use kmsrot_types::KeyArn;
use kmsrot_types::s3::{
    ObjectEncryption, ObjectFailure, ReencryptMethod, ReencryptReport, S3Location,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::checkpoint::{Checkpoint, Header};
use super::{Failure, Head, Listed, S3, S3Error};
use crate::AliasKms;

/// How to move objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum MethodChoice {
    /// `UpdateObjectEncryption` on AWS's own endpoint, falling back to a copy if it answers
    /// that the operation is not implemented; a copy on any other endpoint, where an unknown
    /// request could be misread as a write.
    #[default]
    Auto,
    /// `UpdateObjectEncryption` for every object it takes (objects without encryption and
    /// DSSE-KMS objects are copied); stop if the endpoint does not implement it.
    Update,
    /// Always copy in place.
    Copy,
}

/// S3's largest single-request copy; larger objects are copied in parts.
pub const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;
/// S3's largest number of parts in one upload.
const MAX_PARTS: u64 = 10_000;

/// The options of a re-encryption run.
#[derive(Debug, Clone)]
pub struct ReencryptOptions {
    /// Move only objects under one of these keys (empty: any key, SSE-S3 or none).
    pub only_from: Vec<KeyArn>,
    /// Objects handled at once.
    pub concurrency: usize,
    /// Change nothing; report what would move.
    pub dry_run: bool,
    /// How to move objects.
    pub method: MethodChoice,
    /// The checkpoint file: read when it exists, appended to as objects finish.
    pub checkpoint: Option<PathBuf>,
    /// Set (for example by Ctrl-C) to start no new object; objects in flight finish.
    pub stop: Arc<AtomicBool>,
    /// Objects larger than this are copied in parts.
    pub multipart_threshold: u64,
    /// The smallest part of a multipart copy (grown to fit S3's 10,000 parts).
    pub part_size: u64,
    /// Move every listed object with one request, without reading it first (no HEAD): a copy
    /// conditional on the ETag the listing gave, S3 copying metadata and tags, or an
    /// `UpdateObjectEncryption`. Objects already on the target key move again, and `only_from`
    /// cannot be used; see [`S3::reencrypt`] for what else it gives up.
    pub no_head: bool,
}

impl Default for ReencryptOptions {
    fn default() -> Self {
        Self {
            only_from: Vec::new(),
            concurrency: 32,
            dry_run: false,
            method: MethodChoice::Auto,
            checkpoint: None,
            stop: Arc::default(),
            multipart_threshold: MAX_SINGLE_COPY,
            part_size: 512 * 1024 * 1024,
            no_head: false,
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOutcome {
    /// Moved to the target key (in a dry run: would move) from this key or encryption.
    Moved {
        /// The key ARN, or `DSSE-KMS <key>`, `SSE-S3`, `none` ([`ObjectEncryption::source`]).
        from: String,
    },
    /// Left as it is, and why.
    Skipped(&'static str),
    /// Finished by an earlier run, according to the checkpoint.
    Resumed,
    /// Not moved, and why.
    Failed(String),
}

/// Reasons an object is left as it is.
pub mod skip {
    /// It is already under the key the alias names.
    pub const ON_TARGET: &str = "already under the target key";
    /// `--only-from` was given, and its key is not one of them.
    pub const NOT_ONLY_FROM: &str = "under a key not given with --only-from";
    /// It was deleted after the listing.
    pub const GONE: &str = "deleted since it was listed";
}

/// Told of a run's progress; the CLI draws it. Every method has a default that does nothing.
pub trait Progress: Send + Sync {
    /// The listing is complete.
    fn listed(&self, _objects: u64, _bytes: u64) {}
    /// An object is finished.
    fn object(&self, _key: &str, _bytes: u64, _outcome: &ObjectOutcome) {}
}

impl Progress for () {}

/// Characters left as they are in a copy source: RFC 3986's unreserved ones, and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `bucket/key[?versionId=…]`, URL-encoded as `x-amz-copy-source` must be.
pub(crate) fn copy_source(bucket: &str, key: &str, version: Option<&str>) -> String {
    let mut source = format!("{bucket}/{}", utf8_percent_encode(key, COPY_SOURCE));
    if let Some(v) = version {
        source.push_str("?versionId=");
        source.extend(utf8_percent_encode(v, COPY_SOURCE));
    }
    source
}

/// The byte ranges of a multipart copy: parts of at least `part_size`, at most 10,000.
pub(crate) fn parts(size: u64, part_size: u64) -> Vec<(u64, u64)> {
    let part = part_size.max(size.div_ceil(MAX_PARTS)).max(1);
    (0..size.div_ceil(part))
        .map(|i| (i * part, ((i + 1) * part).min(size) - 1))
        .collect()
}

/// Whether a failure says the endpoint does not know the operation at all. (A 405 is not
/// enough: S3 answers it for one object too, for example a version that became a delete
/// marker.)
fn unsupported(failure: &Failure) -> bool {
    failure.status == Some(501) || failure.code == "NotImplemented"
}

/// The code of a failure that shows the endpoint did not do what UpdateObjectEncryption asks.
const NOT_HONOURED: &str = "UpdateObjectEncryptionNotHonoured";

/// What a run of one object needs to know.
struct Run<'a> {
    s3: &'a S3,
    bucket: &'a str,
    target: &'a KeyArn,
    options: &'a ReencryptOptions,
    only_from: HashSet<&'a KeyArn>,
    /// The bucket default's S3 Bucket Key setting, which an object moved from SSE-S3 takes.
    default_bucket_key: bool,
    /// Set when `UpdateObjectEncryption` turned out unsupported (auto mode).
    copy_instead: AtomicBool,
    /// Set when S3 still throttled an object after every retry.
    throttled: AtomicBool,
    /// The bucket default's algorithm is DSSE-KMS (`--no-head` copies as DSSE-KMS then).
    default_dsse: bool,
}

/// Archive storage classes: an object there is copied only once restored, which only a HEAD
/// tells.
const ARCHIVES: [&str; 2] = ["GLACIER", "DEEP_ARCHIVE"];

/// How a one-request move reports where an object came from: it was not read.
const NOT_READ: &str = "not read (--no-head)";

impl S3 {
    /// Moves every object under `at` to the key `alias` names now, as `options` say, and
    /// reports what happened. Objects that fail are reported, never retried in a loop; the
    /// run fails as a whole only if it cannot start (no bucket, unusable alias, bad checkpoint
    /// file) or cannot record progress.
    pub async fn reencrypt(
        &self,
        at: &S3Location,
        alias: &AliasKms,
        options: &ReencryptOptions,
        progress: &dyn Progress,
    ) -> Result<ReencryptReport, S3Error> {
        if options.no_head && !options.only_from.is_empty() {
            return Err(S3Error::Refused(
                "--only-from needs each object's key, which only a HEAD tells: leave out --no-head"
                    .into(),
            ));
        }
        // The three answers a run needs before it moves anything, asked at once: each is a
        // round trip, and none depends on another.
        let (target, (default_bucket_key, default_dsse), listed) = tokio::try_join!(
            async { Ok(Self::target_key(alias).await?.key_arn) },
            // What S3 gives a new SSE-KMS object in this bucket; UpdateObjectEncryption, told
            // nothing, would turn S3 Bucket Keys off.
            async {
                match self.bucket_encryption(&at.bucket, None).await {
                    Ok(default) => Ok((
                        default.bucket_key,
                        default.algorithm.as_deref() == Some("aws:kms:dsse"),
                    )),
                    // An S3-compatible endpoint without default encryption has no setting to
                    // follow.
                    Err(S3Error::Service { code, .. }) if code == "NotImplemented" => {
                        Ok((false, false))
                    }
                    Err(other) => Err(other),
                }
            },
            self.list(at),
        )?;
        let method = match options.method {
            MethodChoice::Update => ReencryptMethod::Update,
            MethodChoice::Copy => ReencryptMethod::Copy,
            MethodChoice::Auto if self.aws_endpoint => ReencryptMethod::Update,
            MethodChoice::Auto => ReencryptMethod::Copy,
        };
        let checkpoint = match &options.checkpoint {
            Some(path) => Some(Checkpoint::open(
                path,
                &Header {
                    kmsrot_reencrypt_checkpoint: 1,
                    kind: None,
                    bucket: at.bucket.clone(),
                    prefix: at.key.clone(),
                    target_key_arn: target.clone(),
                },
            )?),
            None => None,
        };
        let mut report = ReencryptReport {
            bucket: at.bucket.clone(),
            prefix: at.key.clone(),
            alias: alias.alias().to_string(),
            target_key_arn: target.clone(),
            method,
            dry_run: options.dry_run,
            interrupted: false,
            throttled: false,
            listed: listed.len() as u64,
            listed_bytes: listed.iter().map(|o| o.size).sum(),
            moved: 0,
            moved_bytes: 0,
            moved_from: Default::default(),
            skipped: Default::default(),
            resumed: 0,
            failed: Vec::new(),
        };
        progress.listed(report.listed, report.listed_bytes);

        let (resumed, todo): (Vec<Listed>, Vec<Listed>) = listed
            .into_iter()
            .partition(|o| checkpoint.as_ref().is_some_and(|c| c.done.contains(&o.key)));
        for object in &resumed {
            report.resumed += 1;
            progress.object(&object.key, object.size, &ObjectOutcome::Resumed);
        }

        let run = Run {
            s3: self,
            bucket: &at.bucket,
            target: &target,
            options,
            only_from: options.only_from.iter().collect(),
            default_bucket_key,
            copy_instead: AtomicBool::new(method == ReencryptMethod::Copy),
            throttled: AtomicBool::new(false),
            default_dsse,
        };
        // Set when `--method update` meets an endpoint without it: start nothing more.
        let halt = AtomicBool::new(false);
        let mut unsupported_code = None;
        let stopped = || options.stop.load(Ordering::SeqCst) || halt.load(Ordering::SeqCst);
        let mut results = futures_util::stream::iter(todo)
            .take_while(|_| std::future::ready(!stopped()))
            .map(|object| run.one(object))
            .buffer_unordered(options.concurrency.max(1));
        while let Some((object, outcome, version_id, unsupported)) = results.next().await {
            if let Some(code) = unsupported {
                halt.store(true, Ordering::SeqCst);
                unsupported_code.get_or_insert(code);
            }
            // Throttled after every retry: starting more objects would only fail them too.
            if run.throttled.load(Ordering::SeqCst) {
                halt.store(true, Ordering::SeqCst);
            }
            let record = match &outcome {
                ObjectOutcome::Moved { from } => {
                    report.moved += 1;
                    report.moved_bytes += object.size;
                    *report.moved_from.entry(from.clone()).or_default() += 1;
                    Some("moved")
                }
                ObjectOutcome::Skipped(why) => {
                    *report.skipped.entry((*why).to_owned()).or_default() += 1;
                    // Only an object on the target is done; others may move in another run
                    // (another --only-from, a key restored, an object written again).
                    (*why == skip::ON_TARGET).then_some("skipped")
                }
                ObjectOutcome::Failed(reason) => {
                    // The report carries it; the CLI prints it as it happens.
                    tracing::info!(key = %object.key, %reason, "not re-encrypted");
                    report.failed.push(ObjectFailure {
                        key: object.key.clone(),
                        version_id,
                        reason: reason.clone(),
                    });
                    None
                }
                ObjectOutcome::Resumed => None,
            };
            if let (Some(result), Some(checkpoint), false) = (record, &checkpoint, options.dry_run)
            {
                checkpoint.record(&object.key, result)?;
            }
            progress.object(&object.key, object.size, &outcome);
        }
        drop(results);
        if run.copy_instead.load(Ordering::SeqCst) {
            report.method = ReencryptMethod::Copy;
        }
        report.failed.sort_by(|a, b| a.key.cmp(&b.key));
        report.throttled = run.throttled.load(Ordering::SeqCst);
        report.interrupted =
            (options.stop.load(Ordering::SeqCst) || report.throttled) && report.pending() > 0;
        if let Some(code) = unsupported_code {
            return Err(S3Error::UpdateUnsupported {
                region: self.region.clone(),
                code,
            });
        }
        Ok(report)
    }
}

impl Run<'_> {
    /// Handles one object: what happened, the version read, and whether
    /// `UpdateObjectEncryption` turned out unsupported with `--method update`.
    async fn one(&self, object: Listed) -> (Listed, ObjectOutcome, Option<String>, Option<String>) {
        if self.options.no_head
            && let Some(outcome) = self.one_request(&object).await
        {
            return (object, outcome, None, None);
        }
        let head = match self.s3.head(self.bucket, &object.key).await {
            Ok(head) => head,
            Err(S3Error::NoSuchKey { .. }) => {
                return (object, ObjectOutcome::Skipped(skip::GONE), None, None);
            }
            Err(other) => {
                if matches!(other, S3Error::Throttled { .. }) {
                    self.throttled.store(true, Ordering::SeqCst);
                }
                return (object, ObjectOutcome::Failed(other.to_string()), None, None);
            }
        };
        let version = head.version_id.clone();
        let (outcome, unsupported) = self.decide_and_move(&object, &head).await;
        (object, outcome, version, unsupported)
    }

    async fn decide_and_move(
        &self,
        object: &Listed,
        head: &Head,
    ) -> (ObjectOutcome, Option<String>) {
        match &head.encryption {
            ObjectEncryption::SseC => {
                return (
                    ObjectOutcome::Failed(
                        "encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it".into(),
                    ),
                    None,
                );
            }
            ObjectEncryption::Other { algorithm } => {
                return (
                    ObjectOutcome::Failed(format!(
                        "encrypted with {algorithm}, which kmsrot does not know how to re-encrypt"
                    )),
                    None,
                );
            }
            _ => {}
        }
        let current = head.encryption.key_arn();
        if current == Some(self.target) {
            return (ObjectOutcome::Skipped(skip::ON_TARGET), None);
        }
        if !self.only_from.is_empty() && !current.is_some_and(|k| self.only_from.contains(k)) {
            return (ObjectOutcome::Skipped(skip::NOT_ONLY_FROM), None);
        }
        let moved = ObjectOutcome::Moved {
            from: head.encryption.source(),
        };
        // UpdateObjectEncryption takes neither an object without encryption nor a DSSE-KMS one.
        let copy_only = matches!(
            head.encryption,
            ObjectEncryption::None | ObjectEncryption::DsseKms { .. }
        );
        let copying = self.copy_instead.load(Ordering::SeqCst) || copy_only;
        if self.options.dry_run && !(copying && head.archived) {
            return (moved, None);
        }
        if !copying {
            match self.update(&object.key, head).await {
                Ok(()) => return (moved, None),
                Err(f) if unsupported(&f) && self.options.method == MethodChoice::Auto => {
                    tracing::warn!(
                        code = %f.code,
                        "the endpoint does not implement UpdateObjectEncryption; copying in place instead"
                    );
                    self.copy_instead.store(true, Ordering::SeqCst);
                }
                Err(f) if unsupported(&f) || f.code == NOT_HONOURED => {
                    return (ObjectOutcome::Failed(f.reason()), Some(f.code));
                }
                Err(f) => return (self.failed(&f), None),
            }
        }
        if head.archived {
            let advice = if copy_only {
                "restore it (UpdateObjectEncryption, which needs no restore, takes neither unencrypted nor DSSE-KMS objects)"
            } else {
                "restore it, or use --method update, which needs no restore"
            };
            return (
                ObjectOutcome::Failed(format!(
                    "archived in {}: a copy needs it restored first; {advice}",
                    head.storage_class.as_deref().unwrap_or("an archive tier")
                )),
                None,
            );
        }
        let copied = if head.size > self.options.multipart_threshold {
            self.copy_in_parts(&object.key, head).await
        } else {
            self.copy(&object.key, head).await
        };
        match copied {
            Ok(Some(reported)) if reported.parse::<KeyArn>().ok().as_ref() != Some(self.target) => {
                (
                    ObjectOutcome::Failed(format!(
                        "S3 reports key {reported} for the copy, not the target key {}",
                        self.target
                    )),
                    None,
                )
            }
            Ok(_) => (moved, None),
            Err(f) => (self.failed(&f), None),
        }
    }

    /// Moves an object with one request, from what the listing told: an
    /// `UpdateObjectEncryption`, or a copy conditional on the listed ETag with S3 copying
    /// metadata and tags, under the bucket default's algorithm and Bucket Key setting.
    /// `None` when the object needs the HEAD path after all: archived, changed since it was
    /// listed, or refused by `UpdateObjectEncryption` (unencrypted or DSSE-KMS).
    async fn one_request(&self, object: &Listed) -> Option<ObjectOutcome> {
        if object
            .storage_class
            .as_deref()
            .is_some_and(|c| ARCHIVES.contains(&c))
            || object.size > self.options.multipart_threshold
        {
            return None;
        }
        let moved = ObjectOutcome::Moved {
            from: NOT_READ.into(),
        };
        if self.options.dry_run {
            return Some(moved);
        }
        // What the listing tells, standing in for a HEAD; S3 copies metadata and tags itself.
        let head = Head {
            encryption: if self.default_dsse {
                ObjectEncryption::DsseKms {
                    key: String::new(),
                    key_arn: None,
                }
            } else {
                ObjectEncryption::SseS3
            },
            size: object.size,
            etag: object.etag.clone(),
            version_id: None,
            storage_class: object.storage_class.clone(),
            archived: false,
            content_type: None,
            cache_control: None,
            content_disposition: None,
            content_encoding: None,
            content_language: None,
            expires: None,
            website_redirect_location: None,
            metadata: Default::default(),
            tag_count: 0,
        };
        if !self.copy_instead.load(Ordering::SeqCst) && !self.default_dsse {
            return match self.update(&object.key, &head).await {
                Ok(()) => Some(moved),
                Err(f) if f.is_throttling() => Some(self.failed(&f)),
                // Unsupported, or not for this object: the HEAD path decides.
                Err(_) => None,
            };
        }
        match self.copy(&object.key, &head).await {
            Ok(Some(reported)) if reported.parse::<KeyArn>().ok().as_ref() != Some(self.target) => {
                Some(ObjectOutcome::Failed(format!(
                    "S3 reports key {reported} for the copy, not the target key {}",
                    self.target
                )))
            }
            Ok(_) => Some(moved),
            Err(f) if f.is_throttling() => Some(self.failed(&f)),
            // Changed since the listing (412), or refused (an SSE-C source): the HEAD path
            // reads it and decides.
            Err(_) => None,
        }
    }

    /// A failed object, noting whether S3 was throttling.
    fn failed(&self, failure: &Failure) -> ObjectOutcome {
        if failure.is_throttling() {
            self.throttled.store(true, Ordering::SeqCst);
        }
        ObjectOutcome::Failed(failure.reason())
    }

    /// The S3 Bucket Key setting to send for a move: an SSE-KMS object keeps its own (the
    /// bucket default applies to new objects, not to existing ones); an object from SSE-S3 or
    /// without encryption takes the bucket default's, as a new object would; a DSSE-KMS object
    /// gets none, since S3 does not support Bucket Keys with DSSE-KMS.
    fn bucket_key(&self, head: &Head) -> Option<bool> {
        match head.encryption {
            ObjectEncryption::SseKms { bucket_key, .. } => Some(bucket_key),
            ObjectEncryption::DsseKms { .. } => None,
            _ => Some(self.default_bucket_key),
        }
    }

    /// The encryption a copy is made with: DSSE-KMS stays DSSE-KMS; everything else becomes
    /// SSE-KMS.
    fn algorithm(head: &Head) -> ServerSideEncryption {
        match head.encryption {
            ObjectEncryption::DsseKms { .. } => ServerSideEncryption::AwsKmsDsse,
            _ => ServerSideEncryption::AwsKms,
        }
    }

    /// `UpdateObjectEncryption`. On an endpoint other than AWS's, the object is read again
    /// afterwards: same ETag and size, and the target key, or the run stops.
    async fn update(&self, key: &str, head: &Head) -> Result<(), Failure> {
        self.send_update(key, head).await?;
        if self.s3.aws_endpoint {
            return Ok(());
        }
        let after = self.s3.head(self.bucket, key).await.map_err(|e| Failure {
            status: None,
            code: "HeadObject".into(),
            message: e.to_string(),
            unreachable: false,
        })?;
        let same = after.etag == head.etag && after.size == head.size;
        if same && after.encryption.key_arn() == Some(self.target) {
            return Ok(());
        }
        Err(Failure {
            status: None,
            code: NOT_HONOURED.into(),
            message: if same {
                format!(
                    "the endpoint accepted UpdateObjectEncryption but reports {} afterwards; use --method copy",
                    after.encryption.source()
                )
            } else {
                "the endpoint took UpdateObjectEncryption for a write and changed the object's data; in a versioned bucket its previous version holds the data; do not use --method update on this endpoint".into()
            },
            unreachable: false,
        })
    }

    async fn send_update(&self, key: &str, head: &Head) -> Result<(), Failure> {
        let encryption = SsekmsEncryption::builder()
            .kms_key_arn(self.target.to_string())
            .set_bucket_key_enabled(self.bucket_key(head))
            .build()
            .expect("the key ARN is set");
        self.s3
            .client
            .update_object_encryption()
            .bucket(self.bucket)
            .key(key)
            .set_version_id(head.version_id.clone())
            .object_encryption(aws_sdk_s3::types::ObjectEncryption::Ssekms(encryption))
            .send()
            .await
            .map(drop)
            .map_err(|e| Failure::of(&e))
    }

    /// Copies the object onto itself under the target key (DSSE-KMS for a DSSE-KMS object,
    /// SSE-KMS otherwise); returns the key S3 reports.
    async fn copy(&self, key: &str, head: &Head) -> Result<Option<String>, Failure> {
        let out = self
            .s3
            .client
            .copy_object()
            .bucket(self.bucket)
            .key(key)
            .copy_source(copy_source(self.bucket, key, head.version_id.as_deref()))
            .set_copy_source_if_match(head.etag.clone())
            // The destination too: a version written since the HEAD is never replaced.
            .set_if_match(head.etag.clone())
            .metadata_directive(MetadataDirective::Copy)
            .set_website_redirect_location(head.website_redirect_location.clone())
            .tagging_directive(TaggingDirective::Copy)
            .set_storage_class(head.storage_class.as_deref().map(StorageClass::from))
            .server_side_encryption(Self::algorithm(head))
            .ssekms_key_id(self.target.to_string())
            .set_bucket_key_enabled(self.bucket_key(head))
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        Ok(out.ssekms_key_id().map(str::to_owned))
    }

    /// Copies a large object onto itself in parts, carrying what a single copy would keep
    /// (metadata, content headers, tags, storage class, DSSE-KMS). An upload that fails is
    /// aborted.
    async fn copy_in_parts(&self, key: &str, head: &Head) -> Result<Option<String>, Failure> {
        let client = &self.s3.client;
        let tagging = self.s3.tagging_query(self.bucket, key, head).await?;
        let upload = client
            .create_multipart_upload()
            .bucket(self.bucket)
            .key(key)
            .set_content_type(head.content_type.clone())
            .set_cache_control(head.cache_control.clone())
            .set_content_disposition(head.content_disposition.clone())
            .set_content_encoding(head.content_encoding.clone())
            .set_content_language(head.content_language.clone())
            .set_expires(head.expires)
            .set_website_redirect_location(head.website_redirect_location.clone())
            .set_metadata(Some(head.metadata.clone()).filter(|m| !m.is_empty()))
            .set_storage_class(head.storage_class.as_deref().map(StorageClass::from))
            .set_tagging(tagging)
            .server_side_encryption(Self::algorithm(head))
            .ssekms_key_id(self.target.to_string())
            .set_bucket_key_enabled(self.bucket_key(head))
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let reported = upload.ssekms_key_id().map(str::to_owned);
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let source = copy_source(self.bucket, key, head.version_id.as_deref());
        let copied = async {
            let mut done = Vec::new();
            for (n, (first, last)) in parts(head.size, self.options.part_size)
                .into_iter()
                .enumerate()
            {
                let number = i32::try_from(n + 1).expect("at most 10,000 parts");
                let part = client
                    .upload_part_copy()
                    .bucket(self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .copy_source(&source)
                    .copy_source_range(format!("bytes={first}-{last}"))
                    .set_copy_source_if_match(head.etag.clone())
                    .send()
                    .await
                    .map_err(|e| Failure::of(&e))?;
                done.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(
                            part.copy_part_result()
                                .and_then(|r| r.e_tag())
                                .map(str::to_owned),
                        )
                        .build(),
                );
            }
            client
                .complete_multipart_upload()
                .bucket(self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .set_if_match(head.etag.clone())
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(done))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| Failure::of(&e))
        }
        .await;
        match copied {
            Ok(out) => Ok(out.ssekms_key_id().map(str::to_owned).or(reported)),
            Err(failure) => {
                // Leave no half-made upload behind (it would be billed as storage).
                if let Err(e) = client
                    .abort_multipart_upload()
                    .bucket(self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    tracing::warn!(key, upload_id, error = %Failure::of(&e).reason(), "could not abort the multipart upload");
                }
                Err(failure)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_url_encoded_with_their_version() {
        assert_eq!(copy_source("b", "a/b c+d.txt", None), "b/a/b%20c%2Bd.txt");
        assert_eq!(
            copy_source("b", "ü?x", Some("v+1")),
            "b/%C3%BC%3Fx?versionId=v%2B1"
        );
    }

    #[test]
    fn parts_cover_the_object_and_never_exceed_ten_thousand() {
        assert_eq!(parts(11, 5), vec![(0, 4), (5, 9), (10, 10)]);
        assert_eq!(parts(10, 5), vec![(0, 4), (5, 9)]);
        let big = 5 * 1024 * 1024 * 1024 * 1024_u64; // 5 TiB, S3's largest object
        let p = parts(big, 512 * 1024 * 1024);
        assert!(p.len() <= 10_000);
        assert_eq!(p.last().unwrap().1, big - 1);
        assert!(p.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }

    #[test]
    fn only_a_missing_operation_counts_as_unsupported() {
        let failure = |status, code: &str| Failure {
            status,
            code: code.into(),
            message: String::new(),
            unreachable: false,
        };
        assert!(unsupported(&failure(Some(501), "NotImplemented")));
        assert!(!unsupported(&failure(Some(405), "MethodNotAllowed")));
        assert!(!unsupported(&failure(Some(400), "InvalidRequest")));
        assert!(!unsupported(&failure(Some(403), "AccessDenied")));
    }
}
