//! `bootstrap`: the rotation Lambda on the `provided.al2023` runtime. `main` sets up JSON
//! logs, the settings and the clients once; [`kmsrot_lambda::handler`] does the work.

use kmsrot_core::config::AwsOptions;
use kmsrot_lambda::settings::log_filter;
use kmsrot_lambda::{Settings, State, handler};
use lambda_runtime::{Error, service_fn};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let lambda_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    let rust_log = std::env::var("RUST_LOG").ok();
    // `Targets` (target=level directives), not `EnvFilter`: the same filters kmsrot uses,
    // without a regex engine in the bootstrap. A RUST_LOG it cannot read falls back to the
    // safe default, and says so once logging is up.
    let (targets, unread) =
        match log_filter(rust_log.as_deref(), lambda_level.as_deref()).parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(err) => (
                log_filter(None, lambda_level.as_deref())
                    .parse::<Targets>()
                    .expect("the default log filter parses"),
                Some(err),
            ),
        };
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stdout)
        .finish()
        .with(targets)
        .init();
    if let Some(err) = unread {
        tracing::warn!(error = %err, "RUST_LOG is not a list of target=level directives; using the default filter");
    }
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
