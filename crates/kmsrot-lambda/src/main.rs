//! `bootstrap`: the rotation Lambda on the `provided.al2023` runtime. `main` sets up JSON
//! logs, the settings and the clients once; [`kmsrot_lambda::handler`] does the work.

use kmsrot_core::config::AwsOptions;
use kmsrot_lambda::settings::log_filter;
use kmsrot_lambda::{Settings, State, handler};
use lambda_runtime::{Error, service_fn};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let filter = log_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::new(filter))
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stdout)
        .init();
    let settings = Settings::from_env()?;
    let config = AwsOptions::default().load().await?;
    tracing::info!(
        region = settings.region,
        guard_mode = %settings.guard_mode,
        metrics = %settings.metrics,
        notifications = settings.topic_arn.is_some(),
        "kmsrot rotation function starting"
    );
    let state = State::new(&config, settings);
    lambda_runtime::run(service_fn(|event| handler(event, &state))).await
}
