//! `kmsrot s3 keys` and `kmsrot s3 default-encryption`, for people.

use kmsrot_types::s3::{BucketEncryption, ObjectKeyReport};

use super::{bytes_text, table_text};

/// `kmsrot s3 keys`: one row per object, then a count per key.
pub(crate) fn object_keys_text(reports: &[ObjectKeyReport]) -> String {
    let with_alias = reports.iter().any(|r| r.on_alias_key.is_some());
    let mut headers = vec!["KEY", "SIZE", "ENCRYPTION"];
    if with_alias {
        headers.push("ON ALIAS KEY");
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let mut row = vec![r.key.clone(), bytes_text(r.size), r.encryption.source()];
            if let Some(on) = r.on_alias_key {
                row.push(if on { "yes" } else { "NO" }.to_owned());
            }
            row
        })
        .collect();
    let mut text = table_text(&headers, &rows);
    let mut by_source: std::collections::BTreeMap<String, usize> = Default::default();
    for r in reports {
        *by_source.entry(r.encryption.source()).or_default() += 1;
    }
    text.push_str(&format!("{} object(s)\n", reports.len()));
    for (source, n) in by_source {
        text.push_str(&format!("  {n:>6}  {source}\n"));
    }
    text
}

/// `kmsrot s3 default-encryption`.
pub(crate) fn bucket_encryption_text(report: &BucketEncryption) -> String {
    let mut text = format!("s3://{}\n", report.bucket);
    let algorithm = report.algorithm.as_deref().unwrap_or("none configured");
    text.push_str(&format!("  algorithm   {algorithm}\n"));
    if let Some(key) = &report.kms_key {
        text.push_str(&format!("  kms key     {key}\n"));
    }
    text.push_str(&format!(
        "  bucket key  {}\n",
        if report.bucket_key {
            "enabled"
        } else {
            "disabled"
        }
    ));
    for warning in &report.warnings {
        text.push_str(&format!("WARNING: {warning}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::{NEW, OLD, json_text};

    #[test]
    fn object_keys_and_bucket_snapshots() {
        use kmsrot_types::s3::ObjectEncryption;
        let reports = vec![
            ObjectKeyReport {
                key: "logs/a.gz".into(),
                version_id: None,
                size: 4096,
                encryption: ObjectEncryption::SseKms {
                    key: OLD.into(),
                    key_arn: Some(OLD.parse().unwrap()),
                    bucket_key: false,
                },
                on_alias_key: Some(false),
            },
            ObjectKeyReport {
                key: "logs/b.gz".into(),
                version_id: Some("v2".into()),
                size: 3 * 1024 * 1024,
                encryption: ObjectEncryption::SseKms {
                    key: NEW.into(),
                    key_arn: Some(NEW.parse().unwrap()),
                    bucket_key: true,
                },
                on_alias_key: Some(true),
            },
            ObjectKeyReport {
                key: "logs/c.gz".into(),
                version_id: None,
                size: 12,
                encryption: ObjectEncryption::SseS3,
                on_alias_key: Some(false),
            },
        ];
        expect_test::expect![[r#"
            KEY        SIZE     ENCRYPTION                                                                   ON ALIAS KEY
            logs/a.gz  4.0 KiB  arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab  NO
            logs/b.gz  3.0 MiB  arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab  yes
            logs/c.gz  12 B     SSE-S3                                                                       NO
            3 object(s)
                   1  SSE-S3
                   1  arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
                   1  arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
        "#]].assert_eq(&object_keys_text(&reports));
        expect_test::expect![[r#"
            {
              "key": "logs/a.gz",
              "version_id": null,
              "size": 4096,
              "encryption": {
                "type": "sse_kms",
                "key": "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab",
                "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab",
                "bucket_key": false
              },
              "on_alias_key": false
            }
        "#]].assert_eq(&json_text(&reports[0]));
        let bucket = BucketEncryption {
            bucket: "data".into(),
            algorithm: Some("aws:kms".into()),
            kms_key: Some("alias/payments".into()),
            bucket_key: false,
            warnings: kmsrot_core::s3::bucket_key_warnings("alias/payments", Some("111122223333")),
        };
        expect_test::expect![[r#"
            s3://data
              algorithm   aws:kms
              kms key     alias/payments
              bucket key  disabled
            WARNING: the default names `alias/payments` by name: S3 resolves a bare alias in the account of whoever writes the object, so a writer from another account encrypts under its own account's alias of that name, or fails; name the alias's ARN instead (`kmsrot s3 default-encryption --alias alias/payments` does)
        "#]].assert_eq(&bucket_encryption_text(&bucket));
    }
}
