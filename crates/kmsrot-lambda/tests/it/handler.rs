//! The handler, called in process for every event source, with metrics captured as EMF and
//! notifications read from an SQS queue subscribed to the topic.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kmsrot_core::{Metrics, RotateOptions};
use kmsrot_lambda::{HandlerError, Settings, State, handle, handler};
use kmsrot_testsuite::TestEnv;
use kmsrot_testsuite::events::{self, ACCOUNT};
use kmsrot_testsuite::inbox::Inbox;
use kmsrot_testsuite::runtime_api::check_emf;
use kmsrot_types::{GuardMode, GuardVerdict, Mode, Outcome, tags};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Events in this file come from this region; the deletion scan lists its keys.
const REGION: &str = "ap-northeast-1";

/// A KMS event about one key (`detail: {"key-id": …}`).
fn key_event(detail_type: &str, key: &kmsrot_types::KeyArn) -> Value {
    events::kms(
        REGION,
        detail_type,
        json!({"key-id": key.key_id().as_str()}),
    )
}

struct Fixture {
    env: TestEnv,
    state: State,
    emf: Arc<Mutex<Vec<u8>>>,
    inbox: Inbox,
}

impl Fixture {
    async fn new(label: &str, guard_mode: GuardMode) -> Self {
        let env = TestEnv::in_region(REGION).await.unwrap();
        let inbox = Inbox::create(&env.config, &format!("{label}-{}", fastrand::u32(..)))
            .await
            .unwrap();
        let mut settings = Settings::new(REGION);
        settings.guard_mode = guard_mode;
        settings.expected_account = Some(ACCOUNT.into());
        settings.topic_arn = Some(inbox.topic_arn.clone());
        // The emulator has no quota to protect.
        settings.sweep_rate = 1000.0;
        let emf = Arc::new(Mutex::new(Vec::new()));
        let state = State::new(&env.config, settings).with_metrics(Metrics::Emf(emf.clone()));
        Self {
            env,
            state,
            emf,
            inbox,
        }
    }

    async fn handle(&self, event: Value) -> Result<Outcome, HandlerError> {
        handle(event, Some(ACCOUNT), &self.state).await
    }

    /// Metric name → total of its values, over every EMF line so far (each line checked
    /// against the specification).
    fn metric(&self, name: &str) -> f64 {
        let out = String::from_utf8(self.emf.lock().unwrap().clone()).unwrap();
        out.lines()
            .map(|line| check_emf(line).unwrap_or_else(|e| panic!("invalid EMF {line}: {e}")))
            .filter_map(|doc| match &doc[name] {
                Value::Number(n) => n.as_f64(),
                Value::Array(values) => Some(values.iter().filter_map(Value::as_f64).sum()),
                _ => None,
            })
            .sum()
    }

    async fn notifications(&self, at_least: usize) -> Vec<Value> {
        self.inbox
            .drain(at_least, Duration::from_secs(5))
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                assert!(
                    r.subject.starts_with("kmsrot: ") && r.subject.len() < 100,
                    "{}",
                    r.subject
                );
                r.body
            })
            .collect()
    }

    async fn managed(
        &self,
        label: &str,
        mode: Mode,
    ) -> (kmsrot_types::AliasName, kmsrot_types::KeyArn) {
        self.env.managed_alias(label, mode).await.unwrap()
    }
}

#[tokio::test]
async fn a_deleted_previous_key_is_recorded_once_however_often_the_event_comes() {
    let f = Fixture::new("deletion", GuardMode::Enforce).await;
    let (alias, old) = f.managed("deleted", Mode::Manual).await;
    f.env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let (new, _) = f.env.alias_target(&alias).await.unwrap();
    let event = key_event("KMS CMK Deletion", &old);

    let Outcome::KeyDeleted(first) = f.handle(event.clone()).await.unwrap() else {
        panic!("not recorded")
    };
    assert!(!first.duplicate);
    assert_eq!((&first.alias, &first.successor), (&alias, &new));
    let tagged = f.env.tags(new.key_id().as_str()).await.unwrap();
    assert_eq!(
        tagged.get(tags::DELETED_PREVIOUS_KEY).map(String::as_str),
        Some(old.key_id().as_str())
    );
    assert_eq!(tagged.get(tags::PREVIOUS_KEY), None);

    let Outcome::KeyDeleted(second) = f.handle(event).await.unwrap() else {
        panic!("not recognised")
    };
    assert!(second.duplicate);
    assert_eq!(f.metric("KeysDeleted"), 1.0);
    let notes = f.notifications(1).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["kind"], "key_deleted");
    assert_eq!(notes[0]["alias"], alias.as_str());

    // A deletion no managed key refers to is not kmsrot's business.
    let stranger = events::kms(
        REGION,
        "KMS CMK Deletion",
        json!({"key-id": "0b8e5a4c-1d2f-4e3a-9b8c-7d6e5f4a3b2c"}),
    );
    assert!(matches!(
        f.handle(stranger).await.unwrap(),
        Outcome::Ignored { .. }
    ));
}

#[tokio::test]
async fn expired_key_material_is_recorded_once() {
    let f = Fixture::new("expiry", GuardMode::Enforce).await;
    let (alias, key) = f.managed("expired", Mode::Manual).await;
    let event = key_event("KMS Imported Key Material Expiration", &key);
    let Outcome::MaterialExpired(first) = f.handle(event.clone()).await.unwrap() else {
        panic!("not recorded")
    };
    assert!(!first.duplicate);
    assert_eq!(first.named_by, std::slice::from_ref(&alias));
    assert_eq!(
        f.env
            .tags(key.key_id().as_str())
            .await
            .unwrap()
            .get(tags::MATERIAL_EXPIRED)
            .map(String::as_str),
        Some("2026-11-29T12:00:00Z")
    );
    let Outcome::MaterialExpired(second) = f.handle(event).await.unwrap() else {
        panic!("not recognised")
    };
    assert!(second.duplicate);
    assert_eq!(f.metric("MaterialExpirations"), 1.0);
    let notes = f.notifications(1).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["kind"], "material_expired");

    // A later expiry of the same (reimported) key material is recorded again.
    let mut later = key_event("KMS Imported Key Material Expiration", &key);
    later["detail"]["key-material-id"] = "c0ffee".into();
    later["time"] = "2027-11-29T12:00:00Z".into();
    let Outcome::MaterialExpired(next) = f.handle(later.clone()).await.unwrap() else {
        panic!("not recorded")
    };
    assert!(!next.duplicate);
    let Outcome::MaterialExpired(again) = f.handle(later).await.unwrap() else {
        panic!("not recognised")
    };
    assert!(again.duplicate);
    assert_eq!(f.metric("MaterialExpirations"), 2.0);

    // A key kmsrot does not manage is never tagged.
    let plain = f
        .env
        .create_key(
            aws_sdk_kms::types::KeySpec::SymmetricDefault,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    let event = key_event("KMS Imported Key Material Expiration", &plain);
    assert!(matches!(
        f.handle(event).await.unwrap(),
        Outcome::Ignored { .. }
    ));
    assert!(
        f.env
            .tags(plain.key_id().as_str())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_rotation_event_checks_that_the_managed_aliases_name_enabled_keys() {
    let f = Fixture::new("material", GuardMode::Enforce).await;
    let (alias, key) = f.managed("material", Mode::Automatic).await;
    for detail in [
        json!({"key-id": key.key_id().as_str()}),
        json!({"key-id": key.key_id().as_str(), "key-origin": "AWS_KMS", "rotation-type": "AUTOMATIC",
               "previous-key-material-id": "a".repeat(64), "current-key-material-id": "b".repeat(64)}),
    ] {
        let Outcome::MaterialRotated { aliases, .. } = f
            .handle(events::kms(REGION, "KMS CMK Rotation", detail))
            .await
            .unwrap()
        else {
            panic!("not checked")
        };
        assert_eq!(aliases.len(), 1);
        assert!(aliases[0].ok);
        assert_eq!(aliases[0].alias, alias);
    }
    f.env.disable_key(&key).await.unwrap();
    let Outcome::MaterialRotated { aliases, .. } =
        f.handle(key_event("KMS CMK Rotation", &key)).await.unwrap()
    else {
        panic!("not checked")
    };
    assert!(!aliases[0].ok);
    assert_eq!(aliases[0].key_state.as_deref(), Some("Disabled"));
    assert_eq!(f.metric("MaterialRotations"), 3.0);
    let notes = f.notifications(3).await;
    assert_eq!(notes.len(), 3);
    assert_eq!(notes[2]["aliases"][0]["ok"], false);
}

#[tokio::test]
async fn alias_changes_by_others_raise_drift_and_kmsrot_s_own_do_not() {
    let f = Fixture::new("drift", GuardMode::Enforce).await;
    let (alias, current) = f.managed("drift", Mode::Manual).await;
    let update = |target: &kmsrot_types::KeyArn| events::update_alias(REGION, &alias, target);

    // kmsrot's own rotation moves the alias: consistent.
    f.env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let (rotated, _) = f.env.alias_target(&alias).await.unwrap();
    assert_eq!(
        f.handle(update(&rotated)).await.unwrap(),
        Outcome::Consistent {
            alias: alias.clone(),
            key: rotated.clone()
        }
    );

    // A rotation caught between UpdateAlias and its re-tagging (arranged by hand): the alias
    // names a pending key its predecessor still marks as the rotation's. Consistent.
    let (_, next) = f.env.plain_alias("next").await.unwrap();
    f.env
        .set_tags(
            &next,
            &[
                (tags::ALIAS, alias.as_str()),
                (tags::STAGE, "pending"),
                (tags::ROTATION_ID, "r-mid"),
                (tags::PREVIOUS_KEY, rotated.key_id().as_str()),
            ],
        )
        .await
        .unwrap();
    f.env
        .set_tags(
            &rotated,
            &[
                (tags::ROTATING, "r-mid"),
                (tags::PENDING_KEY, next.key_id().as_str()),
            ],
        )
        .await
        .unwrap();
    f.env.move_alias(&alias, &next).await.unwrap();
    assert_eq!(
        f.handle(update(&next)).await.unwrap(),
        Outcome::Consistent {
            alias: alias.clone(),
            key: next.clone()
        }
    );
    f.env
        .client
        .untag_resource()
        .key_id(rotated.to_string())
        .tag_keys(tags::ROTATING)
        .tag_keys(tags::PENDING_KEY)
        .send()
        .await
        .unwrap();
    f.env.move_alias(&alias, &rotated).await.unwrap();

    // Its current key, disabled: drift, with the right advice.
    f.env.disable_key(&rotated).await.unwrap();
    let Outcome::Drifted(drift) = f.handle(update(&rotated)).await.unwrap() else {
        panic!("no drift")
    };
    assert!(
        drift.what.contains("which is Disabled; enable it"),
        "{}",
        drift.what
    );
    f.env
        .client
        .enable_key()
        .key_id(rotated.to_string())
        .send()
        .await
        .unwrap();

    // An operator points it back at the previous key by hand.
    f.env.move_alias(&alias, &current).await.unwrap();
    let Outcome::Drifted(drift) = f.handle(update(&current)).await.unwrap() else {
        panic!("no drift")
    };
    assert_eq!(drift.names.as_ref(), Some(&current));
    assert!(drift.what.contains("previous"), "{}", drift.what);
    assert!(drift.by.unwrap().contains("assumed-role/Operator"));

    // ... then at a key tagged pending for it that no rotation is promoting.
    let (_, loose) = f.env.plain_alias("loose").await.unwrap();
    f.env
        .set_tags(
            &loose,
            &[
                (tags::ALIAS, alias.as_str()),
                (tags::STAGE, "pending"),
                (tags::PREVIOUS_KEY, rotated.key_id().as_str()),
            ],
        )
        .await
        .unwrap();
    f.env.move_alias(&alias, &loose).await.unwrap();
    let Outcome::Drifted(drift) = f.handle(update(&loose)).await.unwrap() else {
        panic!("no drift")
    };
    assert!(drift.what.contains("pending"), "{}", drift.what);

    // ... then at a key kmsrot knows nothing about (its tags do not mention the alias).
    let stranger = f
        .env
        .create_key(
            aws_sdk_kms::types::KeySpec::SymmetricDefault,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    f.env.move_alias(&alias, &stranger).await.unwrap();
    let Outcome::Drifted(drift) = f.handle(update(&stranger)).await.unwrap() else {
        panic!("no drift")
    };
    assert_eq!(drift.names.as_ref(), Some(&stranger));

    // ... then deletes it.
    f.env
        .client
        .delete_alias()
        .alias_name(alias.as_str())
        .send()
        .await
        .unwrap();
    let deleted = events::cloudtrail(
        REGION,
        "DeleteAlias",
        json!({"aliasName": alias.as_str()}),
        json!({"keyId": stranger.to_string()}),
        &[stranger.to_string()],
    );
    let Outcome::Drifted(drift) = f.handle(deleted).await.unwrap() else {
        panic!("no drift")
    };
    assert_eq!(drift.names, None);
    assert_eq!(f.metric("DriftAlerts"), 5.0);
    let notes = f.notifications(5).await;
    assert_eq!(notes.len(), 5, "{notes:?}");
    assert!(notes.iter().all(|n| n["kind"] == "drift"));

    // An alias kmsrot does not manage is ignored.
    let (plain, key) = f.env.plain_alias("plain").await.unwrap();
    let event = events::update_alias(REGION, &plain, &key);
    assert!(matches!(
        f.handle(event).await.unwrap(),
        Outcome::Ignored { .. }
    ));
}

#[tokio::test]
async fn the_guard_in_observe_mode_alerts_and_leaves_the_key_alone() {
    let f = Fixture::new("observe", GuardMode::Observe).await;
    let (alias, key) = f.managed("observed", Mode::Manual).await;
    f.env.disable_key(&key).await.unwrap();
    let event = events::key_call(REGION, "DisableKey", &key);
    let Outcome::Guarded { verdict, .. } = f.handle(event).await.unwrap() else {
        panic!("not guarded")
    };
    assert!(matches!(verdict, GuardVerdict::Alert { .. }), "{verdict:?}");
    assert_eq!(f.env.alias_target(&alias).await.unwrap().1, "Disabled");
    assert_eq!(f.metric("GuardActions"), 1.0);
    let notes = f.notifications(1).await;
    assert_eq!(notes[0]["kind"], "guard_action");
    assert_eq!(notes[0]["verdict"]["verdict"], "alert");

    // A key KMS has already deleted is nothing to guard: no failure, no retry into the
    // dead-letter queue, no GuardFailed notice.
    let missing: kmsrot_types::KeyArn =
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/0b8e5a4c-1d2f-4e3a-9b8c-7d6e5f4a3b2c")
            .parse()
            .unwrap();
    let outcome = f
        .handle(events::key_call(REGION, "DisableKey", &missing))
        .await
        .unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Guarded {
                verdict: GuardVerdict::Gone { .. },
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(kmsrot_core::observe::notices_of(&outcome).is_empty());
}

#[tokio::test]
async fn direct_requests_rotate_report_roll_back_and_sweep() {
    let f = Fixture::new("requests", GuardMode::Enforce).await;
    let (alias, before) = f.managed("requested", Mode::Manual).await;
    let Outcome::Rotated { actions, .. } = f
        .handle(json!({"action": "rotate", "alias": alias.as_str(), "rotation_id": "r-request-1"}))
        .await
        .unwrap()
    else {
        panic!("not rotated")
    };
    assert!(!actions.is_empty());
    let (after, _) = f.env.alias_target(&alias).await.unwrap();
    assert_ne!(before, after);
    // The same request again (a retry) does nothing more.
    let Outcome::Rotated { actions, .. } = f
        .handle(json!({"action": "rotate", "alias": alias.as_str(), "rotation_id": "r-request-1"}))
        .await
        .unwrap()
    else {
        panic!("not rotated")
    };
    assert!(actions.is_empty());
    assert_eq!(f.env.alias_target(&alias).await.unwrap().0, after);

    let Outcome::Status { aliases } = f
        .handle(json!({"action": "status", "alias": alias.as_str()}))
        .await
        .unwrap()
    else {
        panic!("no status")
    };
    assert_eq!(aliases[0].current.key_arn, after);

    let Outcome::Swept { report } = f
        .handle(json!({"action": "sweep", "alias": alias.as_str(), "dry_run": true}))
        .await
        .unwrap()
    else {
        panic!("not swept")
    };
    assert_eq!(report.aliases.len(), 1);
    assert!(report.dry_run);

    assert!(matches!(
        f.handle(json!({"action": "rollback", "alias": alias.as_str(), "from": after.to_string()}))
            .await
            .unwrap(),
        Outcome::RolledBack { .. }
    ));
    assert_eq!(f.env.alias_target(&alias).await.unwrap().0, before);
    assert_eq!(f.metric("RotationsSucceeded"), 1.0);
    assert_eq!(f.metric("Rollbacks"), 1.0);

    // A rotation that fails is counted and notified, and is not worth retrying.
    let missing = f.env.unique_alias("missing");
    let err = f
        .handle(json!({"action": "rotate", "alias": missing.as_str()}))
        .await
        .unwrap_err();
    assert_eq!(Diagnostic::from(err).error_type, "NonRetryable");
    assert_eq!(f.metric("RotationsFailed"), 1.0);
    let kinds: Vec<Value> = f
        .notifications(3)
        .await
        .into_iter()
        .map(|n| n["kind"].clone())
        .collect();
    let mut kinds: Vec<String> = kinds
        .iter()
        .map(|k| k.as_str().unwrap_or_default().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["rollback", "rotation_done", "rotation_failed"]);
}

#[tokio::test]
async fn forged_foreign_and_malformed_events_are_refused_counted_and_never_acted_on() {
    let f = Fixture::new("rejects", GuardMode::Enforce).await;
    let (alias, key) = f.managed("target", Mode::Manual).await;
    f.env.disable_key(&key).await.unwrap();
    let guard = events::key_call(REGION, "DisableKey", &key);
    let mut forged = guard.clone();
    forged["source"] = "com.example.attacker".into();
    let mut foreign = guard.clone();
    foreign["account"] = "999999999999".into();
    let mut elsewhere = guard.clone();
    elsewhere["region"] = "eu-west-1".into();
    let mut inner_foreign = guard.clone();
    inner_foreign["detail"]["recipientAccountId"] = "999999999999".into();
    let malformed = events::kms(REGION, "KMS CMK Rotation", json!({"key": "no key-id"}));
    for (name, event, expected) in [
        (
            "forged source",
            forged,
            "claims source `com.example.attacker`",
        ),
        ("foreign account", foreign, "from account 999999999999"),
        ("foreign region", elsewhere, "from region eu-west-1"),
        ("foreign record", inner_foreign, "from account 999999999999"),
        ("malformed", malformed, "missing field `key-id`"),
        ("not an object", json!("hello"), "not a JSON object"),
    ] {
        let err = f.handle(event).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{name}: {err}");
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "NonRetryable", "{name}");
    }
    assert_eq!(f.metric("RejectedEvents"), 6.0);
    // None of them was acted on: the disabled key is still disabled.
    assert_eq!(f.env.alias_target(&alias).await.unwrap().1, "Disabled");
    // The genuine event is.
    let Outcome::Guarded { verdict, .. } = f.handle(guard).await.unwrap() else {
        panic!("not guarded")
    };
    assert!(matches!(verdict, GuardVerdict::Restored { .. }));
    assert_eq!(f.env.alias_target(&alias).await.unwrap().1, "Enabled");
}

#[tokio::test]
async fn by_default_the_expected_account_is_the_function_s_own() {
    let env = TestEnv::in_region(REGION).await.unwrap();
    let (alias, _) = env
        .managed_alias("own-account", Mode::Manual)
        .await
        .unwrap();
    let mut settings = Settings::new(REGION);
    settings.metrics = kmsrot_lambda::MetricsMode::Off;
    settings.sweep_rate = 1000.0;
    let state = State::new(&env.config, settings);
    let invoked = |account: &str| {
        let mut context = lambda_runtime::Context::default();
        context.invoked_function_arn =
            format!("arn:aws:lambda:{REGION}:{account}:function:kmsrot-rotation");
        context
    };
    let event = events::kms(
        REGION,
        "KMS CMK Deletion",
        json!({"key-id": "0b8e5a4c-1d2f-4e3a-9b8c-7d6e5f4a3b2c"}),
    );
    let run = |context| handler(LambdaEvent::new(event.clone(), context), &state);
    assert!(matches!(
        run(invoked(ACCOUNT)).await,
        Ok(Outcome::Ignored { .. })
    ));
    let err = run(invoked("999999999999")).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("this function acts only on account 999999999999"),
        "{err}"
    );
    let err = run(lambda_runtime::Context::default()).await.unwrap_err();
    assert!(matches!(err, HandlerError::NoAccount), "{err}");
    // A direct request needs no account.
    let status = handler(
        LambdaEvent::new(
            json!({"action": "status", "alias": alias.as_str()}),
            lambda_runtime::Context::default(),
        ),
        &state,
    )
    .await;
    assert!(matches!(status, Ok(Outcome::Status { .. })), "{status:?}");
}

#[tokio::test]
async fn without_the_tagging_api_the_engine_finds_a_deletion_record_by_reading_every_key() {
    let env = TestEnv::in_region(REGION).await.unwrap();
    // No `with_tagging`: the engine lists the region's keys and reads their tags.
    let engine = env.rotator();
    let (alias, old) = env.managed_alias("scan", Mode::Manual).await.unwrap();
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let id = old.key_id();
    let first = engine.key_deleted(id.as_str()).await.unwrap().unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.alias, alias);
    let again = engine
        .key_deleted(old.to_string().as_str())
        .await
        .unwrap()
        .unwrap();
    assert!(again.duplicate, "found by key ARN too, and recognised");
}

/// Disable as a canary: a use of a disabled old key, as CloudTrail records it, enables the key
/// again, holds it, counts and notifies; the same record again changes nothing more.
#[tokio::test]
async fn a_failed_use_of_a_disabled_old_key_reenables_it_and_holds_it() {
    let f = Fixture::new("canary", GuardMode::Enforce).await;
    let alias = f.env.unique_alias("canary");
    let policy = kmsrot_types::Policy {
        grace_days: 0,
        ..kmsrot_types::Policy::new(Mode::Manual)
    };
    let old = f
        .env
        .rotator()
        .init(&alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap()
        .current
        .key_arn;
    let engine = f.env.rotator();
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    engine.advance(&alias, false).await.unwrap();
    assert_eq!(
        f.env.tags(&old.to_string()).await.unwrap()[tags::STAGE],
        "retired"
    );
    let event = events::failed_use(REGION, "Decrypt", "DisabledException", &old);
    let outcome = f.handle(event.clone()).await.unwrap();
    let Outcome::Canary { verdict, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        matches!(verdict, kmsrot_types::CanaryVerdict::Held { by: Some(by), .. } if by.contains("MonthlyReports")),
        "{verdict:?}"
    );
    let tags_now = f.env.tags(&old.to_string()).await.unwrap();
    assert!(tags_now[tags::HOLD].contains("3f8a6c2d"), "{tags_now:?}");
    assert_eq!(f.metric("CanaryHolds"), 1.0);
    let notes = f.notifications(1).await;
    assert_eq!(notes[0]["kind"], "canary_hold", "{notes:?}");
    assert_eq!(notes[0]["verdict"]["operation"], "Decrypt");
    // Delivered twice: nothing more.
    let again = f.handle(event).await.unwrap();
    assert!(
        matches!(
            &again,
            Outcome::Canary {
                verdict: kmsrot_types::CanaryVerdict::AlreadyHeld { .. },
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(f.metric("CanaryHolds"), 1.0);
}

/// A change of kmsrot's tags by another principal is reported (outcome, metric, notification)
/// and not undone; the same change made by the function's own role is not; a key kmsrot does
/// not manage is ignored.
#[tokio::test]
async fn changes_of_kmsrot_tags_by_others_are_notified_and_left_as_they_are() {
    let f = Fixture::new("tags", GuardMode::Enforce).await;
    let (alias, key) = f.managed("tagged", Mode::Manual).await;
    f.env
        .set_tags(
            &key,
            &[(tags::PENDING_KEY, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")],
        )
        .await
        .unwrap();
    let tag_call = |key: &kmsrot_types::KeyArn| {
        events::cloudtrail(
            REGION,
            "TagResource",
            json!({"keyId": key.key_id().as_str(), "tags": [
                {"tagKey": "kmsrot:pending-key", "tagValue": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
                {"tagKey": "team", "tagValue": "payments"}
            ]}),
            Value::Null,
            &[key.to_string()],
        )
    };
    let outcome = f.handle(tag_call(&key)).await.unwrap();
    let Outcome::TagsChanged(change) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(change.alias.as_ref(), Some(&alias));
    assert_eq!(change.key, key);
    assert!(
        change
            .by
            .as_deref()
            .unwrap()
            .contains("assumed-role/Operator")
    );
    assert_eq!(change.changed.len(), 1, "{change:?}");
    assert_eq!(f.metric("TagChanges"), 1.0);
    let notes = f.notifications(1).await;
    assert_eq!(notes[0]["kind"], "tags_changed", "{notes:?}");
    assert_eq!(notes[0]["changed"][0]["tag"], "kmsrot:pending-key");
    // Not undone.
    let now = f.env.tags(&key.to_string()).await.unwrap();
    assert_eq!(
        now[tags::PENDING_KEY],
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    );

    // The same call by the function's own role: its own bookkeeping.
    let role = format!("arn:aws:iam::{ACCOUNT}:role/Operator");
    let mut settings = Settings::new(REGION);
    settings.expected_account = Some(ACCOUNT.into());
    settings.role_arn = Some(role.clone());
    let as_operator = State::new(&f.env.config, settings)
        .with_metrics(Metrics::Emf(Arc::new(Mutex::new(Vec::new()))));
    let mut own = tag_call(&key);
    own["detail"]["userIdentity"]["sessionContext"] =
        json!({"sessionIssuer": {"type": "Role", "arn": role}});
    assert!(matches!(
        handle(own, Some(ACCOUNT), &as_operator).await.unwrap(),
        Outcome::Ignored { reason } if reason.contains("own role")
    ));
    // A key kmsrot does not manage.
    let (_, plain) = f.env.plain_alias("untagged").await.unwrap();
    assert!(matches!(
        f.handle(tag_call(&plain)).await.unwrap(),
        Outcome::Ignored { .. }
    ));
    assert_eq!(f.metric("TagChanges"), 1.0);
}
