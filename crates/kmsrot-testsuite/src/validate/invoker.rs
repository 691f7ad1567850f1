//! How the stack's function is run: through the Lambda API, or its `bootstrap` under a
//! local Lambda Runtime API (which also reads the EMF metrics the function writes).

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use kmsrot_types::metrics::{MetricName, NAMESPACE};
use kmsrot_types::{AliasName, Outcome, Request};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::Mutex;

use crate::runtime_api::{Reply, RuntimeApi, check_emf};

/// How the stack's function is run.
pub(super) enum Invoker {
    Lambda(aws_sdk_lambda::Client, String),
    Local(Box<LocalRuntime>),
}

impl Invoker {
    pub(super) async fn invoke(&self, request: &Request) -> Result<Outcome> {
        let payload = serde_json::to_value(request)?;
        let answer = match self {
            Invoker::Lambda(client, function) => {
                let out = client
                    .invoke()
                    .function_name(function)
                    .payload(aws_smithy_types::Blob::new(serde_json::to_vec(&payload)?))
                    .send()
                    .await
                    .with_context(|| format!("invoking {function}"))?;
                let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
                if let Some(error) = out.function_error() {
                    bail!(
                        "{function} failed ({error}): {}",
                        String::from_utf8_lossy(body)
                    );
                }
                serde_json::from_slice(body).context("the function's answer is not JSON")?
            }
            Invoker::Local(local) => local.invoke(payload).await?,
        };
        serde_json::from_value(answer).context("the function's answer is not an outcome")
    }
}

/// The function's `bootstrap` under a local Lambda Runtime API, with the deployed function's
/// environment variables.
pub(super) struct LocalRuntime {
    api: RuntimeApi,
    child: tokio::process::Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl LocalRuntime {
    pub(super) async fn start(
        config: &SdkConfig,
        function: &str,
        binary: &std::path::Path,
        endpoint_url: Option<&str>,
    ) -> Result<Self> {
        let lambda = aws_sdk_lambda::Client::new(config);
        let configuration = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .with_context(|| format!("GetFunctionConfiguration {function}"))?;
        let variables = configuration
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        let api = RuntimeApi::start().await?;
        let mut command = tokio::process::Command::new(binary);
        command
            .envs(&variables)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                configuration.memory_size().unwrap_or(128).to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_REGION",
                config.region().map(ToString::to_string).unwrap_or_default(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = endpoint_url {
            command.env("AWS_ENDPOINT_URL", url);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let pipe = child.stdout.take().context("no stdout")?;
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().await.push(line);
            }
        });
        Ok(Self { api, child, stdout })
    }

    async fn invoke(&self, payload: Value) -> Result<Value> {
        let id = self.api.invoke(payload).await;
        match self.api.reply(&id, Duration::from_secs(120)).await? {
            Reply::Response(value) => Ok(value),
            Reply::Error {
                error_type,
                message,
            } => bail!("the function failed ({error_type}): {message}"),
        }
    }

    /// The alias's metrics in the EMF documents the function wrote.
    pub(super) async fn metrics(&self, alias: &AliasName) -> Result<String> {
        let lines = self.stdout.lock().await.clone();
        let mut found = BTreeMap::<String, f64>::new();
        for line in lines.iter().filter(|l| l.contains("\"_aws\"")) {
            let doc = check_emf(line)?;
            if doc["Alias"].as_str() != Some(alias.as_str()) {
                continue;
            }
            for metric in doc["_aws"]["CloudWatchMetrics"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|d| d["Metrics"].as_array().into_iter().flatten())
            {
                let name = metric["Name"].as_str().unwrap_or_default();
                *found.entry(name.to_owned()).or_default() += doc[name].as_f64().unwrap_or(0.0);
            }
        }
        let wanted = MetricName::RotationsSucceeded.as_str();
        if found.get(wanted).copied().unwrap_or(0.0) < 1.0 {
            bail!(
                "the function wrote no {wanted} for {alias} in namespace {NAMESPACE}; it wrote {found:?}"
            );
        }
        Ok(format!(
            "EMF on the function's stdout (namespace {NAMESPACE}): {}",
            found
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    pub(super) async fn stop(mut self) {
        let _ = self.child.kill().await;
        drop(self.api);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Lambda API path, which the emulator cannot run: a function error is a failed
    /// check with the function's own message, and an answer is read as an outcome.
    #[tokio::test]
    async fn invoking_through_lambda_reads_outcomes_and_function_errors() {
        use aws_sdk_lambda::operation::invoke::InvokeOutput;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let failed = mock!(aws_sdk_lambda::Client::invoke).then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(aws_smithy_types::Blob::new(
                    r#"{"errorType":"NonRetryable","errorMessage":"alias/app is not managed"}"#,
                ))
                .build()
        });
        let answered = mock!(aws_sdk_lambda::Client::invoke)
            .match_requests(|r| {
                r.payload()
                    .is_some_and(|p| p.as_ref() == br#"{"action":"status"}"#)
            })
            .then_output(|| {
                InvokeOutput::builder()
                    .status_code(200)
                    .payload(aws_smithy_types::Blob::new(
                        r#"{"outcome":"status","aliases":[]}"#,
                    ))
                    .build()
            });
        let client = mock_client!(aws_sdk_lambda, RuleMode::Sequential, [&failed, &answered]);
        let invoker = Invoker::Lambda(client, "kmsrot-rotation".into());
        let err = invoker
            .invoke(&Request::Status { alias: None })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"kmsrot-rotation failed (Unhandled): {"errorType":"NonRetryable","errorMessage":"alias/app is not managed"}"#
        );
        let outcome = invoker
            .invoke(&Request::Status { alias: None })
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::Status { aliases: vec![] });
    }
}
