//! S3 through aliases: object locations, the encryption an object really has, a bucket's
//! default encryption, and the report of a re-encryption run.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::KeyArn;

/// An `s3://BUCKET[/KEY-OR-PREFIX]` location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The object key or key prefix; empty for the whole bucket.
    pub key: String,
}

/// Why an `s3://` location could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an S3 location: {reason}; write s3://BUCKET or s3://BUCKET/PREFIX")]
pub struct S3LocationError {
    input: String,
    reason: &'static str,
}

impl FromStr for S3Location {
    type Err = S3LocationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| S3LocationError {
            input: input.to_owned(),
            reason,
        };
        let rest = input
            .strip_prefix("s3://")
            .ok_or_else(|| fail("it does not start with s3://"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(fail("the bucket name is missing"));
        }
        if !is_bucket_name(bucket) {
            return Err(fail(
                "a bucket name has 3 to 63 lower-case letters, digits, dots and hyphens, and starts and ends with a letter or digit",
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// S3's rules for general purpose bucket names.
fn is_bucket_name(name: &str) -> bool {
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && ends_ok(name.chars().next())
        && ends_ok(name.chars().last())
        && !name.contains("..")
}

/// How an object is encrypted at rest, as S3 reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ObjectEncryption {
    /// SSE-KMS under this key. S3 reports a key ARN; `key` keeps whatever the endpoint said.
    SseKms {
        /// The key as S3 reported it.
        key: String,
        /// The key ARN, when `key` is one.
        key_arn: Option<KeyArn>,
        /// Whether an S3 Bucket Key is in use.
        bucket_key: bool,
    },
    /// Dual-layer SSE-KMS (DSSE-KMS) under this key.
    DsseKms {
        /// The key as S3 reported it.
        key: String,
        /// The key ARN, when `key` is one.
        #[serde(default)]
        key_arn: Option<KeyArn>,
    },
    /// SSE-S3: keys S3 manages.
    SseS3,
    /// SSE-C: a key the writer provided, which kmsrot never has.
    SseC,
    /// No server-side encryption reported.
    None,
    /// HEAD failed, so the encryption is not known.
    Unreadable {
        /// What S3 answered.
        reason: String,
    },
    /// An algorithm kmsrot does not know.
    Other {
        /// S3's name for it.
        algorithm: String,
    },
}

impl ObjectEncryption {
    /// The KMS key ARN, for SSE-KMS or DSSE-KMS under a key ARN.
    pub fn key_arn(&self) -> Option<&KeyArn> {
        match self {
            Self::SseKms { key_arn, .. } | Self::DsseKms { key_arn, .. } => key_arn.as_ref(),
            _ => None,
        }
    }

    /// A short name of where the object's data key comes from: the key ARN, or `SSE-S3`,
    /// `SSE-C`, `DSSE-KMS <key>`, `none`.
    pub fn source(&self) -> String {
        match self {
            Self::SseKms { key, .. } => key.clone(),
            Self::DsseKms { key, .. } => format!("DSSE-KMS {key}"),
            Self::SseS3 => "SSE-S3".into(),
            Self::SseC => "SSE-C".into(),
            Self::None => "none".into(),
            Self::Unreadable { .. } => "unreadable".into(),
            Self::Other { algorithm } => algorithm.clone(),
        }
    }
}

/// One object and its encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectKeyReport {
    /// The object key.
    pub key: String,
    /// The current version, in a versioned bucket.
    pub version_id: Option<String>,
    /// Bytes.
    pub size: u64,
    /// How it is encrypted.
    pub encryption: ObjectEncryption,
    /// Whether it is under the key the given alias names now, when an alias was given.
    pub on_alias_key: Option<bool>,
}

/// A bucket's default encryption, and what to watch out for in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// The bucket.
    pub bucket: String,
    /// `aws:kms`, `aws:kms:dsse` or `AES256`; `None` when the bucket has no rule.
    pub algorithm: Option<String>,
    /// The KMS key as configured: a key ARN, an alias ARN, or a bare ID or alias name.
    pub kms_key: Option<String>,
    /// Whether S3 Bucket Keys are enabled.
    pub bucket_key: bool,
    /// Problems with the configuration, each a full sentence.
    pub warnings: Vec<String>,
}

/// How objects are moved to the new key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReencryptMethod {
    /// `UpdateObjectEncryption`: S3 re-wraps the object's data key; no data moves and every
    /// property of the object is kept.
    Update,
    /// `CopyObject` in place (multipart copy for large objects) with the new key, keeping
    /// metadata, content type, tags and storage class.
    Copy,
}

impl fmt::Display for ReencryptMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Update => "UpdateObjectEncryption",
            Self::Copy => "copy in place",
        })
    }
}

/// An object that was not re-encrypted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectFailure {
    /// The object key.
    pub key: String,
    /// The version that was read, in a versioned bucket.
    pub version_id: Option<String>,
    /// What went wrong, and what to do.
    pub reason: String,
}

/// What a re-encryption run did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReencryptReport {
    /// The bucket.
    pub bucket: String,
    /// The key prefix; empty for the whole bucket.
    pub prefix: String,
    /// The alias whose key the objects move to.
    pub alias: String,
    /// The key the alias named when the run started.
    pub target_key_arn: KeyArn,
    /// How objects were moved.
    pub method: ReencryptMethod,
    /// Nothing was changed.
    pub dry_run: bool,
    /// The run was stopped (Ctrl-C, or throttling) before every object was handled; resume it.
    pub interrupted: bool,
    /// S3 kept throttling after every retry, so the run started no more objects.
    #[serde(default)]
    pub throttled: bool,
    /// Objects under the prefix.
    pub listed: u64,
    /// Their bytes.
    pub listed_bytes: u64,
    /// Objects moved to the target key (in a dry run: that would move).
    pub moved: u64,
    /// Their bytes.
    pub moved_bytes: u64,
    /// Moved objects by the key (or encryption) they were under before.
    pub moved_from: BTreeMap<String, u64>,
    /// Objects left as they were, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Objects finished by an earlier run, from the checkpoint file.
    pub resumed: u64,
    /// Objects that could not be moved, with reasons.
    pub failed: Vec<ObjectFailure>,
}

impl ReencryptReport {
    /// Objects not handled because the run was interrupted.
    pub fn pending(&self) -> u64 {
        let skipped: u64 = self.skipped.values().sum();
        self.listed
            .saturating_sub(self.moved + skipped + self.resumed + self.failed.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_bucket_and_prefix() {
        let at = |s: &str| s.parse::<S3Location>().unwrap();
        assert_eq!(at("s3://my-bucket").key, "");
        assert_eq!(at("s3://my-bucket/").key, "");
        let l = at("s3://my.bucket-1/logs/2026/");
        assert_eq!(
            (l.bucket.as_str(), l.key.as_str()),
            ("my.bucket-1", "logs/2026/")
        );
        assert_eq!(l.to_string(), "s3://my.bucket-1/logs/2026/");
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        let err = |s: &str| s.parse::<S3Location>().unwrap_err().to_string();
        assert!(err("my-bucket/x").contains("does not start with s3://"));
        assert!(err("s3:///x").contains("bucket name is missing"));
        for bad in [
            "s3://AB",
            "s3://My-Bucket",
            "s3://-bucket",
            "s3://a..b",
            "s3://bucket_1",
        ] {
            assert!(err(bad).contains("3 to 63 lower-case"), "{bad}");
        }
    }

    #[test]
    fn a_dual_layer_object_names_its_key_arn() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let dsse = ObjectEncryption::DsseKms {
            key: arn.into(),
            key_arn: Some(arn.parse().unwrap()),
        };
        assert_eq!(
            dsse.key_arn().map(ToString::to_string).as_deref(),
            Some(arn)
        );
        assert_eq!(dsse.source(), format!("DSSE-KMS {arn}"));
        let json = serde_json::to_string(&dsse).unwrap();
        assert_eq!(
            serde_json::from_str::<ObjectEncryption>(&json).unwrap(),
            dsse
        );
        // A document written before `key_arn` existed still reads.
        let old = format!(r#"{{"type":"dsse_kms","key":"{arn}"}}"#);
        assert_eq!(
            serde_json::from_str::<ObjectEncryption>(&old).unwrap(),
            ObjectEncryption::DsseKms {
                key: arn.into(),
                key_arn: None
            }
        );
    }

    #[test]
    fn pending_counts_what_is_left() {
        let report = ReencryptReport {
            bucket: "b".into(),
            prefix: String::new(),
            alias: "alias/a".into(),
            target_key_arn:
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .parse()
                    .unwrap(),
            method: ReencryptMethod::Copy,
            dry_run: false,
            interrupted: true,
            throttled: false,
            listed: 10,
            listed_bytes: 100,
            moved: 3,
            moved_bytes: 30,
            moved_from: BTreeMap::new(),
            skipped: BTreeMap::from([("already under the target key".into(), 2)]),
            resumed: 1,
            failed: vec![ObjectFailure {
                key: "k".into(),
                version_id: None,
                reason: "r".into(),
            }],
        };
        assert_eq!(report.pending(), 3);
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(
            serde_json::from_str::<ReencryptReport>(&json).unwrap(),
            report
        );
    }
}

/// What an envelope rewrap run did (or, in a dry run, would do), over files or an S3 prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapReport {
    /// The files, or `s3://BUCKET/PREFIX`.
    pub location: String,
    /// The alias whose current key the messages move to.
    pub alias: String,
    /// The key the alias named when the run started.
    pub target_key_arn: KeyArn,
    /// Nothing was changed.
    pub dry_run: bool,
    /// The run was stopped (Ctrl-C) before every message was handled; resume it.
    pub interrupted: bool,
    /// Files or objects to handle.
    pub listed: u64,
    /// Messages moved to the target key (in a dry run: that would move).
    pub moved: u64,
    /// Moved messages by the key they were under before.
    pub moved_from: BTreeMap<String, u64>,
    /// Files or objects left as they were, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Objects finished by an earlier run, from the checkpoint file.
    pub resumed: u64,
    /// Files or objects that could not be rewrapped, with reasons.
    pub failed: Vec<ObjectFailure>,
}

impl RewrapReport {
    /// An empty report.
    pub fn new(location: String, alias: String, target_key_arn: KeyArn, dry_run: bool) -> Self {
        Self {
            location,
            alias,
            target_key_arn,
            dry_run,
            interrupted: false,
            listed: 0,
            moved: 0,
            moved_from: BTreeMap::new(),
            skipped: BTreeMap::new(),
            resumed: 0,
            failed: Vec::new(),
        }
    }
}
