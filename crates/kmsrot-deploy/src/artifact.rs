//! The Lambda zip and the template in S3: the artifact bucket (created when asked) and the
//! uploads.

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_s3::Client as S3;

use crate::Artifact;

/// Uploads the zip and returns its key. Always written, never trusted because an object of
/// that name exists: whoever may write to the bucket could have put other code there.
pub(super) async fn upload(config: &SdkConfig, bucket: &str, package: &Artifact) -> Result<String> {
    let key = package.key();
    let body = aws_sdk_s3::primitives::ByteStream::from_path(&package.zip)
        .await
        .with_context(|| format!("reading {}", package.zip.display()))?;
    S3::new(config)
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(body)
        .content_type("application/zip")
        .send()
        .await
        .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
    println!("kmsrot-deploy: uploaded s3://{bucket}/{key}");
    Ok(key)
}

/// Uploads the template next to the Lambda zip, under a name made of its SHA-256, and returns
/// the URL CloudFormation reads it from. The
/// template is sent by URL, not in the request: CloudFormation takes at most 51,200 bytes in
/// `TemplateBody`, and 1 MB by `TemplateURL`, which "must start with https://".
pub(super) async fn upload_template(
    config: &SdkConfig,
    bucket: &str,
    region: &str,
    template: &str,
) -> Result<String> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(template.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let key = format!("kmsrot-templates/kms-rotation-stack-{hex}.yaml");
    // Always written, never trusted because an object of that name exists: whoever may write
    // to the bucket could have put another template there, which CloudFormation would deploy
    // with CAPABILITY_IAM.
    S3::new(config)
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            template.as_bytes().to_vec(),
        ))
        .content_type("application/yaml")
        .send()
        .await
        .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
    println!("kmsrot-deploy: uploaded s3://{bucket}/{key}");
    Ok(template_url(bucket, region, &key))
}

/// The HTTPS URL of an object in `region` (China's Regions have their own domain):
/// virtual-hosted style, or path style for a bucket whose name has dots (its virtual-hosted
/// name would not match S3's TLS certificate).
fn template_url(bucket: &str, region: &str, key: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    if bucket.contains('.') {
        format!("https://s3.{region}.{domain}/{bucket}/{key}")
    } else {
        format!("https://{bucket}.s3.{region}.{domain}/{key}")
    }
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

#[cfg(test)]
mod tests {
    use super::template_url;

    #[test]
    fn template_urls_are_https_and_regional() {
        assert_eq!(
            template_url(
                "kmsrot-artifacts-111122223333-eu-west-1",
                "eu-west-1",
                "kmsrot-templates/t.yaml"
            ),
            "https://kmsrot-artifacts-111122223333-eu-west-1.s3.eu-west-1.amazonaws.com/kmsrot-templates/t.yaml"
        );
        assert_eq!(
            template_url("b", "cn-north-1", "k"),
            "https://b.s3.cn-north-1.amazonaws.com.cn/k"
        );
        assert_eq!(
            template_url("my.dotted.bucket", "us-east-1", "k"),
            "https://s3.us-east-1.amazonaws.com/my.dotted.bucket/k"
        );
    }
}
