//! The Lambda zip in S3: the artifact bucket (created when asked) and the upload.

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_s3::Client as S3;

use crate::Artifact;

/// Uploads the zip, unless the bucket already holds it; returns its key.
pub(super) async fn upload(config: &SdkConfig, bucket: &str, package: &Artifact) -> Result<String> {
    let s3 = S3::new(config);
    let key = package.key();
    let exists = s3.head_object().bucket(bucket).key(&key).send().await;
    match exists {
        Ok(_) => println!("kmsrot-deploy: s3://{bucket}/{key} is already uploaded"),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {
            let body = aws_sdk_s3::primitives::ByteStream::from_path(&package.zip)
                .await
                .with_context(|| format!("reading {}", package.zip.display()))?;
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(body)
                .content_type("application/zip")
                .send()
                .await
                .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
            println!("kmsrot-deploy: uploaded s3://{bucket}/{key}");
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("HeadObject s3://{bucket}/{key}")));
        }
    }
    Ok(key)
}

pub(super) async fn ensure_bucket(s3: &S3, bucket: &str, region: &str, create: bool) -> Result<()> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(()),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 301) =>
        {
            bail!(
                "the artifact bucket {bucket} is in another region; Lambda reads code only from a bucket in {region}: name one there with --artifact-bucket"
            )
        }
        Err(err)
            if err
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 403) =>
        {
            bail!(
                "the artifact bucket {bucket} exists but this identity may not use it (403); name your own with --artifact-bucket"
            )
        }
        Err(err) => {
            return Err(anyhow::Error::new(err).context(format!("HeadBucket {bucket}")));
        }
    }
    if !create {
        bail!(
            "the artifact bucket {bucket} does not exist in {region}; pass --create-artifact-bucket to create it, or name another with --artifact-bucket"
        );
    }
    let mut request = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that takes no location constraint.
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request
        .send()
        .await
        .with_context(|| format!("creating the artifact bucket {bucket}"))?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .with_context(|| format!("blocking public access to {bucket}"))?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .with_context(|| format!("setting default encryption on {bucket}"))?;
    println!("kmsrot-deploy: created the artifact bucket {bucket} (private, encrypted)");
    Ok(())
}
