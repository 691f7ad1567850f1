//! Multi-Region key sets rotate as one: a primary and its replicas in three Regions of one
//! emulator (patches 23 to 25 make its multi-Region keys behave as AWS documents them). Each
//! test has an alias of its own; the Regions are used by no other test.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::Tag;
use kmsrot_core::engine::RotationError;
use kmsrot_core::{Kms, RotateOptions, Rotator};
use kmsrot_testsuite::{FaultInjector, Strike, TestEnv};
use kmsrot_types::{Action, AliasName, HeldStep, KeyArn, Mode, Policy, Stage, tags};

const PRIMARY: &str = "ap-northeast-3";
const REPLICAS: [&str; 2] = ["ap-southeast-4", "il-central-1"];
const DAY: i64 = 86_400;

/// The three Regions' test environments, the primary's first.
struct Set {
    primary: TestEnv,
    replicas: Vec<TestEnv>,
}

impl Set {
    async fn connect() -> Self {
        let primary = TestEnv::in_region(PRIMARY).await.unwrap();
        let mut replicas = Vec::new();
        for region in REPLICAS {
            replicas.push(TestEnv::in_region(region).await.unwrap());
        }
        Self { primary, replicas }
    }

    fn all(&self) -> impl Iterator<Item = &TestEnv> {
        std::iter::once(&self.primary).chain(&self.replicas)
    }

    /// A multi-Region primary with a replica in each replica Region (each with its own
    /// description and tag), and `alias` naming the key in every Region. Returns the primary.
    async fn make(&self, alias: &AliasName) -> KeyArn {
        let primary = self
            .primary
            .create_key_with(|r| r.multi_region(true).description("orders"))
            .await
            .unwrap();
        for env in &self.replicas {
            self.primary
                .client
                .replicate_key()
                .key_id(primary.to_string())
                .replica_region(env.region())
                .description(format!("orders in {}", env.region()))
                .tags(
                    Tag::builder()
                        .tag_key("team")
                        .tag_value(env.region())
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        for env in self.all() {
            env.client
                .create_alias()
                .alias_name(alias.as_str())
                .target_key_id(primary.key_id().as_str())
                .send()
                .await
                .unwrap();
        }
        primary
    }

    /// The key ID every Region's alias names.
    async fn named(&self, alias: &AliasName) -> Vec<String> {
        let mut ids = Vec::new();
        for env in self.all() {
            let (arn, _) = env.alias_target(alias).await.unwrap();
            assert_eq!(arn.region(), env.region(), "{alias} in {}", env.region());
            ids.push(arn.key_id().as_str().to_owned());
        }
        ids
    }
}

fn policy() -> Policy {
    Policy {
        grace_days: 0,
        quiet_days: 1,
        delete_after_days: 7,
        ..Policy::new(Mode::Manual)
    }
}

fn engine_in(env: &TestEnv, days: i64) -> Rotator {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
    env.rotator()
        .with_clock(aws_smithy_types::DateTime::from_secs(now + days * DAY))
}

fn new_key(actions: &[Action]) -> KeyArn {
    match actions {
        [
            Action::Rotate {
                new_key: Some(key), ..
            },
        ] => key.clone(),
        other => panic!("{other:?}"),
    }
}

async fn encrypt(env: &TestEnv, alias: &AliasName, text: &str) -> Blob {
    env.client
        .encrypt()
        .key_id(alias.as_str())
        .plaintext(Blob::new(text))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
}

async fn decrypt(env: &TestEnv, ciphertext: &Blob) -> String {
    let out = env
        .client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("decrypt in {}: {e:?}", env.region()));
    String::from_utf8(out.plaintext.unwrap().into_inner()).unwrap()
}

async fn stage(env: &TestEnv, key: &KeyArn) -> Option<String> {
    let there = key.in_region(env.region()).unwrap();
    env.tags(&there.to_string())
        .await
        .unwrap()
        .get(tags::STAGE)
        .cloned()
}

#[tokio::test]
async fn a_multi_region_primary_rotates_retires_and_is_deleted_as_one_set() {
    let set = Set::connect().await;
    let alias = set.primary.unique_alias("mrk-set");
    let old = set.make(&alias).await;
    let written_in_replica = encrypt(&set.replicas[0], &alias, "written in a replica").await;
    let written_in_primary = encrypt(&set.primary, &alias, "written in the primary").await;

    set.primary.rotator().adopt(&alias, policy()).await.unwrap();
    let new = new_key(
        &set.primary
            .rotator()
            .rotate(&alias, RotateOptions::default())
            .await
            .unwrap(),
    );
    assert!(new.key_id().is_multi_region(), "{new}");
    assert_ne!(new.key_id(), old.key_id());

    // The new primary has a replica in each Region, made like the old one there, and every
    // Region's alias names the new key.
    let described = set
        .primary
        .client
        .describe_key()
        .key_id(new.to_string())
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let mut regions: Vec<&str> = described
        .multi_region_configuration()
        .unwrap()
        .replica_keys()
        .iter()
        .filter_map(|r| r.region())
        .collect();
    regions.sort_unstable();
    assert_eq!(regions, REPLICAS);
    assert_eq!(
        set.named(&alias).await,
        vec![new.key_id().as_str().to_owned(); 3]
    );
    for env in &set.replicas {
        let replica = new.in_region(env.region()).unwrap();
        let m = env
            .client
            .describe_key()
            .key_id(replica.to_string())
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(
            m.description(),
            Some(format!("orders in {}", env.region()).as_str())
        );
        let replica_tags = env.tags(&replica.to_string()).await.unwrap();
        assert_eq!(
            replica_tags.get("team").map(String::as_str),
            Some(env.region())
        );
        assert_eq!(replica_tags[tags::ALIAS], alias.as_str());
        assert_eq!(stage(env, &new).await.as_deref(), Some("current"));
        assert_eq!(stage(env, &old).await.as_deref(), Some("previous"));
    }

    // Data written before the rotation, in either Region, still decrypts in every Region;
    // data written after it, through the alias, too.
    let written_after = encrypt(&set.replicas[1], &alias, "written after").await;
    for env in set.all() {
        assert_eq!(
            decrypt(env, &written_in_replica).await,
            "written in a replica"
        );
        assert_eq!(
            decrypt(env, &written_in_primary).await,
            "written in the primary"
        );
        assert_eq!(decrypt(env, &written_after).await, "written after");
    }

    // Retirement disables the whole old set; deletion schedules the replicas, then the
    // primary, which waits for them (PendingReplicaDeletion).
    let outcome = engine_in(&set.primary, 2)
        .advance(&alias, false)
        .await
        .unwrap();
    assert_eq!(outcome.actions, vec![Action::Retire { key: old.clone() }]);
    for env in set.all() {
        let there = old.in_region(env.region()).unwrap();
        assert_eq!(
            env.key_state(&there).await.unwrap(),
            "Disabled",
            "{}",
            env.region()
        );
        assert_eq!(stage(env, &old).await.as_deref(), Some("retired"));
    }
    let outcome = engine_in(&set.primary, 10)
        .advance(&alias, false)
        .await
        .unwrap();
    assert!(
        matches!(&outcome.actions[..], [Action::ScheduleDeletion { key, .. }] if *key == old),
        "{outcome:?}"
    );
    for env in &set.replicas {
        let there = old.in_region(env.region()).unwrap();
        assert_eq!(env.key_state(&there).await.unwrap(), "PendingDeletion");
    }
    assert_eq!(
        set.primary.key_state(&old).await.unwrap(),
        "PendingReplicaDeletion"
    );

    // The replicas' Regions see a replica: they leave it to the primary's Region.
    for env in &set.replicas {
        let err = env
            .rotator()
            .rotate(&alias, RotateOptions::default())
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, RotationError::Unsupported { .. }), "{err:?}");
        assert!(
            message.contains(&format!("whose primary is in {PRIMARY}"))
                && message.contains(&format!("kmsrot adopt {alias} --region {PRIMARY}")),
            "{message}"
        );
        let swept = env.rotator().advance(&alias, false).await.unwrap();
        assert!(swept.actions.is_empty(), "{swept:?}");
        assert!(
            swept
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains(PRIMARY),
            "{swept:?}"
        );
    }
}

/// A replica in use holds the whole set's retirement, and says which Region.
#[tokio::test]
async fn a_replica_in_use_holds_the_sets_retirement() {
    let set = Set::connect().await;
    let alias = set.primary.unique_alias("mrk-held");
    let old = set.make(&alias).await;
    set.primary.rotator().adopt(&alias, policy()).await.unwrap();
    set.primary
        .rotator()
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    // An application in the second replica Region still uses the old replica by ARN.
    let old_there = old.in_region(REPLICAS[1]).unwrap();
    set.replicas[1]
        .client
        .encrypt()
        .key_id(old_there.to_string())
        .plaintext(Blob::new("still here"))
        .send()
        .await
        .unwrap();
    let outcome = engine_in(&set.primary, 0)
        .advance(&alias, false)
        .await
        .unwrap();
    let [Action::Hold(hold)] = &outcome.actions[..] else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (hold.key.clone(), hold.step),
        (old.clone(), HeldStep::Disable)
    );
    let described: Vec<String> = hold.reasons.iter().map(|r| r.describe()).collect();
    assert!(
        described.iter().any(|d| d
            .starts_with(&format!("its replica {old_there} in {}", REPLICAS[1]))
            && d.contains("Encrypt")),
        "{described:?}"
    );
    for env in set.all() {
        let there = old.in_region(env.region()).unwrap();
        assert_eq!(env.key_state(&there).await.unwrap(), "Enabled");
    }
}

/// Rollback moves every Region's alias back; adopting through a replica is refused.
#[tokio::test]
async fn rollback_moves_every_region_back_and_a_replica_cannot_be_adopted() {
    let set = Set::connect().await;
    let alias = set.primary.unique_alias("mrk-back");
    let old = set.make(&alias).await;
    let err = set.replicas[0]
        .rotator()
        .adopt(&alias, policy())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("kmsrot adopt {alias} --region {PRIMARY}")),
        "{err}"
    );
    set.primary.rotator().adopt(&alias, policy()).await.unwrap();
    let new = new_key(
        &set.primary
            .rotator()
            .rotate(&alias, RotateOptions::default())
            .await
            .unwrap(),
    );
    set.primary.rotator().rollback(&alias, None).await.unwrap();
    assert_eq!(
        set.named(&alias).await,
        vec![old.key_id().as_str().to_owned(); 3]
    );
    for env in set.all() {
        assert_eq!(stage(env, &old).await.as_deref(), Some("current"));
        assert_eq!(stage(env, &new).await.as_deref(), Some("previous"));
    }

    // status shows the set's Regions; a Region whose alias names another key is flagged,
    // in status and in the primary Region's audit.
    let status = set.primary.rotator().status(&alias).await.unwrap();
    let regions: Vec<(&str, bool)> = status
        .regions
        .iter()
        .map(|r| (r.region.as_str(), r.diverges()))
        .collect();
    assert_eq!(regions, [(REPLICAS[0], false), (REPLICAS[1], false)]);
    let elsewhere = set.replicas[1]
        .create_key(
            aws_sdk_kms::types::KeySpec::SymmetricDefault,
            aws_sdk_kms::types::KeyUsageType::EncryptDecrypt,
        )
        .await
        .unwrap();
    set.replicas[1]
        .move_alias(&alias, &elsewhere)
        .await
        .unwrap();
    let status = set.primary.rotator().status(&alias).await.unwrap();
    assert!(status.regions[1].diverges(), "{:?}", status.regions);
    let audit = set.primary.rotator().audit_account().await.unwrap();
    assert!(
        audit.findings.iter().any(
            |f| f.issue == kmsrot_types::audit::AccountIssue::RegionDiverges
                && f.alias.as_ref() == Some(&alias)
                && f.detail.contains(REPLICAS[1])
        ),
        "{:?}",
        audit.findings
    );
    let replica_status = set.replicas[0].rotator().status(&alias).await.unwrap();
    assert_eq!(replica_status.primary_region.as_deref(), Some(PRIMARY));
}

/// A rotation of the set that fails at any write (before the request leaves, or after it took
/// effect with its answer lost), in any Region, converges on a re-run, in every Region.
#[tokio::test]
async fn a_set_rotation_failing_at_any_call_converges_when_run_again() {
    let set = Set::connect().await;
    let faults = FaultInjector::default();
    let faulty = Rotator::new(Kms::from_client(set.primary.faulty_client(&faults)));
    let alias = set.primary.unique_alias("mrk-count");
    set.make(&alias).await;
    set.primary.rotator().adopt(&alias, policy()).await.unwrap();
    faults.reset();
    faulty
        .rotate(&alias, RotateOptions::default())
        .await
        .unwrap();
    let calls = faults.calls();
    for call in ["ReplicateKey", "UpdateAlias", "TagResource"] {
        assert!(calls.iter().any(|c| c == call), "{call} in {calls:?}");
    }
    // A failed read only stops the run before the next write: the writes are what to test.
    let writes: Vec<usize> = (1..=calls.len())
        .filter(|&n| {
            let call = &calls[n - 1];
            !["Describe", "List", "Get"]
                .iter()
                .any(|read| call.starts_with(read))
        })
        .collect();
    for strike in [Strike::BeforeSend, Strike::AfterResponse] {
        for &n in &writes {
            let alias = set.primary.unique_alias("mrk-crash");
            let old = set.make(&alias).await;
            set.primary.rotator().adopt(&alias, policy()).await.unwrap();
            let options = RotateOptions {
                rotation_id: Some(format!("mrk-crash-{n}")),
                ..RotateOptions::default()
            };
            faults.fail_call(n, strike);
            let failed = faulty.rotate(&alias, options.clone()).await;
            let failed_at = faults.calls().get(n - 1).cloned();
            faults.reset();
            // A lost CreateKey answer is reconciled, and a failed release of the lock
            // (DeleteAlias) does not undo a rotation that is done.
            let reconciled = (strike == Strike::AfterResponse
                && failed_at.as_deref() == Some("CreateKey"))
                || failed_at.as_deref() == Some("DeleteAlias");
            assert!(
                failed.is_err() || reconciled,
                "call {n} ({failed_at:?}, {strike:?}): {failed:?}"
            );
            // Once the lock's timeout has passed (a lock may have been left behind).
            let rerun = crate::rotation::after_lock_timeout(&set.primary.rotator())
                .rotate(&alias, options.clone())
                .await;
            assert!(
                rerun.is_ok(),
                "rerun after call {n} ({failed_at:?}, {strike:?}): {rerun:?}"
            );
            let named = set.named(&alias).await;
            assert!(
                named.iter().all(|id| *id == named[0]) && named[0] != old.key_id().as_str(),
                "call {n} ({failed_at:?}, {strike:?}): {named:?}"
            );
            for env in set.all() {
                assert_eq!(
                    stage(env, &old).await.as_deref(),
                    Some(Stage::Previous.to_string().as_str()),
                    "call {n} ({failed_at:?}, {strike:?}) in {}",
                    env.region()
                );
            }
        }
    }
}
