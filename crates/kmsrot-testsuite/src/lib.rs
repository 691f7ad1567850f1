//! kmsrot's test suite: helpers that set up keys and aliases on a KMS endpoint, shared by the
//! workspace's integration tests (here and in kmsrot-cli).
//!
//! Integration tests run against the local emulator that `cargo xtask test` starts. They
//! create, disable and schedule the deletion of keys, so [`TestEnv::from_env`] refuses any
//! endpoint that is not on the loopback interface.

#![warn(missing_docs)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use aws_sdk_kms::Client;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kmsrot_core::Kms;
use kmsrot_core::config::AwsOptions;
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
        let config = AwsOptions::default().load().await?;
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

    /// Creates a key of the given spec and usage; returns its ARN.
    pub async fn create_key(&self, spec: KeySpec, usage: KeyUsageType) -> Result<KeyArn> {
        let out = self
            .client
            .create_key()
            .key_spec(spec.clone())
            .key_usage(usage.clone())
            .description("kmsrot integration test")
            .send()
            .await
            .with_context(|| format!("CreateKey {spec} {usage}"))?;
        let arn = out
            .key_metadata()
            .and_then(|m| m.arn())
            .context("CreateKey returned no ARN")?;
        Ok(arn.parse()?)
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
        self.client
            .create_alias()
            .alias_name(alias.as_str())
            .target_key_id(key.to_string())
            .send()
            .await
            .context("CreateAlias")?;
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
