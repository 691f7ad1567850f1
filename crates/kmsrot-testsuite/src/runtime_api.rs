//! A local Lambda Runtime API on 127.0.0.1, enough to run the real `bootstrap` binary: it
//! hands out queued events on `GET /2018-06-01/runtime/invocation/next` and records what the
//! function posts back (`…/response` and `…/error`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use tokio::sync::{Mutex, Notify};

const PREFIX: &str = "/2018-06-01/runtime/";

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `POST …/invocation/{id}/response`.
    Response(Value),
    /// `POST …/invocation/{id}/error`: the Diagnostic's `errorType` and `errorMessage`.
    Error {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
}

#[derive(Debug, Default)]
struct Inner {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    replies: Mutex<Vec<(String, Reply)>>,
    replied: Notify,
    init_errors: Mutex<Vec<Value>>,
    polls: AtomicUsize,
    next_id: AtomicUsize,
}

/// The Runtime API server. It stops when dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Starts a server on a free port of 127.0.0.1.
    pub async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let shared = inner.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let inner = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| serve(inner.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, inner, task })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one event; returns its request ID.
    pub async fn invoke(&self, event: Value) -> String {
        let id = format!(
            "req-{:04}",
            self.inner.next_id.fetch_add(1, Ordering::SeqCst)
        );
        self.inner.queue.lock().await.push_back((id.clone(), event));
        self.inner.queued.notify_one();
        id
    }

    /// How many times the function has asked for the next event.
    pub fn polls(&self) -> usize {
        self.inner.polls.load(Ordering::SeqCst)
    }

    /// Initialization errors the function reported.
    pub async fn init_errors(&self) -> Vec<Value> {
        self.inner.init_errors.lock().await.clone()
    }

    /// Waits for the function's answer to `request_id`.
    pub async fn reply(&self, request_id: &str, timeout: Duration) -> Result<Reply> {
        let wait = async {
            loop {
                let replied = self.inner.replied.notified();
                if let Some((_, reply)) = self
                    .inner
                    .replies
                    .lock()
                    .await
                    .iter()
                    .find(|(id, _)| id == request_id)
                {
                    return reply.clone();
                }
                replied.await;
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(reply) => Ok(reply),
            Err(_) => bail!("no reply to {request_id} within {timeout:?}"),
        }
    }
}

async fn serve(
    inner: Arc<Inner>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(respond(StatusCode::NOT_FOUND, Bytes::new()));
    };
    if rest == "invocation/next" {
        inner.polls.fetch_add(1, Ordering::SeqCst);
        let (id, event) = loop {
            let queued = inner.queued.notified();
            if let Some(next) = inner.queue.lock().await.pop_front() {
                break next;
            }
            queued.await;
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            + 300_000;
        let response = Response::builder()
            .status(StatusCode::OK)
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:kmsrot-rotation",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(event.to_string())))
            .expect("valid response");
        return Ok(response);
    }
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(respond(StatusCode::BAD_REQUEST, Bytes::new())),
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if rest == "init/error" {
        inner.init_errors.lock().await.push(json);
        return Ok(respond(StatusCode::ACCEPTED, Bytes::new()));
    }
    let Some((id, kind)) = rest
        .strip_prefix("invocation/")
        .and_then(|r| r.rsplit_once('/'))
    else {
        return Ok(respond(StatusCode::NOT_FOUND, Bytes::new()));
    };
    let reply = match kind {
        "response" => Reply::Response(json),
        "error" => Reply::Error {
            error_type: json["errorType"].as_str().unwrap_or_default().to_owned(),
            message: json["errorMessage"].as_str().unwrap_or_default().to_owned(),
        },
        _ => return Ok(respond(StatusCode::NOT_FOUND, Bytes::new())),
    };
    inner.replies.lock().await.push((id.to_owned(), reply));
    inner.replied.notify_waiters();
    Ok(respond(StatusCode::ACCEPTED, Bytes::new()))
}

fn respond(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}

/// Checks one Embedded Metric Format document against the specification's rules: an `_aws`
/// object with an integer `Timestamp` and `CloudWatchMetrics` directives, each with a
/// `Namespace`, dimension sets whose keys are string members of the document, and metric
/// definitions whose names are numeric members (or arrays of up to 100 numbers).
pub fn check_emf(line: &str) -> Result<Value> {
    let doc: Value = serde_json::from_str(line).context("not JSON")?;
    let aws = doc.get("_aws").context("no `_aws` member")?;
    aws.get("Timestamp")
        .and_then(Value::as_i64)
        .context("`_aws.Timestamp` is not an integer")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .context("`_aws.CloudWatchMetrics` is not an array")?;
    if directives.is_empty() {
        bail!("no metric directive");
    }
    for directive in directives {
        directive
            .get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .context("a directive has no Namespace")?;
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .context("a directive has no Dimensions array")?;
        if sets.is_empty() {
            bail!("Dimensions must hold at least one dimension set");
        }
        for set in sets {
            let set = set.as_array().context("a dimension set is not an array")?;
            if set.len() > 30 {
                bail!("a dimension set has more than 30 keys");
            }
            for key in set {
                let key = key.as_str().context("a dimension key is not a string")?;
                doc.get(key)
                    .and_then(Value::as_str)
                    .with_context(|| format!("dimension `{key}` is not a string member"))?;
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .context("a directive has no Metrics array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            bail!("a directive must define 1 to 100 metrics");
        }
        for metric in metrics {
            let name = metric
                .get("Name")
                .and_then(Value::as_str)
                .context("a metric has no Name")?;
            match doc.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values))
                    if !values.is_empty()
                        && values.len() <= 100
                        && values.iter().all(Value::is_number) => {}
                _ => bail!("metric `{name}` has no numeric value"),
            }
        }
    }
    Ok(doc)
}
