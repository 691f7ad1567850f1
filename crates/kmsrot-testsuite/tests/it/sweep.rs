//! The fleet sweep over 30 managed aliases of mixed modes and ages, in a region of its own so
//! that "every managed alias" is exactly these.

use std::collections::BTreeMap;

use kmsrot_core::{RotateOptions, SweepOptions};
use kmsrot_testsuite::TestEnv;
use kmsrot_types::{Action, AliasName, Mode, Policy, tags};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Fresh,
    Overdue,
    AutoFine,
    AutoDrift,
    GraceOver,
    DeleteDue,
    Broken,
}

const LONG_AGO: &str = "2020-01-01T00:00:00Z";

#[tokio::test]
async fn the_sweep_takes_the_due_action_for_each_alias_and_survives_one_failing() {
    let env = TestEnv::in_region("ap-southeast-2").await.unwrap();
    let engine = env.rotator();
    let plan = [
        (Kind::Fresh, 10),
        (Kind::Overdue, 5),
        (Kind::AutoFine, 5),
        (Kind::AutoDrift, 4),
        (Kind::GraceOver, 3),
        (Kind::DeleteDue, 2),
        (Kind::Broken, 1),
    ];
    let mut kinds: BTreeMap<AliasName, Kind> = BTreeMap::new();
    for (kind, count) in plan {
        for _ in 0..count {
            let alias = env.unique_alias(&format!("{kind:?}").to_lowercase());
            let mode = match kind {
                Kind::AutoFine | Kind::AutoDrift => Mode::Automatic,
                _ => Mode::Manual,
            };
            let key = engine
                .init(
                    &alias,
                    "SYMMETRIC_DEFAULT",
                    "ENCRYPT_DECRYPT",
                    None,
                    Policy::new(mode),
                )
                .await
                .unwrap()
                .current
                .key_arn;
            match kind {
                Kind::Overdue => env
                    .set_tags(&key, &[(tags::CREATED_AT, LONG_AGO)])
                    .await
                    .unwrap(),
                Kind::AutoDrift => {
                    env.client
                        .disable_key_rotation()
                        .key_id(key.to_string())
                        .send()
                        .await
                        .unwrap();
                }
                Kind::GraceOver | Kind::DeleteDue => {
                    engine
                        .rotate(&alias, RotateOptions::default())
                        .await
                        .unwrap();
                    env.set_tags(&key, &[(tags::DEMOTED_AT, LONG_AGO)])
                        .await
                        .unwrap();
                    if kind == Kind::DeleteDue {
                        env.disable_key(&key).await.unwrap();
                        env.set_tags(
                            &key,
                            &[(tags::STAGE, "retired"), (tags::RETIRED_AT, LONG_AGO)],
                        )
                        .await
                        .unwrap();
                    }
                }
                Kind::Broken => env
                    .set_tags(&key, &[(tags::GRACE_DAYS, "soon")])
                    .await
                    .unwrap(),
                Kind::Fresh | Kind::AutoFine => {}
            }
            kinds.insert(alias, kind);
        }
    }
    // An alias kmsrot does not manage is not in the report.
    let (unmanaged, _) = env
        .key_with_alias(
            "unmanaged",
            aws_sdk_kms::types::KeySpec::SymmetricDefault,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();

    let engine = engine.with_rate(500.0);
    let dry = engine
        .sweep(SweepOptions {
            dry_run: true,
            concurrency: 4,
            ..SweepOptions::default()
        })
        .await
        .unwrap();
    let wet = engine
        .sweep(SweepOptions {
            concurrency: 4,
            ..SweepOptions::default()
        })
        .await
        .unwrap();
    assert!(dry.dry_run && !wet.dry_run);

    for report in [&dry, &wet] {
        assert_eq!(report.aliases.len(), 30, "exactly the managed aliases");
        assert!(report.aliases.iter().all(|a| a.alias != unmanaged));
        assert_eq!(report.failed(), 1);
        for outcome in &report.aliases {
            let kind = kinds[&outcome.alias];
            let what = format!("{kind:?} dry_run={}: {outcome:?}", report.dry_run);
            match kind {
                Kind::Fresh | Kind::AutoFine => {
                    assert!(outcome.actions.is_empty(), "{what}");
                    assert_eq!(outcome.reason, None, "{what}");
                    assert!(outcome.compliance.as_ref().unwrap().ok(), "{what}");
                }
                Kind::Overdue => {
                    assert!(
                        matches!(&outcome.actions[..], [Action::Rotate { new_key, .. }] if new_key.is_some() != report.dry_run),
                        "{what}"
                    );
                }
                Kind::AutoDrift => {
                    assert_eq!(
                        outcome.actions,
                        vec![Action::EnableRotation {
                            period_days: 365,
                            was: kmsrot_types::RotationStatus::Disabled
                        }],
                        "{what}"
                    );
                }
                Kind::GraceOver => {
                    assert!(
                        matches!(&outcome.actions[..], [Action::Retire { .. }]),
                        "{what}"
                    );
                }
                Kind::DeleteDue => {
                    assert!(
                        matches!(
                            &outcome.actions[..],
                            [Action::ScheduleDeletion {
                                window_days: 30,
                                ..
                            }]
                        ),
                        "{what}"
                    );
                }
                Kind::Broken => {
                    let error = outcome.error.as_deref().unwrap();
                    assert!(error.contains("`kmsrot:grace-days` is `soon`"), "{what}");
                }
            }
            if report.dry_run || kind == Kind::Broken {
                continue;
            }
            let compliance = outcome.compliance.as_ref().unwrap();
            assert!(compliance.ok(), "compliant after the sweep: {what}");
        }
    }

    // A second sweep finds nothing more to do.
    let again = engine.sweep(SweepOptions::default()).await.unwrap();
    assert_eq!(again.aliases.len(), 30);
    for outcome in &again.aliases {
        if kinds[&outcome.alias] != Kind::Broken {
            assert!(outcome.actions.is_empty(), "{outcome:?}");
        }
    }
    // What the sweep did is real: keys retired are disabled, deletions scheduled.
    for (alias, kind) in &kinds {
        let status = match kind {
            Kind::GraceOver | Kind::DeleteDue => engine.status(alias).await.unwrap(),
            _ => continue,
        };
        let previous = status.previous.expect("still tracked");
        let want = if *kind == Kind::GraceOver {
            "Disabled"
        } else {
            "PendingDeletion"
        };
        assert_eq!(previous.key_state, want, "{alias}");
    }
}

/// A fleet larger than one run's budget: each run reaches at most three of eight aliases and
/// reports the rest as not reached; runs start at a random place, so every alias is reached
/// within a bounded number of runs (here 30, where a fixed order would never reach five).
#[tokio::test]
async fn a_fleet_larger_than_a_run_is_reached_within_a_few_runs() {
    let env = kmsrot_testsuite::TestEnv::in_region("ca-west-1")
        .await
        .unwrap();
    let mut aliases = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let (alias, _) = env
            .managed_alias("fleet", kmsrot_types::Mode::Manual)
            .await
            .unwrap();
        aliases.insert(alias);
    }
    let options = kmsrot_core::SweepOptions {
        dry_run: true,
        max_aliases: Some(3),
        ..kmsrot_core::SweepOptions::default()
    };
    let mut reached = std::collections::BTreeSet::new();
    for run in 1..=30 {
        let report = env.rotator().sweep(options).await.unwrap();
        assert_eq!(
            report.aliases.len() + report.not_reached,
            aliases.len(),
            "run {run}"
        );
        assert_eq!(report.not_reached, aliases.len() - 3, "run {run}");
        reached.extend(report.aliases.into_iter().map(|a| a.alias));
        if reached == aliases {
            return;
        }
    }
    panic!(
        "after 30 runs, not reached: {:?}",
        aliases.difference(&reached)
    );
}

/// The engine's rate is charged per request sent, and for nothing else: a dry-run sweep's
/// report counts exactly the requests that reached KMS (an interceptor counts them). The end
/// of a listing sends no request, so it takes no slot; before, every listing (aliases, tags,
/// grants) took one more slot than it sent requests.
#[tokio::test]
async fn the_sweep_is_charged_one_slot_per_request_sent() {
    let env = kmsrot_testsuite::TestEnv::in_region("eu-central-1")
        .await
        .unwrap();
    for _ in 0..4 {
        env.managed_alias("paced", kmsrot_types::Mode::Manual)
            .await
            .unwrap();
    }
    let faults = kmsrot_testsuite::FaultInjector::default();
    let engine =
        kmsrot_core::Rotator::new(kmsrot_core::Kms::from_client(env.faulty_client(&faults)))
            .with_rate(1_000.0);
    let options = kmsrot_core::SweepOptions {
        dry_run: true,
        ..kmsrot_core::SweepOptions::default()
    };
    let report = engine.sweep(options).await.unwrap();
    assert_eq!(report.aliases.len(), 4, "{report:?}");
    let sent = faults.calls();
    assert!(sent.iter().any(|op| op == "ListAliases"), "{sent:?}");
    assert!(sent.iter().any(|op| op == "ListResourceTags"), "{sent:?}");
    assert_eq!(
        report.kms_calls,
        sent.len() as u64,
        "slots taken against requests sent: {sent:?}"
    );
}
