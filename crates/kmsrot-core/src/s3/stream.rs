//! Objects as blocking streams, for code that reads and writes `std::io` streams (the
//! envelope format, [`crate::envelope::stream`]): [`ObjectReader`] reads an object's body as it
//! arrives, and [`ObjectWriter`] writes one through a multipart upload that becomes the object
//! only when [`ObjectUpload::complete`] is called. Memory stays bounded whatever the size.
//!
//! Both block their thread on the Tokio runtime that made them: use them where blocking is
//! allowed (`tokio::task::spawn_blocking`, as kmsrot's envelope streams do), never in async
//! code, where Tokio panics.
//!
//! S3's limits ("Amazon S3 multipart upload limits"): a part is 5 MiB to 5 GiB, except the
//! last; an upload has at most 10,000 parts; an object at most 5 TiB. Parts are
//! [`PART_SIZE`] for the first thousand and double every thousand after, so the 10,000 parts
//! reach past 5 TiB while memory stays at a few parts for any object under 8 GB.

use std::io::{self, Read, Write};
use std::pin::Pin;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use kmsrot_types::s3::S3Location;
use tokio::io::AsyncReadExt;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::error::Failure;
use super::{S3, S3Error};

/// The size of the first thousand parts of an upload.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts uploaded at once by one [`ObjectWriter`]. With the part being filled and one
/// waiting, an upload holds at most `PARTS_IN_FLIGHT + 2` parts.
pub const PARTS_IN_FLIGHT: usize = 2;
/// S3's most parts in one upload.
const MAX_PARTS: u32 = 10_000;

/// The size of part `number` (from 1): [`PART_SIZE`], doubled every thousand parts.
fn part_size(number: u32) -> usize {
    PART_SIZE << (number.saturating_sub(1) / 1000).min(9)
}

/// An object's body as a blocking [`Read`].
pub struct ObjectReader {
    handle: Handle,
    body: Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    len: Option<u64>,
    version_id: Option<String>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("len", &self.len)
            .field("version_id", &self.version_id)
            .finish_non_exhaustive()
    }
}

impl ObjectReader {
    /// The object's length, as S3 gave it.
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// Whether S3 said the object is empty.
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    /// The version read, in a versioned bucket.
    pub fn version_id(&self) -> Option<&str> {
        self.version_id.as_deref()
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handle.block_on(self.body.read(buf))
    }
}

/// A part, or the last one.
#[derive(Debug)]
enum Message {
    Part(Vec<u8>),
    Last(Vec<u8>),
}

/// Writes an object as a blocking [`Write`]: full parts go to a task that uploads them, while
/// the next fills. Nothing appears in the bucket until [`ObjectUpload::complete`]; a writer
/// dropped before then, or an upload that fails, leaves no object and no parts (the upload is
/// aborted).
pub struct ObjectWriter {
    tx: mpsc::Sender<Message>,
    part: Vec<u8>,
    /// Parts sent so far.
    sent: u32,
    location: String,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("location", &self.location)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    fn ship(&mut self) -> io::Result<()> {
        if self.sent + 1 >= MAX_PARTS {
            return Err(io::Error::other(format!(
                "{} would need more than S3's {MAX_PARTS} parts (5 TiB)",
                self.location
            )));
        }
        self.sent += 1;
        let next = part_size(self.sent + 1);
        let part = std::mem::replace(&mut self.part, Vec::with_capacity(next));
        self.tx
            .blocking_send(Message::Part(part))
            .map_err(|_| self.stopped())
    }

    fn stopped(&self) -> io::Error {
        io::Error::other(format!(
            "the upload to {} stopped; its own error says why",
            self.location
        ))
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.part.capacity() - self.part.len();
        let n = room.min(buf.len());
        self.part.extend_from_slice(&buf[..n]);
        if self.part.len() == self.part.capacity() {
            self.ship()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An object S3 now holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Uploaded {
    /// Where.
    pub location: String,
    /// Its version, in a versioned bucket.
    pub version_id: Option<String>,
    /// Its length.
    pub bytes: u64,
    /// The parts it was uploaded in (1: a single PutObject).
    pub parts: u32,
}

/// The task behind an [`ObjectWriter`].
#[derive(Debug)]
pub struct ObjectUpload {
    task: tokio::task::JoinHandle<Result<Uploaded, S3Error>>,
    cancel: oneshot::Sender<()>,
    location: String,
}

impl ObjectUpload {
    /// Sends the writer's last part and makes the object: a single PutObject when it was
    /// under one part, or CompleteMultipartUpload. Async: call it from async code, after the
    /// blocking writes.
    pub async fn complete(self, writer: ObjectWriter) -> Result<Uploaded, S3Error> {
        let ObjectWriter { tx, part, .. } = writer;
        // A closed channel means the task has stopped, with its error.
        let _ = tx.send(Message::Last(part)).await;
        drop(tx);
        let result = wait(self.task, &self.location).await;
        drop(self.cancel);
        result
    }

    /// Stops the upload and aborts it, so that no object and no parts are left. Returns the
    /// error the upload had stopped with, if it had failed first.
    pub async fn abort(self) -> Option<S3Error> {
        let _ = self.cancel.send(());
        match wait(self.task, &self.location).await {
            Err(S3Error::Refused(_)) | Ok(_) => None,
            Err(err) => Some(err),
        }
    }
}

async fn wait(
    task: tokio::task::JoinHandle<Result<Uploaded, S3Error>>,
    location: &str,
) -> Result<Uploaded, S3Error> {
    match task.await {
        Ok(result) => result,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => Err(S3Error::Refused(format!(
            "the upload to {location} was cancelled"
        ))),
    }
}

impl S3 {
    /// Opens an object for reading as a blocking stream. S3's answer (the object exists, may be
    /// read) comes now; the body is read as the reader is.
    pub async fn object_reader(&self, at: &S3Location) -> Result<ObjectReader, S3Error> {
        object_named(at)?;
        let out = self
            .client
            .get_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .send()
            .await
            .map_err(|e| Failure::of(&e).into_error("GetObject", &at.to_string(), &self.region))?;
        Ok(ObjectReader {
            handle: Handle::current(),
            len: out.content_length().and_then(|l| u64::try_from(l).ok()),
            version_id: out.version_id().map(str::to_owned),
            body: Box::pin(out.body.into_async_read()),
        })
    }

    /// A blocking writer of a new object at `at`, and the upload behind it. The object replaces
    /// any at `at` (a new version, in a versioned bucket) and is encrypted as the bucket's
    /// default says. Call it within a Tokio runtime; the upload runs there.
    pub fn object_writer(&self, at: &S3Location) -> Result<(ObjectWriter, ObjectUpload), S3Error> {
        object_named(at)?;
        let (tx, rx) = mpsc::channel(1);
        let (cancel, cancelled) = oneshot::channel();
        let location = at.to_string();
        let task = tokio::spawn(Upload::run(self.clone(), at.clone(), rx, cancelled));
        Ok((
            ObjectWriter {
                tx,
                part: Vec::with_capacity(part_size(1)),
                sent: 0,
                location: location.clone(),
            },
            ObjectUpload {
                task,
                cancel,
                location,
            },
        ))
    }
}

/// Refuses a location that names no object.
fn object_named(at: &S3Location) -> Result<(), S3Error> {
    if at.key.is_empty() || at.key.ends_with('/') {
        return Err(S3Error::Refused(format!(
            "{at} names no object: give the object's key, for example s3://{}/path/file",
            at.bucket
        )));
    }
    Ok(())
}

/// A multipart upload, as its task runs it.
struct Upload {
    s3: S3,
    at: S3Location,
    id: Option<String>,
    running: JoinSet<Result<CompletedPart, Failure>>,
    done: Vec<CompletedPart>,
    number: u32,
    bytes: u64,
}

impl Upload {
    async fn run(
        s3: S3,
        at: S3Location,
        rx: mpsc::Receiver<Message>,
        cancelled: oneshot::Receiver<()>,
    ) -> Result<Uploaded, S3Error> {
        let mut upload = Self {
            s3,
            at,
            id: None,
            running: JoinSet::new(),
            done: Vec::new(),
            number: 0,
            bytes: 0,
        };
        let result = upload.drive(rx, cancelled).await;
        if result.is_err() {
            upload.running.shutdown().await;
            upload.abort().await;
        }
        result
    }

    fn error(&self, operation: &'static str, failure: Failure) -> S3Error {
        failure.into_error(operation, &self.at.to_string(), &self.s3.region)
    }

    async fn drive(
        &mut self,
        mut rx: mpsc::Receiver<Message>,
        mut cancelled: oneshot::Receiver<()>,
    ) -> Result<Uploaded, S3Error> {
        let stopped = format!(
            "the upload to {} stopped before its end, and was aborted",
            self.at
        );
        let abandoned = || S3Error::Refused(stopped.clone());
        loop {
            tokio::select! {
                // A part that failed stops the upload at once.
                Some(joined) = self.running.join_next(), if !self.running.is_empty() => {
                    self.joined(joined)?;
                }
                _ = &mut cancelled => return Err(abandoned()),
                message = rx.recv() => match message {
                    None => return Err(abandoned()),
                    Some(Message::Part(part)) => self.part(part).await?,
                    Some(Message::Last(part)) => return self.last(part).await,
                },
            }
        }
    }

    fn joined(
        &mut self,
        joined: Result<Result<CompletedPart, Failure>, tokio::task::JoinError>,
    ) -> Result<(), S3Error> {
        match joined {
            Ok(Ok(part)) => {
                self.done.push(part);
                Ok(())
            }
            Ok(Err(failure)) => Err(self.error("UploadPart", failure)),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => Err(S3Error::Refused(format!(
                "a part of the upload to {} was cancelled",
                self.at
            ))),
        }
    }

    async fn part(&mut self, body: Vec<u8>) -> Result<(), S3Error> {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .s3
                    .client
                    .create_multipart_upload()
                    .bucket(&self.at.bucket)
                    .key(&self.at.key)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| self.error("CreateMultipartUpload", Failure::of(&e)))?;
                let id = out.upload_id().unwrap_or_default().to_owned();
                self.id = Some(id.clone());
                id
            }
        };
        while self.running.len() >= PARTS_IN_FLIGHT {
            if let Some(joined) = self.running.join_next().await {
                self.joined(joined)?;
            }
        }
        self.number += 1;
        self.bytes += body.len() as u64;
        let number = i32::try_from(self.number).unwrap_or(i32::MAX);
        let request = self
            .s3
            .client
            .upload_part()
            .bucket(&self.at.bucket)
            .key(&self.at.key)
            .upload_id(id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body));
        self.running.spawn(async move {
            let out = request.send().await.map_err(|e| Failure::of(&e))?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
                .build())
        });
        Ok(())
    }

    async fn last(&mut self, body: Vec<u8>) -> Result<Uploaded, S3Error> {
        let Some(id) = self.id.clone() else {
            let bytes = body.len() as u64;
            let out = self
                .s3
                .client
                .put_object()
                .bucket(&self.at.bucket)
                .key(&self.at.key)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| self.error("PutObject", Failure::of(&e)))?;
            return Ok(Uploaded {
                location: self.at.to_string(),
                version_id: out.version_id().map(str::to_owned),
                bytes,
                parts: 1,
            });
        };
        if !body.is_empty() {
            self.part(body).await?;
        }
        while let Some(joined) = self.running.join_next().await {
            self.joined(joined)?;
        }
        self.done.sort_by_key(|p| p.part_number());
        let out = self
            .s3
            .client
            .complete_multipart_upload()
            .bucket(&self.at.bucket)
            .key(&self.at.key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.done)))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.error("CompleteMultipartUpload", Failure::of(&e)))?;
        self.id = None;
        Ok(Uploaded {
            location: self.at.to_string(),
            version_id: out.version_id().map(str::to_owned),
            bytes: self.bytes,
            parts: self.number,
        })
    }

    /// Aborts the upload, if one was started: S3 keeps (and bills) the parts of an upload
    /// until it is completed or aborted.
    async fn abort(&mut self) {
        let Some(id) = self.id.take() else {
            return;
        };
        let result = self
            .s3
            .client
            .abort_multipart_upload()
            .bucket(&self.at.bucket)
            .key(&self.at.key)
            .upload_id(&id)
            .send()
            .await;
        if let Err(err) = result {
            let failure = Failure::of(&err);
            tracing::warn!(
                location = %self.at,
                upload_id = %id,
                error = %failure.reason(),
                "the incomplete multipart upload could not be aborted: S3 keeps its parts until it is aborted or a lifecycle rule removes it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_double_every_thousand_and_reach_past_five_tib() {
        assert_eq!(part_size(1), PART_SIZE);
        assert_eq!(part_size(1000), PART_SIZE);
        assert_eq!(part_size(1001), 2 * PART_SIZE);
        assert_eq!(part_size(MAX_PARTS), 512 * PART_SIZE);
        let total: u64 = (1..=MAX_PARTS).map(|n| part_size(n) as u64).sum();
        assert!(total > 5 << 40, "{total}");
        assert!(
            part_size(MAX_PARTS) as u64 <= 5 << 30,
            "a part is at most 5 GiB"
        );
    }
}
