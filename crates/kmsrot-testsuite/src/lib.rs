//! kmsrot's test suite: helpers that set up keys and aliases on a KMS endpoint, shared by the
//! workspace's integration tests (here and in kmsrot-cli).
//!
//! Integration tests run against the local emulator that `cargo xtask test` starts. They
//! create, disable and schedule the deletion of keys, so [`TestEnv::from_env`] refuses any
//! endpoint that is not on the loopback interface.

#![warn(missing_docs)]

pub mod docs;
pub mod events;
pub mod inbox;
pub mod runtime_api;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use futures_util::StreamExt;
use kmsrot_core::config::AwsOptions;
use kmsrot_core::{Kms, Rotator};
use kmsrot_types::tags;
use kmsrot_types::{AliasName, KeyArn};

/// A connection to the test endpoint, with helpers that arrange keys and aliases directly
/// through the SDK (not through kmsrot, which is what the tests check).
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// The SDK configuration, from the environment `cargo xtask test` sets.
    pub config: SdkConfig,
    /// A raw KMS client for arranging test state.
    pub client: Client,
    /// kmsrot's KMS service, the code under test.
    pub kms: Kms,
    /// The endpoint URL.
    pub endpoint: String,
}

impl TestEnv {
    /// Connects to the endpoint in `AWS_ENDPOINT_URL`, which must be on 127.0.0.1, ::1 or
    /// localhost.
    pub async fn from_env() -> Result<Self> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").context(
            "AWS_ENDPOINT_URL is not set: run the integration tests with `cargo xtask test`, which starts the local emulator",
        )?;
        if !is_loopback_url(&endpoint) {
            bail!(
                "refusing to run integration tests against {endpoint}: they create and delete keys, so only a loopback endpoint (the local emulator) is allowed"
            );
        }
        Self::connect(endpoint, AwsOptions::default()).await
    }

    /// Like [`TestEnv::from_env`], in another region. The emulator keeps each region apart,
    /// so a test that lists every key or alias (a sweep, an orphan check) sees only its own.
    pub async fn in_region(region: &str) -> Result<Self> {
        let base = Self::from_env().await?;
        let options = AwsOptions {
            region: Some(region.to_owned()),
            ..AwsOptions::default()
        };
        Self::connect(base.endpoint, options).await
    }

    async fn connect(endpoint: String, options: AwsOptions) -> Result<Self> {
        let config = options.load().await?;
        Ok(Self {
            client: Client::new(&config),
            kms: Kms::new(&config),
            config,
            endpoint,
        })
    }

    /// The region in use.
    pub fn region(&self) -> &str {
        self.kms.region()
    }

    /// The rotation engine on this endpoint.
    pub fn rotator(&self) -> Rotator {
        Rotator::new(self.kms.clone())
    }

    /// A KMS client whose calls pass through `faults`, with retries off so that every call is
    /// exactly one attempt.
    pub fn faulty_client(&self, faults: &FaultInjector) -> Client {
        let config = aws_sdk_kms::config::Builder::from(&self.config)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .interceptor(faults.clone())
            .build();
        Client::from_conf(config)
    }

    /// Every key in the region whose `kmsrot:alias` tag names this alias, with its tags and
    /// state: the whole truth about an alias's keys, found without kmsrot's own bookkeeping
    /// (the Resource Groups Tagging API finds them, KMS gives their tags and state), in calls
    /// proportional to the alias's keys rather than the region's.
    pub async fn keys_tagged_for(&self, alias: &AliasName) -> Result<Vec<TaggedKey>> {
        let tagging = aws_sdk_resourcegroupstagging::Client::new(&self.config);
        let mut arns = Vec::new();
        let mut pages = tagging
            .get_resources()
            .resource_type_filters("kms:key")
            .tag_filters(
                aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                    .key(tags::ALIAS)
                    .values(alias.as_str())
                    .build(),
            )
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.context("GetResources")?;
            arns.extend(
                page.resource_tag_mapping_list()
                    .iter()
                    .filter_map(|m| m.resource_arn().map(str::to_owned)),
            );
        }
        let mut keys = Vec::new();
        for arn in arns {
            let tags = self.tags(&arn).await?;
            if tags.get(tags::ALIAS).map(String::as_str) != Some(alias.as_str()) {
                continue;
            }
            keys.push(self.tagged_key(&arn, tags).await?);
        }
        Ok(keys)
    }

    async fn tagged_key(&self, id: &str, tags: BTreeMap<String, String>) -> Result<TaggedKey> {
        let metadata = self
            .client
            .describe_key()
            .key_id(id)
            .send()
            .await
            .context("DescribeKey")?
            .key_metadata
            .context("no metadata")?;
        Ok(TaggedKey {
            arn: metadata.arn().unwrap_or_default().parse()?,
            state: metadata
                .key_state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            tags,
        })
    }

    /// The IDs of every key in the region.
    pub async fn key_ids(&self) -> Result<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        let mut pages = self.client.list_keys().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.context("ListKeys")?;
            ids.extend(
                page.keys()
                    .iter()
                    .filter_map(|k| k.key_id().map(str::to_owned)),
            );
        }
        Ok(ids)
    }

    /// Like [`TestEnv::keys_tagged_for`], looking only at keys not in `known` (for example,
    /// keys that existed before a fresh alias was created).
    pub async fn keys_tagged_for_except(
        &self,
        alias: &AliasName,
        known: &BTreeSet<String>,
    ) -> Result<Vec<TaggedKey>> {
        let ids: Vec<String> = self.key_ids().await?.difference(known).cloned().collect();
        // Read the tags a few keys at a time: the region may hold many keys.
        let tagged: Vec<Result<Option<TaggedKey>>> = futures_util::stream::iter(ids)
            .map(|id| async move {
                let tags = self.tags(&id).await?;
                if tags.get(tags::ALIAS).map(String::as_str) != Some(alias.as_str()) {
                    return Ok(None);
                }
                Ok(Some(self.tagged_key(&id, tags).await?))
            })
            .buffer_unordered(8)
            .collect()
            .await;
        tagged.into_iter().filter_map(Result::transpose).collect()
    }

    /// A key's tags.
    pub async fn tags(&self, key_id: &str) -> Result<BTreeMap<String, String>> {
        let out = self
            .client
            .list_resource_tags()
            .key_id(key_id)
            .send()
            .await
            .context("ListResourceTags")?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
            .collect())
    }

    /// Overwrites tags on a key, for example to make a key look older than it is.
    pub async fn set_tags(&self, key: &KeyArn, tags: &[(&str, &str)]) -> Result<()> {
        let tags = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_kms::types::Tag::builder()
                    .tag_key(*k)
                    .tag_value(*v)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .tag_resource()
            .key_id(key.to_string())
            .set_tags(Some(tags))
            .send()
            .await
            .context("TagResource")?;
        Ok(())
    }

    /// The key an alias names, and that key's state.
    pub async fn alias_target(&self, alias: &AliasName) -> Result<(KeyArn, String)> {
        let m = self
            .client
            .describe_key()
            .key_id(alias.as_str())
            .send()
            .await
            .context("DescribeKey")?
            .key_metadata
            .context("no metadata")?;
        let state = m
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        Ok((m.arn().unwrap_or_default().parse()?, state))
    }

    /// A fresh alias name under `alias/kmsrot-test/`, unique across tests and runs.
    pub fn unique_alias(&self, label: &str) -> AliasName {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!(
            "alias/kmsrot-test/{label}-{}-{n}-{nanos:08x}",
            std::process::id()
        )
        .parse()
        .expect("generated alias names are valid")
    }

    /// A raw S3 client for arranging test state.
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::new(&self.config)
    }

    /// kmsrot's S3 service on this endpoint, the code under test.
    pub fn s3(&self) -> kmsrot_core::s3::S3 {
        kmsrot_core::s3::S3::new(&self.config)
    }

    /// Creates a fresh bucket in this region, with versioning when asked; returns its name.
    pub async fn bucket(&self, label: &str, versioned: bool) -> Result<String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("kmsrot-test-{label}-{}-{n}", std::process::id());
        let client = self.s3_client();
        let mut create = client.create_bucket().bucket(&name);
        if self.region() != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(self.region().into())
                    .build(),
            );
        }
        create
            .send()
            .await
            .with_context(|| format!("CreateBucket {name}"))?;
        if versioned {
            client
                .put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    aws_sdk_s3::types::VersioningConfiguration::builder()
                        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .with_context(|| format!("PutBucketVersioning {name}"))?;
        }
        Ok(name)
    }

    /// Puts a fresh symmetric alias under kmsrot's default policy for `mode`, through the
    /// engine; returns the alias and its key.
    pub async fn managed_alias(
        &self,
        label: &str,
        mode: kmsrot_types::Mode,
    ) -> Result<(AliasName, KeyArn)> {
        let alias = self.unique_alias(label);
        let status = self
            .rotator()
            .init(
                &alias,
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                None,
                kmsrot_types::Policy::new(mode),
            )
            .await
            .with_context(|| format!("init {alias}"))?;
        Ok((alias, status.current.key_arn))
    }

    /// A symmetric encryption key with an alias kmsrot does not manage.
    pub async fn plain_alias(&self, label: &str) -> Result<(AliasName, KeyArn)> {
        self.key_with_alias(
            label,
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
        )
        .await
    }

    /// Creates a key of the given spec and usage; returns its ARN.
    pub async fn create_key(&self, spec: KeySpec, usage: KeyUsageType) -> Result<KeyArn> {
        self.create_key_with(|request| request.key_spec(spec).key_usage(usage))
            .await
    }

    /// Creates a key with the CreateKey request `build` makes of a bare one (described as a
    /// test key); returns its ARN.
    pub async fn create_key_with(
        &self,
        build: impl FnOnce(
            aws_sdk_kms::operation::create_key::builders::CreateKeyFluentBuilder,
        )
            -> aws_sdk_kms::operation::create_key::builders::CreateKeyFluentBuilder,
    ) -> Result<KeyArn> {
        let request = build(
            self.client
                .create_key()
                .description("kmsrot integration test"),
        );
        let out = request.send().await.context("CreateKey")?;
        let arn = out
            .key_metadata()
            .and_then(|m| m.arn())
            .context("CreateKey returned no ARN")?;
        Ok(arn.parse()?)
    }

    /// Creates `alias` for `key` with the raw SDK.
    pub async fn create_alias(&self, alias: &AliasName, key: &KeyArn) -> Result<()> {
        self.client
            .create_alias()
            .alias_name(alias.as_str())
            .target_key_id(key.to_string())
            .send()
            .await
            .context("CreateAlias")?;
        Ok(())
    }

    /// Creates a key and an alias for it; returns both.
    pub async fn key_with_alias(
        &self,
        label: &str,
        spec: KeySpec,
        usage: KeyUsageType,
    ) -> Result<(AliasName, KeyArn)> {
        let key = self.create_key(spec, usage).await?;
        let alias = self.unique_alias(label);
        self.create_alias(&alias, &key).await?;
        Ok((alias, key))
    }

    /// Points an existing alias at another key with a plain `UpdateAlias`, the way an operator
    /// rotating by hand would.
    pub async fn move_alias(&self, alias: &AliasName, key: &KeyArn) -> Result<()> {
        self.client
            .update_alias()
            .alias_name(alias.as_str())
            .target_key_id(key.to_string())
            .send()
            .await
            .context("UpdateAlias")?;
        Ok(())
    }

    /// A key's state as KMS reports it (`Enabled`, `Disabled`, `PendingDeletion`, …).
    pub async fn key_state(&self, key: &KeyArn) -> Result<String> {
        let out = self
            .client
            .describe_key()
            .key_id(key.to_string())
            .send()
            .await
            .context("DescribeKey")?;
        out.key_metadata
            .and_then(|m| m.key_state)
            .map(|state| state.as_str().to_owned())
            .context("DescribeKey returned no key state")
    }

    /// A signing key's public key, as GetPublicKey returns it (DER `SubjectPublicKeyInfo`).
    pub async fn public_key(&self, key: &KeyArn) -> Result<Vec<u8>> {
        let out = self
            .client
            .get_public_key()
            .key_id(key.to_string())
            .send()
            .await
            .context("GetPublicKey")?;
        out.public_key
            .map(aws_sdk_kms::primitives::Blob::into_inner)
            .context("GetPublicKey returned no public key")
    }

    /// A key's grants, as ListGrants reports them (one page: tests make few).
    pub async fn grants(&self, key: &KeyArn) -> Result<Vec<aws_sdk_kms::types::GrantListEntry>> {
        let out = self
            .client
            .list_grants()
            .key_id(key.to_string())
            .send()
            .await
            .context("ListGrants")?;
        Ok(out.grants.unwrap_or_default())
    }

    /// Disables a key.
    pub async fn disable_key(&self, key: &KeyArn) -> Result<()> {
        self.client
            .disable_key()
            .key_id(key.to_string())
            .send()
            .await
            .context("DisableKey")?;
        Ok(())
    }

    /// Schedules a key for deletion with the shortest window.
    pub async fn schedule_deletion(&self, key: &KeyArn) -> Result<()> {
        self.client
            .schedule_key_deletion()
            .key_id(key.to_string())
            .pending_window_in_days(7)
            .send()
            .await
            .context("ScheduleKeyDeletion")?;
        Ok(())
    }
}

/// A key found by its `kmsrot:alias` tag.
#[derive(Debug, Clone)]
pub struct TaggedKey {
    /// The key.
    pub arn: KeyArn,
    /// Its KMS key state.
    pub state: String,
    /// All its tags.
    pub tags: BTreeMap<String, String>,
}

impl TaggedKey {
    /// The value of one tag.
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name).map(String::as_str)
    }
}

/// When an injected fault strikes: before the request leaves (the call never happens) or
/// after the response arrives (the call happened, and the caller sees an error, as when a
/// process dies before it reads the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// The request is never sent.
    BeforeSend,
    /// The request took effect; its response is lost.
    AfterResponse,
}

#[derive(Debug, Default)]
struct Faults {
    calls: Vec<String>,
    fail: Option<(usize, Strike)>,
}

/// An SDK interceptor that records every operation called and makes the Nth call fail.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    state: Arc<Mutex<Faults>>,
}

impl FaultInjector {
    /// Makes call number `n` (1-based, counted from now) fail at `strike`.
    pub fn fail_call(&self, n: usize, strike: Strike) {
        let mut state = self.state.lock().expect("fault state");
        state.calls.clear();
        state.fail = Some((n, strike));
    }

    /// Stops failing and forgets the calls seen.
    pub fn reset(&self) {
        *self.state.lock().expect("fault state") = Faults::default();
    }

    /// The operations called since the last reset, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().expect("fault state").calls.clone()
    }

    fn strike_now(&self, at: Strike) -> bool {
        let state = self.state.lock().expect("fault state");
        state.fail == Some((state.calls.len(), at))
    }
}

impl Intercept for FaultInjector {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or_else(|| "?".to_owned(), |m| m.name().to_owned());
        self.state
            .lock()
            .expect("fault state")
            .calls
            .push(operation.clone());
        if self.strike_now(Strike::BeforeSend) {
            return Err(format!("injected fault before sending {operation}").into());
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.strike_now(Strike::AfterResponse) {
            return Err("injected fault after the response arrived".into());
        }
        Ok(())
    }
}

/// An SDK interceptor that answers the first `times` calls of one operation with KMS's
/// `AccessDeniedException`, as AWS does while it does not yet honour the tags a new key was
/// created with (tag-based authorization "might take up to five minutes").
#[derive(Debug, Clone)]
pub struct DenyFirst {
    operation: &'static str,
    left: Arc<AtomicU32>,
    denied: Arc<AtomicU32>,
}

impl DenyFirst {
    /// Denies the first `times` calls of `operation` (for example `"Encrypt"`).
    pub fn new(operation: &'static str, times: u32) -> Self {
        Self {
            operation,
            left: Arc::new(AtomicU32::new(times)),
            denied: Arc::new(AtomicU32::new(0)),
        }
    }

    /// How many calls were denied.
    pub fn denied(&self) -> u32 {
        self.denied.load(Ordering::SeqCst)
    }

    /// A client of `env` whose calls pass through this interceptor.
    pub fn client(&self, env: &TestEnv) -> Client {
        let config = aws_sdk_kms::config::Builder::from(&env.config)
            .interceptor(self.clone())
            .build();
        Client::from_conf(config)
    }
}

impl Intercept for DenyFirst {
    fn name(&self) -> &'static str {
        "DenyFirst"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let this = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation);
        if this
            && self
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            self.denied.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"__type":"AccessDeniedException","message":"User is not authorized to perform: kms:Encrypt (injected: tags not yet honoured)"}"#;
            let mut response = aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400)?,
                aws_smithy_types::body::SdkBody::from(body),
            );
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.1");
            *context.response_mut() = response;
        }
        Ok(())
    }
}

/// Whether a URL's host is on the loopback interface.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_are_allowed() {
        for (url, ok) in [
            ("http://127.0.0.1:5000", true),
            ("http://127.0.0.2:5000/", true),
            ("http://localhost:5000", true),
            ("http://[::1]:5000", true),
            ("https://kms.us-east-1.amazonaws.com", false),
            ("http://10.0.0.1:5000", false),
            ("http://127.0.0.1.evil.example:5000", false),
            ("127.0.0.1:5000", false),
        ] {
            assert_eq!(is_loopback_url(url), ok, "{url}");
        }
    }
}
