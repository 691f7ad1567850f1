//! The real `bootstrap` binary, served events by a local Lambda Runtime API on 127.0.0.1, as
//! Lambda would run it (moto cannot invoke a Lambda without Docker). It talks to the emulator
//! for KMS and SNS.

use std::process::Stdio;
use std::time::Duration;

use kmsrot_testsuite::TestEnv;
use kmsrot_testsuite::events::{self, secret_like};
use kmsrot_testsuite::inbox::Inbox;
use kmsrot_testsuite::runtime_api::{Reply, RuntimeApi, check_emf};
use kmsrot_types::{Mode, tags};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// The sweep lists every alias of a region, so this test has one of its own.
const REGION: &str = "ap-south-1";
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_bootstrap_binary_handles_events_from_the_runtime_api() {
    let env = TestEnv::in_region(REGION).await.unwrap();
    let inbox = Inbox::create(&env.config, &format!("bootstrap-{}", fastrand::u32(..)))
        .await
        .unwrap();

    // An alias whose key is past its maximum age (365 days by default): its creation is
    // recorded 400 days ago.
    let (due, due_key) = env.managed_alias("due", Mode::Manual).await.unwrap();
    env.set_tags(&due_key, &[(tags::CREATED_AT, "2025-10-25T00:00:00Z")])
        .await
        .unwrap();
    // An alias whose current key an operator schedules for deletion.
    let (guarded, guarded_key) = env.managed_alias("guarded", Mode::Manual).await.unwrap();
    env.schedule_deletion(&guarded_key).await.unwrap();

    let api = RuntimeApi::start().await.unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "kmsrot-rotation")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", REGION)
        .env("KMSROT_TOPIC_ARN", &inbox.topic_arn)
        // The emulator has no quota to protect.
        .env("KMSROT_SWEEP_RATE", "1000")
        // Lambda's most verbose level: kmsrot logs everything it logs, and still nothing secret.
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .env_remove("RUST_LOG")
        .env_remove("KMSROT_EXPECTED_ACCOUNT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read its output as it comes, so that a full pipe never blocks it.
    let collect = |mut pipe: Box<dyn tokio::io::AsyncRead + Send + Unpin>| {
        tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            text
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));

    let schedule = api.invoke(events::scheduled(REGION)).await;
    let deletion = api
        .invoke(events::key_call(
            REGION,
            "ScheduleKeyDeletion",
            &guarded_key,
        ))
        .await;
    let mut forged = events::scheduled(REGION);
    forged["source"] = "com.example.attacker".into();
    let forged = api.invoke(forged).await;
    let malformed = api
        .invoke(events::kms(REGION, "KMS CMK Deletion", json!({"keyid": 1})))
        .await;

    // The sweep rotated the due alias (and only reported on the other).
    let Reply::Response(swept) = api.reply(&schedule, WAIT).await.unwrap() else {
        panic!("the sweep failed")
    };
    assert_eq!(swept["outcome"], "swept", "{swept}");
    let entry = swept["report"]["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["alias"] == due.as_str())
        .unwrap_or_else(|| panic!("{swept}"))
        .clone();
    assert_eq!(entry["actions"][0]["action"], "rotate", "{entry}");
    assert_ne!(env.alias_target(&due).await.unwrap().0, due_key);

    // The deletion of a current key was undone.
    let Reply::Response(guard) = api.reply(&deletion, WAIT).await.unwrap() else {
        panic!("the guard failed")
    };
    assert_eq!(guard["outcome"], "guarded", "{guard}");
    assert_eq!(guard["verdict"]["verdict"], "restored", "{guard}");
    assert_eq!(
        env.alias_target(&guarded).await.unwrap(),
        (guarded_key.clone(), "Enabled".into())
    );

    // Invalid events are reported to the runtime as errors that retrying cannot fix.
    for (id, expected) in [
        (forged, "claims source"),
        (malformed, "missing field `key-id`"),
    ] {
        let Reply::Error {
            error_type,
            message,
        } = api.reply(&id, WAIT).await.unwrap()
        else {
            panic!("{id} was accepted")
        };
        assert_eq!(error_type, "NonRetryable");
        assert!(message.contains(expected), "{message}");
    }

    // Notifications arrived through SNS at the subscribed queue.
    let notes = inbox.drain(2, Duration::from_secs(10)).await.unwrap();
    let kinds: Vec<&str> = notes
        .iter()
        .filter_map(|n| n.body["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"rotation_done"), "{kinds:?}");
    assert!(kinds.contains(&"guard_action"), "{kinds:?}");

    // Stop the function (it would wait for the next event forever) and read what it wrote.
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let stdout = stdout.await.unwrap();
    let stderr = stderr.await.unwrap();

    // Every line is JSON: a log record, or an EMF document that follows the specification.
    let mut metrics = std::collections::BTreeMap::<String, f64>::new();
    for line in stdout.lines() {
        let doc: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if doc.get("_aws").is_some() {
            check_emf(line).unwrap_or_else(|e| panic!("invalid EMF {line}: {e}"));
            assert_eq!(
                doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
                "KMSRotation"
            );
            for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
            {
                let name = m["Name"].as_str().unwrap().to_owned();
                let value = match &doc[&name] {
                    Value::Array(v) => v.iter().filter_map(Value::as_f64).sum(),
                    v => v.as_f64().unwrap(),
                };
                *metrics.entry(name).or_default() += value;
            }
        } else {
            assert!(
                doc.get("level").is_some(),
                "neither a log record nor EMF: {line}"
            );
        }
    }
    assert_eq!(metrics.get("RotationsSucceeded"), Some(&1.0), "{metrics:?}");
    assert_eq!(metrics.get("GuardActions"), Some(&1.0), "{metrics:?}");
    assert_eq!(metrics.get("RejectedEvents"), Some(&2.0), "{metrics:?}");
    assert!(metrics.contains_key("KeyAgeDays"), "{metrics:?}");
    assert!(api.polls() >= 5);

    // No plaintext, data key or ciphertext in anything it wrote or sent.
    let sent: String = notes.iter().map(|n| n.raw.clone() + "\n").collect();
    for (what, text) in [
        ("stdout", &stdout),
        ("stderr", &stderr),
        ("notifications", &sent),
    ] {
        assert_eq!(
            secret_like(text),
            None,
            "{what} holds something secret-like"
        );
    }
}
