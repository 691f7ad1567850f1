//! Publishing kmsrot's metrics (namespace `KMSRotation`, dimension `Alias`), two ways:
//!
//! - Embedded Metric Format: one JSON line per alias on a writer (the Lambda's stdout), which
//!   CloudWatch Logs turns into metrics. No API call, nothing to throttle.
//! - `PutMetricData`, in batches of at most 1,000 values (the API's limit per request).
//!
//! Publishing never fails its caller: a metric that cannot be sent is logged and dropped, so
//! it can never fail a rotation.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use kmsrot_types::metrics::{DIMENSION, Datum, NAMESPACE};
use serde_json::{Map, Value, json};

/// `PutMetricData` accepts at most 1,000 metric values per request.
pub const MAX_PER_REQUEST: usize = 1000;

/// EMF allows at most 100 metrics in one directive.
const MAX_PER_DIRECTIVE: usize = 100;

/// Where metrics go.
#[derive(Clone)]
pub enum Metrics {
    /// Nowhere.
    Off,
    /// Embedded Metric Format lines on a writer.
    Emf(Arc<Mutex<dyn Write + Send>>),
    /// CloudWatch `PutMetricData`.
    CloudWatch(aws_sdk_cloudwatch::Client),
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Off => "Metrics::Off",
            Self::Emf(_) => "Metrics::Emf",
            Self::CloudWatch(_) => "Metrics::CloudWatch",
        })
    }
}

impl Metrics {
    /// EMF lines on standard output (the Lambda's default).
    pub fn emf_stdout() -> Self {
        Self::Emf(Arc::new(Mutex::new(std::io::stdout())))
    }

    /// `PutMetricData` with a client built from `config`.
    pub fn cloudwatch(config: &SdkConfig) -> Self {
        Self::CloudWatch(aws_sdk_cloudwatch::Client::new(config))
    }

    /// Publishes `data`, stamped `timestamp_ms` (milliseconds since the epoch). Failures are
    /// logged, never returned.
    pub async fn publish(&self, data: &[Datum], timestamp_ms: i64) {
        if data.is_empty() {
            return;
        }
        match self {
            Self::Off => {}
            Self::Emf(out) => {
                let lines = emf_lines(data, timestamp_ms);
                let Ok(mut out) = out.lock() else {
                    tracing::warn!("metrics: the EMF writer is poisoned; metrics dropped");
                    return;
                };
                for line in lines {
                    if let Err(err) = writeln!(out, "{line}") {
                        tracing::warn!(error = %err, "metrics: cannot write EMF; metrics dropped");
                        return;
                    }
                }
                let _ = out.flush();
            }
            Self::CloudWatch(client) => {
                for batch in data.chunks(MAX_PER_REQUEST) {
                    let sent = client
                        .put_metric_data()
                        .namespace(NAMESPACE)
                        .set_metric_data(Some(datums(batch, timestamp_ms)))
                        .send()
                        .await;
                    if let Err(err) = sent {
                        tracing::warn!(
                            error = crate::error::error_text(&err),
                            count = batch.len(),
                            "metrics: PutMetricData failed; these metrics are dropped"
                        );
                    }
                }
            }
        }
    }
}

/// Now, in milliseconds since the epoch: the timestamp metrics carry.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The `PutMetricData` form of some data.
fn datums(data: &[Datum], timestamp_ms: i64) -> Vec<MetricDatum> {
    data.iter()
        .map(|d| {
            MetricDatum::builder()
                .metric_name(d.name.as_str())
                .unit(StandardUnit::from(d.name.unit().as_str()))
                .value(d.value)
                .timestamp(aws_smithy_types::DateTime::from_millis(timestamp_ms))
                .set_dimensions(d.alias.as_ref().map(|alias| {
                    vec![
                        Dimension::builder()
                            .name(DIMENSION)
                            .value(alias.as_str())
                            .build(),
                    ]
                }))
                .build()
        })
        .collect()
}

/// Embedded Metric Format documents for `data`: one per alias (and one for fleet-wide data,
/// with an empty dimension set), each value under its metric's name. Values of the same
/// metric for the same alias are sent as an array.
pub fn emf_lines(data: &[Datum], timestamp_ms: i64) -> Vec<String> {
    // Alias (none: fleet-wide) → metric name → (values, unit).
    type Metrics<'a> = BTreeMap<&'a str, (Vec<f64>, &'a str)>;
    let mut groups: BTreeMap<Option<&str>, Metrics<'_>> = BTreeMap::new();
    for d in data {
        groups
            .entry(d.alias.as_ref().map(|a| a.as_str()))
            .or_default()
            .entry(d.name.as_str())
            .or_insert_with(|| (Vec::new(), d.name.unit().as_str()))
            .0
            .push(d.value);
    }
    let mut lines = Vec::new();
    for (alias, metrics) in groups {
        let metrics: Vec<_> = metrics.into_iter().collect();
        for chunk in metrics.chunks(MAX_PER_DIRECTIVE) {
            let mut doc = Map::new();
            let dimensions: Vec<&str> = alias.map(|_| DIMENSION).into_iter().collect();
            let definitions: Vec<Value> = chunk
                .iter()
                .map(|(name, (_, unit))| json!({"Name": name, "Unit": unit}))
                .collect();
            doc.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [dimensions],
                        "Metrics": definitions,
                    }],
                }),
            );
            if let Some(alias) = alias {
                doc.insert(DIMENSION.into(), json!(alias));
            }
            for (name, (values, _)) in chunk {
                let value = match values.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                };
                doc.insert((*name).into(), value);
            }
            lines.push(Value::Object(doc).to_string());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use kmsrot_types::metrics::MetricName;

    use super::*;

    #[test]
    fn emf_groups_by_alias_and_puts_fleet_data_under_an_empty_dimension_set() {
        let app = "alias/app".parse().unwrap();
        let data = [
            Datum::alias(MetricName::RotationsSucceeded, &app, 1.0),
            Datum::alias(MetricName::KeyAgeDays, &app, 12.0),
            Datum::fleet(MetricName::RejectedEvents, 1.0),
            Datum::alias(MetricName::StepLatency, &app, 5.0),
            Datum::alias(MetricName::StepLatency, &app, 7.0),
        ];
        let lines = emf_lines(&data, 1_700_000_000_000);
        let docs: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            docs[0],
            json!({
                "_aws": {"Timestamp": 1_700_000_000_000i64, "CloudWatchMetrics": [{
                    "Namespace": "KMSRotation", "Dimensions": [[]],
                    "Metrics": [{"Name": "RejectedEvents", "Unit": "Count"}]}]},
                "RejectedEvents": 1.0
            })
        );
        assert_eq!(
            docs[1],
            json!({
                "_aws": {"Timestamp": 1_700_000_000_000i64, "CloudWatchMetrics": [{
                    "Namespace": "KMSRotation", "Dimensions": [["Alias"]],
                    "Metrics": [
                        {"Name": "KeyAgeDays", "Unit": "None"},
                        {"Name": "RotationsSucceeded", "Unit": "Count"},
                        {"Name": "StepLatency", "Unit": "Milliseconds"}]}]},
                "Alias": "alias/app", "KeyAgeDays": 12.0, "RotationsSucceeded": 1.0,
                "StepLatency": [5.0, 7.0]
            })
        );
        assert_eq!(docs.len(), 2);
    }
}
