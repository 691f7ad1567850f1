//! S3 SSE-KMS through aliases.
//!
//! Objects are written under the key an alias names *now*: kmsrot resolves the alias to its
//! key ARN and sends that ARN. AWS would record the key ARN either way, but an alias sent to S3
//! is resolved in the caller's account, and comparing keys (is this object on the current
//! key?) needs ARNs. A bucket's default encryption is different: it must keep following the
//! alias as rotations move it, so kmsrot writes the alias's full ARN there, never a bare alias
//! name, which S3 would resolve in the account of whoever writes the object.
//!
//! [`S3::put`] writes only under an enabled symmetric encryption key ([`S3::target_key`]);
//! [`S3::get`] and [`S3::object_keys`] (a HEAD per object) report the key ARN each object
//! really uses; [`S3::set_bucket_default`] writes the alias's full ARN, and
//! [`S3::bucket_encryption`] warns about a default that will not follow rotations (a key ARN)
//! or that S3 resolves in each writer's account (a bare alias name or key ID).
//!
//! [`S3::reencrypt`] moves existing objects to the key an alias names now (`reencrypt.rs`,
//! resumable from `checkpoint.rs`'s file); [`S3::envelope_rewrap`] (`rewrap.rs`) moves AWS
//! Encryption SDK messages to an alias's current key; `stream.rs` reads and writes objects as
//! blocking streams ([`S3::object_reader`], [`S3::object_writer`]) for the envelope format;
//! `batch.rs` turns a dry run into an S3 Batch Operations job; `error.rs` holds [`S3Error`].

mod batch;
mod checkpoint;
mod error;
mod reencrypt;
mod rewrap;
mod stream;

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use futures_util::StreamExt;
use kmsrot_types::s3::{BucketEncryption, ObjectEncryption, ObjectKeyReport, S3Location};
use kmsrot_types::{AliasRef, KeyArn, KeyInfo, KeyKind};

use crate::error::error_text;
use crate::{AliasKms, KmsError, Subject};

pub use batch::{BatchJob, ETAG_PLACEHOLDER, MANIFEST_KEY, ROLE_PLACEHOLDER};
pub use checkpoint::CheckpointError;
pub use error::S3Error;
pub(crate) use error::{Failure, SSE_C_HEAD};
pub use reencrypt::{
    MAX_SINGLE_COPY, MethodChoice, ObjectOutcome, Progress, ReencryptOptions, skip,
};
pub use rewrap::{RewrapOptions, skip as rewrap_skip};
pub use stream::{ObjectReader, ObjectUpload, ObjectWriter, PART_SIZE, PARTS_IN_FLIGHT, Uploaded};

/// What S3 said an object is encrypted with.
pub(crate) fn encryption_of(
    algorithm: Option<&ServerSideEncryption>,
    kms_key: Option<&str>,
    bucket_key: Option<bool>,
    customer_algorithm: Option<&str>,
) -> ObjectEncryption {
    if customer_algorithm.is_some() {
        return ObjectEncryption::SseC;
    }
    let key = kms_key.unwrap_or_default().to_owned();
    match algorithm {
        None => ObjectEncryption::None,
        Some(ServerSideEncryption::AwsKms) => ObjectEncryption::SseKms {
            key_arn: key.parse().ok(),
            key,
            bucket_key: bucket_key.unwrap_or(false),
        },
        Some(ServerSideEncryption::AwsKmsDsse) => ObjectEncryption::DsseKms {
            key_arn: key.parse().ok(),
            key,
        },
        Some(ServerSideEncryption::Aes256) => ObjectEncryption::SseS3,
        Some(other) => ObjectEncryption::Other {
            algorithm: other.as_str().to_owned(),
        },
    }
}

/// An object written under an alias's key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// Where.
    pub location: String,
    /// The key the alias named, which S3 encrypted the object under.
    pub key_arn: KeyArn,
    /// The new version, in a versioned bucket.
    pub version_id: Option<String>,
}

/// An object read back, with the key S3 decrypted it with.
#[derive(Debug)]
pub struct Fetched {
    /// The object's bytes.
    pub body: Vec<u8>,
    /// How it was encrypted.
    pub encryption: ObjectEncryption,
    /// Its content type.
    pub content_type: Option<String>,
}

/// S3 through aliases.
#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
    region: String,
    aws_endpoint: bool,
}

impl S3 {
    /// The S3 service for this configuration.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
            region: config
                .region()
                .map(|r| r.as_ref().to_owned())
                .unwrap_or_default(),
            aws_endpoint: custom_s3_endpoint(config).is_none(),
        }
    }

    /// S3 with a client built elsewhere (tests). `aws_endpoint` says whether the client talks
    /// to AWS's own S3 endpoint rather than one given with `--endpoint-url`.
    pub fn from_client(client: Client, region: &str, aws_endpoint: bool) -> Self {
        Self {
            client,
            region: region.to_owned(),
            aws_endpoint,
        }
    }

    /// The region in use.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The key an alias names now, checked to be usable for SSE-KMS: enabled, symmetric, for
    /// encryption. S3 supports only symmetric encryption keys.
    pub async fn target_key(alias: &AliasKms) -> Result<KeyInfo, KmsError> {
        let info = alias.describe().await?;
        let subject = Subject::Alias(alias.alias().clone());
        let region = alias.kms().region().to_owned();
        let key = Some(info.key_arn.clone());
        match info.key_state.as_str() {
            "Enabled" => {}
            "Disabled" => {
                return Err(KmsError::Disabled {
                    subject,
                    region,
                    key,
                });
            }
            "PendingDeletion" | "PendingReplicaDeletion" => {
                return Err(KmsError::PendingDeletion {
                    subject,
                    region,
                    key,
                });
            }
            state => {
                return Err(KmsError::InvalidState {
                    subject,
                    region,
                    operation: "SSE-KMS",
                    state: state.to_owned(),
                    message: "S3 can encrypt only under an enabled key".into(),
                });
            }
        }
        if KeyKind::of(&info.key_spec, &info.key_usage) != Ok(KeyKind::Symmetric) {
            return Err(KmsError::WrongKeyType {
                subject,
                region,
                operation: "SSE-KMS",
                message: format!(
                    "it names key {} with spec {} and usage {}, and S3 encrypts only under symmetric encryption keys (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
                    info.key_arn, info.key_spec, info.key_usage
                ),
            });
        }
        Ok(info)
    }

    /// Writes an object under the key the alias names now, sending that key's ARN.
    pub async fn put(
        &self,
        at: &S3Location,
        body: Vec<u8>,
        content_type: Option<&str>,
        alias: &AliasKms,
    ) -> Result<Written, S3Error> {
        if at.key.is_empty() || at.key.ends_with('/') {
            return Err(S3Error::Refused(format!(
                "{at} names no object: give the object's key, for example s3://{}/path/file",
                at.bucket
            )));
        }
        let target = Self::target_key(alias).await?;
        let out = self
            .client
            .put_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .body(ByteStream::from(body))
            .set_content_type(content_type.map(str::to_owned))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(target.key_arn.to_string())
            .send()
            .await
            .map_err(|e| Failure::of(&e).into_error("PutObject", &at.to_string(), &self.region))?;
        Ok(Written {
            location: at.to_string(),
            key_arn: target.key_arn,
            version_id: out.version_id().map(str::to_owned),
        })
    }

    /// Reads an object, and how it was encrypted.
    pub async fn get(&self, at: &S3Location) -> Result<Fetched, S3Error> {
        let out = self
            .client
            .get_object()
            .bucket(&at.bucket)
            .key(&at.key)
            .send()
            .await
            .map_err(|e| Failure::of(&e).into_error("GetObject", &at.to_string(), &self.region))?;
        let encryption = encryption_of(
            out.server_side_encryption(),
            out.ssekms_key_id(),
            out.bucket_key_enabled(),
            out.sse_customer_algorithm(),
        );
        let content_type = out.content_type().map(str::to_owned);
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| S3Error::Service {
                operation: "GetObject",
                target: at.to_string(),
                region: self.region.clone(),
                code: "ReadError".into(),
                message: error_text(&e),
            })?
            .to_vec();
        Ok(Fetched {
            body,
            encryption,
            content_type,
        })
    }

    /// An object's tags as the `x-amz-tagging` header carries them (URL query form), read
    /// from the version `head` describes; `None` when it has none.
    pub(crate) async fn tagging_query(
        &self,
        bucket: &str,
        key: &str,
        head: &Head,
    ) -> Result<Option<String>, Failure> {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        if head.tag_count == 0 {
            return Ok(None);
        }
        let tags = self
            .client
            .get_object_tagging()
            .bucket(bucket)
            .key(key)
            .set_version_id(head.version_id.clone())
            .send()
            .await
            .map_err(|e| Failure::of(&e))?;
        let query = tags
            .tag_set()
            .iter()
            .map(|t| {
                format!(
                    "{}={}",
                    utf8_percent_encode(t.key(), NON_ALPHANUMERIC),
                    utf8_percent_encode(t.value(), NON_ALPHANUMERIC)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        Ok(Some(query))
    }

    /// Every object under a prefix: key, size and ETag, in key order.
    pub(crate) async fn list(&self, at: &S3Location) -> Result<Vec<Listed>, S3Error> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&at.bucket)
            .prefix(&at.key)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                Failure::of(&e).into_error("ListObjectsV2", &at.to_string(), &self.region)
            })?;
            objects.extend(page.contents().iter().filter_map(|o| {
                Some(Listed {
                    key: o.key()?.to_owned(),
                    size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    etag: o.e_tag().map(str::to_owned),
                    storage_class: o.storage_class().map(|c| c.as_str().to_owned()),
                })
            }));
        }
        Ok(objects)
    }

    /// Which key each object under a prefix really uses (one HEAD per object, `concurrency`
    /// at a time). With `current`, each report says whether the object is on that key.
    pub async fn object_keys(
        &self,
        at: &S3Location,
        current: Option<&KeyArn>,
        concurrency: usize,
    ) -> Result<Vec<ObjectKeyReport>, S3Error> {
        let listed = self.list(at).await?;
        let heads = futures_util::stream::iter(listed)
            .map(|o| async move {
                match self.head(&at.bucket, &o.key).await {
                    Ok(h) => Ok((o, h)),
                    Err(e) => Err((o, e)),
                }
            })
            .buffered(concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let mut reports = Vec::with_capacity(heads.len());
        for head in heads {
            let (listed, head) = match head {
                Ok(pair) => pair,
                // Deleted since it was listed.
                Err((_, S3Error::NoSuchKey { .. })) => continue,
                Err((listed, other)) => {
                    reports.push(ObjectKeyReport {
                        key: listed.key,
                        version_id: None,
                        size: listed.size,
                        encryption: ObjectEncryption::Unreadable {
                            reason: other.to_string(),
                        },
                        on_alias_key: current.map(|_| false),
                    });
                    continue;
                }
            };
            reports.push(ObjectKeyReport {
                on_alias_key: current.map(|c| head.encryption.key_arn() == Some(c)),
                key: listed.key,
                version_id: head.version_id,
                size: head.size,
                encryption: head.encryption,
            });
        }
        Ok(reports)
    }

    /// An object's current version, as HEAD reports it.
    pub(crate) async fn head(&self, bucket: &str, key: &str) -> Result<Head, S3Error> {
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                let failure = Failure::of(&e);
                if failure.status == Some(400)
                    && matches!(failure.code.as_str(), "HTTP 400" | "BadRequest")
                {
                    // HEAD has no body; S3 answers a bare 400 for an SSE-C object read
                    // without its key.
                    return S3Error::Refused(SSE_C_HEAD.to_owned());
                }
                failure.into_error("HeadObject", &format!("s3://{bucket}/{key}"), &self.region)
            })?;
        Ok(Head {
            encryption: encryption_of(
                out.server_side_encryption(),
                out.ssekms_key_id(),
                out.bucket_key_enabled(),
                out.sse_customer_algorithm(),
            ),
            size: out
                .content_length()
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0),
            etag: out.e_tag().map(str::to_owned),
            version_id: out.version_id().map(str::to_owned).filter(|v| v != "null"),
            storage_class: out.storage_class().map(|s| s.as_str().to_owned()),
            archived: out.archive_status().is_some()
                || (matches!(
                    out.storage_class().map(|s| s.as_str()),
                    Some("GLACIER" | "DEEP_ARCHIVE")
                ) && !out
                    .restore()
                    .is_some_and(|r| r.contains("ongoing-request=\"false\""))),
            content_type: out.content_type().map(str::to_owned),
            cache_control: out.cache_control().map(str::to_owned),
            content_disposition: out.content_disposition().map(str::to_owned),
            content_encoding: out.content_encoding().map(str::to_owned),
            content_language: out.content_language().map(str::to_owned),
            expires: out.expires_string().and_then(|s| {
                aws_smithy_types::DateTime::from_str(
                    s,
                    aws_smithy_types::date_time::Format::HttpDate,
                )
                .ok()
            }),
            website_redirect_location: out.website_redirect_location().map(str::to_owned),
            metadata: out.metadata().cloned().unwrap_or_default(),
            tag_count: out.tag_count().unwrap_or(0),
        })
    }

    /// The bucket's default encryption, with a warning for every way it can surprise.
    /// `account` is the caller's account, when known.
    pub async fn bucket_encryption(
        &self,
        bucket: &str,
        account: Option<&str>,
    ) -> Result<BucketEncryption, S3Error> {
        let result = self
            .client
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await;
        let rule = match result {
            Ok(out) => out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first().cloned()),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.code == "ServerSideEncryptionConfigurationNotFoundError" {
                    None
                } else {
                    return Err(failure.into_error(
                        "GetBucketEncryption",
                        &format!("s3://{bucket}"),
                        &self.region,
                    ));
                }
            }
        };
        let default = rule
            .as_ref()
            .and_then(|r| r.apply_server_side_encryption_by_default());
        let algorithm = default.map(|d| d.sse_algorithm().as_str().to_owned());
        let kms_key = default
            .and_then(|d| d.kms_master_key_id())
            .map(str::to_owned);
        let warnings = match &kms_key {
            Some(key) => bucket_key_warnings(key, account),
            None => Vec::new(),
        };
        Ok(BucketEncryption {
            bucket: bucket.to_owned(),
            algorithm,
            kms_key,
            bucket_key: rule.and_then(|r| r.bucket_key_enabled()).unwrap_or(false),
            warnings,
        })
    }

    /// Makes SSE-KMS under the alias the bucket's default encryption. The configuration names
    /// the alias's full ARN, so that new objects follow the alias when it rotates and a writer
    /// from another account does not resolve the name in its own account.
    pub async fn set_bucket_default(
        &self,
        bucket: &str,
        alias: &AliasKms,
        bucket_key: bool,
    ) -> Result<BucketEncryption, S3Error> {
        let target = Self::target_key(alias).await?;
        let alias_arn = match alias.alias() {
            AliasRef::Arn(arn) => arn.to_string(),
            AliasRef::Name(name) => format!(
                "arn:{}:kms:{}:{}:{}",
                target.key_arn.partition().as_str(),
                target.key_arn.region(),
                target.key_arn.account(),
                name
            ),
        };
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(&alias_arn)
                    .build()
                    .map_err(|e| S3Error::Refused(e.to_string()))?,
            )
            .bucket_key_enabled(bucket_key)
            .build();
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(|e| S3Error::Refused(e.to_string()))?;
        self.client
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .map_err(|e| {
                Failure::of(&e).into_error(
                    "PutBucketEncryption",
                    &format!("s3://{bucket}"),
                    &self.region,
                )
            })?;
        self.bucket_encryption(bucket, Some(target.key_arn.account()))
            .await
    }
}

/// The S3 endpoint the configuration sets, as the S3 client resolves it: `--endpoint-url` or
/// `AWS_ENDPOINT_URL`, or an S3-only `AWS_ENDPOINT_URL_S3` or profile `services` entry.
fn custom_s3_endpoint(config: &SdkConfig) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("S3")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field is set");
    config
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| config.endpoint_url().map(str::to_owned))
}

/// What to watch out for in a bucket's default KMS key.
pub fn bucket_key_warnings(key: &str, account: Option<&str>) -> Vec<String> {
    let mut warnings = Vec::new();
    if key.starts_with("alias/") {
        warnings.push(format!(
            "the default names `{key}` by name: S3 resolves a bare alias in the account of whoever writes the object, so a writer from another account encrypts under its own account's alias of that name, or fails; name the alias's ARN instead (`kmsrot s3 default-encryption --alias {key}` does)"
        ));
    } else if !key.starts_with("arn:") {
        warnings.push(format!(
            "the default names key `{key}` by bare ID: S3 resolves it in the account of whoever writes the object, so a writer from another account cannot use it; name an alias's ARN instead"
        ));
    } else if let Ok(arn) = key.parse::<KeyArn>() {
        warnings.push(format!(
            "the default is pinned to key {arn}: new objects stay on it after its alias rotates; name the alias's ARN instead, so that new objects follow rotations"
        ));
        if account.is_some_and(|a| a != arn.account()) {
            warnings.push(format!(
                "the default key belongs to account {}, not this one: its key policy must let every writer use it",
                arn.account()
            ));
        }
    } else if let Some(other) = key
        .split(':')
        .nth(4)
        .filter(|a| account.is_some_and(|mine| mine != *a))
    {
        warnings.push(format!(
            "the default alias belongs to account {other}, not this one: the key it names must let every writer of this bucket use it"
        ));
    }
    warnings
}

/// An object as listed.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) size: u64,
    /// The ETag the listing gave.
    pub(crate) etag: Option<String>,
    /// The storage class the listing gave.
    pub(crate) storage_class: Option<String>,
}

/// An object's current version as HEAD reports it: what a copy in place must keep.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) encryption: ObjectEncryption,
    pub(crate) size: u64,
    pub(crate) etag: Option<String>,
    pub(crate) version_id: Option<String>,
    pub(crate) storage_class: Option<String>,
    pub(crate) archived: bool,
    pub(crate) content_type: Option<String>,
    pub(crate) cache_control: Option<String>,
    pub(crate) content_disposition: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) content_language: Option<String>,
    pub(crate) expires: Option<aws_smithy_types::DateTime>,
    pub(crate) website_redirect_location: Option<String>,
    pub(crate) metadata: HashMap<String, String>,
    pub(crate) tag_count: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    #[test]
    fn a_bare_alias_in_a_bucket_default_resolves_in_the_writers_account() {
        let w = bucket_key_warnings("alias/data", Some(ACCOUNT));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("account of whoever writes the object"),
            "{w:?}"
        );
        let w = bucket_key_warnings("1234abcd-12ab-34cd-56ef-1234567890ab", Some(ACCOUNT));
        assert!(w[0].contains("by bare ID"), "{w:?}");
    }

    #[test]
    fn an_alias_arn_is_fine_and_a_key_arn_is_pinned() {
        let alias = format!("arn:aws:kms:us-east-1:{ACCOUNT}:alias/data");
        assert!(bucket_key_warnings(&alias, Some(ACCOUNT)).is_empty());
        assert!(
            bucket_key_warnings(&alias, Some("444455556666"))[0].contains("account 111122223333")
        );
        let key =
            format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
        let w = bucket_key_warnings(&key, Some(ACCOUNT));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("pinned"), "{w:?}");
        assert_eq!(bucket_key_warnings(&key, Some("444455556666")).len(), 2);
    }

    #[test]
    fn encryption_is_read_from_what_s3_reports() {
        let arn =
            format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
        let e = encryption_of(
            Some(&ServerSideEncryption::AwsKms),
            Some(&arn),
            Some(true),
            None,
        );
        assert_eq!(e.key_arn().map(ToString::to_string), Some(arn.clone()));
        assert_eq!(e.source(), arn);
        assert_eq!(
            encryption_of(Some(&ServerSideEncryption::Aes256), None, None, None),
            ObjectEncryption::SseS3
        );
        assert_eq!(
            encryption_of(None, None, None, Some("AES256")),
            ObjectEncryption::SseC
        );
        assert_eq!(
            encryption_of(None, None, None, None),
            ObjectEncryption::None
        );
        let alias = encryption_of(
            Some(&ServerSideEncryption::AwsKms),
            Some("alias/x"),
            None,
            None,
        );
        assert_eq!(alias.key_arn(), None, "an alias is not a key ARN");
        let dsse = encryption_of(
            Some(&ServerSideEncryption::AwsKmsDsse),
            Some(&arn),
            None,
            None,
        );
        assert!(matches!(dsse, ObjectEncryption::DsseKms { .. }), "{dsse:?}");
        assert_eq!(dsse.key_arn().map(ToString::to_string), Some(arn.clone()));
        assert_eq!(dsse.source(), format!("DSSE-KMS {arn}"));
    }
}
