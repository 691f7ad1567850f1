//! The Lambda's configuration: environment variables, all optional, with safe defaults.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `KMSROT_GUARD_MODE` | `enforce` undoes the disabling or deletion of a key a managed alias needs; `observe` only alerts | `enforce` |
//! | `KMSROT_EXPECTED_ACCOUNT` | the only account whose events are acted on | the function's own, from its invoked ARN |
//! | `AWS_REGION` | the only region whose events are acted on (set by Lambda) | — |
//! | `KMSROT_TOPIC_ARN` | SNS topic for notifications | none: no notifications |
//! | `KMSROT_METRICS` | `emf` (lines on stdout), `cloudwatch` (`PutMetricData`) or `off` | `emf` |
//! | `KMSROT_SWEEP_CONCURRENCY` | aliases swept at once | 4 |
//! | `KMSROT_SWEEP_RATE` | KMS calls per second, shared by the whole invocation | 5 |
//! | `KMSROT_ROLE_ARN` | the function's role, which a new key's policy must let manage the key (CreateKey's policy lockout check) | none: the policy must let the account manage it |

use std::fmt;
use std::str::FromStr;

use kmsrot_types::GuardMode;

/// Guard mode.
pub const GUARD_MODE: &str = "KMSROT_GUARD_MODE";
/// Expected account.
pub const EXPECTED_ACCOUNT: &str = "KMSROT_EXPECTED_ACCOUNT";
/// Expected region (Lambda sets it).
pub const REGION: &str = "AWS_REGION";
/// SNS topic.
pub const TOPIC_ARN: &str = "KMSROT_TOPIC_ARN";
/// Metrics mode.
pub const METRICS: &str = "KMSROT_METRICS";
/// Sweep concurrency.
pub const SWEEP_CONCURRENCY: &str = "KMSROT_SWEEP_CONCURRENCY";
/// Sweep call rate.
pub const SWEEP_RATE: &str = "KMSROT_SWEEP_RATE";
/// The function's role.
pub const ROLE_ARN: &str = "KMSROT_ROLE_ARN";

/// Every variable, for documentation checks.
pub const ALL: &[&str] = &[
    GUARD_MODE,
    EXPECTED_ACCOUNT,
    REGION,
    TOPIC_ARN,
    METRICS,
    SWEEP_CONCURRENCY,
    SWEEP_RATE,
    ROLE_ARN,
];

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsMode {
    /// Embedded Metric Format lines on stdout.
    Emf,
    /// CloudWatch `PutMetricData`.
    CloudWatch,
    /// Nowhere.
    Off,
}

impl FromStr for MetricsMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "emf" => Ok(Self::Emf),
            "cloudwatch" => Ok(Self::CloudWatch),
            "off" => Ok(Self::Off),
            _ => Err("expected one of: emf cloudwatch off".into()),
        }
    }
}

impl fmt::Display for MetricsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Emf => "emf",
            Self::CloudWatch => "cloudwatch",
            Self::Off => "off",
        })
    }
}

/// The Lambda's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// What the deletion guard does.
    pub guard_mode: GuardMode,
    /// The account whose events are acted on; `None` means the function's own.
    pub expected_account: Option<String>,
    /// The region whose events are acted on.
    pub region: String,
    /// Where notifications go; `None` sends none.
    pub topic_arn: Option<String>,
    /// Where metrics go.
    pub metrics: MetricsMode,
    /// Aliases swept at once.
    pub sweep_concurrency: usize,
    /// KMS calls per second.
    pub sweep_rate: f64,
    /// The function's role, for CreateKey's policy lockout check.
    pub role_arn: Option<String>,
}

/// A variable holds a value kmsrot cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {expected}")]
pub struct SettingsError {
    name: &'static str,
    value: String,
    expected: String,
}

impl Settings {
    /// Settings for `region` with every default.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            guard_mode: GuardMode::Enforce,
            expected_account: None,
            region: region.into(),
            topic_arn: None,
            metrics: MetricsMode::Emf,
            sweep_concurrency: 4,
            sweep_rate: 5.0,
            role_arn: None,
        }
    }

    /// Settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Settings from a lookup of variable names (empty values count as unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let region = get(REGION).ok_or_else(|| SettingsError {
            name: REGION,
            value: String::new(),
            expected: "the region is required (Lambda sets it)".into(),
        })?;
        let mut settings = Self::new(region);
        if let Some(v) = get(GUARD_MODE) {
            settings.guard_mode = v.parse().map_err(|err| invalid(GUARD_MODE, &v, err))?;
        }
        if let Some(v) = get(EXPECTED_ACCOUNT) {
            if !kmsrot_types::is_account_id(&v) {
                return Err(invalid(EXPECTED_ACCOUNT, &v, "a 12-digit account ID"));
            }
            settings.expected_account = Some(v);
        }
        settings.topic_arn = get(TOPIC_ARN);
        if let Some(v) = get(METRICS) {
            settings.metrics = v.parse().map_err(|err| invalid(METRICS, &v, err))?;
        }
        if let Some(v) = get(SWEEP_CONCURRENCY) {
            settings.sweep_concurrency = v
                .parse()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| invalid(SWEEP_CONCURRENCY, &v, "a whole number from 1 to 64"))?;
        }
        if let Some(v) = get(SWEEP_RATE) {
            settings.sweep_rate = v
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite() && *r > 0.0 && *r <= 1000.0)
                .ok_or_else(|| {
                    invalid(SWEEP_RATE, &v, "calls per second, above 0 and at most 1000")
                })?;
        }
        if let Some(v) = get(ROLE_ARN) {
            if !(v.starts_with("arn:") && v.contains(":iam::") && v.contains(":role/")) {
                return Err(invalid(ROLE_ARN, &v, "an IAM role ARN"));
            }
            settings.role_arn = Some(v);
        }
        Ok(settings)
    }
}

/// The log filter. An explicit `RUST_LOG` is used as given. Otherwise Lambda's log level
/// (`AWS_LAMBDA_LOG_LEVEL`: TRACE, DEBUG, INFO, WARN, ERROR or FATAL; INFO when unset)
/// applies to kmsrot's own crates only, and everything else (the AWS SDK, whose debug and
/// trace output can include request bodies, and the HTTP stack) stays at `warn`.
pub fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> String {
    if let Some(filter) = rust_log.filter(|f| !f.trim().is_empty()) {
        return filter.to_owned();
    }
    let level = match lambda_level
        .map(|l| l.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("TRACE") => "trace",
        Some("DEBUG") => "debug",
        Some("WARN") => "warn",
        Some("ERROR" | "FATAL") => "error",
        _ => "info",
    };
    format!("warn,kmsrot_lambda={level},kmsrot_core={level}")
}

fn invalid(name: &'static str, value: &str, expected: impl fmt::Display) -> SettingsError {
    SettingsError {
        name,
        value: value.to_owned(),
        expected: expected.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn lambda_log_levels_never_uncap_the_sdk() {
        assert_eq!(
            log_filter(None, None),
            "warn,kmsrot_lambda=info,kmsrot_core=info"
        );
        assert_eq!(
            log_filter(None, Some("TRACE")),
            "warn,kmsrot_lambda=trace,kmsrot_core=trace"
        );
        assert_eq!(
            log_filter(Some(""), Some("fatal")),
            "warn,kmsrot_lambda=error,kmsrot_core=error"
        );
        assert_eq!(log_filter(Some("debug"), Some("ERROR")), "debug");
    }

    /// `bootstrap` reads the filter as `tracing_subscriber`'s `Targets`: every default parses.
    #[test]
    fn default_filters_parse_as_targets() {
        for level in [
            None,
            Some("TRACE"),
            Some("debug"),
            Some("WARN"),
            Some("FATAL"),
        ] {
            let filter = log_filter(None, level);
            filter
                .parse::<tracing_subscriber::filter::Targets>()
                .unwrap_or_else(|e| panic!("{filter}: {e}"));
        }
    }

    #[test]
    fn defaults_are_safe() {
        let s = check(&[("AWS_REGION", "eu-west-1")]).unwrap();
        assert_eq!(s, Settings::new("eu-west-1"));
        assert_eq!(s.guard_mode, GuardMode::Enforce);
        assert_eq!(s.metrics, MetricsMode::Emf);
        assert_eq!(s.topic_arn, None);
        assert_eq!(s.expected_account, None);
    }

    #[test]
    fn every_variable_is_read() {
        let s = check(&[
            ("AWS_REGION", "eu-west-1"),
            ("KMSROT_GUARD_MODE", "observe"),
            ("KMSROT_EXPECTED_ACCOUNT", "111122223333"),
            (
                "KMSROT_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:111122223333:kmsrot",
            ),
            ("KMSROT_METRICS", "cloudwatch"),
            ("KMSROT_SWEEP_CONCURRENCY", "8"),
            ("KMSROT_SWEEP_RATE", "2.5"),
            (
                "KMSROT_ROLE_ARN",
                "arn:aws:iam::111122223333:role/kmsrot-function",
            ),
        ])
        .unwrap();
        assert_eq!(s.guard_mode, GuardMode::Observe);
        assert_eq!(s.expected_account.as_deref(), Some("111122223333"));
        assert_eq!(
            s.topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:111122223333:kmsrot")
        );
        assert_eq!(s.metrics, MetricsMode::CloudWatch);
        assert_eq!(s.sweep_concurrency, 8);
        assert_eq!(s.sweep_rate, 2.5);
        assert_eq!(
            s.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/kmsrot-function")
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_what_is_expected() {
        let region = ("AWS_REGION", "eu-west-1");
        for (vars, message) in [
            (vec![], "AWS_REGION=\"\" is invalid: the region is required"),
            (
                vec![region, ("KMSROT_GUARD_MODE", "off")],
                "KMSROT_GUARD_MODE=\"off\" is invalid: unknown guard mode `off`",
            ),
            (
                vec![region, ("KMSROT_ROLE_ARN", "kmsrot-function")],
                "KMSROT_ROLE_ARN=\"kmsrot-function\" is invalid: an IAM role ARN",
            ),
            (
                vec![region, ("KMSROT_EXPECTED_ACCOUNT", "12345")],
                "KMSROT_EXPECTED_ACCOUNT=\"12345\" is invalid: a 12-digit account ID",
            ),
            (
                vec![region, ("KMSROT_METRICS", "statsd")],
                "KMSROT_METRICS=\"statsd\" is invalid: expected one of: emf cloudwatch off",
            ),
            (
                vec![region, ("KMSROT_SWEEP_CONCURRENCY", "0")],
                "KMSROT_SWEEP_CONCURRENCY=\"0\" is invalid",
            ),
            (
                vec![region, ("KMSROT_SWEEP_RATE", "NaN")],
                "KMSROT_SWEEP_RATE=\"NaN\" is invalid",
            ),
        ] {
            let err = check(&vars).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
    }
}
