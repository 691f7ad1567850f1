//! Tags are input, not truth: the two hijacks a principal who may only tag keys could try,
//! reproduced. The engine checks what the tags claim before it acts, refuses, reports the
//! tampering, and changes nothing.

use kmsrot_core::engine::RotationError;
use kmsrot_core::{RotateOptions, Rotator};
use kmsrot_testsuite::TestEnv;
use kmsrot_types::{Action, AliasName, HeldStep, KeyArn, Mode, Policy, tags};

use crate::{env, symmetric};

const DAY: i64 = 86_400;

fn engine_in(env: &TestEnv, days: i64) -> Rotator {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    env.rotator()
        .with_clock(aws_smithy_types::DateTime::from_secs(now + days * DAY))
}

async fn managed(env: &TestEnv, label: &str) -> (AliasName, KeyArn) {
    let alias = env.unique_alias(label);
    let policy = Policy {
        grace_days: 0,
        quiet_days: 1,
        ..Policy::new(Mode::Manual)
    };
    let key = env
        .rotator()
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap()
        .current
        .key_arn;
    (alias, key)
}

/// Hijack 1: a key of the attacker's, tagged as the pending key of a rotation they "started"
/// on the current key. The sweep would resume that rotation, test the key and promote it.
#[tokio::test]
async fn a_pending_key_planted_by_tags_is_never_promoted() {
    let env = env().await;
    let (alias, current) = managed(&env, "hijack-pending").await;
    let (spec, usage) = symmetric();
    let planted = env.create_key(spec, usage).await.unwrap();
    let id = |k: &KeyArn| k.key_id().as_str().to_owned();
    env.set_tags(
        &planted,
        &[
            (tags::ALIAS, alias.as_str()),
            (tags::STAGE, "pending"),
            (tags::ROTATION_ID, "r-planted"),
            (tags::PREVIOUS_KEY, &id(&current)),
        ],
    )
    .await
    .unwrap();
    env.set_tags(
        &current,
        &[
            (tags::ROTATING, "r-planted"),
            (tags::PENDING_KEY, &id(&planted)),
        ],
    )
    .await
    .unwrap();

    let err = env.rotator().advance(&alias, false).await.unwrap_err();
    assert!(matches!(err, RotationError::Tampered { .. }), "{err:?}");
    assert!(err.to_string().contains("TAMPERED"), "{err}");
    // Recording a start after the planted key was made does not help.
    let later = aws_smithy_types::DateTime::from_secs(
        aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs() + 3600,
    )
    .fmt(aws_smithy_types::date_time::Format::DateTime)
    .unwrap();
    env.set_tags(&current, &[(tags::ROTATING_SINCE, &later)])
        .await
        .unwrap();
    let err = env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RotationError::Tampered { why, .. } if why.contains("before the rotation started")),
        "{err:?}"
    );
    // Nothing changed: the alias names its key, and the planted key is left as it was.
    assert_eq!(env.alias_target(&alias).await.unwrap().0, current);
    assert_eq!(env.key_state(&planted).await.unwrap(), "Enabled");
}

/// Hijack 2: a key that no alias names, tagged into an alias's chain as its previous key. The
/// sweep would disable it and later delete it.
#[tokio::test]
async fn a_key_tagged_into_a_chain_is_never_disabled() {
    let env = env().await;
    let (alias, current) = managed(&env, "hijack-chain").await;
    let (spec, usage) = symmetric();
    let victim = env.create_key(spec, usage).await.unwrap();
    env.set_tags(
        &victim,
        &[
            (tags::ALIAS, alias.as_str()),
            (tags::STAGE, "previous"),
            (tags::DEMOTED_AT, "2020-01-01T00:00:00Z"),
        ],
    )
    .await
    .unwrap();
    env.set_tags(&current, &[(tags::PREVIOUS_KEY, victim.key_id().as_str())])
        .await
        .unwrap();

    let outcome = engine_in(&env, 2).advance(&alias, false).await.unwrap();
    let [Action::Hold(hold)] = &outcome.actions[..] else {
        panic!("{outcome:?}")
    };
    assert_eq!((&hold.key, hold.step), (&victim, HeldStep::Disable));
    assert!(
        hold.reasons
            .iter()
            .any(kmsrot_types::HoldReason::is_tampered),
        "{:?}",
        hold.reasons
    );
    assert_eq!(env.key_state(&victim).await.unwrap(), "Enabled");
    // Reported in status, and counted.
    let status = engine_in(&env, 2).status(&alias).await.unwrap();
    assert!(
        status
            .holds
            .iter()
            .any(|h| h.key == victim && h.reasons.iter().any(kmsrot_types::HoldReason::is_tampered)),
        "{:?}",
        status.holds
    );
    let data = kmsrot_core::observe::data_of(&kmsrot_types::Outcome::Swept {
        report: kmsrot_types::SweepReport {
            dry_run: false,
            not_reached: 0,
            kms_calls: 0,
            orphans: vec![],
            aliases: vec![outcome],
        },
    });
    assert!(
        data.iter()
            .any(|d| d.name == kmsrot_types::metrics::MetricName::TamperDetected),
        "{data:?}"
    );
}

/// Responders win: a key a responder marked `kmsrot:break-glass` (and disabled, to contain an
/// incident) is left alone by the guard, the sweep and rotation, and each says so.
#[tokio::test]
async fn a_break_glass_key_is_left_alone_by_the_guard_the_sweep_and_rotation() {
    let env = env().await;
    let (alias, current) = managed(&env, "break-glass").await;
    env.set_tags(&current, &[(tags::BREAK_GLASS, "incident 42, alice")])
        .await
        .unwrap();
    env.disable_key(&current).await.unwrap();

    let verdict = env
        .rotator()
        .guard(
            &current.to_string(),
            kmsrot_types::KeyChange::Disabled,
            kmsrot_types::GuardMode::Enforce,
        )
        .await
        .unwrap();
    assert!(
        matches!(&verdict, kmsrot_types::GuardVerdict::BreakGlass { record, .. } if record == "incident 42, alice"),
        "{verdict:?}"
    );
    assert_eq!(env.key_state(&current).await.unwrap(), "Disabled");
    let notices = kmsrot_core::observe::notices_of(&kmsrot_types::Outcome::Guarded {
        event_name: "DisableKey".into(),
        verdict,
    });
    assert!(
        matches!(&notices[..], [kmsrot_types::Notice::BreakGlass { .. }]),
        "{notices:?}"
    );

    let outcome = engine_in(&env, 400).advance(&alias, false).await.unwrap();
    assert!(
        matches!(&outcome.actions[..], [Action::BreakGlass { key, .. }] if *key == current),
        "{outcome:?}"
    );
    let err = env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("break-glass"), "{err}");
    assert_eq!(env.alias_target(&alias).await.unwrap().0, current);
    assert_eq!(env.key_state(&current).await.unwrap(), "Disabled");
}

/// A key tagged for a managed alias that the alias does not track (a lost CreateKey answer
/// before kmsrot reconciled them, an interrupted run, or someone's tags) is reported by
/// `audit account` as an orphan; the keys the alias does track are not.
#[tokio::test]
async fn audit_account_reports_orphan_keys() {
    let env = TestEnv::in_region("eu-south-2").await.unwrap();
    let (alias, current) = managed(&env, "orphan").await;
    let (spec, usage) = symmetric();
    let orphan = env.create_key(spec, usage).await.unwrap();
    env.set_tags(
        &orphan,
        &[
            (tags::ALIAS, alias.as_str()),
            (tags::STAGE, "pending"),
            (tags::ROTATION_ID, "r-lost-answer"),
        ],
    )
    .await
    .unwrap();
    let report = env.rotator().audit_account().await.unwrap();
    let orphans: Vec<&KeyArn> = report
        .findings
        .iter()
        .filter(|f| f.issue == kmsrot_types::audit::AccountIssue::Orphan)
        .filter_map(|f| f.key.as_ref())
        .collect();
    assert_eq!(orphans, [&orphan], "{:?}", report.findings);
    assert!(!orphans.contains(&&current));
}

/// Orphan keys in `status` and the sweep, and their clean-up. An orphan KMS shows unused is
/// disabled by a sweep once it is an hour old, and its deletion is scheduled (30-day wait) by
/// a sweep a week later; one with a recorded use, one with a grant and one under a responder's
/// break-glass tag are reported and kept. A dry run changes nothing.
#[tokio::test]
async fn the_sweep_disables_then_deletes_unused_orphans_and_keeps_the_rest() {
    use kmsrot_types::OrphanCleanup;
    let env = TestEnv::in_region("ap-southeast-1").await.unwrap();
    let (alias, current) = managed(&env, "orphans").await;
    let (spec, usage) = symmetric();
    let mut orphans = Vec::new();
    for label in ["unused", "used", "granted", "break-glass"] {
        let key = env.create_key(spec.clone(), usage.clone()).await.unwrap();
        let mut pairs = vec![
            (tags::ALIAS, alias.as_str()),
            (tags::STAGE, "pending"),
            (tags::ROTATION_ID, "r-lost-answer"),
        ];
        if label == "break-glass" {
            pairs.push((tags::BREAK_GLASS, "incident 42"));
        }
        env.set_tags(&key, &pairs).await.unwrap();
        orphans.push(key);
    }
    let [unused, used, granted, held] = &orphans[..] else {
        unreachable!()
    };
    env.client
        .encrypt()
        .key_id(used.to_string())
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap();
    env.client
        .create_grant()
        .key_id(granted.to_string())
        .grantee_principal("arn:aws:iam::123456789012:role/app")
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();

    // `status` names them, for the alias (found through the tagging API) and for the region.
    let tagging = env.rotator().with_tagging_of(&env.config);
    let status = tagging.status(&alias).await.unwrap();
    let mut listed: Vec<&KeyArn> = status.orphans.iter().map(|o| &o.key).collect();
    listed.sort_by_key(|k| k.to_string());
    let mut expected: Vec<&KeyArn> = orphans.iter().collect();
    expected.sort_by_key(|k| k.to_string());
    assert_eq!(listed, expected);
    assert!(
        status
            .orphans
            .iter()
            .all(|o| o.alias_names.as_deref() == Some(current.key_id().to_string().as_str()))
    );
    let all = env.rotator().status_all().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].orphans, status.orphans);
    // Found through the tagging API (by the tag's name alone, for the region) the same; a
    // single alias's status without it does not read every key for them.
    assert_eq!(
        tagging.status_all().await.unwrap()[0].orphans,
        status.orphans
    );
    assert!(
        env.rotator()
            .status(&alias)
            .await
            .unwrap()
            .orphans
            .is_empty()
    );

    let cleanup = |report: &kmsrot_types::SweepReport, key: &KeyArn| {
        report
            .orphans
            .iter()
            .find(|o| &o.key == key)
            .and_then(|o| o.cleanup.clone())
            .unwrap_or_else(|| panic!("{key} not reported: {:?}", report.orphans))
    };
    let kept = |cleanup: OrphanCleanup, why: &str| match cleanup {
        OrphanCleanup::Kept { why: said } => assert!(said.contains(why), "{said}"),
        other => panic!("expected kept ({why}), got {other:?}"),
    };
    let sweep = |days: i64, dry_run: bool| {
        let engine = engine_in(&env, days);
        let alias = alias.clone();
        async move {
            engine
                .sweep_alias(
                    &alias,
                    kmsrot_core::SweepOptions {
                        dry_run,
                        ..kmsrot_core::SweepOptions::default()
                    },
                )
                .await
                .unwrap()
        }
    };

    // Just made: a run may still be recording it.
    let report = sweep(0, false).await;
    kept(cleanup(&report, unused), "less than an hour ago");
    assert_eq!(env.key_state(unused).await.unwrap(), "Enabled");

    // A day later, a dry run says what it would do, and does nothing.
    let report = sweep(1, true).await;
    assert_eq!(cleanup(&report, unused), OrphanCleanup::Disabled);
    assert_eq!(env.key_state(unused).await.unwrap(), "Enabled");

    let report = sweep(1, false).await;
    assert_eq!(cleanup(&report, unused), OrphanCleanup::Disabled);
    // Told: one notice, for the key it disabled (not for those it kept).
    let notices = kmsrot_core::observe::notices_of(&kmsrot_types::Outcome::Swept {
        report: report.clone(),
    });
    let cleaned: Vec<&KeyArn> = notices
        .iter()
        .filter_map(|n| match n {
            kmsrot_types::Notice::OrphanCleaned { orphan } => Some(&orphan.key),
            _ => None,
        })
        .collect();
    assert_eq!(cleaned, [unused]);
    // Tagged `retired`, so that a failed use of it is the canary's.
    assert_eq!(
        env.tags(&unused.to_string()).await.unwrap()[tags::STAGE],
        "retired"
    );
    kept(cleanup(&report, used), "KMS recorded a use of it (Encrypt");
    kept(cleanup(&report, granted), "1 grant(s)");
    kept(cleanup(&report, held), "break-glass");
    assert_eq!(env.key_state(unused).await.unwrap(), "Disabled");
    for key in [used, granted, held, &current] {
        assert_eq!(env.key_state(key).await.unwrap(), "Enabled", "{key}");
    }

    // Its deletion waits for a quiet week after it was disabled.
    let report = sweep(3, false).await;
    kept(cleanup(&report, unused), "stayed unused for 7 days");
    let report = sweep(9, false).await;
    assert_eq!(
        cleanup(&report, unused),
        OrphanCleanup::DeletionScheduled { window_days: 30 }
    );
    assert_eq!(env.key_state(unused).await.unwrap(), "PendingDeletion");
    // Pending deletion, it is no longer an orphan; the alias's own key was never touched.
    let report = sweep(10, false).await;
    assert!(report.orphans.iter().all(|o| &o.key != unused));
    assert_eq!(env.alias_target(&alias).await.unwrap().0, current);
    assert_eq!(env.key_state(&current).await.unwrap(), "Enabled");
}
