//! The deletion guard: `kmsrot guard` by hand, and `kmsrot event` replaying a CloudTrail
//! event through the Lambda's handler.

use kmsrot_testsuite::TestEnv;

use crate::{env, expect_failure, json, kmsrot, path, stderr, tmp};

#[tokio::test]
async fn the_guard_command_restores_a_current_key_scheduled_for_deletion() {
    let env = env().await;
    let alias = env.unique_alias("cli-guard");
    let created = json(&kmsrot(&["init", alias.as_str(), "--output", "json"], None));
    assert_eq!(
        created["policy"]["mode"], "automatic",
        "symmetric keys default to automatic"
    );
    let key: kmsrot_types::KeyArn = created["current"]["key_arn"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    env.schedule_deletion(&key).await.unwrap();
    let out = kmsrot(
        &[
            "guard",
            &key.to_string(),
            "--change",
            "scheduled-deletion",
            "--mode",
            "observe",
        ],
        None,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ALERT"),
        "{}",
        stderr(&out)
    );
    let verdict = json(&kmsrot(
        &[
            "guard",
            &key.to_string(),
            "--change",
            "scheduled-deletion",
            "--output",
            "json",
        ],
        None,
    ));
    assert_eq!(verdict["verdict"], "restored");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "Enabled");
}

#[tokio::test]
async fn event_replays_a_cloudtrail_event_through_the_lambda_handler() {
    // Events name their region; this test has one of its own.
    const REGION: &str = "us-west-2";
    let env = TestEnv::in_region(REGION).await.unwrap();
    let alias = env.unique_alias("event");
    let out = kmsrot(
        &[
            "init",
            alias.as_str(),
            "--mode",
            "manual",
            "--region",
            REGION,
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (key, _) = env.alias_target(&alias).await.unwrap();
    env.schedule_deletion(&key).await.unwrap();
    let event = kmsrot_testsuite::events::key_call(REGION, "ScheduleKeyDeletion", &key);
    let file = tmp("dlq-event.json");
    std::fs::write(&file, event.to_string()).unwrap();

    // Observe mode reports and changes nothing, and its alert has an exit code of its own;
    // the account comes from STS.
    let out = kmsrot(
        &[
            "event",
            path(&file),
            "--guard",
            "observe",
            "--region",
            REGION,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("ScheduleKeyDeletion: ALERT:"), "{text}");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "PendingDeletion");

    // Enforce (the default), from stdin, as JSON: the deletion is undone.
    let out = kmsrot(
        &["event", "-", "--region", REGION, "--output", "json"],
        Some(event.to_string().as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome = json(&out);
    assert_eq!(outcome["outcome"], "guarded");
    assert_eq!(outcome["verdict"]["verdict"], "restored");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "Enabled");

    // An event of another account, a forged one, and one that is not JSON: refused (8).
    let out = kmsrot(
        &[
            "event",
            path(&file),
            "--region",
            REGION,
            "--account",
            "111122223333",
        ],
        None,
    );
    expect_failure(
        &out,
        8,
        "from account 123456789012, but this function acts only on account 111122223333",
    );
    let mut forged = event.clone();
    forged["source"] = "com.example.attacker".into();
    let out = kmsrot(
        &["event", "-", "--region", REGION],
        Some(forged.to_string().as_bytes()),
    );
    expect_failure(&out, 8, "claims source `com.example.attacker`");
    let out = kmsrot(&["event", "-", "--region", REGION], Some(b"{not json"));
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    let out = kmsrot(
        &[
            "event",
            path(&file),
            "--region",
            REGION,
            "--account",
            "12345",
        ],
        None,
    );
    expect_failure(&out, 2, "not an AWS account ID");
    // The wrong region (the CLI's, not the event's) is refused too.
    let out = kmsrot(&["event", path(&file), "--region", "eu-west-1"], None);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
}
