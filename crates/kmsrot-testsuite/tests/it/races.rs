//! Runs that meet on one alias. Each rotation, rollback, abort and sweep that changes an alias
//! holds the alias's lock (`alias/kmsrot-lock/NAME`, which only one CreateAlias can make):
//! one run wins, the others report the alias busy and leave nothing behind.

use std::time::Duration;

use kmsrot_core::engine::RotationError;
use kmsrot_core::{RotateOptions, Rotator};
use kmsrot_testsuite::TestEnv;
use kmsrot_types::{AliasName, GuardMode, KeyArn, KeyChange, Mode, Policy, tags};

const DAY: i64 = 86_400;

/// The alias's lock, as a raw alias name.
fn lock_of(alias: &AliasName) -> AliasName {
    format!(
        "{}{}",
        kmsrot_types::LOCK_ALIAS_PREFIX,
        alias.as_str().trim_start_matches("alias/")
    )
    .parse()
    .unwrap()
}

async fn init(engine: &Rotator, alias: &AliasName) -> KeyArn {
    let policy = Policy {
        grace_days: 1,
        quiet_days: 1,
        ..Policy::new(Mode::Manual)
    };
    engine
        .init(alias, "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", None, policy)
        .await
        .unwrap_or_else(|e| panic!("init {alias}: {e}"))
        .current
        .key_arn
}

/// What every run on the alias must leave, whoever won: the alias names an enabled key tagged
/// `current`, with no `rotating` tag; no other key tagged for the alias is `current`; and
/// the lock is released.
async fn assert_settled(env: &TestEnv, alias: &AliasName, what: &str) {
    let (named, state) = env.alias_target(alias).await.unwrap();
    assert_eq!(state, "Enabled", "{what}: {named}");
    let keys = env.keys_tagged_for(alias).await.unwrap();
    let current: Vec<&KeyArn> = keys
        .iter()
        .filter(|k| k.tag(tags::STAGE) == Some("current"))
        .map(|k| &k.arn)
        .collect();
    assert_eq!(current, [&named], "{what}: keys tagged current");
    let named_key = keys.iter().find(|k| k.arn == named).unwrap();
    assert!(
        !named_key.tags.contains_key(tags::ROTATING),
        "{what}: stale rotating tag: {:?}",
        named_key.tags
    );
    let lock = lock_of(alias);
    assert!(
        env.client
            .describe_key()
            .key_id(lock.as_str())
            .send()
            .await
            .is_err(),
        "{what}: {lock} was not released"
    );
}

/// Two rotations started together: one rotates, the other reports the alias busy (naming the
/// lock), and nothing is left behind: one new key, no stale tag, no lock.
#[tokio::test]
async fn two_rotations_started_together_one_wins_and_the_other_is_busy() {
    let env = TestEnv::in_region("mx-central-1").await.unwrap();
    let engine = env.rotator();
    for trial in 0..5 {
        let alias = env.unique_alias("together");
        let first = init(&engine, &alias).await;
        let (a, b) = tokio::join!(
            engine.rotate(&alias, RotateOptions::default()),
            engine.rotate(&alias, RotateOptions::default())
        );
        let (won, lost) = match (a, b) {
            (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
            other => panic!("trial {trial}: expected one winner, got {other:?}"),
        };
        assert_eq!(won.len(), 1, "trial {trial}: {won:?}");
        assert!(
            matches!(&lost, RotationError::Busy { what, .. } if what.contains("holds its lock")),
            "trial {trial}: {lost}"
        );
        assert_settled(&env, &alias, &format!("trial {trial}")).await;
        let keys = env.keys_tagged_for(&alias).await.unwrap();
        assert_eq!(keys.len(), 2, "trial {trial}: one new key only: {keys:?}");
        assert!(keys.iter().any(|k| k.arn == first));
    }
}

/// A lock left by a run that stopped holds the alias until it is old, and is then taken over:
/// the rotation goes on and releases it.
#[tokio::test]
async fn a_lock_left_behind_is_taken_over_once_it_is_old() {
    let env = TestEnv::in_region("mx-central-1").await.unwrap();
    let alias = env.unique_alias("stale-lock");
    let first = init(&env.rotator(), &alias).await;
    env.create_alias(&lock_of(&alias), &first).await.unwrap();
    let busy = env
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    let text = busy.to_string();
    assert!(
        text.contains(lock_of(&alias).as_str()) && text.contains("taken over after 900 s"),
        "{text}"
    );
    assert_eq!(env.keys_tagged_for(&alias).await.unwrap().len(), 1);
    // Another run is taking this stale lock over (its marker names the lock's creation time):
    // this one does not.
    let created = env
        .client
        .list_aliases()
        .key_id(first.to_string())
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some(lock_of(&alias).as_str()))
        .and_then(|a| a.creation_date())
        .unwrap()
        .secs();
    let marker: AliasName = format!(
        "alias/kmsrot-lock-takeover/{created}/{}",
        alias.as_str().trim_start_matches("alias/")
    )
    .parse()
    .unwrap();
    env.create_alias(&marker, &first).await.unwrap();
    let busy = env
        .rotator()
        .with_lock_timeout(Duration::ZERO)
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_err();
    assert!(
        busy.to_string().contains("taking over its stale lock"),
        "{busy}"
    );
    // That run stopped too: its marker is old, and the next run takes over, and cleans up.
    env.client
        .delete_alias()
        .alias_name(marker.as_str())
        .send()
        .await
        .unwrap();
    env.rotator()
        .with_lock_timeout(Duration::ZERO)
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    assert_ne!(env.alias_target(&alias).await.unwrap().0, first);
    assert_settled(&env, &alias, "after the take-over").await;
    // No lock or marker is left on either key.
    for key in env.keys_tagged_for(&alias).await.unwrap() {
        let names: Vec<String> = env
            .client
            .list_aliases()
            .key_id(key.arn.to_string())
            .send()
            .await
            .unwrap()
            .aliases()
            .iter()
            .filter_map(|a| a.alias_name().map(str::to_owned))
            .filter(|n| n.starts_with("alias/kmsrot-lock"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}

/// The randomized race: rotate, sweep, rollback and the guard against each other, each started
/// after a random delay, 100 trials (ten at a time, each on its own alias). The sweep sees
/// the previous key past its grace period, so it retires it while a rollback may be restoring
/// it and the guard may be judging it. Runs that find the alias locked report it busy;
/// whatever the interleaving, every trial ends settled.
#[tokio::test]
async fn rotate_sweep_rollback_and_guard_racing_always_leave_one_current_key() {
    const TRIALS: usize = 100;
    const AT_ONCE: usize = 10;
    let env = TestEnv::in_region("mx-central-1").await.unwrap();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for batch in 0..TRIALS / AT_ONCE {
        let trials = (0..AT_ONCE).map(|i| {
            let env = env.clone();
            async move { race(&env, batch * AT_ONCE + i).await }
        });
        for seen in futures_util::future::join_all(trials).await {
            for outcome in seen {
                *outcomes.entry(outcome).or_default() += 1;
            }
        }
    }
    // The races did happen: some runs found the alias busy, and each kind of run also won.
    for expected in ["rotate ok", "sweep ok", "rollback ok", "guard ok"] {
        assert!(outcomes.contains_key(expected), "{outcomes:?}");
    }
    assert!(
        outcomes.keys().any(|k| k.ends_with("busy")),
        "no run ever met another: {outcomes:?}"
    );
}

/// One trial; returns what each run did (`"rotate ok"`, `"sweep busy"`, …).
async fn race(env: &TestEnv, trial: usize) -> Vec<String> {
    let engine = env.rotator();
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    let later = env
        .rotator()
        .with_clock(aws_smithy_types::DateTime::from_secs(now + 2 * DAY));
    let alias = env.unique_alias("race");
    let first = init(&engine, &alias).await;
    engine
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap_or_else(|e| panic!("trial {trial}: first rotation: {e}"));
    // The four start in a random order, a random gap apart (the sweep reads the whole alias
    // before it takes the lock, so an even start would rarely let it win).
    let mut order = [0u64, 1, 2, 3];
    fastrand::shuffle(&mut order);
    let gap = fastrand::u64(0..120);
    let start = |which: usize| Duration::from_millis(order[which] * gap + fastrand::u64(0..20));
    let (rotate_in, sweep_in, rollback_in, guard_in) = (start(0), start(1), start(2), start(3));
    let rotated = async {
        tokio::time::sleep(rotate_in).await;
        engine
            .rotate(&alias, RotateOptions::default())
            .await
            .map(drop)
    };
    let swept = async {
        tokio::time::sleep(sweep_in).await;
        later.advance(&alias, false).await.map(drop)
    };
    let rolled_back = async {
        tokio::time::sleep(rollback_in).await;
        engine.rollback(&alias, None).await.map(drop)
    };
    let guarded = async {
        tokio::time::sleep(guard_in).await;
        engine
            .guard(&first.to_string(), KeyChange::Disabled, GuardMode::Enforce)
            .await
            .map(drop)
    };
    let (rotated, swept, rolled_back, guarded) = tokio::join!(rotated, swept, rolled_back, guarded);
    let mut seen = Vec::new();
    for (what, result) in [
        ("rotate", rotated),
        ("sweep", swept),
        ("rollback", rolled_back),
        ("guard", guarded),
    ] {
        match result {
            Ok(()) => seen.push(format!("{what} ok")),
            Err(RotationError::Busy { .. }) => seen.push(format!("{what} busy")),
            Err(err) => panic!("trial {trial}: {what} failed: {err}"),
        }
    }
    assert_settled(env, &alias, &format!("trial {trial} ({seen:?})")).await;
    seen
}
