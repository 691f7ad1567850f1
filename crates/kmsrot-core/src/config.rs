//! The one door through which AWS configuration is built.
//!
//! Every binary (the CLI, the rotation Lambda's `bootstrap`, the validation suite, xtask's
//! deploy) and the integration tests' `TestEnv` turn their flags into [`AwsOptions`] and call
//! [`AwsOptions::load`]. The standard environment keeps working:
//! `AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE`
//! apply whenever the matching option is not given. Nothing else in the workspace may call
//! `aws_config::defaults` or its relatives; `clippy.toml` enforces it.

/// What [`AwsOptions::load`] builds, for callers that hand it on without depending on
/// aws-config themselves.
pub use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};

/// Where and how to reach AWS. Every field is optional: unset fields fall back to the standard
/// AWS environment variables and shared config files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct AwsOptions {
    /// Named profile from the shared AWS config files [default: $AWS_PROFILE, then `default`].
    #[cfg_attr(feature = "clap", arg(long, global = true, value_name = "NAME"))]
    pub profile: Option<String>,
    /// AWS region, for example us-east-1 [default: $AWS_REGION, then the profile's region].
    #[cfg_attr(feature = "clap", arg(long, global = true, value_name = "REGION"))]
    pub region: Option<String>,
    /// Send every AWS request to this endpoint, for example http://127.0.0.1:5000 for a local
    /// emulator [default: $AWS_ENDPOINT_URL].
    #[cfg_attr(feature = "clap", arg(long, global = true, value_name = "URL"))]
    pub endpoint_url: Option<String>,
    /// Attempts per request, first try included; throttled and transient failures are retried
    /// with exponential backoff [default: $AWS_MAX_ATTEMPTS, then 3].
    #[cfg_attr(
        feature = "clap",
        arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20))
    )]
    pub max_attempts: Option<u32>,
}

/// Why configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No region in the options, the environment or the profile.
    #[error(
        "no AWS region is configured; pass --region (for example --region us-east-1), set AWS_REGION, or set a region in the profile"
    )]
    NoRegion,
}

impl AwsOptions {
    /// Builds the SDK configuration: the standard provider chain, overridden by whatever these
    /// options set. Retries use the SDK's standard mode (exponential backoff with jitter, and
    /// throttling errors are retried).
    pub async fn load(&self) -> Result<SdkConfig, ConfigError> {
        #[allow(
            clippy::disallowed_methods,
            reason = "this is the one place that loads AWS configuration"
        )]
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(attempts) = self.max_attempts {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(ConfigError::NoRegion);
        }
        Ok(config)
    }
}
