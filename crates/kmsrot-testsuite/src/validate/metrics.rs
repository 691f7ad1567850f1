//! The function's metrics in CloudWatch, when Lambda runs it (with a local runtime they are
//! read from the function's stdout: see `invoker.rs`).

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use kmsrot_types::AliasName;
use kmsrot_types::metrics::{MetricName, NAMESPACE};

/// Lambda hands EMF to CloudWatch; the data points of this run (from `since`) show in
/// GetMetricData after a minute or two. (ListMetrics would also list a metric of an earlier
/// run.)
pub(super) async fn cloudwatch_metrics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    alias: &AliasName,
    since: SystemTime,
    wait: Duration,
) -> Result<String> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let wanted = MetricName::RotationsSucceeded.as_str();
    let query = MetricDataQuery::builder()
        .id("rotations")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(NAMESPACE)
                        .metric_name(wanted)
                        .dimensions(
                            Dimension::builder()
                                .name(kmsrot_types::metrics::DIMENSION)
                                .value(alias.as_str())
                                .build(),
                        )
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    // Whole minutes around the run, as CloudWatch aggregates them.
    let start = since - Duration::from_secs(60);
    let deadline = Instant::now() + wait;
    loop {
        let end = SystemTime::now() + Duration::from_secs(60);
        let out = cloudwatch
            .get_metric_data()
            .metric_data_queries(query.clone())
            .start_time(start.into())
            .end_time(end.into())
            .send()
            .await
            .context("GetMetricData")?;
        let sum: f64 = out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.values().iter().copied())
            .sum();
        if sum >= 1.0 {
            return Ok(format!(
                "CloudWatch has {NAMESPACE}/{wanted}={sum} for {alias} since the validation began"
            ));
        }
        if Instant::now() >= deadline {
            bail!(
                "CloudWatch had no {NAMESPACE}/{wanted} for {alias} within {} s of the rotation",
                wait.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CloudWatch's path, which the emulator cannot serve (CBOR): only data points of this
    /// run count.
    #[tokio::test]
    async fn metrics_count_only_this_runs_data_points() {
        use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
        use aws_sdk_cloudwatch::types::MetricDataResult;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let since = SystemTime::now();
        let none = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(MetricDataResult::builder().id("rotations").build())
                .build()
        });
        let one = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .match_requests(move |r| {
                let start = r.start_time().map(|t| t.secs()).unwrap_or_default();
                let since = aws_smithy_types::DateTime::from(since).secs();
                // A minute's margin before the run, and no more.
                start == since - 60
            })
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("rotations")
                            .values(1.0)
                            .build(),
                    )
                    .build()
            });
        let alias: AliasName = "alias/app".parse().unwrap();
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&none, &one]);
        let err = cloudwatch_metrics(&client, &alias, since, Duration::ZERO)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("had no KMSRotation/RotationsSucceeded for alias/app"),
            "{err}"
        );
        let found = cloudwatch_metrics(&client, &alias, since, Duration::ZERO)
            .await
            .unwrap();
        assert!(found.contains("RotationsSucceeded=1"), "{found}");
    }
}
