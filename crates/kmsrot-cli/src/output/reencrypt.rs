//! `kmsrot reencrypt`'s final report, and what `--emit-batch-job` wrote, for people.

use std::path::Path;

use kmsrot_types::s3::{ReencryptReport, RewrapReport};

use super::bytes_text;

/// The final report of `kmsrot reencrypt`.
pub(crate) fn reencrypt_text(r: &ReencryptReport) -> String {
    let verb = if r.dry_run {
        "would re-encrypt"
    } else {
        "re-encrypted"
    };
    let mut text = format!(
        "{verb} s3://{}/{} to {} ({}) by {}\n",
        r.bucket, r.prefix, r.alias, r.target_key_arn, r.method
    );
    let skipped: u64 = r.skipped.values().sum();
    text.push_str(&format!(
        "  listed   {:>7}  {}\n",
        r.listed,
        bytes_text(r.listed_bytes)
    ));
    text.push_str(&format!(
        "  {}  {:>7}  {}\n",
        if r.dry_run { "to move" } else { "moved  " },
        r.moved,
        bytes_text(r.moved_bytes)
    ));
    for (from, n) in &r.moved_from {
        text.push_str(&format!("    {n:>7}  from {from}\n"));
    }
    text.push_str(&format!("  skipped  {skipped:>7}\n"));
    for (why, n) in &r.skipped {
        text.push_str(&format!("    {n:>7}  {why}\n"));
    }
    if r.resumed > 0 {
        text.push_str(&format!(
            "  resumed  {:>7}  finished by an earlier run\n",
            r.resumed
        ));
    }
    text.push_str(&format!("  failed   {:>7}\n", r.failed.len()));
    for f in &r.failed {
        text.push_str(&format!("    {}: {}\n", f.key, f.reason));
    }
    if r.dry_run {
        text.push_str("DRY RUN: nothing was changed\n");
    }
    if r.throttled {
        text.push_str(
            "THROTTLED: S3 kept throttling after every retry, so no more objects were started; run again later with a lower --concurrency\n",
        );
    }
    if r.interrupted {
        text.push_str(&format!(
            "INTERRUPTED: {} object(s) not handled yet; run again with --resume to finish\n",
            r.pending()
        ));
    }
    text
}

/// What `kmsrot reencrypt --emit-batch-job` wrote, and what to do with it. `unencrypted` and
/// `dual_layer` objects are left out of the manifest.
pub(crate) fn batch_job_text(
    r: &ReencryptReport,
    unencrypted: u64,
    dual_layer: u64,
    dir: &Path,
    manifest_key: &str,
) -> String {
    let manifest = dir.join("manifest.csv");
    let job = dir.join("job.json");
    let mut left_out = String::new();
    if unencrypted > 0 {
        left_out.push_str(&format!(
            "{unencrypted} object(s) without encryption are left out (UpdateObjectEncryption changes only encrypted objects): move them with kmsrot reencrypt --method copy\n"
        ));
    }
    if dual_layer > 0 {
        left_out.push_str(&format!(
            "{dual_layer} DSSE-KMS object(s) are left out (UpdateObjectEncryption does not take them, and could only make them SSE-KMS): move them with kmsrot reencrypt, which copies them and keeps DSSE-KMS\n"
        ));
    }
    left_out
        + &format!(
            "wrote {} ({} object(s) to move to {}) and {}\n\
         next:\n\
         \x20 1. aws s3 cp {} s3://{}/{manifest_key}\n\
         \x20 2. put the manifest's ETag and the Batch Operations role's ARN into {}\n\
         \x20 3. aws s3control create-job --region {} --cli-input-json file://{}\n",
            manifest.display(),
            r.moved - unencrypted - dual_layer,
            r.target_key_arn,
            job.display(),
            manifest.display(),
            r.bucket,
            job.display(),
            r.target_key_arn.region(),
            job.display(),
        )
}

/// The final report of `kmsrot envelope rewrap`.
pub(crate) fn rewrap_text(r: &RewrapReport) -> String {
    let verb = if r.dry_run {
        "would rewrap"
    } else {
        "rewrapped"
    };
    let mut text = format!(
        "{verb} {} to {} ({})\n",
        r.location, r.alias, r.target_key_arn
    );
    let skipped: u64 = r.skipped.values().sum();
    text.push_str(&format!("  listed   {:>7}\n", r.listed));
    text.push_str(&format!(
        "  {}  {:>7}\n",
        if r.dry_run { "to move" } else { "moved  " },
        r.moved
    ));
    for (from, n) in &r.moved_from {
        text.push_str(&format!("    {n:>7}  from {from}\n"));
    }
    text.push_str(&format!("  skipped  {skipped:>7}\n"));
    for (why, n) in &r.skipped {
        text.push_str(&format!("    {n:>7}  {why}\n"));
    }
    if r.resumed > 0 {
        text.push_str(&format!(
            "  resumed  {:>7}  finished by an earlier run\n",
            r.resumed
        ));
    }
    text.push_str(&format!("  failed   {:>7}\n", r.failed.len()));
    for f in &r.failed {
        text.push_str(&format!("    {}: {}\n", f.key, f.reason));
    }
    if r.dry_run {
        text.push_str("DRY RUN: nothing was changed\n");
    }
    if r.interrupted {
        text.push_str("INTERRUPTED: run again with --resume to finish\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::{NEW, OLD, json_text};

    fn reencrypt_report() -> ReencryptReport {
        ReencryptReport {
            bucket: "data".into(),
            prefix: "logs/".into(),
            alias: "alias/payments".into(),
            target_key_arn: NEW.parse().unwrap(),
            method: kmsrot_types::s3::ReencryptMethod::Copy,
            dry_run: false,
            interrupted: false,
            throttled: false,
            listed: 1000,
            listed_bytes: 4_096_000,
            moved: 990,
            moved_bytes: 4_055_040,
            moved_from: [(OLD.to_owned(), 900), ("SSE-S3".to_owned(), 90)].into(),
            skipped: [("already under the target key".to_owned(), 8)].into(),
            resumed: 0,
            failed: vec![
                kmsrot_types::s3::ObjectFailure {
                    key: "logs/a.gz".into(),
                    version_id: Some("v1".into()),
                    reason: "PreconditionFailed: At least one of the pre-conditions you specified did not hold; the object changed while it was being re-encrypted: run again to pick up the new version".into(),
                },
                kmsrot_types::s3::ObjectFailure {
                    key: "logs/b.gz".into(),
                    version_id: None,
                    reason: "encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it".into(),
                },
            ],
        }
    }

    #[test]
    fn reencrypt_snapshots() {
        let report = reencrypt_report();
        expect_test::expect![[r#"
            re-encrypted s3://data/logs/ to alias/payments (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab) by copy in place
              listed      1000  3.9 MiB
              moved        990  3.9 MiB
                     90  from SSE-S3
                    900  from arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
              skipped        8
                      8  already under the target key
              failed         2
                logs/a.gz: PreconditionFailed: At least one of the pre-conditions you specified did not hold; the object changed while it was being re-encrypted: run again to pick up the new version
                logs/b.gz: encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it
        "#]].assert_eq(&reencrypt_text(&report));
        expect_test::expect![[r#"
            {
              "bucket": "data",
              "prefix": "logs/",
              "alias": "alias/payments",
              "target_key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "method": "copy",
              "dry_run": false,
              "interrupted": false,
              "throttled": false,
              "listed": 1000,
              "listed_bytes": 4096000,
              "moved": 990,
              "moved_bytes": 4055040,
              "moved_from": {
                "SSE-S3": 90,
                "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab": 900
              },
              "skipped": {
                "already under the target key": 8
              },
              "resumed": 0,
              "failed": [
                {
                  "key": "logs/a.gz",
                  "version_id": "v1",
                  "reason": "PreconditionFailed: At least one of the pre-conditions you specified did not hold; the object changed while it was being re-encrypted: run again to pick up the new version"
                },
                {
                  "key": "logs/b.gz",
                  "version_id": null,
                  "reason": "encrypted with a customer-provided key (SSE-C): only that key can re-encrypt it, and kmsrot never has it"
                }
              ]
            }
        "#]].assert_eq(&json_text(&report));
        let dry = ReencryptReport {
            dry_run: true,
            failed: vec![],
            moved: 992,
            ..report.clone()
        };
        expect_test::expect![[r#"
            would re-encrypt s3://data/logs/ to alias/payments (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab) by copy in place
              listed      1000  3.9 MiB
              to move      992  3.9 MiB
                     90  from SSE-S3
                    900  from arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
              skipped        8
                      8  already under the target key
              failed         0
            DRY RUN: nothing was changed
        "#]].assert_eq(&reencrypt_text(&dry));
        let interrupted = ReencryptReport {
            interrupted: true,
            moved: 400,
            resumed: 100,
            failed: vec![],
            ..report
        };
        expect_test::expect![[r#"
            re-encrypted s3://data/logs/ to alias/payments (arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab) by copy in place
              listed      1000  3.9 MiB
              moved        400  3.9 MiB
                     90  from SSE-S3
                    900  from arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
              skipped        8
                      8  already under the target key
              resumed      100  finished by an earlier run
              failed         0
            INTERRUPTED: 492 object(s) not handled yet; run again with --resume to finish
        "#]].assert_eq(&reencrypt_text(&interrupted));
    }

    #[test]
    fn a_batch_job_says_what_it_left_out() {
        let report = ReencryptReport {
            dry_run: true,
            failed: vec![],
            ..reencrypt_report()
        };
        let text = batch_job_text(&report, 2, 3, Path::new("job"), "kmsrot-batch/manifest.csv");
        assert!(
            text.contains("2 object(s) without encryption are left out"),
            "{text}"
        );
        assert!(text.contains("3 DSSE-KMS object(s) are left out"), "{text}");
        assert!(text.contains("(985 object(s) to move to"), "{text}");
    }
}
