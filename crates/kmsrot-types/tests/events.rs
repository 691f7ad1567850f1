//! Every event and request fixture parses into the right type, keeps its key fields, and
//! round-trips through JSON.

use kmsrot_types::event::{CLOUDTRAIL_KMS, detail_type};
use kmsrot_types::{Event, EventError, Invocation, Request};
use serde_json::Value;

/// This package's folder, as cargo sets it when it runs the test (not as it was at build
/// time: builds are shared between clones).
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/events/{name}.json", manifest_dir());
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Parses a fixture, checks that it round-trips, and returns it.
fn check(name: &str) -> Invocation {
    let parsed = Invocation::parse(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: Invocation = serde_json::from_value(serde_json::to_value(&parsed).unwrap())
        .unwrap_or_else(|e| panic!("{name} round trip: {e}"));
    assert_eq!(again, parsed, "{name} round trip");
    parsed
}

fn event(name: &str) -> Event {
    match check(name) {
        Invocation::Event(event) => *event,
        other => panic!("{name} parsed as {other:?}"),
    }
}

const KEY: &str = "8f3c2a1e-5b7d-4e9a-9c61-2d4f7a8b0e13";

#[test]
fn both_rotation_shapes() {
    let Event::KeyRotation(legacy) = event("kms-cmk-rotation-legacy") else {
        panic!("not a rotation")
    };
    assert_eq!(legacy.detail.key_id, KEY);
    assert_eq!(legacy.detail.rotation_type, None);
    let Event::KeyRotation(new) = event("kms-cmk-rotation") else {
        panic!("not a rotation")
    };
    assert_eq!(new.detail.key_id, KEY);
    assert_eq!(new.detail.rotation_type.as_deref(), Some("ON_DEMAND"));
    assert_eq!(new.detail.key_origin.as_deref(), Some("AWS_KMS"));
    assert!(new.detail.current_key_material_id.is_some());
    assert_eq!(new.account.as_deref(), Some("123456789012"));
}

#[test]
fn deletion_expiration_and_schedule() {
    let Event::KeyDeletion(deletion) = event("kms-cmk-deletion") else {
        panic!("not a deletion")
    };
    assert_eq!(deletion.detail.key_id, KEY);
    let Event::MaterialExpiration(expiry) = event("kms-imported-key-material-expiration") else {
        panic!("not an expiration")
    };
    assert_eq!(expiry.detail.key_id, "e27b6c40-9d1f-4a3e-b5c8-71f0a2d4c9e6");
    assert!(expiry.time.is_some());
    let Event::Scheduled(schedule) = event("scheduled-event") else {
        panic!("not a schedule")
    };
    assert_eq!(schedule.detail_type, detail_type::SCHEDULED);
}

#[test]
fn cloudtrail_records() {
    for (name, call) in [
        ("cloudtrail-schedule-key-deletion", "ScheduleKeyDeletion"),
        ("cloudtrail-disable-key", "DisableKey"),
        ("cloudtrail-update-alias", "UpdateAlias"),
        ("cloudtrail-delete-alias", "DeleteAlias"),
        (
            "cloudtrail-schedule-key-deletion-failed",
            "ScheduleKeyDeletion",
        ),
        ("cloudtrail-decrypt-disabled", "Decrypt"),
    ] {
        let Event::ApiCall(e) = event(name) else {
            panic!("{name}: not an API call")
        };
        assert_eq!(e.detail.event_source, CLOUDTRAIL_KMS, "{name}");
        assert_eq!(e.detail.event_name, call, "{name}");
        assert!(e.detail.user_identity.arn.is_some(), "{name}");
    }
    let Event::ApiCall(update) = event("cloudtrail-update-alias") else {
        unreachable!()
    };
    assert_eq!(
        update.detail.request_parameter("aliasName"),
        Some("alias/payments-data")
    );
    assert_eq!(update.detail.key_arns().count(), 1);
    let Event::ApiCall(failed) = event("cloudtrail-schedule-key-deletion-failed") else {
        unreachable!()
    };
    assert!(failed.detail.error_code.is_some());
}

#[test]
fn requests() {
    assert_eq!(
        check("request-status-all"),
        Invocation::Request(Request::Status { alias: None })
    );
    let Invocation::Request(Request::Sweep { alias, dry_run }) = check("request-sweep-one") else {
        panic!("not a sweep")
    };
    assert_eq!(alias.unwrap().as_str(), "alias/payments-data");
    assert!(dry_run);
    assert!(matches!(
        check("request-rotate"),
        Invocation::Request(Request::Rotate {
            rotation_id: Some(_),
            dry_run: false,
            ..
        })
    ));
    assert!(matches!(
        check("request-rollback"),
        Invocation::Request(Request::Rollback { from: Some(_), .. })
    ));
}

#[test]
fn forged_and_foreign_events_still_parse_for_routing_to_refuse() {
    for name in [
        "forged-source",
        "foreign-account",
        "foreign-region",
        "cloudtrail-forged-event-source",
    ] {
        event(name);
    }
}

#[test]
fn malformed_documents_say_what_is_wrong() {
    let err = Invocation::parse(fixture("malformed-detail")).unwrap_err();
    assert!(
        matches!(&err, EventError::Malformed { what, reason } if what == "`KMS CMK Rotation` event" && reason.contains("key-id")),
        "{err}"
    );
    for (doc, message) in [
        (serde_json::json!([1]), "not a JSON object"),
        (
            serde_json::json!({"source": "aws.kms", "detail-type": "KMS Key Policy Change", "detail": {}}),
            "unsupported event: source `aws.kms`, detail-type `KMS Key Policy Change`",
        ),
        (
            serde_json::json!({"hello": "world"}),
            "needs `source` and `detail-type`",
        ),
        (
            serde_json::json!({"action": "delete-everything"}),
            "malformed request: unknown variant `delete-everything`",
        ),
        (
            serde_json::json!({"action": "rotate", "alias": "alias/aws/s3"}),
            "malformed request",
        ),
        (
            serde_json::json!({"action": "status", "alias": "alias/a", "force": true}),
            "unknown field `force`",
        ),
    ] {
        let err = Invocation::parse(doc).unwrap_err().to_string();
        assert!(err.contains(message), "{err}");
    }
}
