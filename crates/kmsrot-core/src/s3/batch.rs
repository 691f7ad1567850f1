//! What S3 Batch Operations needs to re-encrypt a bucket too large for one machine: a CSV
//! manifest of the objects that need to move, and the `CreateJob` request for its
//! `S3UpdateObjectEncryption` operation.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kmsrot_types::KeyArn;
use kmsrot_types::s3::{ReencryptReport, S3Location};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::reencrypt::{ObjectOutcome, Progress, ReencryptOptions};
use super::{S3, S3Error};
use crate::AliasKms;

/// A manifest and a job request, to upload and submit with the AWS CLI.
#[derive(Debug, Clone)]
pub struct BatchJob {
    /// `Bucket,Key` lines; keys URL-encoded, as S3 Batch Operations' CSV manifests require.
    pub manifest_csv: String,
    /// The `aws s3control create-job --cli-input-json` document.
    pub job: serde_json::Value,
    /// The dry run that chose the objects.
    pub report: ReencryptReport,
    /// Objects with no encryption, left out: UpdateObjectEncryption changes only encrypted
    /// objects, so these need `--method copy`.
    pub unencrypted: u64,
    /// DSSE-KMS objects, left out: UpdateObjectEncryption does not take them (and could only
    /// make them SSE-KMS), so these need `kmsrot reencrypt`, which copies them.
    pub dual_layer: u64,
}

/// Where the job expects its manifest, relative to the bucket.
pub const MANIFEST_KEY: &str = "kmsrot-batch/manifest.csv";
/// Placeholders the operator fills in before submitting the job.
pub const ROLE_PLACEHOLDER: &str = "REPLACE-WITH-BATCH-OPERATIONS-ROLE-ARN";
/// The manifest's ETag placeholder.
pub const ETAG_PLACEHOLDER: &str = "REPLACE-WITH-MANIFEST-ETAG";

/// Keys in a manifest: everything but unreserved characters and `/` is encoded.
const MANIFEST_KEY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Collects the objects a dry run would move, and passes everything on.
struct Collect<'a> {
    inner: &'a dyn Progress,
    keys: Mutex<Vec<String>>,
    unencrypted: AtomicU64,
    dual_layer: AtomicU64,
}

impl Progress for Collect<'_> {
    fn listed(&self, objects: u64, bytes: u64) {
        self.inner.listed(objects, bytes);
    }

    fn object(&self, key: &str, bytes: u64, outcome: &ObjectOutcome) {
        // `from` is `ObjectEncryption::source`: `none`, `DSSE-KMS <key>`, `SSE-S3` or a key.
        if let ObjectOutcome::Moved { from } = outcome {
            if from == "none" {
                self.unencrypted.fetch_add(1, Ordering::Relaxed);
            } else if from.starts_with("DSSE-KMS") {
                self.dual_layer.fetch_add(1, Ordering::Relaxed);
            } else {
                self.keys
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(key.to_owned());
            }
        }
        self.inner.object(key, bytes, outcome);
    }
}

impl S3 {
    /// Chooses the objects to move with a dry run, and writes the Batch Operations job that
    /// would move them with `UpdateObjectEncryption`, to be created in `account` (the bucket
    /// owner's; the target key's account when `None`). Nothing in S3 changes.
    pub async fn batch_job(
        &self,
        at: &S3Location,
        alias: &AliasKms,
        account: Option<&str>,
        options: &ReencryptOptions,
        progress: &dyn Progress,
    ) -> Result<BatchJob, S3Error> {
        let collect = Collect {
            inner: progress,
            keys: Mutex::default(),
            unencrypted: AtomicU64::default(),
            dual_layer: AtomicU64::default(),
        };
        let dry = ReencryptOptions {
            dry_run: true,
            checkpoint: None,
            ..options.clone()
        };
        let report = self.reencrypt(at, alias, &dry, &collect).await?;
        let mut keys = std::mem::take(&mut *collect.keys.lock().unwrap_or_else(|p| p.into_inner()));
        keys.sort();
        let manifest_csv = manifest(&at.bucket, &keys);
        let account = account.unwrap_or(report.target_key_arn.account());
        let job = job(
            at,
            account,
            &report.target_key_arn,
            &report.alias,
            &manifest_csv,
        );
        Ok(BatchJob {
            manifest_csv,
            job,
            unencrypted: collect.unencrypted.into_inner(),
            dual_layer: collect.dual_layer.into_inner(),
            report,
        })
    }
}

fn manifest(bucket: &str, keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("{bucket},{}\n", utf8_percent_encode(k, MANIFEST_KEY_SET)))
        .collect()
}

fn job(
    at: &S3Location,
    account: &str,
    target: &KeyArn,
    alias: &str,
    manifest: &str,
) -> serde_json::Value {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(manifest.as_bytes());
    let token: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let partition = target.partition().as_str();
    let bucket_arn = format!("arn:{partition}:s3:::{}", at.bucket);
    serde_json::json!({
        "AccountId": account,
        "ConfirmationRequired": true,
        "Description": format!("kmsrot: re-encrypt {at} to {alias} ({target})"),
        "Priority": 10,
        "RoleArn": ROLE_PLACEHOLDER,
        "ClientRequestToken": format!("kmsrot-{token}"),
        "Operation": {
            "S3UpdateObjectEncryption": {
                "ObjectEncryption": {
                    "SSEKMS": { "KMSKeyArn": target.to_string() }
                }
            }
        },
        "Manifest": {
            "Spec": { "Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"] },
            "Location": {
                "ObjectArn": format!("{bucket_arn}/{MANIFEST_KEY}"),
                "ETag": ETAG_PLACEHOLDER
            }
        },
        "Report": {
            "Bucket": bucket_arn,
            "Prefix": "kmsrot-batch/reports",
            "Format": "Report_CSV_20180820",
            "Enabled": true,
            "ReportScope": "FailedTasksOnly"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_url_encode_keys() {
        let keys = ["a/b c.txt".to_owned(), "x,y".to_owned()];
        assert_eq!(manifest("b", &keys), "b,a/b%20c.txt\nb,x%2Cy\n");
    }

    #[test]
    fn the_job_names_the_key_arn_and_the_manifest() {
        let target: KeyArn =
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .parse()
                .unwrap();
        let at: S3Location = "s3://data/logs/".parse().unwrap();
        let job = job(&at, "444455556666", &target, "alias/data", "data,logs/a\n");
        assert_eq!(job["AccountId"], "444455556666");
        assert_eq!(
            job["Operation"]["S3UpdateObjectEncryption"]["ObjectEncryption"]["SSEKMS"]["KMSKeyArn"],
            target.to_string()
        );
        assert_eq!(
            job["Manifest"]["Location"]["ObjectArn"],
            "arn:aws:s3:::data/kmsrot-batch/manifest.csv"
        );
        assert_eq!(job["ConfirmationRequired"], true);
    }
}
