//! Envelope rewrap over an S3 prefix: every object that is an AWS Encryption SDK message
//! wrapped by a key of the alias's history is moved to the alias's current key, in place.
//!
//! Each object is read with HEAD (ETag, version, metadata, tags, encryption), then read whole
//! (`If-Match` that ETag) into an unnamed temporary file, rewrapped into another (see
//! [`crate::envelope::rewrap`]: the frames are copied, never decrypted), and written back with
//! PutObject conditional on the same ETag (`If-Match`, S3's conditional write), so a write made
//! meanwhile is never overwritten. The new object keeps the content headers, user metadata,
//! tags, storage class and server-side encryption of the one it replaces. In a versioned bucket
//! the old message stays as the previous version. Memory stays constant: the message passes
//! through files.
//!
//! A run records finished objects in a checkpoint file (the format `reencrypt` uses, marked as
//! a rewrap), so it resumes where it stopped.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
use futures_util::StreamExt;
use kmsrot_types::KeyArn;
use kmsrot_types::s3::{ObjectEncryption, ObjectFailure, RewrapReport, S3Location};

use super::checkpoint::{Checkpoint, Header as CheckpointHeader};
use super::reencrypt::{ObjectOutcome, Progress};
use super::{Failure, Head, Listed, S3, S3Error};
use crate::AliasKms;
use crate::envelope::stream::read_header_from;
use crate::envelope::{
    CommitmentPolicy, EnvelopeError, EnvelopeFailure, RewrapOutcome, RewrapPlan,
};

/// The options of a rewrap run over S3.
#[derive(Debug, Clone)]
pub struct RewrapOptions {
    /// Objects handled at once.
    pub concurrency: usize,
    /// Change nothing; report what would move (from each object's header, without KMS).
    pub dry_run: bool,
    /// The checkpoint file: read when it exists, appended to as objects finish.
    pub checkpoint: Option<PathBuf>,
    /// Set (for example by Ctrl-C) to start no new object; objects in flight finish.
    pub stop: Arc<AtomicBool>,
    /// The most encrypted data keys a message may carry.
    pub max_data_keys: Option<usize>,
}

impl Default for RewrapOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            dry_run: false,
            checkpoint: None,
            stop: Arc::default(),
            max_data_keys: None,
        }
    }
}

/// Reasons a message is left as it is.
pub mod skip {
    /// Its only data key of the alias's history is the current key's.
    pub const CURRENT: &str = "already under the current key";
    /// It is not an AWS Encryption SDK message.
    pub const NOT_A_MESSAGE: &str = "not an AWS Encryption SDK message";
}

/// S3's largest single PutObject.
const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// The bytes a dry run reads of each object: enough for any real header.
const DRY_RUN_READ: u64 = 1024 * 1024;

struct Run<'a> {
    s3: &'a S3,
    bucket: &'a str,
    alias: &'a AliasKms,
    history: &'a [KeyArn],
    options: &'a RewrapOptions,
}

impl S3 {
    /// Rewraps every AWS Encryption SDK message under `at` to the key `alias` names now, and
    /// reports what happened. Objects that fail are reported; the run fails as a whole only if
    /// it cannot start (no bucket, unusable alias, bad checkpoint file) or record progress.
    pub async fn envelope_rewrap(
        &self,
        at: &S3Location,
        alias: &AliasKms,
        options: &RewrapOptions,
        progress: &dyn Progress,
    ) -> Result<RewrapReport, S3Error> {
        let history = alias.history().await?;
        let target = Self::target_key(alias).await?.key_arn;
        let checkpoint = match &options.checkpoint {
            Some(path) => Some(Checkpoint::open(
                path,
                &CheckpointHeader {
                    kmsrot_reencrypt_checkpoint: 1,
                    kind: Some(super::checkpoint::REWRAP.into()),
                    bucket: at.bucket.clone(),
                    prefix: at.key.clone(),
                    target_key_arn: target.clone(),
                },
            )?),
            None => None,
        };
        let listed = self.list(at).await?;
        let mut report = RewrapReport::new(
            at.to_string(),
            alias.alias().to_string(),
            target,
            options.dry_run,
        );
        report.listed = listed.len() as u64;
        progress.listed(report.listed, listed.iter().map(|o| o.size).sum());
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
            alias,
            history: &history,
            options,
        };
        let stopped = || options.stop.load(Ordering::SeqCst);
        let mut results = futures_util::stream::iter(todo)
            .take_while(|_| std::future::ready(!stopped()))
            .map(|object| async {
                let (outcome, version) = run.one(&object).await;
                (object, outcome, version)
            })
            .buffer_unordered(options.concurrency.max(1));
        while let Some((object, outcome, version_id)) = results.next().await {
            let record = match &outcome {
                ObjectOutcome::Moved { from } => {
                    report.moved += 1;
                    *report.moved_from.entry(from.clone()).or_default() += 1;
                    Some("moved")
                }
                ObjectOutcome::Skipped(why) => {
                    *report.skipped.entry((*why).to_owned()).or_default() += 1;
                    Some("skipped")
                }
                ObjectOutcome::Failed(reason) => {
                    tracing::info!(key = %object.key, %reason, "not rewrapped");
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
        report.failed.sort_by(|a, b| a.key.cmp(&b.key));
        let handled = report.moved
            + report.skipped.values().sum::<u64>()
            + report.resumed
            + report.failed.len() as u64;
        report.interrupted = stopped() && handled < report.listed;
        Ok(report)
    }
}

fn failed(what: &str, failure: &Failure) -> ObjectOutcome {
    ObjectOutcome::Failed(format!("{what}: {} ({})", failure.message, failure.code))
}

impl Run<'_> {
    /// One object: its outcome, and the version read.
    async fn one(&self, object: &Listed) -> (ObjectOutcome, Option<String>) {
        let head = match self.s3.head(self.bucket, &object.key).await {
            Ok(head) => head,
            Err(S3Error::NoSuchKey { .. }) => {
                return (ObjectOutcome::Skipped(super::reencrypt::skip::GONE), None);
            }
            Err(err) => return (ObjectOutcome::Failed(err.to_string()), None),
        };
        let version = head.version_id.clone();
        let outcome = match &head.encryption {
            ObjectEncryption::SseC => ObjectOutcome::Failed(
                "it is encrypted with SSE-C, whose key kmsrot does not have".into(),
            ),
            _ if head.archived => {
                ObjectOutcome::Failed("it is archived; restore it before rewrapping".into())
            }
            _ if head.size > MAX_PUT => ObjectOutcome::Failed(format!(
                "it is {} bytes, more than one PutObject takes (5 GiB)",
                head.size
            )),
            _ => match self.move_one(&object.key, &head).await {
                Ok(outcome) => outcome,
                Err(outcome) => outcome,
            },
        };
        (outcome, version)
    }

    async fn move_one(&self, key: &str, head: &Head) -> Result<ObjectOutcome, ObjectOutcome> {
        let client = &self.s3.client;
        let mut get = client
            .get_object()
            .bucket(self.bucket)
            .key(key)
            .set_version_id(head.version_id.clone())
            .set_if_match(head.etag.clone());
        if self.options.dry_run {
            get = get.range(format!("bytes=0-{}", DRY_RUN_READ - 1));
        }
        let out = get
            .send()
            .await
            .map_err(|e| failed("reading it", &Failure::of(&e)))?;
        let io = |what: &str, e: std::io::Error| ObjectOutcome::Failed(format!("{what}: {e}"));
        let mut spool = tempfile::tempfile().map_err(|e| io("making a temporary file", e))?;
        let mut body = out.body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| ObjectOutcome::Failed(format!("reading it: {e}")))?;
            spool.write_all(&chunk).map_err(|e| io("spooling it", e))?;
        }
        spool
            .seek(SeekFrom::Start(0))
            .map_err(|e| io("spooling it", e))?;
        let (header, header_bytes, _) = match read_header_from(
            &mut spool,
            CommitmentPolicy::default(),
            self.options.max_data_keys,
        ) {
            Ok(read) => read,
            Err(
                EnvelopeError::Malformed(_)
                | EnvelopeError::UnknownSuite(_)
                | EnvelopeError::Truncated { .. },
            ) => return Ok(ObjectOutcome::Skipped(skip::NOT_A_MESSAGE)),
            Err(err) => return Err(ObjectOutcome::Failed(err.to_string())),
        };
        if self.options.dry_run {
            return Ok(self.would(&header));
        }
        let rewrap = match self
            .alias
            .envelope_rewrap_plan(&header, &header_bytes, self.history)
            .await
        {
            Ok(RewrapPlan::Current(_)) => return Ok(ObjectOutcome::Skipped(skip::CURRENT)),
            Ok(RewrapPlan::Move(rewrap)) => rewrap,
            Err(err) => return Err(ObjectOutcome::Failed(err.to_string())),
        };
        let from = rewrap.from.to_string();
        let offset = header_bytes.len() as u64;
        let written = tokio::task::spawn_blocking(move || {
            let mut out = tempfile::NamedTempFile::new()
                .map_err(|e| EnvelopeError::io("making a temporary file", &e))?;
            spool
                .seek(SeekFrom::Start(offset))
                .map_err(|e| EnvelopeError::io("reading the spooled message", &e))?;
            rewrap.write(&mut spool, out.as_file_mut())?;
            Ok::<_, EnvelopeError>(out)
        })
        .await
        .map_err(|e| ObjectOutcome::Failed(format!("rewrapping it: {e}")))?
        .map_err(|e| ObjectOutcome::Failed(EnvelopeFailure::from(e).to_string()))?;
        let tagging = self
            .s3
            .tagging_query(self.bucket, key, head)
            .await
            .map_err(|f| failed("reading its tags", &f))?;
        let body = ByteStream::from_path(written.path())
            .await
            .map_err(|e| ObjectOutcome::Failed(format!("reading the rewrapped message: {e}")))?;
        let (algorithm, kms_key_id, bucket_key) = match &head.encryption {
            ObjectEncryption::SseKms {
                key, bucket_key, ..
            } => (
                Some(ServerSideEncryption::AwsKms),
                Some(key.clone()),
                Some(*bucket_key),
            ),
            ObjectEncryption::DsseKms { key, .. } => (
                Some(ServerSideEncryption::AwsKmsDsse),
                Some(key.clone()),
                None,
            ),
            ObjectEncryption::SseS3 => (Some(ServerSideEncryption::Aes256), None, None),
            _ => (None, None, None),
        };
        client
            .put_object()
            .bucket(self.bucket)
            .key(key)
            .body(body)
            // Only over the version that was read: a write made meanwhile is kept.
            .set_if_match(head.etag.clone())
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
            .set_server_side_encryption(algorithm)
            .set_ssekms_key_id(kms_key_id)
            .set_bucket_key_enabled(bucket_key)
            .send()
            .await
            .map_err(|e| {
                let failure = Failure::of(&e);
                if failure.status == Some(412) {
                    ObjectOutcome::Failed(
                        "it was written again since it was read, so it was left as it is; run again to rewrap the new version".into(),
                    )
                } else {
                    failed("writing it", &failure)
                }
            })?;
        Ok(ObjectOutcome::Moved { from })
    }

    /// What a dry run reports, from the header alone.
    fn would(&self, header: &crate::envelope::Header) -> ObjectOutcome {
        match crate::envelope::rewrap::preview(header, self.history) {
            Ok(RewrapOutcome::Moved { from, .. }) => ObjectOutcome::Moved {
                from: from.to_string(),
            },
            Ok(RewrapOutcome::Current(_)) => ObjectOutcome::Skipped(skip::CURRENT),
            Err(err) => ObjectOutcome::Failed(err.to_string()),
        }
    }
}
