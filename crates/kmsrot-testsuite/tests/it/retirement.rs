//! Retiring only what nothing uses: grants, last use, the canary, several aliases. The engine's
//! clock is moved forward to let grace periods pass; KMS's own records (grants, last use) are
//! the emulator's, at the real time.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::GrantOperation;
use kmsrot_core::engine::RotationError;
use kmsrot_core::{FailedUse, RotateOptions, Rotator};
use kmsrot_testsuite::TestEnv;
use kmsrot_types::{
    Action, AliasName, CanaryVerdict, HeldStep, Hold, HoldReason, KeyArn, Mode, Policy, Stage,
    Undone, tags,
};

use crate::env;

const DAY: i64 = 86_400;

/// The engine, seeing the world `days` from now.
fn engine_in(env: &TestEnv, days: i64) -> Rotator {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    env.rotator()
        .with_clock(aws_smithy_types::DateTime::from_secs(now + days * DAY))
}

/// A managed symmetric alias whose old keys retire at once and are deleted after `delete_after`
/// days, with a quiet period of `quiet` days.
async fn alias_with(
    env: &TestEnv,
    label: &str,
    quiet: u32,
    delete_after: u32,
) -> (AliasName, KeyArn) {
    let alias = env.unique_alias(label);
    let policy = Policy {
        grace_days: 0,
        delete_after_days: delete_after,
        quiet_days: quiet,
        ..Policy::new(Mode::Manual)
    };
    let status = env
        .rotator()
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap();
    (alias, status.current.key_arn)
}

fn holds(actions: &[Action]) -> Vec<&Hold> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Hold(hold) => Some(hold),
            _ => None,
        })
        .collect()
}

/// An RDS-like consumer: a grant for an AWS service on the key, as the service makes it when a
/// resource is created with the alias (`GranteeServicePrincipal`, a `SourceArn`).
async fn service_grant(env: &TestEnv, key: &KeyArn) -> String {
    env.client
        .create_grant()
        .key_id(key.to_string())
        .grantee_service_principal("rds.amazonaws.com")
        .retiring_service_principal("rds.amazonaws.com")
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::GenerateDataKeyWithoutPlaintext)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .source_arn(format!(
                    "arn:aws:rds:{}:123456789012:db:orders",
                    env.region()
                ))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap()
}

#[tokio::test]
async fn a_service_grant_holds_the_old_key_until_it_is_revoked() {
    let env = env().await;
    let (alias, old) = alias_with(&env, "svc-grant", 30, 0).await;
    let grant = service_grant(&env, &old).await;
    let actions = env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    // A service makes its own grants on the key its resource uses: none is copied.
    assert!(
        matches!(&actions[..], [Action::Rotate { grants_copied, .. }] if grants_copied.is_empty()),
        "{actions:?}"
    );
    // Two days on, long past the grace period (0 days), the sweep holds the old key.
    let engine = engine_in(&env, 2);
    let status = engine.status(&alias).await.unwrap();
    assert!(
        status
            .warnings
            .iter()
            .any(|w| w.contains("rds.amazonaws.com")),
        "{:?}",
        status.warnings
    );
    assert_eq!(status.holds.len(), 1, "{status:?}");
    let outcome = engine.advance(&alias, false).await.unwrap();
    let held = holds(&outcome.actions);
    assert!(
        matches!(&held[..], [Hold { key, step: HeldStep::Disable, reasons }]
            if *key == old && reasons.iter().any(|r| matches!(r,
                HoldReason::Grants { grants } if grants.iter().any(|g| g.grant_id == grant && g.is_service())))),
        "{outcome:?}"
    );
    assert_eq!(env.key_state(&old).await.unwrap(), "Enabled");
    // The service lets go (the instance is deleted): the key retires at the next sweep.
    env.client
        .revoke_grant()
        .key_id(old.to_string())
        .grant_id(&grant)
        .send()
        .await
        .unwrap();
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: old.clone() }]);
    assert_eq!(env.key_state(&old).await.unwrap(), "Disabled");
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert_eq!(
        outcome.actions,
        vec![Action::ScheduleDeletion {
            key: old.clone(),
            window_days: 30
        }]
    );
    assert_eq!(env.key_state(&old).await.unwrap(), "PendingDeletion");
}

#[tokio::test]
async fn a_key_still_decrypting_is_held_until_it_has_been_quiet() {
    let env = env().await;
    let (alias, old) = alias_with(&env, "last-use", 7, 30).await;
    let ciphertext = env
        .client
        .encrypt()
        .key_id(alias.as_str())
        .plaintext(Blob::new("old data"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    env.rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    // A consumer keeps decrypting old data, by ciphertext (KMS finds the old key).
    env.client
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .unwrap();
    let outcome = engine_in(&env, 1).advance(&alias, false).await.unwrap();
    let held = holds(&outcome.actions);
    let [Hold { reasons, .. }] = &held[..] else {
        panic!("{outcome:?}")
    };
    let Some(HoldReason::RecentUse {
        operation,
        cloudtrail_event_id,
        quiet_days,
        ..
    }) = reasons.first()
    else {
        panic!("{reasons:?}")
    };
    assert_eq!((operation.as_str(), *quiet_days), ("Decrypt", 7));
    assert!(cloudtrail_event_id.is_some());
    assert_eq!(env.key_state(&old).await.unwrap(), "Enabled");
    // Eight days on, the use has stopped for the quiet period: the key is disabled.
    let outcome = engine_in(&env, 8).advance(&alias, false).await.unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: old.clone() }]);
    assert_eq!(env.key_state(&old).await.unwrap(), "Disabled");
}

#[tokio::test]
async fn a_failed_use_of_a_disabled_key_enables_it_and_holds_it_until_released() {
    let env = env().await;
    let (alias, old) = alias_with(&env, "canary", 30, 30).await;
    env.rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let engine = engine_in(&env, 1);
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: old.clone() }]);
    assert_eq!(env.key_state(&old).await.unwrap(), "Disabled");
    let failed = FailedUse {
        operation: "Decrypt".into(),
        error_code: "DisabledException".into(),
        by: Some("arn:aws:sts::123456789012:assumed-role/MonthlyReports/reports-batch".into()),
        at: Some("2026-12-03T10:00:00Z".into()),
        cloudtrail_event_id: Some("d2f4a6c8-e0b1-4c3d-9e5f-7a9b1c3d5e7f".into()),
    };
    let verdict = engine.canary(&old.to_string(), &failed).await.unwrap();
    let CanaryVerdict::Held { undone, hold, .. } = &verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(undone, &[Undone::Enabled]);
    assert!(
        hold.contains("MonthlyReports") && hold.contains("d2f4a6c8"),
        "{hold}"
    );
    assert_eq!(env.key_state(&old).await.unwrap(), "Enabled");
    let tags_now = env.tags(&old.to_string()).await.unwrap();
    assert_eq!(
        tags_now.get(tags::STAGE).map(String::as_str),
        Some("previous")
    );
    assert!(!tags_now.contains_key(tags::RETIRED_AT));
    // The same record again changes nothing more.
    assert!(matches!(
        engine.canary(&old.to_string(), &failed).await.unwrap(),
        CanaryVerdict::AlreadyHeld { .. }
    ));
    // The sweep holds it, and so does the guard if someone disables it.
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert!(
        matches!(&holds(&outcome.actions)[..], [Hold { reasons, .. }]
            if matches!(&reasons[..], [HoldReason::FailedUse { .. }])),
        "{outcome:?}"
    );
    assert_eq!(
        engine.status(&alias).await.unwrap().history[0]
            .hold
            .as_deref(),
        Some(hold.as_str())
    );
    // Released by hand, it retires at the next sweep.
    let release = engine.release(&alias, &old.to_string()).await.unwrap();
    assert_eq!(release.released.as_deref(), Some(hold.as_str()));
    assert_eq!(
        engine
            .release(&alias, &old.to_string())
            .await
            .unwrap()
            .released,
        None,
        "a second release finds nothing"
    );
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: old.clone() }]);
    // Only a key of that alias can be released through it.
    let (other, _) = alias_with(&env, "canary-other", 30, 30).await;
    assert!(matches!(
        engine.release(&other, &old.to_string()).await,
        Err(RotationError::NotOurs { .. })
    ));
    // A use of a key pending deletion cancels the deletion too.
    engine_in(&env, 40).advance(&alias, false).await.unwrap();
    assert_eq!(env.key_state(&old).await.unwrap(), "PendingDeletion");
    let verdict = engine
        .canary(
            &old.to_string(),
            &FailedUse {
                error_code: "KMSInvalidStateException".into(),
                ..failed
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(&verdict, CanaryVerdict::Held { undone, .. }
            if undone == &[Undone::DeletionCancelled, Undone::Enabled]),
        "{verdict:?}"
    );
    assert_eq!(env.key_state(&old).await.unwrap(), "Enabled");
}

#[tokio::test]
async fn an_applications_grants_move_to_the_new_key_and_hold_the_old_one() {
    let env = env().await;
    let (alias, old) = alias_with(&env, "app-grant", 30, 30).await;
    let grantee = "arn:aws:iam::123456789012:role/orders-app";
    let grant = env
        .client
        .create_grant()
        .key_id(old.to_string())
        .name("orders-app")
        .grantee_principal(grantee)
        .retiring_principal("arn:aws:iam::123456789012:role/platform")
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::Encrypt)
        .constraints(
            aws_sdk_kms::types::GrantConstraints::builder()
                .encryption_context_subset("app", "orders")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap();
    let actions = env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let [
        Action::Rotate {
            new_key: Some(new),
            grants_copied,
            ..
        },
    ] = &actions[..]
    else {
        panic!("{actions:?}")
    };
    assert_eq!(grants_copied.len(), 1);
    assert_eq!(grants_copied[0].from_grant_id, grant);
    assert_eq!(grants_copied[0].grantee, grantee);
    let copies = env.grants(new).await.unwrap();
    let [copy] = &copies[..] else {
        panic!("{copies:?}")
    };
    assert_eq!(copy.grant_id(), Some(grants_copied[0].to_grant_id.as_str()));
    assert_eq!(copy.name(), Some("orders-app"));
    assert_eq!(copy.grantee_principal(), Some(grantee));
    assert_eq!(
        copy.retiring_principal(),
        Some("arn:aws:iam::123456789012:role/platform")
    );
    let mut ops: Vec<&str> = copy.operations().iter().map(|o| o.as_str()).collect();
    ops.sort_unstable();
    assert_eq!(ops, ["Decrypt", "Encrypt"]);
    assert_eq!(
        copy.constraints()
            .and_then(|c| c.encryption_context_subset())
            .and_then(|m| m.get("app"))
            .map(String::as_str),
        Some("orders")
    );
    // The old key keeps its grant, and so it stays enabled until the grant is retired.
    let outcome = engine_in(&env, 1).advance(&alias, false).await.unwrap();
    assert_eq!(holds(&outcome.actions).len(), 1, "{outcome:?}");
    // Without copying, the next key gets none.
    let actions = env
        .rotator()
        .rotate(
            &alias,
            RotateOptions {
                no_copy_grants: true,
                ..RotateOptions::default()
            },
        )
        .await
        .unwrap();
    let [
        Action::Rotate {
            new_key: Some(third),
            grants_copied,
            ..
        },
    ] = &actions[..]
    else {
        panic!("{actions:?}")
    };
    assert!(grants_copied.is_empty());
    let grants = env.grants(third).await.unwrap();
    assert!(grants.is_empty(), "{grants:?}");
}

#[tokio::test]
async fn a_key_named_by_another_alias_rotates_only_with_it() {
    let env = env().await;
    let (alias, old) = alias_with(&env, "shared-a", 30, 30).await;
    let other = env.unique_alias("shared-b");
    env.client
        .create_alias()
        .alias_name(other.as_str())
        .target_key_id(old.to_string())
        .send()
        .await
        .unwrap();
    let engine = env.rotator();
    let status = engine.status(&alias).await.unwrap();
    assert_eq!(status.other_aliases, vec![other.clone()]);
    let err = engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    let RotationError::SharedKey { aliases, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(aliases, &vec![other.clone()]);
    let message = err.to_string();
    assert!(
        message.contains(&format!("--with-alias {other}"))
            && message.contains("would stay on the old key"),
        "{message}"
    );
    // Nothing changed: no rotation was started.
    let tags_now = env.tags(&old.to_string()).await.unwrap();
    assert!(!tags_now.contains_key(tags::ROTATING), "{tags_now:?}");
    let actions = engine
        .rotate(
            &alias,
            RotateOptions {
                move_with: vec![other.clone()],
                ..RotateOptions::default()
            },
        )
        .await
        .unwrap();
    let [
        Action::Rotate {
            new_key: Some(new),
            moved_with,
            ..
        },
    ] = &actions[..]
    else {
        panic!("{actions:?}")
    };
    assert_eq!(moved_with, &vec![other.clone()]);
    assert_eq!(&env.alias_target(&alias).await.unwrap().0, new);
    assert_eq!(&env.alias_target(&other).await.unwrap().0, new);
    let status = engine.status(&alias).await.unwrap();
    assert!(status.other_aliases.is_empty() || status.other_aliases == vec![other.clone()]);
    assert_eq!(status.history[0].stage, Some(Stage::Previous));
}

#[tokio::test]
async fn status_shows_every_older_key_not_yet_deleted() {
    let env = env().await;
    let (alias, first) = alias_with(&env, "history", 30, 30).await;
    let engine = env.rotator();
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let second = env.alias_target(&alias).await.unwrap().0;
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let status = engine.status(&alias).await.unwrap();
    let history: Vec<&KeyArn> = status.history.iter().map(|k| &k.key_arn).collect();
    assert_eq!(history, [&second, &first]);
    assert_eq!(status.previous.as_ref().map(|k| &k.key_arn), Some(&second));
    assert!(status.history.iter().all(|k| k.grants.is_some()));
}

/// KMS refuses `GetPublicKey` on a disabled key, so the sweep records a signing key's public key
/// (`kmsrot:public-key-sha256`) before it disables it, for `kmsrot verify` to check old
/// signatures offline. Here the key has no record yet, as a key rotated before kmsrot wrote
/// one. Reading the public key is not a use that holds the key: `KeyLastUsageData`'s
/// `Operation` takes "Decrypt | DeriveSharedSecret | Encrypt | GenerateDataKey |
/// GenerateDataKeyPair | GenerateDataKeyPairWithoutPlaintext | GenerateDataKeyWithoutPlaintext |
/// GenerateMac | ReEncrypt | Sign | Verify | VerifyMac", and no `GetPublicKey`.
#[tokio::test]
async fn a_signing_keys_public_key_is_recorded_before_it_is_disabled() {
    let env = env().await;
    let alias = env.unique_alias("record-public-key");
    let policy = Policy {
        grace_days: 0,
        quiet_days: 1,
        ..Policy::new(Mode::Manual)
    };
    let old = env
        .rotator()
        .init(&alias, "ECC_NIST_P384", "SIGN_VERIFY", None, policy)
        .await
        .unwrap()
        .current
        .key_arn;
    env.rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    env.client
        .untag_resource()
        .key_id(old.to_string())
        .tag_keys(tags::PUBLIC_KEY_SHA256)
        .send()
        .await
        .unwrap();
    let der = env.public_key(&old).await.unwrap();

    let outcome = engine_in(&env, 2).advance(&alias, false).await.unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: old.clone() }]);
    assert_eq!(env.key_state(&old).await.unwrap(), "Disabled");
    assert_eq!(
        env.tags(&old.to_string()).await.unwrap()[tags::PUBLIC_KEY_SHA256],
        kmsrot_core::offline::fingerprint(&der)
    );
}
