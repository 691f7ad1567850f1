//! The handler: one JSON document in, one [`Outcome`] out. The Lambda's `main` and
//! `kmsrot event` both call [`handle`]; there is no second copy.

use std::time::Instant;

use kmsrot_core::observe::{self, Failed};
use kmsrot_core::{
    AliasChange, Metrics, Notifier, RotateOptions, RotationError, Rotator, SweepOptions,
};
use kmsrot_types::metrics::{Datum, MetricName};
use kmsrot_types::{
    Drift, EventError, Invocation, Notice, Notification, Outcome, Request, event::Envelope,
};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::route::{Expected, Rejection, Task, route};
use crate::settings::{MetricsMode, Settings};

/// Built once per process: the settings and the clients.
#[derive(Debug)]
pub struct State {
    settings: Settings,
    rotator: Rotator,
    metrics: Metrics,
    notifier: Option<Notifier>,
}

impl State {
    /// The state for `settings`, with clients built from `config`.
    pub fn new(config: &aws_config::SdkConfig, settings: Settings) -> Self {
        let metrics = match settings.metrics {
            MetricsMode::Emf => Metrics::emf_stdout(),
            MetricsMode::CloudWatch => Metrics::cloudwatch(config),
            MetricsMode::Off => Metrics::Off,
        };
        let notifier = settings
            .topic_arn
            .as_ref()
            .map(|topic| Notifier::new(config, topic));
        let mut rotator = Rotator::new(kmsrot_core::Kms::new(config))
            .with_rate(settings.sweep_rate)
            .with_tagging(aws_sdk_resourcegroupstagging::Client::new(config));
        if let Some(role) = &settings.role_arn {
            rotator = rotator.with_caller(role.clone());
        }
        Self {
            settings,
            rotator,
            metrics,
            notifier,
        }
    }

    /// Sends metrics somewhere else (tests capture EMF in memory).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Publishes metrics, then notifications (when a topic is set). Neither can fail.
    async fn tell(&self, data: &[Datum], notices: Vec<Notice>) {
        self.metrics
            .publish(data, kmsrot_core::metrics::now_millis())
            .await;
        if let Some(notifier) = &self.notifier {
            for notice in notices {
                let notification = Notification {
                    region: self.settings.region.clone(),
                    notice,
                };
                notifier.publish(&notification).await;
            }
        }
    }
}

/// Why an invocation failed. [`Diagnostic`]'s `errorType` says whether to retry.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The document is not an event or request kmsrot accepts.
    #[error(transparent)]
    Invalid(#[from] EventError),
    /// The event came from the wrong source, account or region, or lacks what its action
    /// needs.
    #[error("event rejected: {0}")]
    Rejected(#[from] Rejection),
    /// The function cannot tell which account it serves.
    #[error(
        "the expected account is unknown: the invoked function ARN names none; set KMSROT_EXPECTED_ACCOUNT"
    )]
    NoAccount,
    /// The engine failed.
    #[error(transparent)]
    Rotation(#[from] RotationError),
}

impl HandlerError {
    /// Whether the same invocation may succeed later, as kmsrot-core decides it for the
    /// engine's failures (`RotationError::is_retryable`). A refused event or a missing
    /// account never succeeds on a retry. Every action is idempotent, so a retry is safe.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Rotation(err) => err.is_retryable(),
            Self::Invalid(_) | Self::Rejected(_) | Self::NoAccount => false,
        }
    }

    /// Whether the event was refused as input (malformed, forged or foreign).
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Invalid(_) | Self::Rejected(_))
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        Diagnostic {
            error_type: if err.is_retryable() {
                "Retryable"
            } else {
                "NonRetryable"
            }
            .to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// The account in a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
pub fn account_of_function_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let account = parts.nth(4)?;
    kmsrot_types::is_account_id(account).then_some(account)
}

/// The Lambda handler: the expected account is the configured one, or the function's own.
pub async fn handler(event: LambdaEvent<Value>, state: &State) -> Result<Outcome, HandlerError> {
    let account = state.settings.expected_account.clone().or_else(|| {
        account_of_function_arn(&event.context.invoked_function_arn).map(str::to_owned)
    });
    handle(event.payload, account.as_deref(), state).await
}

/// Handles one document for `account`: parse, check, route, act, then publish metrics and
/// notifications (which never fail the invocation) and log the outcome.
pub async fn handle(
    payload: Value,
    account: Option<&str>,
    state: &State,
) -> Result<Outcome, HandlerError> {
    let started = Instant::now();
    // Boxed: the engine's futures are deep, and the runtime's service would otherwise carry
    // them all inline.
    let result = Box::pin(run(payload, account, state)).await;
    let mut data = Vec::new();
    let mut notices = Vec::new();
    match &result {
        Ok(outcome) => {
            tracing::info!(outcome = %serde_json::to_string(outcome).unwrap_or_default(), "handled");
            data = observe::data_of(outcome);
            notices = observe::notices_of(outcome);
            let latency = started.elapsed().as_secs_f64() * 1000.0;
            data.push(match observe::alias_of(outcome) {
                Some(alias) => Datum::alias(MetricName::StepLatency, alias, latency),
                None => Datum::fleet(MetricName::StepLatency, latency),
            });
        }
        Err(err) if err.is_rejection() => {
            tracing::warn!(error = %err, "event rejected; nothing was done");
            data.push(Datum::fleet(MetricName::RejectedEvents, 1.0));
        }
        Err(err) => tracing::error!(error = %err, retryable = err.is_retryable(), "failed"),
    }
    state.tell(&data, notices).await;
    result
}

async fn run(
    payload: Value,
    account: Option<&str>,
    state: &State,
) -> Result<Outcome, HandlerError> {
    let invocation = Invocation::parse(payload)?;
    if let Invocation::Event(event) = &invocation {
        let Envelope {
            source,
            detail_type,
            id,
            ..
        } = event.envelope();
        tracing::info!(source, detail_type, id, "event received");
    }
    let account = match (&invocation, account) {
        (_, Some(account)) => account,
        (Invocation::Request(_), None) => "",
        (Invocation::Event(_), None) => return Err(HandlerError::NoAccount),
    };
    let expected = Expected {
        account,
        region: &state.settings.region,
    };
    let task = route(&invocation, expected)?;
    act(task, state).await
}

async fn act(task: Task, state: &State) -> Result<Outcome, HandlerError> {
    let rotator = &state.rotator;
    Ok(match task {
        Task::CheckRotation {
            key_id,
            rotation_type,
        } => {
            let (key, aliases) = rotator.material_rotated(&key_id).await?;
            if aliases.is_empty() {
                Outcome::Ignored {
                    reason: format!("no alias kmsrot manages uses {key}"),
                }
            } else {
                Outcome::MaterialRotated {
                    key,
                    rotation_type,
                    aliases,
                }
            }
        }
        Task::Sweep => Outcome::Swept {
            report: rotator.sweep(sweep_options(state, false)).await?,
        },
        Task::RecordDeletion { key_id } => match rotator.key_deleted(&key_id).await? {
            Some(deletion) => Outcome::KeyDeleted(deletion),
            None => Outcome::Ignored {
                reason: format!("no key kmsrot manages refers to the deleted key {key_id}"),
            },
        },
        Task::RecordExpiration { key_id, record } => {
            match rotator.material_expired(&key_id, &record).await? {
                Some(expiry) => Outcome::MaterialExpired(expiry),
                None => Outcome::Ignored {
                    reason: format!("key {key_id} is not managed by kmsrot"),
                },
            }
        }
        Task::Guard {
            key_id,
            change,
            event_name,
        } => match rotator
            .guard(&key_id, change, state.settings.guard_mode)
            .await
        {
            Ok(verdict) => Outcome::Guarded {
                verdict,
                event_name,
            },
            Err(err) => {
                failed(state, Failed::Guard(key_id), &err).await;
                return Err(err.into());
            }
        },
        Task::Canary { key_id, failed } => Outcome::Canary {
            verdict: rotator.canary(&key_id, &failed).await?,
            event_name: failed.operation,
            error_code: failed.error_code,
        },
        Task::AliasChanged {
            alias,
            event_name,
            by,
            keys,
        } => match rotator.alias_changed(&alias, &keys).await? {
            AliasChange::Consistent(key) => Outcome::Consistent { alias, key },
            AliasChange::Drifted { names, what } => Outcome::Drifted(Drift {
                alias,
                event_name,
                by,
                names,
                what,
            }),
            AliasChange::Unmanaged => Outcome::Ignored {
                reason: format!("`{alias}` is not managed by kmsrot"),
            },
        },
        Task::TagsChanged {
            key_id,
            event_name,
            by,
            issuer,
            changed,
        } => {
            // The function writes kmsrot's tags itself; the stack's rule leaves those records
            // out, and this is the check behind it.
            if issuer.is_some() && issuer == state.settings.role_arn {
                return Ok(Outcome::Ignored {
                    reason: format!("{event_name} by the function's own role"),
                });
            }
            let removed_alias = changed
                .iter()
                .any(|edit| edit.tag == kmsrot_types::tags::ALIAS && edit.value.is_none());
            match rotator.tags_changed(&key_id, removed_alias).await? {
                Some((key, alias)) => Outcome::TagsChanged(kmsrot_types::TagChange {
                    key,
                    alias,
                    event_name,
                    by,
                    changed,
                }),
                None => Outcome::Ignored {
                    reason: format!("{key_id} is not a key kmsrot manages, or it is gone"),
                },
            }
        }
        Task::Ignore { reason } => Outcome::Ignored { reason },
        Task::Request(request) => return request_outcome(request, state).await,
    })
}

/// How long a sweep may start aliases: the function's timeout is 900 s, and an alias started
/// late must still finish.
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(780);

fn sweep_options(state: &State, dry_run: bool) -> SweepOptions {
    SweepOptions {
        dry_run,
        concurrency: state.settings.sweep_concurrency,
        deadline: Some(tokio::time::Instant::now() + SWEEP_BUDGET),
        ..SweepOptions::default()
    }
}

async fn request_outcome(request: Request, state: &State) -> Result<Outcome, HandlerError> {
    let rotator = &state.rotator;
    Ok(match request {
        Request::Rotate {
            alias,
            dry_run,
            rotation_id,
            accept_alias_conditions,
        } => {
            let options = RotateOptions {
                dry_run,
                rotation_id,
                accept_alias_conditions,
                ..RotateOptions::default()
            };
            match rotator.rotate(&alias, options).await {
                Ok(actions) => Outcome::Rotated {
                    alias,
                    dry_run,
                    actions,
                },
                Err(err) if dry_run => return Err(err.into()),
                Err(err) => {
                    failed(state, Failed::Rotation(alias), &err).await;
                    return Err(err.into());
                }
            }
        }
        Request::Rollback { alias, from } => match rotator.rollback(&alias, from.as_ref()).await {
            Ok(action) => Outcome::RolledBack { alias, action },
            Err(err) => {
                failed(state, Failed::Rollback(alias), &err).await;
                return Err(err.into());
            }
        },
        Request::Status { alias: Some(alias) } => Outcome::Status {
            aliases: vec![rotator.status(&alias).await?],
        },
        Request::Status { alias: None } => Outcome::Status {
            aliases: rotator.status_all().await?,
        },
        Request::Sweep { alias, dry_run } => {
            let options = sweep_options(state, dry_run);
            Outcome::Swept {
                report: match alias {
                    Some(alias) => rotator.sweep_alias(&alias, options).await?,
                    None => rotator.sweep(options).await?,
                },
            }
        }
    })
}

/// An action failed: told here, as `observe::failure_of` chooses, because no outcome carries
/// it. An asynchronous event that Lambda retries is told once per attempt.
async fn failed(state: &State, failed: Failed, err: &RotationError) {
    let (data, notice) = observe::failure_of(failed, err);
    state.tell(&data, vec![notice]).await;
}
