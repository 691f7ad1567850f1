//! Key policies across a manual rotation: what names the old key is rewritten or reported,
//! a policy CreateKey's lockout check would refuse is refused before anything is created, and
//! alias conditions need to be accepted.

use kmsrot_core::RotateOptions;
use kmsrot_core::engine::RotationError;
use kmsrot_testsuite::TestEnv;
use kmsrot_types::{Action, AliasName, KeyArn, Mode, Policy, tags};
use serde_json::json;

use crate::{env, symmetric};

/// A managed (manual) alias whose key gets `policy(key ARN)` as its key policy.
async fn alias_with_policy(
    env: &TestEnv,
    label: &str,
    policy: impl Fn(&KeyArn) -> serde_json::Value,
) -> (AliasName, KeyArn) {
    let (spec, usage) = symmetric();
    let (alias, key) = env.key_with_alias(label, spec, usage).await.unwrap();
    env.client
        .put_key_policy()
        .key_id(key.to_string())
        .policy_name("default")
        .policy(policy(&key).to_string())
        .send()
        .await
        .unwrap();
    env.rotator()
        .adopt(&alias, Policy::new(Mode::Manual))
        .await
        .unwrap();
    (alias, key)
}

fn root(account: &str) -> serde_json::Value {
    json!({
        "Sid": "EnableIamPolicies",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })
}

async fn policy_of(env: &TestEnv, key: &KeyArn) -> serde_json::Value {
    let text = env
        .client
        .get_key_policy()
        .key_id(key.to_string())
        .policy_name("default")
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_resource_naming_the_old_key_becomes_this_key_and_other_mentions_are_reported() {
    let env = env().await;
    let (alias, old) = alias_with_policy(&env, "policy-arn", |key| {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                root(key.account()),
                {
                    "Sid": "AllowApp",
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{}:role/app", key.account())},
                    "Action": ["kms:Decrypt", "kms:Encrypt"],
                    "Resource": key.to_string()
                },
                {
                    "Sid": "OnlyForThisKey",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"kms:EncryptionContext:key": key.key_id().as_str()}}
                }
            ]
        })
    })
    .await;
    let engine = env.rotator();
    let plan = engine
        .rotate(
            &alias,
            RotateOptions {
                dry_run: true,
                ..RotateOptions::default()
            },
        )
        .await
        .unwrap();
    let [
        Action::Rotate {
            policy_notes,
            policy_diff,
            new_key: None,
            ..
        },
    ] = &plan[..]
    else {
        panic!("{plan:?}")
    };
    assert!(
        policy_notes.iter().any(|n| n.contains("AllowApp")),
        "{policy_notes:?}"
    );
    assert!(
        policy_notes
            .iter()
            .any(|n| n.contains("OnlyForThisKey") && n.contains("still names the old key")),
        "{policy_notes:?}"
    );
    assert!(
        policy_diff
            .iter()
            .any(|l| l.starts_with("- ") && l.contains(&old.to_string())),
        "{policy_diff:?}"
    );
    assert!(
        policy_diff
            .iter()
            .any(|l| l.starts_with("+ ") && l.contains("\"*\"")),
        "{policy_diff:?}"
    );

    let done = engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let [
        Action::Rotate {
            new_key: Some(new),
            policy_notes,
            ..
        },
    ] = &done[..]
    else {
        panic!("{done:?}")
    };
    assert!(!policy_notes.is_empty());
    let policy = policy_of(&env, new).await;
    let app = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "AllowApp")
        .unwrap();
    assert_eq!(app["Resource"], "*", "{policy}");
}

#[tokio::test]
async fn a_policy_the_lockout_check_would_refuse_is_refused_before_anything_is_created() {
    let env = env().await;
    let (alias, old) = alias_with_policy(&env, "policy-lockout", |key| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "OnlyTheApp",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:role/app", key.account())},
                "Action": "kms:*",
                "Resource": "*"
            }]
        })
    })
    .await;
    let before = env.keys_tagged_for(&alias).await.unwrap().len();
    let err = env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::Unsupported { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("lockout") && message.contains("Nothing was created"),
        "{message}"
    );
    assert_eq!(env.keys_tagged_for(&alias).await.unwrap().len(), before);
    let tags_now = env.tags(&old.to_string()).await.unwrap();
    assert!(!tags_now.contains_key(tags::ROTATING), "{tags_now:?}");
    // Told who it runs as, the engine accepts a policy that lets that role manage the key.
    let app = format!("arn:aws:iam::{}:role/app", old.account());
    env.rotator()
        .with_caller(app)
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn alias_conditions_are_warned_about_and_need_to_be_accepted() {
    let env = env().await;
    let (alias, _) = alias_with_policy(&env, "policy-alias", |key| {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                root(key.account()),
                {
                    "Sid": "ByAlias",
                    "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{}:role/reader", key.account())},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/orders"}}
                }
            ]
        })
    })
    .await;
    let engine = env.rotator();
    let status = engine.status(&alias).await.unwrap();
    assert!(
        status.alias_conditions.iter().any(|c| c.contains("ByAlias")
            && c.contains("kms:ResourceAliases")
            && c.contains("--accept-alias-conditions")),
        "{:?}",
        status.alias_conditions
    );
    let err = engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("--accept-alias-conditions"),
        "{err}"
    );
    let done = engine
        .rotate(
            &alias,
            RotateOptions {
                accept_alias_conditions: true,
                ..RotateOptions::default()
            },
        )
        .await
        .unwrap();
    let [
        Action::Rotate {
            new_key: Some(_),
            policy_notes,
            ..
        },
    ] = &done[..]
    else {
        panic!("{done:?}")
    };
    assert!(
        policy_notes.iter().any(|n| n.starts_with("accepted:")),
        "{policy_notes:?}"
    );
}
