//! The rotation engine against the emulator: manual rotation of every key family, crash
//! convergence, rollback, the deletion guard, automatic mode, and refusals that change
//! nothing. Tests that list every key of a region run in a region of their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kmsrot_core::engine::RotationError;
use kmsrot_core::{Kms, RotateOptions, Rotator};
use kmsrot_testsuite::{FaultInjector, Strike, TestEnv};
use kmsrot_types::{
    Action, AliasName, AliasRef, EncryptionContext, GuardMode, GuardVerdict, KeyArn, KeyChange,
    Mode, Policy, Stage, Undone, tags,
};

use crate::env;

fn manual() -> Policy {
    Policy::new(Mode::Manual)
}

/// Creates a managed alias under the default manual policy; returns its key.
async fn init_manual(engine: &Rotator, alias: &AliasName, spec: &str, usage: &str) -> KeyArn {
    engine
        .init(alias, spec, usage, None, manual())
        .await
        .unwrap_or_else(|e| panic!("init {alias} ({spec} {usage}): {e}"))
        .current
        .key_arn
}

/// The engine as a re-run after the alias's lock timed out sees it: a lock left behind by a
/// run whose release failed is taken over.
pub(crate) fn after_lock_timeout(engine: &Rotator) -> Rotator {
    engine.clone().with_lock_timeout(std::time::Duration::ZERO)
}

/// Rotates an alias once; returns the key it names afterwards.
async fn rotate_once(env: &TestEnv, engine: &Rotator, alias: &AliasName) -> KeyArn {
    engine
        .rotate(alias, RotateOptions::default())
        .await
        .unwrap_or_else(|e| panic!("rotate {alias}: {e}"));
    env.alias_target(alias).await.unwrap().0
}

/// A result made through the alias before a rotation, to be checked after it.
enum OldResult {
    Symmetric(Vec<u8>),
    Asymmetric(kmsrot_types::AsymmetricCiphertext),
    Signature(kmsrot_types::Signature),
    Mac(kmsrot_types::Mac),
}

const MESSAGE: &[u8] = b"made before the rotation";

async fn make_result(env: &TestEnv, alias: &AliasName, usage: &str, spec: &str) -> OldResult {
    let kms = env.kms.alias(AliasRef::Name(alias.clone()));
    match usage {
        "ENCRYPT_DECRYPT" if spec == "SYMMETRIC_DEFAULT" => OldResult::Symmetric(
            kms.encrypt(MESSAGE, &EncryptionContext::default())
                .await
                .unwrap()
                .ciphertext
                .as_slice()
                .to_vec(),
        ),
        "ENCRYPT_DECRYPT" => OldResult::Asymmetric(kms.encrypt_asymmetric(MESSAGE).await.unwrap()),
        "SIGN_VERIFY" => OldResult::Signature(kms.sign(MESSAGE).await.unwrap()),
        _ => OldResult::Mac(kms.generate_mac(MESSAGE).await.unwrap()),
    }
}

async fn check_result(env: &TestEnv, old: &OldResult, old_key: &KeyArn) {
    match old {
        OldResult::Symmetric(ciphertext) => {
            let out = env
                .kms
                .decrypt(ciphertext, &EncryptionContext::default())
                .await
                .unwrap();
            assert_eq!(out.plaintext.expose(), MESSAGE);
            assert_eq!(&out.key_arn, old_key);
        }
        OldResult::Asymmetric(ciphertext) => {
            assert_eq!(&ciphertext.key_arn, old_key);
            let plaintext = env.kms.decrypt_asymmetric(ciphertext).await.unwrap();
            assert_eq!(plaintext.expose(), MESSAGE);
        }
        OldResult::Signature(signature) => {
            assert_eq!(&signature.key_arn, old_key);
            env.kms.verify(MESSAGE, signature).await.unwrap();
        }
        OldResult::Mac(mac) => {
            assert_eq!(&mac.key_arn, old_key);
            env.kms.verify_mac(MESSAGE, mac).await.unwrap();
        }
    }
}

#[tokio::test]
async fn manual_rotation_works_for_every_key_family() {
    let env = TestEnv::in_region("eu-west-3").await.unwrap();
    let engine = env.rotator();
    let families = [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "ENCRYPT_DECRYPT"),
        ("RSA_3072", "ENCRYPT_DECRYPT"),
        ("RSA_4096", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "SIGN_VERIFY"),
        ("RSA_3072", "SIGN_VERIFY"),
        ("RSA_4096", "SIGN_VERIFY"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
        ("ECC_NIST_P384", "SIGN_VERIFY"),
        ("ECC_NIST_P521", "SIGN_VERIFY"),
        ("ECC_SECG_P256K1", "SIGN_VERIFY"),
        ("ECC_NIST_EDWARDS25519", "SIGN_VERIFY"),
        ("ML_DSA_44", "SIGN_VERIFY"),
        ("ML_DSA_65", "SIGN_VERIFY"),
        ("ML_DSA_87", "SIGN_VERIFY"),
        ("HMAC_224", "GENERATE_VERIFY_MAC"),
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("HMAC_384", "GENERATE_VERIFY_MAC"),
        ("HMAC_512", "GENERATE_VERIFY_MAC"),
    ];
    for (spec, usage) in families {
        let alias = env.unique_alias(&spec.to_lowercase().replace('_', "-"));
        let status = engine
            .init(&alias, spec, usage, Some("family test"), manual())
            .await
            .unwrap_or_else(|e| panic!("init {spec} {usage}: {e}"));
        let old_key = status.current.key_arn.clone();
        env.set_tags(&old_key, &[("team", "payments")])
            .await
            .unwrap();
        let old = make_result(&env, &alias, usage, spec).await;

        let actions = engine
            .rotate(&alias, RotateOptions::default())
            .await
            .unwrap_or_else(|e| panic!("rotate {spec} {usage}: {e}"));
        let [
            Action::Rotate {
                new_key: Some(new_key),
                ..
            },
        ] = &actions[..]
        else {
            panic!("{spec} {usage}: {actions:?}");
        };

        let (target, state) = env.alias_target(&alias).await.unwrap();
        assert_eq!(
            &target, new_key,
            "{spec} {usage}: the alias names the new key"
        );
        assert_ne!(&target, &old_key);
        assert_eq!(state, "Enabled");
        let keys = env.keys_tagged_for(&alias).await.unwrap();
        assert_eq!(
            keys.len(),
            2,
            "{spec} {usage}: exactly two keys carry the alias tag"
        );
        let old_view = keys.iter().find(|k| k.arn == old_key).unwrap();
        assert_eq!(old_view.state, "Enabled", "the old key stays enabled");
        assert_eq!(old_view.tag(tags::STAGE), Some("previous"));
        assert!(old_view.tag(tags::DEMOTED_AT).is_some());
        assert_eq!(old_view.tag(tags::ROTATING), None);
        let new_view = keys.iter().find(|k| &k.arn == new_key).unwrap();
        assert_eq!(new_view.tag(tags::STAGE), Some("current"));
        assert_eq!(
            new_view.tag(tags::PREVIOUS_KEY),
            Some(old_key.key_id().as_str())
        );
        assert_eq!(
            new_view.tag("team"),
            Some("payments"),
            "user tags are copied"
        );
        assert_eq!(
            new_view.tag(tags::MODE),
            Some("manual"),
            "the policy is copied"
        );
        let described = env.kms.describe(&new_key.clone().into()).await.unwrap();
        assert_eq!(
            (described.key_spec.as_str(), described.key_usage.as_str()),
            (spec, usage)
        );
        assert_eq!(described.description, "family test");

        check_result(&env, &old, &old_key).await;
        let status = engine.status(&alias).await.unwrap();
        assert_eq!(status.current.stage, Some(Stage::Current));
        assert_eq!(status.previous.map(|p| p.key_arn), Some(old_key));
        assert!(status.compliance.ok(), "{:?}", status.compliance);
    }
}

/// Polls the alias until stopped, recording every observation where it did not name an
/// enabled key.
fn observe(
    env: &TestEnv,
    alias: &AliasName,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<String>> {
    let env = env.clone();
    let alias = alias.clone();
    tokio::spawn(async move {
        let mut bad = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match env.alias_target(&alias).await {
                Ok((_, state)) if state == "Enabled" => {}
                other => bad.push(format!("{other:?}")),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bad
    })
}

#[tokio::test]
async fn a_rotation_failing_at_any_call_converges_when_run_again() {
    let env = TestEnv::in_region("eu-north-1").await.unwrap();
    let engine = env.rotator();
    let faults = FaultInjector::default();
    let faulty = Rotator::new(Kms::from_client(env.faulty_client(&faults)));

    // Count the calls of one clean rotation.
    let alias = env.unique_alias("count");
    init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
    faults.reset();
    faulty
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let calls = faults.calls();
    assert!(calls.len() >= 8, "{calls:?}");

    // Each failure is followed by a clean re-run; with `twice`, the first re-run fails at the
    // same position of its own calls too, so that the recovery paths crash as well.
    for (strike, twice) in [
        (Strike::BeforeSend, false),
        (Strike::AfterResponse, false),
        (Strike::AfterResponse, true),
    ] {
        for n in 1..=calls.len() {
            // Keys from earlier iterations cannot carry this fresh alias's tag: skip them.
            let earlier = env.key_ids().await.unwrap();
            let alias = env.unique_alias("crash");
            let first_key =
                init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
            let ciphertext = env
                .kms
                .alias(AliasRef::Name(alias.clone()))
                .encrypt(MESSAGE, &EncryptionContext::default())
                .await
                .unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let watcher = observe(&env, &alias, stop.clone());
            let options = RotateOptions {
                rotation_id: Some(format!("crash-test-{n}")),
                ..RotateOptions::default()
            };

            faults.fail_call(n, strike);
            let failed = faulty.rotate(&alias, options.clone()).await;
            let failed_at = faults.calls().get(n - 1).cloned();
            faults.reset();
            // A CreateKey whose answer is lost is not retried: the engine finds the key it
            // made by its tags and goes on, so that run succeeds. A failed release of the
            // alias's lock (DeleteAlias, the last call) does not undo a rotation that is done.
            let reconciled = (strike == Strike::AfterResponse
                && failed_at.as_deref() == Some("CreateKey"))
                || failed_at.as_deref() == Some("DeleteAlias");
            assert!(
                failed.is_err() || reconciled,
                "call {n} ({failed_at:?}, {strike:?}) was made to fail: {failed:?}"
            );
            let (_, state) = env.alias_target(&alias).await.unwrap();
            assert_eq!(
                state, "Enabled",
                "after failing call {n} ({failed_at:?}, {strike:?})"
            );
            if twice {
                faults.fail_call(n, strike);
                // It may also finish before reaching call n: then it succeeds.
                let _ = faulty.rotate(&alias, options.clone()).await;
                faults.reset();
                let (_, state) = env.alias_target(&alias).await.unwrap();
                assert_eq!(
                    state, "Enabled",
                    "after failing call {n} twice ({strike:?})"
                );
            }

            // The re-run comes once the lock's timeout has passed: a run whose lock was not
            // released (its DeleteAlias failed, or its CreateAlias answer was lost) left it.
            let rerun = after_lock_timeout(&engine)
                .rotate(&alias, options.clone())
                .await;
            assert!(
                rerun.is_ok(),
                "rerun after call {n} ({failed_at:?}, {strike:?}): {rerun:?}"
            );
            // Once converged, the same rotation is done: running it again changes nothing.
            assert_eq!(engine.rotate(&alias, options).await.unwrap(), vec![]);
            stop.store(true, Ordering::Relaxed);
            let bad = watcher.await.unwrap();
            assert!(
                bad.is_empty(),
                "call {n} ({failed_at:?}, {strike:?}): alias observed without an enabled key: {bad:?}"
            );

            let keys = env.keys_tagged_for_except(&alias, &earlier).await.unwrap();
            let what = format!(
                "call {n} ({failed_at:?}, {strike:?}): {:?}",
                keys.iter().map(|k| (&k.arn, &k.tags)).collect::<Vec<_>>()
            );
            assert_eq!(keys.len(), 2, "exactly one new key, no orphans: {what}");
            assert!(
                keys.iter().all(|k| k.tag(tags::STAGE) != Some("pending")),
                "{what}"
            );
            let (target, _) = env.alias_target(&alias).await.unwrap();
            assert_ne!(target, first_key, "{what}");
            let old = keys.iter().find(|k| k.arn == first_key).unwrap();
            assert_eq!(old.tag(tags::STAGE), Some("previous"), "{what}");
            assert_eq!(old.tag(tags::ROTATING), None, "{what}");
            assert_eq!(old.tag(tags::PENDING_KEY), None, "{what}");
            let new = keys.iter().find(|k| k.arn == target).unwrap();
            assert_eq!(new.tag(tags::STAGE), Some("current"), "{what}");
            let out = env
                .kms
                .decrypt(
                    ciphertext.ciphertext.as_slice(),
                    &EncryptionContext::default(),
                )
                .await
                .unwrap();
            assert_eq!(out.plaintext.expose(), MESSAGE);
        }
    }
}

#[tokio::test]
async fn rollback_restores_the_previous_key_even_when_it_was_disabled_or_scheduled_for_deletion() {
    let env = env().await;
    let engine = env.rotator();
    for (label, spoil) in [("plain", 0), ("disabled", 1), ("deleting", 2)] {
        let alias = env.unique_alias(&format!("rollback-{label}"));
        let first = init_manual(&engine, &alias, "ECC_NIST_P256", "SIGN_VERIFY").await;
        let second = rotate_once(&env, &engine, &alias).await;
        match spoil {
            1 => env.disable_key(&first).await.unwrap(),
            2 => env.schedule_deletion(&first).await.unwrap(),
            _ => {}
        }

        let action = engine.rollback(&alias, Some(&second)).await.unwrap();
        assert_eq!(
            action,
            Action::Rollback {
                to: first.clone(),
                from: second.clone(),
                already_done: false,
            },
            "{label}"
        );
        // Retried with the same --from, or without it, it reports the rollback done and
        // does not go further (never forward to the key it left).
        let done = Action::Rollback {
            to: first.clone(),
            from: second.clone(),
            already_done: true,
        };
        let again = engine.rollback(&alias, Some(&second)).await.unwrap();
        assert_eq!(again, done, "{label}");
        let bare = engine.rollback(&alias, None).await.unwrap();
        assert_eq!(bare, done, "{label}");
        let (target, state) = env.alias_target(&alias).await.unwrap();
        assert_eq!(
            (target, state.as_str()),
            (first.clone(), "Enabled"),
            "{label}"
        );
        let status = engine.status(&alias).await.unwrap();
        assert_eq!(status.current.stage, Some(Stage::Current));
        let previous = status.previous.expect("the key left is tracked");
        assert_eq!(previous.key_arn, second, "{label}");
        assert_eq!(previous.stage, Some(Stage::Previous));
        assert_eq!(previous.key_state, "Enabled");
        let first_tags = env.tags(&first.to_string()).await.unwrap();
        assert!(
            !first_tags.contains_key(tags::ROLLBACK_FROM),
            "{label}: {first_tags:?}"
        );
        assert!(
            !first_tags.contains_key(tags::DEMOTED_AT),
            "{label}: {first_tags:?}"
        );

        // The alias can rotate again afterwards.
        let third = rotate_once(&env, &engine, &alias).await;
        assert!(third != first && third != second, "{label}: a third key");
    }
}

#[tokio::test]
async fn rollback_waits_for_an_unfinished_rotation() {
    let env = env().await;
    let engine = env.rotator();
    let alias = env.unique_alias("rollback-busy");
    init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
    let current = rotate_once(&env, &engine, &alias).await;
    // A rotation that stopped right after it began (kmsrot writes both tags at once).
    let since = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap();
    env.set_tags(
        &current,
        &[
            (tags::ROTATING, "stopped-early"),
            (tags::ROTATING_SINCE, &since),
        ],
    )
    .await
    .unwrap();
    let err = engine.rollback(&alias, None).await.unwrap_err();
    assert!(matches!(err, RotationError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("kmsrot rotate"), "{err}");
    assert_eq!(env.alias_target(&alias).await.unwrap().0, current);
    // Finishing it, then rolling back, works.
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    engine.rollback(&alias, None).await.unwrap();
}

#[tokio::test]
async fn the_guard_restores_keys_an_alias_needs_and_never_touches_others() {
    let env = env().await;
    let engine = env.rotator();
    let alias = env.unique_alias("guard");
    let first = init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;

    // The current key, scheduled for deletion: observe mode only reports.
    env.schedule_deletion(&first).await.unwrap();
    let verdict = engine
        .guard(
            &first.to_string(),
            KeyChange::ScheduledDeletion,
            GuardMode::Observe,
        )
        .await
        .unwrap();
    assert!(
        matches!(&verdict, GuardVerdict::Alert { key_state, .. } if key_state == "PendingDeletion"),
        "{verdict:?}"
    );
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "PendingDeletion");

    // Enforce mode undoes it; the same event again has no further effect.
    let verdict = engine
        .guard(
            &first.to_string(),
            KeyChange::ScheduledDeletion,
            GuardMode::Enforce,
        )
        .await
        .unwrap();
    let GuardVerdict::Restored {
        undone, needed_as, ..
    } = &verdict
    else {
        panic!("{verdict:?}");
    };
    assert_eq!(undone, &[Undone::DeletionCancelled, Undone::Enabled]);
    assert!(needed_as.contains("current key"), "{needed_as}");
    assert_eq!(env.alias_target(&alias).await.unwrap().1, "Enabled");
    let again = engine
        .guard(
            &first.to_string(),
            KeyChange::ScheduledDeletion,
            GuardMode::Enforce,
        )
        .await
        .unwrap();
    assert!(matches!(again, GuardVerdict::Intact { .. }), "{again:?}");

    // A previous key within its grace period, disabled: re-enabled.
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    env.disable_key(&first).await.unwrap();
    let verdict = engine
        .guard(
            first.key_id().as_str(),
            KeyChange::Disabled,
            GuardMode::Enforce,
        )
        .await
        .unwrap();
    assert!(
        matches!(&verdict, GuardVerdict::Restored { needed_as, .. } if needed_as.contains("grace")),
        "{verdict:?}"
    );
    assert_eq!(
        env.kms
            .describe(&first.clone().into())
            .await
            .unwrap()
            .key_state,
        "Enabled"
    );

    // Past its grace period, the previous key is not needed: left disabled.
    env.set_tags(&first, &[(tags::DEMOTED_AT, "2020-01-01T00:00:00Z")])
        .await
        .unwrap();
    env.disable_key(&first).await.unwrap();
    let verdict = engine
        .guard(&first.to_string(), KeyChange::Disabled, GuardMode::Enforce)
        .await
        .unwrap();
    assert!(
        matches!(verdict, GuardVerdict::NotNeeded { .. }),
        "{verdict:?}"
    );
    assert_eq!(
        env.kms
            .describe(&first.clone().into())
            .await
            .unwrap()
            .key_state,
        "Disabled"
    );

    // A key kmsrot does not manage, even one an alias names, is never touched.
    let (other_alias, other) = env
        .key_with_alias(
            "unmanaged",
            aws_sdk_kms::types::KeySpec::SymmetricDefault,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    env.schedule_deletion(&other).await.unwrap();
    let verdict = engine
        .guard(
            &other.to_string(),
            KeyChange::ScheduledDeletion,
            GuardMode::Enforce,
        )
        .await
        .unwrap();
    assert_eq!(verdict, GuardVerdict::Unmanaged { key: other.clone() });
    assert_eq!(
        env.alias_target(&other_alias).await.unwrap().1,
        "PendingDeletion"
    );
}

#[tokio::test]
async fn automatic_mode_keeps_kms_rotation_on_and_rotates_on_demand() {
    let env = env().await;
    let engine = env.rotator();
    let alias = env.unique_alias("auto");
    let policy = Policy {
        period_days: 180,
        max_age_days: 200,
        ..Policy::new(Mode::Automatic)
    };
    let status = engine
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap();
    assert_eq!(
        status.rotation,
        kmsrot_types::RotationStatus::Enabled {
            period_days: Some(180),
            next_rotation: Some(status.next_rotation.clone()),
        }
    );
    assert!(status.compliance.ok(), "{:?}", status.compliance);
    assert_eq!(status.on_demand_remaining, Some(25));
    let next = aws_smithy_types::DateTime::from_str(
        &status.next_rotation,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .unwrap();
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    let days = (next.secs() - now.secs()) as f64 / 86_400.0;
    assert!(
        (179.0..=181.0).contains(&days),
        "next rotation in {days} days"
    );
    let key = status.current.key_arn;

    let actions = engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(&actions[..], [Action::RotateOnDemand { .. }]),
        "{actions:?}"
    );
    let status = engine.status(&alias).await.unwrap();
    assert_eq!(status.current.key_arn, key, "the key ID does not change");
    assert_eq!(status.on_demand_remaining, Some(24));

    // Drift: someone switches rotation off. Status reports it, and advancing repairs it.
    env.client
        .disable_key_rotation()
        .key_id(key.to_string())
        .send()
        .await
        .unwrap();
    let status = engine.status(&alias).await.unwrap();
    assert!(!status.compliance.ok());
    assert!(
        status.compliance.findings[0].contains("disabled"),
        "{:?}",
        status.compliance
    );
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert_eq!(
        outcome.actions,
        vec![Action::EnableRotation {
            period_days: 180,
            was: kmsrot_types::RotationStatus::Disabled
        }]
    );
    assert!(outcome.compliance.unwrap().ok());

    // Rollback has nothing to go back to in automatic mode.
    let err = engine.rollback(&alias, None).await.unwrap_err();
    assert!(matches!(err, RotationError::NoPrevious { .. }), "{err}");
}

#[tokio::test]
async fn bad_policies_kinds_and_mismatches_are_refused_and_change_nothing() {
    let env = TestEnv::in_region("sa-east-1").await.unwrap();
    let engine = env.rotator();

    // Policy bounds: refused before anything is created.
    let alias = env.unique_alias("bounds");
    let policy = Policy {
        period_days: 80,
        ..Policy::new(Mode::Automatic)
    };
    let err = engine
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("--period-days is 80, and it must be between 90 and 2560 days"),
        "{err}"
    );
    let policy = Policy {
        deletion_window_days: 45,
        ..manual()
    };
    let err = engine
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("--deletion-window-days is 45"),
        "{err}"
    );
    // Automatic mode needs a symmetric key.
    let err = engine
        .init(
            &alias,
            "RSA_2048",
            "SIGN_VERIFY",
            None,
            Policy::new(Mode::Automatic),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("use --mode manual"), "{err}");
    assert!(
        env.alias_target(&alias).await.is_err(),
        "no alias was created"
    );
    assert!(
        env.keys_tagged_for(&alias).await.unwrap().is_empty(),
        "no key was created"
    );

    // An unmanaged alias cannot be rotated; a managed one cannot be init'ed again.
    let (plain, plain_key) = env
        .key_with_alias(
            "plain",
            aws_sdk_kms::types::KeySpec::SymmetricDefault,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    let err = engine
        .rotate(&plain, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::Unmanaged { .. }), "{err}");
    assert!(err.to_string().contains("kmsrot adopt"), "{err}");
    let err = engine
        .init(
            &plain,
            "SYMMETRIC_DEFAULT",
            "ENCRYPT_DECRYPT",
            None,
            manual(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::AliasExists { .. }), "{err}");

    // Adopt writes tags only: same key, same alias.
    let status = engine.adopt(&plain, manual()).await.unwrap();
    assert_eq!(status.current.key_arn, plain_key);
    assert_eq!(env.alias_target(&plain).await.unwrap().0, plain_key);

    // A pending key of another spec (planted) is refused before UpdateAlias.
    let planted = env
        .create_key(
            aws_sdk_kms::types::KeySpec::Rsa2048,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    env.set_tags(
        &planted,
        &[
            (tags::ALIAS, plain.as_str()),
            (tags::STAGE, "pending"),
            (tags::ROTATION_ID, "planted"),
            (tags::PREVIOUS_KEY, plain_key.key_id().as_str()),
        ],
    )
    .await
    .unwrap();
    env.set_tags(
        &plain_key,
        &[
            (tags::ROTATING, "planted"),
            (tags::PENDING_KEY, planted.key_id().as_str()),
        ],
    )
    .await
    .unwrap();
    let err = engine
        .rotate(&plain, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RotationError::Mismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("RSA_2048/ENCRYPT_DECRYPT"),
        "{err}"
    );
    assert_eq!(
        env.alias_target(&plain).await.unwrap().0,
        plain_key,
        "the alias did not move"
    );

    // Imported key material is refused with the reason.
    let external = env
        .client
        .create_key()
        .origin(aws_sdk_kms::types::OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let ext_alias = env.unique_alias("external");
    env.client
        .create_alias()
        .alias_name(ext_alias.as_str())
        .target_key_id(external.key_id())
        .send()
        .await
        .unwrap();
    let err = engine.adopt(&ext_alias, manual()).await.unwrap_err();
    assert!(err.to_string().contains("origin EXTERNAL"), "{err}");
    assert!(
        env.tags(external.key_id()).await.unwrap().is_empty(),
        "nothing was tagged"
    );
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let env = TestEnv::in_region("ca-central-1").await.unwrap();
    let engine = env.rotator();
    let alias = env.unique_alias("dry");
    let key = init_manual(&engine, &alias, "HMAC_256", "GENERATE_VERIFY_MAC").await;
    let before = env.tags(&key.to_string()).await.unwrap();
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
    assert!(
        matches!(&plan[..], [Action::Rotate { new_key: None, .. }]),
        "{plan:?}"
    );
    // Seen from 400 days ahead, a rotation is due: the dry run reports it and does nothing.
    let later = aws_smithy_types::DateTime::from_secs(
        aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs() + 400 * 86_400,
    );
    let outcome = engine
        .with_clock(later)
        .advance(&alias, true)
        .await
        .unwrap();
    assert!(
        matches!(&outcome.actions[..], [Action::Rotate { new_key: None, .. }]),
        "{outcome:?}"
    );
    assert_eq!(env.alias_target(&alias).await.unwrap().0, key);
    assert_eq!(env.tags(&key.to_string()).await.unwrap(), before);
    assert_eq!(
        env.keys_tagged_for(&alias).await.unwrap().len(),
        1,
        "no key was created"
    );
}

#[tokio::test]
async fn a_rollback_failing_at_any_call_converges_when_retried() {
    let env = TestEnv::in_region("eu-south-1").await.unwrap();
    let engine = env.rotator();
    let faults = FaultInjector::default();
    let faulty = Rotator::new(Kms::from_client(env.faulty_client(&faults)));
    let rotated = |label: &'static str| {
        let env = env.clone();
        let engine = engine.clone();
        async move {
            let alias = env.unique_alias(label);
            let first = init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
            engine
                .rotate(&alias, RotateOptions::default())
                .await
                .unwrap();
            // The previous key was scheduled for deletion meanwhile: the rollback must cancel
            // that and enable it.
            env.schedule_deletion(&first).await.unwrap();
            let (second, _) = env.alias_target(&alias).await.unwrap();
            (alias, first, second)
        }
    };
    let (alias, _, second) = rotated("rb-count").await;
    faults.reset();
    faulty.rollback(&alias, Some(&second)).await.unwrap();
    let calls = faults.calls();
    assert!(calls.len() >= 6, "{calls:?}");

    for strike in [Strike::BeforeSend, Strike::AfterResponse] {
        for n in 1..=calls.len() {
            let (alias, first, second) = rotated("rb-crash").await;
            faults.fail_call(n, strike);
            let failed = faulty.rollback(&alias, Some(&second)).await;
            let failed_at = faults.calls().get(n - 1).cloned();
            faults.reset();
            let what = format!("call {n} ({failed_at:?}, {strike:?})");
            // A failed release of the alias's lock does not undo a rollback that is done.
            assert!(
                failed.is_err() || failed_at.as_deref() == Some("DeleteAlias"),
                "{what}: {failed:?}"
            );
            let (_, state) = env.alias_target(&alias).await.unwrap();
            // Before the alias moves, it names the (enabled) key it left.
            assert_eq!(state, "Enabled", "{what}");

            let retried = after_lock_timeout(&engine)
                .rollback(&alias, Some(&second))
                .await;
            assert!(
                matches!(
                    retried.as_ref().unwrap(),
                    Action::Rollback { to, from, .. } if *to == first && *from == second
                ),
                "{what}: {retried:?}"
            );
            // Once done, another retry changes nothing.
            engine.rollback(&alias, Some(&second)).await.unwrap();
            let status = engine.status(&alias).await.unwrap();
            assert_eq!(status.current.key_arn, first, "{what}");
            assert_eq!(status.current.stage, Some(Stage::Current), "{what}");
            assert_eq!(status.current.key_state, "Enabled", "{what}");
            assert_eq!(status.rotation_in_progress, None, "{what}");
            let previous = status.previous.unwrap();
            assert_eq!(
                (previous.key_arn, previous.stage),
                (second, Some(Stage::Previous)),
                "{what}"
            );
            let tags = env.tags(&first.to_string()).await.unwrap();
            assert!(!tags.contains_key(tags::ROLLBACK_FROM), "{what}: {tags:?}");
        }
    }
}

#[tokio::test]
async fn the_guard_protects_the_old_key_while_a_promotion_is_unfinished() {
    let env = env().await;
    let engine = env.rotator();
    let alias = env.unique_alias("guard-unfinished");
    let old = init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
    let new = rotate_once(&env, &engine, &alias).await;
    // The state a crash right after UpdateAlias leaves: the tags still say the old key is
    // current and the new one pending.
    env.set_tags(&old, &[(tags::STAGE, "current")])
        .await
        .unwrap();
    env.set_tags(&new, &[(tags::STAGE, "pending")])
        .await
        .unwrap();
    env.client
        .untag_resource()
        .key_id(old.to_string())
        .tag_keys(tags::DEMOTED_AT)
        .send()
        .await
        .unwrap();
    env.schedule_deletion(&old).await.unwrap();
    let verdict = engine
        .guard(
            &old.to_string(),
            KeyChange::ScheduledDeletion,
            GuardMode::Enforce,
        )
        .await
        .unwrap();
    assert!(
        matches!(verdict, GuardVerdict::Restored { .. }),
        "{verdict:?}"
    );
    assert_eq!(
        env.kms
            .describe(&old.clone().into())
            .await
            .unwrap()
            .key_state,
        "Enabled"
    );
    // The next operation finishes the promotion; the old key gets its full grace period.
    let status = engine.status(&alias).await.unwrap();
    assert!(status.rotation_in_progress.is_some());
    engine.advance(&alias, false).await.unwrap();
    let status = engine.status(&alias).await.unwrap();
    assert_eq!(status.current.stage, Some(Stage::Current));
    assert_eq!(status.previous.unwrap().stage, Some(Stage::Previous));
}

#[tokio::test]
async fn an_unfinished_rotation_can_be_given_up_and_a_disabled_pending_key_is_replaced() {
    let env = TestEnv::in_region("eu-central-2").await.unwrap();
    let engine = env.rotator();
    let faults = FaultInjector::default();
    let faulty = Rotator::new(Kms::from_client(env.faulty_client(&faults)));
    // Learn the calls of one rotation, to stop the next one right after it created and
    // recorded its new key (at the self-test's first call).
    let probe = env.unique_alias("abort-probe");
    init_manual(&engine, &probe, "HMAC_256", "GENERATE_VERIFY_MAC").await;
    faults.reset();
    faulty
        .rotate(&probe, RotateOptions::default())
        .await
        .unwrap();
    let calls = faults.calls();
    let created = calls.iter().position(|c| c == "CreateKey").unwrap() + 1;
    assert_eq!(calls[created], "TagResource", "{calls:?}");
    assert_eq!(calls[created + 1], "GenerateMac", "{calls:?}");
    let stop_at = created + 2; // 1-based: the GenerateMac call

    let alias = env.unique_alias("abort");
    let first = init_manual(&engine, &alias, "HMAC_256", "GENERATE_VERIFY_MAC").await;
    faults.fail_call(stop_at, Strike::BeforeSend);
    faulty
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    faults.reset();
    let pending: Vec<_> = env
        .keys_tagged_for(&alias)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.tag(tags::STAGE) == Some("pending"))
        .collect();
    assert_eq!(
        pending.len(),
        1,
        "the rotation stopped with its new key made"
    );

    // Someone disables that key: the rotation replaces it instead of failing forever.
    env.disable_key(&pending[0].arn).await.unwrap();
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let keys = env.keys_tagged_for(&alias).await.unwrap();
    let abandoned = keys.iter().find(|k| k.arn == pending[0].arn).unwrap();
    assert_eq!(abandoned.state, "PendingDeletion");
    assert_ne!(env.alias_target(&alias).await.unwrap().0, first);

    // Another rotation, stopped the same way, then given up.
    let before = env.alias_target(&alias).await.unwrap().0;
    faults.fail_call(stop_at, Strike::BeforeSend);
    faulty
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    faults.reset();
    let actions = engine.abort(&alias).await.unwrap();
    let [
        Action::Abort {
            abandoned: Some(gone),
            ..
        },
    ] = &actions[..]
    else {
        panic!("{actions:?}");
    };
    assert_eq!(
        env.kms
            .describe(&gone.clone().into())
            .await
            .unwrap()
            .key_state,
        "PendingDeletion"
    );
    assert_eq!(
        env.alias_target(&alias).await.unwrap().0,
        before,
        "the current key stays"
    );
    let status = engine.status(&alias).await.unwrap();
    assert_eq!(status.rotation_in_progress, None);
    assert_eq!(
        engine.abort(&alias).await.unwrap(),
        vec![],
        "nothing left to give up"
    );
}

#[tokio::test]
async fn automatic_keys_past_their_maximum_age_are_rotated_on_demand_by_the_sweep_logic() {
    let env = env().await;
    let alias = env.unique_alias("auto-old");
    let policy = Policy {
        period_days: 90,
        max_age_days: 120,
        ..Policy::new(Mode::Automatic)
    };
    env.rotator()
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap();
    // Seen from 150 days ahead, the key material is overdue.
    let later = aws_smithy_types::DateTime::from_secs(
        aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs() + 150 * 86_400,
    );
    let engine = env.rotator().with_clock(later);
    let status = engine.status(&alias).await.unwrap();
    assert!(status.compliance.overdue, "{:?}", status.compliance);
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert!(
        matches!(&outcome.actions[..], [Action::RotateOnDemand { .. }]),
        "{outcome:?}"
    );
    // (The new material is dated by the emulator's clock, not the shifted one, so the age is
    // not re-checked here; the planner's unit tests cover that.)
    assert_eq!(
        engine.status(&alias).await.unwrap().on_demand_remaining,
        Some(24)
    );
}

#[tokio::test]
async fn a_rollback_stopped_before_the_alias_moved_is_protected_and_can_be_given_up() {
    let env = env().await;
    let engine = env.rotator();
    let alias = env.unique_alias("rollback-stopped");
    let first = init_manual(&engine, &alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
    let second = rotate_once(&env, &engine, &alias).await;
    // The state a rollback leaves when it stops after marking the key it restores: and the
    // key is still disabled, past its grace period.
    env.set_tags(
        &first,
        &[
            (tags::ROLLBACK_FROM, second.key_id().as_str()),
            (tags::DEMOTED_AT, "2020-01-01T00:00:00Z"),
        ],
    )
    .await
    .unwrap();
    env.disable_key(&first).await.unwrap();
    let status = engine.status(&alias).await.unwrap();
    assert!(
        status
            .rotation_in_progress
            .as_deref()
            .unwrap()
            .starts_with("rollback to"),
        "{status:?}"
    );
    // The sweep does not retire it under the rollback, and the guard protects it.
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    let verdict = engine
        .guard(&first.to_string(), KeyChange::Disabled, GuardMode::Enforce)
        .await
        .unwrap();
    assert!(
        matches!(&verdict, GuardVerdict::Restored { needed_as, .. } if needed_as.contains("rollback")),
        "{verdict:?}"
    );
    // Given up, the key is an ordinary previous key again, past its grace period.
    let actions = engine.abort(&alias).await.unwrap();
    assert!(
        matches!(
            &actions[..],
            [Action::Abort {
                abandoned: None,
                ..
            }]
        ),
        "{actions:?}"
    );
    assert_eq!(
        engine.status(&alias).await.unwrap().rotation_in_progress,
        None
    );
    let outcome = engine.advance(&alias, false).await.unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: first }]);
}

/// A rotation's calls on its new key are authorized by the tags CreateKey wrote, which AWS may
/// take minutes to honour. Its self-test meets AccessDenied twice (injected, as AWS answers),
/// and the rotation waits and goes on instead of failing.
#[tokio::test]
async fn a_fresh_keys_access_denied_is_retried_while_its_tags_settle() {
    let env = env().await;
    let alias = env.unique_alias("tag-lag");
    init_manual(
        &env.rotator(),
        &alias,
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
    )
    .await;
    let deny = kmsrot_testsuite::DenyFirst::new("Encrypt", 2);
    let engine = Rotator::new(Kms::from_client(deny.client(&env)));
    let actions = engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(
            &actions[..],
            [Action::Rotate {
                new_key: Some(_),
                ..
            }]
        ),
        "{actions:?}"
    );
    assert_eq!(deny.denied(), 2);
}

/// CreateKey and CreateAlias whose answers are lost (the request took effect; the caller sees
/// an error): `init` is not fooled into a second key, or into calling the alias taken.
#[tokio::test]
async fn init_survives_lost_answers_without_a_second_key() {
    let env = TestEnv::in_region("ap-southeast-5").await.unwrap();
    let faults = FaultInjector::default();
    let faulty = Rotator::new(Kms::from_client(env.faulty_client(&faults)));
    let counted = env.unique_alias("init-count");
    faults.reset();
    init_manual(&faulty, &counted, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").await;
    let calls = faults.calls();
    for operation in ["CreateKey", "CreateAlias"] {
        let n = calls
            .iter()
            .position(|c| c == operation)
            .unwrap_or_else(|| panic!("{operation} in {calls:?}"))
            + 1;
        let alias = env.unique_alias("init-lost");
        faults.fail_call(n, Strike::AfterResponse);
        let status = faulty
            .init(
                &alias,
                "SYMMETRIC_DEFAULT",
                "ENCRYPT_DECRYPT",
                None,
                Policy::new(Mode::Manual),
            )
            .await;
        faults.reset();
        let status = status.unwrap_or_else(|e| panic!("{operation}'s answer lost: {e:?}"));
        let keys = env.keys_tagged_for(&alias).await.unwrap();
        assert_eq!(keys.len(), 1, "{operation}: {keys:?}");
        assert_eq!(
            env.alias_target(&alias).await.unwrap().0,
            status.current.key_arn,
            "{operation}"
        );
    }
}
