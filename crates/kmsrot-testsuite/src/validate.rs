//! The validation suite behind `kmsrot-validate`: checks a deployed kmsrot stack from its
//! outputs, the way an application and an operator would use it.
//!
//! The checks, in order: the stack's outputs; alias resolution; a round trip through the
//! alias (encrypt and decrypt, sign and verify, or MAC and verify, by key usage); latency of
//! that pair (p50 and p99); a rotation by the stack's function (manual or on-demand, by mode)
//! after which data made before it still opens; a rollback (manual mode); the notifications
//! of both on the stack's topic; and the function's metrics.
//!
//! The function is invoked through the Lambda API, or, with a local runtime, its `bootstrap`
//! runs on this machine under a local Lambda Runtime API with the deployed function's
//! environment. The second serves endpoints that cannot run Lambda functions (the local
//! emulator); there, the metrics check reads the EMF documents the function writes, which
//! Lambda would hand to CloudWatch.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use aws_config::SdkConfig;
use kmsrot_core::{AliasKms, Kms};
use kmsrot_types::metrics::{MetricName, NAMESPACE};
use kmsrot_types::{
    AliasName, AsymmetricCiphertext, Ciphertext, EncryptionContext, KeyArn, KeyInfo, Mac, Mode,
    Outcome, Request, Signature, tags,
};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::Mutex;

use crate::inbox::Inbox;
use crate::runtime_api::{Reply, RuntimeApi, check_emf};

/// What to validate, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The deployed stack.
    pub stack_name: String,
    /// Round trips timed for the latency figures.
    pub samples: usize,
    /// How long to wait for notifications and metrics to arrive.
    pub wait: Duration,
    /// Run this `bootstrap` locally instead of invoking the deployed function.
    pub local_runtime: Option<PathBuf>,
    /// The endpoint the local runtime's function is given (`AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It did what it should.
    Pass,
    /// It did not; the detail says why.
    Fail,
    /// Not applicable to this stack; the detail says why.
    Skip,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Its name, for example `round-trip`.
    pub name: &'static str,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was seen, or why it failed or was skipped.
    pub detail: String,
}

/// Latency of one operation, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// For example `Encrypt`.
    pub operation: &'static str,
    /// Calls timed.
    pub samples: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// The whole validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The stack.
    pub stack_name: String,
    /// Its region.
    pub region: String,
    /// How the function was run: `lambda` or `local-runtime`.
    pub invoked_by: &'static str,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// The latency figures.
    pub latency: Vec<Latency>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.verdict != Verdict::Fail)
    }

    fn record(&mut self, name: &'static str, result: Result<Found>) {
        let (verdict, detail) = match result {
            Ok(Found::Pass(detail)) => (Verdict::Pass, detail),
            Ok(Found::Skip(detail)) => (Verdict::Skip, detail),
            Err(err) => (Verdict::Fail, format!("{err:#}")),
        };
        self.checks.push(Check {
            name,
            verdict,
            detail,
        });
    }
}

/// What a check that did not fail found.
enum Found {
    Pass(String),
    Skip(String),
}

/// The value at percentile `p` (0 to 100) of sorted samples, by nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The stack's outputs that the checks need.
#[derive(Debug, Clone)]
struct Stack {
    alias: AliasName,
    key_arn: String,
    function: String,
    topic_arn: String,
    mode: Mode,
}

impl Stack {
    fn from_outputs(outputs: &BTreeMap<String, String>) -> Result<Self> {
        let get = |name: &str| {
            outputs
                .get(name)
                .cloned()
                .with_context(|| format!("the stack has no output {name}"))
        };
        Ok(Self {
            alias: get("AliasName")?
                .parse()
                .context("output AliasName is not an alias name")?,
            key_arn: get("KeyArn")?,
            function: get("FunctionName")?,
            topic_arn: get("TopicArn")?,
            mode: get("RotationMode")?
                .parse()
                .context("output RotationMode is not a mode")?,
        })
    }
}

/// Runs every check against the stack; never fails as a whole, a failing check is recorded.
pub async fn validate(config: &SdkConfig, options: &Options) -> Report {
    let started = SystemTime::now();
    let mut report = Report {
        stack_name: options.stack_name.clone(),
        region: config.region().map(ToString::to_string).unwrap_or_default(),
        invoked_by: if options.local_runtime.is_some() {
            "local-runtime"
        } else {
            "lambda"
        },
        checks: Vec::new(),
        latency: Vec::new(),
    };
    let stack = match stack_outputs(config, &options.stack_name).await {
        Ok(outputs) => Stack::from_outputs(&outputs),
        Err(err) => Err(err),
    };
    let stack = match stack {
        Ok(stack) => {
            report.record(
                "stack-outputs",
                Ok(Found::Pass(format!(
                    "{} ({} mode), function {}",
                    stack.alias, stack.mode, stack.function
                ))),
            );
            stack
        }
        Err(err) => {
            report.record("stack-outputs", Err(err));
            return report;
        }
    };
    let kms = Kms::new(config);
    let alias = kms.alias(stack.alias.clone().into());
    let mut context = EncryptionContext::new();
    context.insert("kmsrot-validate", options.stack_name.clone());

    let (before_key, usage) = match resolution(config, &alias, &stack).await {
        Ok((key, detail)) => {
            report.record("alias-resolution", Ok(Found::Pass(detail)));
            match Usage::of(&key.key_usage, &key.key_spec) {
                Ok(usage) => (key.key_arn, usage),
                Err(err) => {
                    report.record("round-trip", Err(err));
                    return report;
                }
            }
        }
        Err(err) => {
            report.record("alias-resolution", Err(err));
            return report;
        }
    };

    let round_trip = async {
        let sealed = usage.seal(&alias, &context).await?;
        usage.open(&kms, &sealed, &context).await?;
        anyhow::Ok(sealed)
    };
    let sealed = match round_trip.await {
        Ok(sealed) => {
            let (seal, open) = usage.operations();
            report.record(
                "round-trip",
                Ok(Found::Pass(format!(
                    "{seal} and {open} through {} under {}",
                    stack.alias,
                    sealed.key_arn()
                ))),
            );
            sealed
        }
        Err(err) => {
            report.record("round-trip", Err(err));
            return report;
        }
    };

    match latency(&usage, &kms, &alias, &context, options.samples).await {
        Ok(figures) => {
            let detail = figures
                .iter()
                .map(|l| {
                    format!(
                        "{} p50 {:.1} ms, p99 {:.1} ms",
                        l.operation, l.p50_ms, l.p99_ms
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            report.record(
                "latency",
                Ok(Found::Pass(format!(
                    "{detail} ({} calls each)",
                    options.samples
                ))),
            );
            report.latency = figures;
        }
        Err(err) => report.record("latency", Err(err)),
    }

    // Subscribe before anything is sent.
    let inbox = Inbox::subscribe(config, &stack.topic_arn, "validate").await;
    let invoker = match &options.local_runtime {
        Some(binary) => LocalRuntime::start(
            config,
            &stack.function,
            binary,
            options.endpoint_url.as_deref(),
        )
        .await
        .map(|local| Invoker::Local(Box::new(local))),
        None => Ok(Invoker::Lambda(
            aws_sdk_lambda::Client::new(config),
            stack.function.clone(),
        )),
    };
    let invoker = match invoker {
        Ok(invoker) => invoker,
        Err(err) => {
            report.record("rotation", Err(err));
            return report;
        }
    };

    let rotated = rotation(&invoker, &kms, &alias, &usage, &sealed, &context, &stack).await;
    let after_key = rotated.as_ref().ok().map(|(key, _, _)| key.clone());
    let new_sealed = rotated.as_ref().ok().map(|(_, sealed, _)| sealed.clone());
    report.record(
        "rotation",
        rotated.map(|(_, _, detail)| Found::Pass(detail)),
    );

    let rolled_back = match (stack.mode, &after_key, &new_sealed) {
        (Mode::Automatic, _, _) => Ok(Found::Skip(
            "automatic mode rotates key material inside one key, and KMS keeps every older material; there is no other key to go back to".into(),
        )),
        (Mode::Manual, Some(after), Some(new_sealed)) => rollback(
            &invoker,
            &kms,
            (&stack.alias, &alias),
            &usage,
            (&before_key, after),
            new_sealed,
            &context,
        )
        .await
        .map(Found::Pass),
        (Mode::Manual, _, _) => Ok(Found::Skip("the rotation failed".into())),
    };
    let rollback_expected = matches!(rolled_back, Ok(Found::Pass(_)));
    report.record("rollback", rolled_back);

    let notified = match &inbox {
        Ok(inbox) => notifications(inbox, &stack.alias, rollback_expected, options.wait).await,
        Err(err) => Err(anyhow::anyhow!("{err:#}")),
    };
    report.record("notifications", notified.map(Found::Pass));
    if let Ok(inbox) = inbox
        && let Err(err) = inbox.remove().await
    {
        tracing::warn!(error = %format!("{err:#}"), "could not remove the validation queue");
    }

    let measured = match &invoker {
        Invoker::Local(local) => local.metrics(&stack.alias).await,
        Invoker::Lambda(..) => {
            let cloudwatch = aws_sdk_cloudwatch::Client::new(config);
            cloudwatch_metrics(&cloudwatch, &stack.alias, started, options.wait).await
        }
    };
    report.record("metrics", measured.map(Found::Pass));
    if let Invoker::Local(local) = invoker {
        local.stop().await;
    }
    report
}

async fn stack_outputs(config: &SdkConfig, name: &str) -> Result<BTreeMap<String, String>> {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    let out = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .with_context(|| format!("DescribeStacks {name}"))?;
    let stack = out
        .stacks()
        .first()
        .with_context(|| format!("no stack {name}"))?;
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect())
}

/// The alias names an enabled key that kmsrot manages as its current key.
async fn resolution(
    config: &SdkConfig,
    alias: &AliasKms,
    stack: &Stack,
) -> Result<(KeyInfo, String)> {
    let key = alias.describe().await?;
    if key.key_state != "Enabled" {
        bail!(
            "{} names {}, which is {}",
            stack.alias,
            key.key_arn,
            key.key_state
        );
    }
    let tags = aws_sdk_kms::Client::new(config)
        .list_resource_tags()
        .key_id(key.key_arn.to_string())
        .send()
        .await
        .context("ListResourceTags")?;
    let tag = |name: &str| {
        tags.tags()
            .iter()
            .find(|t| t.tag_key() == name)
            .map(|t| t.tag_value().to_owned())
    };
    if tag(tags::ALIAS).as_deref() != Some(stack.alias.as_str()) {
        bail!(
            "{} names {}, which is not tagged {}={}",
            stack.alias,
            key.key_arn,
            tags::ALIAS,
            stack.alias
        );
    }
    if tag(tags::STAGE).as_deref() != Some("current") {
        bail!(
            "{} names {}, whose {} is {:?}, not current",
            stack.alias,
            key.key_arn,
            tags::STAGE,
            tag(tags::STAGE)
        );
    }
    let mut detail = format!(
        "{} -> {} ({}, {}, {})",
        stack.alias, key.key_arn, key.key_state, key.key_spec, key.key_usage
    );
    if key.key_arn.to_string() != stack.key_arn {
        detail.push_str(&format!(
            "; the stack created {}, and rotations have moved the alias since",
            stack.key_arn
        ));
    }
    Ok((key, detail))
}

/// What the key is used for, and so which pair of operations the checks use.
#[derive(Debug, Clone, Copy)]
enum Usage {
    Symmetric,
    Asymmetric,
    Signing,
    Mac,
}

/// Data made through the alias, to be opened later.
#[derive(Debug, Clone)]
enum Sealed {
    Symmetric(Ciphertext),
    Asymmetric(AsymmetricCiphertext),
    Signature(Vec<u8>, Signature),
    Mac(Vec<u8>, Mac),
}

impl Sealed {
    fn key_arn(&self) -> &KeyArn {
        match self {
            Sealed::Symmetric(c) => &c.key_arn,
            Sealed::Asymmetric(c) => &c.key_arn,
            Sealed::Signature(_, s) => &s.key_arn,
            Sealed::Mac(_, m) => &m.key_arn,
        }
    }
}

/// Random bytes for a round trip; never printed.
fn message() -> Vec<u8> {
    std::iter::repeat_with(|| fastrand::u8(..))
        .take(32)
        .collect()
}

impl Usage {
    fn of(usage: &str, spec: &str) -> Result<Self> {
        Ok(match (usage, spec) {
            ("ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT") => Usage::Symmetric,
            ("ENCRYPT_DECRYPT", _) => Usage::Asymmetric,
            ("SIGN_VERIFY", _) => Usage::Signing,
            ("GENERATE_VERIFY_MAC", _) => Usage::Mac,
            (usage, spec) => bail!("kmsrot-validate cannot check a {spec} key for {usage}"),
        })
    }

    fn operations(self) -> (&'static str, &'static str) {
        match self {
            Usage::Symmetric | Usage::Asymmetric => ("Encrypt", "Decrypt"),
            Usage::Signing => ("Sign", "Verify"),
            Usage::Mac => ("GenerateMac", "VerifyMac"),
        }
    }

    async fn seal(self, alias: &AliasKms, context: &EncryptionContext) -> Result<Sealed> {
        let message = message();
        Ok(match self {
            Usage::Symmetric => Sealed::Symmetric(alias.encrypt(&message, context).await?),
            Usage::Asymmetric => Sealed::Asymmetric(alias.encrypt_asymmetric(&message).await?),
            Usage::Signing => {
                let signature = alias.sign(&message).await?;
                Sealed::Signature(message, signature)
            }
            Usage::Mac => {
                let mac = alias.generate_mac(&message).await?;
                Sealed::Mac(message, mac)
            }
        })
    }

    async fn open(self, kms: &Kms, sealed: &Sealed, context: &EncryptionContext) -> Result<()> {
        match sealed {
            Sealed::Symmetric(c) => {
                let opened = kms.decrypt(c.ciphertext.as_slice(), context).await?;
                if opened.key_arn != c.key_arn {
                    bail!(
                        "Decrypt used {}, but the data was encrypted under {}",
                        opened.key_arn,
                        c.key_arn
                    );
                }
            }
            Sealed::Asymmetric(c) => {
                kms.decrypt_asymmetric(c).await?;
            }
            Sealed::Signature(message, signature) => kms.verify(message, signature).await?,
            Sealed::Mac(message, mac) => kms.verify_mac(message, mac).await?,
        }
        Ok(())
    }
}

async fn latency(
    usage: &Usage,
    kms: &Kms,
    alias: &AliasKms,
    context: &EncryptionContext,
    samples: usize,
) -> Result<Vec<Latency>> {
    let mut seal = Vec::with_capacity(samples);
    let mut open = Vec::with_capacity(samples);
    for _ in 0..samples {
        let started = Instant::now();
        let sealed = usage.seal(alias, context).await?;
        seal.push(started.elapsed());
        let started = Instant::now();
        usage.open(kms, &sealed, context).await?;
        open.push(started.elapsed());
    }
    let (seal_name, open_name) = usage.operations();
    Ok([(seal_name, seal), (open_name, open)]
        .into_iter()
        .map(|(operation, mut times)| {
            times.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            Latency {
                operation,
                samples,
                p50_ms: ms(percentile(&times, 50.0)),
                p99_ms: ms(percentile(&times, 99.0)),
            }
        })
        .collect())
}

/// How the stack's function is run.
enum Invoker {
    Lambda(aws_sdk_lambda::Client, String),
    Local(Box<LocalRuntime>),
}

impl Invoker {
    async fn invoke(&self, request: &Request) -> Result<Outcome> {
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
struct LocalRuntime {
    api: RuntimeApi,
    child: tokio::process::Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl LocalRuntime {
    async fn start(
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
    async fn metrics(&self, alias: &AliasName) -> Result<String> {
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

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        drop(self.api);
    }
}

/// Rotates through the function; data sealed before must still open, and new data is sealed
/// under the key the alias names now. Returns that key, new sealed data, and a description.
async fn rotation(
    invoker: &Invoker,
    kms: &Kms,
    alias: &AliasKms,
    usage: &Usage,
    before: &Sealed,
    context: &EncryptionContext,
    stack: &Stack,
) -> Result<(KeyArn, Sealed, String)> {
    let outcome = invoker
        .invoke(&Request::Rotate {
            alias: stack.alias.clone(),
            dry_run: false,
            rotation_id: None,
        })
        .await?;
    let Outcome::Rotated { actions, .. } = &outcome else {
        bail!("the function answered {outcome:?}, not a rotation");
    };
    let now = alias.describe().await?.key_arn;
    match stack.mode {
        Mode::Manual if &now == before.key_arn() => {
            bail!("the alias still names {now} after a manual rotation")
        }
        Mode::Automatic if &now != before.key_arn() => {
            bail!(
                "the alias moved from {} to {now}, but automatic rotation keeps the key",
                before.key_arn()
            )
        }
        _ => {}
    }
    usage
        .open(kms, before, context)
        .await
        .context("data made before the rotation no longer opens")?;
    let after = usage.seal(alias, context).await?;
    if after.key_arn() != &now {
        bail!(
            "new data was made under {}, but the alias names {now}",
            after.key_arn()
        );
    }
    usage.open(kms, &after, context).await?;
    Ok((
        now.clone(),
        after,
        format!(
            "{} action(s); {} now names {now}; data from before still opens",
            actions.len(),
            stack.alias
        ),
    ))
}

/// Rolls back through the function: the alias names the earlier key again, and data made
/// under the later key still opens.
async fn rollback(
    invoker: &Invoker,
    kms: &Kms,
    (name, alias): (&AliasName, &AliasKms),
    usage: &Usage,
    (before, after): (&KeyArn, &KeyArn),
    new_sealed: &Sealed,
    context: &EncryptionContext,
) -> Result<String> {
    let outcome = invoker
        .invoke(&Request::Rollback {
            alias: name.clone(),
            from: Some(after.clone()),
        })
        .await?;
    if !matches!(outcome, Outcome::RolledBack { .. }) {
        bail!("the function answered {outcome:?}, not a rollback");
    }
    let now = alias.describe().await?.key_arn;
    if &now != before {
        bail!("after the rollback {name} names {now}, not {before}");
    }
    usage
        .open(kms, new_sealed, context)
        .await
        .context("data made under the rolled-back key no longer opens")?;
    Ok(format!(
        "{name} names {before} again; data made under {after} still opens"
    ))
}

async fn notifications(
    inbox: &Inbox,
    alias: &AliasName,
    rollback: bool,
    wait: Duration,
) -> Result<String> {
    let wanted: &[&str] = if rollback {
        &["rotation_done", "rollback"]
    } else {
        &["rotation_done"]
    };
    let deadline = Instant::now() + wait;
    let mut kinds = Vec::new();
    loop {
        for message in inbox.drain(0, Duration::from_secs(1)).await? {
            if message.body["alias"].as_str() == Some(alias.as_str())
                && let Some(kind) = message.body["kind"].as_str()
            {
                kinds.push(kind.to_owned());
            }
        }
        if wanted.iter().all(|w| kinds.iter().any(|k| k == w)) {
            return Ok(format!("received {} for {alias}", kinds.join(", ")));
        }
        if Instant::now() >= deadline {
            bail!(
                "within {} s the topic delivered {:?} for {alias}, expected {wanted:?}",
                wait.as_secs(),
                kinds
            );
        }
    }
}

/// Lambda hands EMF to CloudWatch; the data points of this run (from `since`) show in
/// GetMetricData after a minute or two. (ListMetrics would also list a metric of an earlier
/// run.)
async fn cloudwatch_metrics(
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

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |n: u64| Duration::from_millis(n);
        let sorted: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 50.0), ms(50));
        assert_eq!(percentile(&sorted, 99.0), ms(99));
        assert_eq!(percentile(&sorted, 100.0), ms(100));
        assert_eq!(percentile(&[ms(7)], 99.0), ms(7));
        assert_eq!(percentile(&[ms(1), ms(9)], 50.0), ms(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn a_report_fails_when_any_check_fails() {
        let mut report = Report {
            stack_name: "s".into(),
            region: "r".into(),
            invoked_by: "lambda",
            checks: Vec::new(),
            latency: Vec::new(),
        };
        report.record("a", Ok(Found::Pass("ok".into())));
        report.record("b", Ok(Found::Skip("n/a".into())));
        assert!(report.passed());
        report.record("c", Err(anyhow::anyhow!("broken")));
        assert!(!report.passed());
        assert_eq!(report.checks[2].verdict, Verdict::Fail);
        assert_eq!(report.checks[2].detail, "broken");
    }

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

    #[test]
    fn outputs_name_what_the_checks_need() {
        let mut outputs: BTreeMap<String, String> = [
            ("AliasName", "alias/app"),
            ("KeyArn", "arn:aws:kms:us-east-1:123456789012:key/k"),
            ("FunctionName", "f"),
            ("TopicArn", "arn:aws:sns:us-east-1:123456789012:t"),
            ("RotationMode", "manual"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let stack = Stack::from_outputs(&outputs).unwrap();
        assert_eq!(stack.mode, Mode::Manual);
        outputs.remove("TopicArn");
        let err = Stack::from_outputs(&outputs).unwrap_err();
        assert_eq!(err.to_string(), "the stack has no output TopicArn");
    }
}
