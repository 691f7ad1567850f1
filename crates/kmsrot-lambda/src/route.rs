//! Routing: which task an event or request asks for, or why it is refused. Pure: no AWS
//! calls, so every event shape is tested against its fixture.

use aws_smithy_types::DateTime;
use kmsrot_types::event::{
    CLOUDTRAIL_KMS, CloudTrailDetail, Envelope, SOURCE_KMS, SOURCE_SCHEDULE, detail_type,
};
use kmsrot_types::{AliasName, Event, Invocation, KeyChange, Request};

/// What the Lambda acts on: events from this account and region only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The account.
    pub account: &'a str,
    /// The region.
    pub region: &'a str,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    /// Check the managed aliases of a key whose material rotated.
    CheckRotation {
        /// The key.
        key_id: String,
        /// `AUTOMATIC` or `ON_DEMAND`, when the event says.
        rotation_type: Option<String>,
    },
    /// Sweep the fleet.
    Sweep,
    /// Record a deleted key.
    RecordDeletion {
        /// The key.
        key_id: String,
    },
    /// Record expired key material.
    RecordExpiration {
        /// The key.
        key_id: String,
        /// What identifies this expiry: the event's time (RFC 3339), after the key
        /// material's ID and `@` when the event names it.
        record: String,
    },
    /// Run the deletion guard on a key.
    Guard {
        /// The key.
        key_id: String,
        /// What was done to it.
        change: KeyChange,
        /// The API call.
        event_name: String,
    },
    /// A use of a key failed because of its state: the canary of an old key.
    Canary {
        /// The key.
        key_id: String,
        /// The failed use.
        failed: kmsrot_core::FailedUse,
    },
    /// Check a managed alias someone changed or deleted.
    AliasChanged {
        /// The alias.
        alias: AliasName,
        /// The API call.
        event_name: String,
        /// Who made it.
        by: Option<String>,
        /// The keys the call named.
        keys: Vec<String>,
    },
    /// Report a change of `kmsrot:*` tags (not undone).
    TagsChanged {
        /// The key.
        key_id: String,
        /// The API call.
        event_name: String,
        /// Who made it.
        by: Option<String>,
        /// The role whose session made it, for an assumed role.
        issuer: Option<String>,
        /// The `kmsrot:*` tags set (with their values) or removed.
        changed: Vec<kmsrot_types::TagEdit>,
    },
    /// Nothing to do.
    Ignore {
        /// Why.
        reason: String,
    },
    /// A direct request.
    Request(Request),
}

/// Why an event is refused. A refused event is logged and counted, never acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The `source` is not the one this kind of event comes from (a forged event).
    #[error(
        "event `{detail_type}` claims source `{source_name}`, but it only comes from `{expected}`"
    )]
    Source {
        /// The detail-type.
        detail_type: String,
        /// The source given.
        source_name: String,
        /// The source it comes from.
        expected: &'static str,
    },
    /// From another account.
    #[error("event from account {got}, but this function acts only on account {expected}")]
    Account {
        /// The account given (empty when missing).
        got: String,
        /// The expected account.
        expected: String,
    },
    /// From another region.
    #[error("event from region {got}, but this function acts only on region {expected}")]
    Region {
        /// The region given (empty when missing).
        got: String,
        /// The expected region.
        expected: String,
    },
    /// An event whose content does not allow the action it asks for.
    #[error("malformed `{detail_type}` event: {reason}")]
    Malformed {
        /// The detail-type.
        detail_type: String,
        /// What is missing or wrong.
        reason: String,
    },
}

/// The KMS API calls whose CloudTrail records the Lambda acts on; it ignores the others. The
/// stack's CloudTrail rule must match exactly these (a tidy test in xtask checks).
pub const ROUTED_CALLS: [&str; 6] = [
    "ScheduleKeyDeletion",
    "DisableKey",
    "UpdateAlias",
    "DeleteAlias",
    "TagResource",
    "UntagResource",
];

/// The prefix of kmsrot's tags: a TagResource or UntagResource that touches none is ignored.
const KMSROT_TAGS: &str = "kmsrot:";

/// The cryptographic calls whose failure on a disabled key (or one pending deletion) is the
/// canary of an old key. The stack's canary rule must match exactly these.
pub const CANARY_CALLS: [&str; 11] = [
    "Decrypt",
    "Encrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
];

/// KMS's error codes for a use refused because of the key's state: "DisabledException: The
/// request was rejected because the specified KMS key is not enabled", and
/// `KMSInvalidStateException` for a key pending deletion.
pub const CANARY_ERRORS: [&str; 2] = ["DisabledException", "KMSInvalidStateException"];

/// Routes one parsed document, after checking that an event comes from the expected source,
/// account and region.
pub fn route(invocation: &Invocation, expected: Expected<'_>) -> Result<Task, Rejection> {
    let event = match invocation {
        Invocation::Request(request) => return Ok(Task::Request(request.clone())),
        Invocation::Event(event) => event,
    };
    let envelope = event.envelope();
    let source = if matches!(**event, Event::Scheduled(_)) {
        SOURCE_SCHEDULE
    } else {
        SOURCE_KMS
    };
    check_origin(&envelope, source, expected)?;
    Ok(match &**event {
        Event::KeyRotation(e) => Task::CheckRotation {
            key_id: e.detail.key_id.clone(),
            rotation_type: e.detail.rotation_type.clone(),
        },
        Event::Scheduled(_) => Task::Sweep,
        Event::KeyDeletion(e) => Task::RecordDeletion {
            key_id: e.detail.key_id.clone(),
        },
        Event::MaterialExpiration(e) => Task::RecordExpiration {
            key_id: e.detail.key_id.clone(),
            // EventBridge redelivers an event with the same time; a later expiry of the same
            // (reimported) material has another.
            record: {
                let time = e
                    .time
                    .ok_or_else(|| malformed(&envelope, "it has no `time`"))
                    .and_then(|t| {
                        DateTime::from_millis(t.timestamp_millis())
                            .fmt(aws_smithy_types::date_time::Format::DateTime)
                            .map_err(|err| malformed(&envelope, err.to_string()))
                    })?;
                match &e.detail.key_material_id {
                    Some(material) => format!("{material}@{time}"),
                    None => time,
                }
            },
        },
        Event::ApiCall(e) => api_call(&envelope, &e.detail, expected)?,
    })
}

fn check_origin(
    envelope: &Envelope<'_>,
    source: &'static str,
    expected: Expected<'_>,
) -> Result<(), Rejection> {
    if envelope.source != source {
        return Err(Rejection::Source {
            detail_type: envelope.detail_type.to_owned(),
            source_name: envelope.source.to_owned(),
            expected: source,
        });
    }
    check_account(envelope.account, expected)?;
    check_region(envelope.region, expected)
}

fn check_account(got: Option<&str>, expected: Expected<'_>) -> Result<(), Rejection> {
    if got == Some(expected.account) {
        return Ok(());
    }
    Err(Rejection::Account {
        got: got.unwrap_or_default().to_owned(),
        expected: expected.account.to_owned(),
    })
}

fn check_region(got: Option<&str>, expected: Expected<'_>) -> Result<(), Rejection> {
    if got == Some(expected.region) {
        return Ok(());
    }
    Err(Rejection::Region {
        got: got.unwrap_or_default().to_owned(),
        expected: expected.region.to_owned(),
    })
}

fn malformed(envelope: &Envelope<'_>, reason: impl Into<String>) -> Rejection {
    Rejection::Malformed {
        detail_type: envelope.detail_type.to_owned(),
        reason: reason.into(),
    }
}

/// A CloudTrail record of a KMS call: the record itself must be KMS's, from this account and
/// region, as well as its envelope.
fn api_call(
    envelope: &Envelope<'_>,
    detail: &CloudTrailDetail,
    expected: Expected<'_>,
) -> Result<Task, Rejection> {
    if detail.event_source != CLOUDTRAIL_KMS {
        return Err(Rejection::Source {
            detail_type: format!("{} ({})", detail_type::API_CALL, detail.event_name),
            source_name: detail.event_source.clone(),
            expected: CLOUDTRAIL_KMS,
        });
    }
    if detail.recipient_account_id.is_some() {
        check_account(detail.recipient_account_id.as_deref(), expected)?;
    }
    if detail.aws_region.is_some() {
        check_region(detail.aws_region.as_deref(), expected)?;
    }
    let name = detail.event_name.as_str();
    if let Some(code) = &detail.error_code {
        if CANARY_CALLS.contains(&name) && CANARY_ERRORS.contains(&code.as_str()) {
            return Ok(canary(detail, code));
        }
        return Ok(Task::Ignore {
            reason: format!("{name} failed with {code}, so it changed nothing"),
        });
    }
    let key_of = || {
        detail
            .response_element("keyId")
            .or_else(|| detail.request_parameter("keyId"))
            .map(str::to_owned)
            .ok_or_else(|| malformed(envelope, format!("the {name} record names no key")))
    };
    Ok(match name {
        "ScheduleKeyDeletion" => Task::Guard {
            key_id: key_of()?,
            change: KeyChange::ScheduledDeletion,
            event_name: name.to_owned(),
        },
        "DisableKey" => Task::Guard {
            key_id: key_of()?,
            change: KeyChange::Disabled,
            event_name: name.to_owned(),
        },
        "UpdateAlias" | "DeleteAlias" => {
            let Some(alias) = detail.request_parameter("aliasName") else {
                return Err(malformed(
                    envelope,
                    format!("the {name} record names no alias"),
                ));
            };
            let Ok(alias) = alias.parse::<AliasName>() else {
                return Ok(Task::Ignore {
                    reason: format!("`{alias}` is not an alias kmsrot can manage"),
                });
            };
            if alias.is_lock() {
                return Ok(Task::Ignore {
                    reason: format!("`{alias}` is a kmsrot run's lock, not an application's alias"),
                });
            }
            let mut keys: Vec<String> = [
                detail.request_parameter("targetKeyId"),
                detail.response_element("keyId"),
            ]
            .into_iter()
            .flatten()
            .map(str::to_owned)
            .chain(detail.key_arns().map(|arn| arn.to_string()))
            .collect();
            keys.sort();
            keys.dedup();
            Task::AliasChanged {
                alias,
                event_name: name.to_owned(),
                by: detail.user_identity.arn.clone(),
                keys,
            }
        }
        "TagResource" | "UntagResource" => {
            let changed = tag_edits(detail);
            if changed.is_empty() {
                return Ok(Task::Ignore {
                    reason: format!("the {name} record changes no {KMSROT_TAGS}* tag"),
                });
            }
            Task::TagsChanged {
                key_id: key_of()?,
                event_name: name.to_owned(),
                by: detail.user_identity.arn.clone(),
                issuer: detail.user_identity.session_issuer().map(str::to_owned),
                changed,
            }
        }
        other => Task::Ignore {
            reason: format!("kmsrot does not act on {other}"),
        },
    })
}

/// The `kmsrot:*` tags a TagResource (`tags`: `tagKey` and `tagValue`) or UntagResource
/// (`tagKeys`) record names.
fn tag_edits(detail: &CloudTrailDetail) -> Vec<kmsrot_types::TagEdit> {
    let Some(parameters) = detail.request_parameters.as_ref() else {
        return Vec::new();
    };
    let set = parameters
        .get("tags")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            Some(kmsrot_types::TagEdit {
                tag: tag.get("tagKey")?.as_str()?.to_owned(),
                value: tag
                    .get("tagValue")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            })
        });
    let removed = parameters
        .get("tagKeys")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            Some(kmsrot_types::TagEdit {
                tag: tag.as_str()?.to_owned(),
                value: None,
            })
        });
    set.chain(removed)
        .filter(|edit| edit.tag.starts_with(KMSROT_TAGS))
        .collect()
}

/// A cryptographic call KMS refused for the key's state. CloudTrail names the key among the
/// record's resources (a symmetric `Decrypt` names none in its parameters), or in `keyId`.
fn canary(detail: &CloudTrailDetail, code: &str) -> Task {
    let key = detail
        .key_arns()
        .next()
        .map(|arn| arn.to_string())
        .or_else(|| detail.request_parameter("keyId").map(str::to_owned));
    let Some(key_id) = key else {
        return Task::Ignore {
            reason: format!("the failed {} record names no key", detail.event_name),
        };
    };
    let at = detail
        .other
        .get("eventTime")
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    Task::Canary {
        key_id,
        failed: kmsrot_core::FailedUse {
            operation: detail.event_name.clone(),
            error_code: code.to_owned(),
            by: detail.user_identity.arn.clone(),
            at,
            cloudtrail_event_id: detail.event_id.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPECTED: Expected<'static> = Expected {
        account: "123456789012",
        region: "us-east-1",
    };
    const KEY: &str = "8f3c2a1e-5b7d-4e9a-9c61-2d4f7a8b0e13";
    const KEY_ARN: &str =
        "arn:aws:kms:us-east-1:123456789012:key/8f3c2a1e-5b7d-4e9a-9c61-2d4f7a8b0e13";

    /// This package's folder, as cargo sets it when it runs the test (not as it was at build
    /// time: builds are shared between clones).
    fn manifest_dir() -> String {
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    }

    fn check(name: &str) -> Result<Task, Rejection> {
        let path = format!(
            "{}/../kmsrot-types/tests/fixtures/events/{name}.json",
            manifest_dir()
        );
        let doc = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        route(&Invocation::parse(doc).unwrap(), EXPECTED)
    }

    #[test]
    fn events_route_to_their_actions() {
        for name in ["kms-cmk-rotation-legacy", "kms-cmk-rotation"] {
            assert!(
                matches!(check(name), Ok(Task::CheckRotation { key_id, .. }) if key_id == KEY),
                "{name}"
            );
        }
        assert_eq!(check("scheduled-event"), Ok(Task::Sweep));
        assert_eq!(
            check("kms-cmk-deletion"),
            Ok(Task::RecordDeletion { key_id: KEY.into() })
        );
        assert!(matches!(
            check("kms-imported-key-material-expiration"),
            Ok(Task::RecordExpiration { key_id, record }) if key_id == "e27b6c40-9d1f-4a3e-b5c8-71f0a2d4c9e6" && record.ends_with('Z')
        ));
        assert_eq!(
            check("cloudtrail-schedule-key-deletion"),
            Ok(Task::Guard {
                key_id: KEY_ARN.into(),
                change: KeyChange::ScheduledDeletion,
                event_name: "ScheduleKeyDeletion".into()
            })
        );
        assert!(matches!(
            check("cloudtrail-disable-key"),
            Ok(Task::Guard {
                change: KeyChange::Disabled,
                ..
            })
        ));
        let Ok(Task::AliasChanged {
            alias, keys, by, ..
        }) = check("cloudtrail-update-alias")
        else {
            panic!("not an alias change")
        };
        assert_eq!(alias.as_str(), "alias/payments-data");
        assert_eq!(
            keys,
            [
                "arn:aws:kms:us-east-1:123456789012:key/c4a91d5e-2f3b-47c8-8e0a-6b1d9f2e7a54",
                "c4a91d5e-2f3b-47c8-8e0a-6b1d9f2e7a54"
            ]
        );
        assert!(by.unwrap().contains("assumed-role/KmsAdministrator"));
        assert!(matches!(
            check("cloudtrail-delete-alias"),
            Ok(Task::AliasChanged { event_name, keys, .. }) if event_name == "DeleteAlias" && keys == [KEY_ARN]
        ));
    }

    #[test]
    fn exactly_the_routed_calls_are_acted_on() {
        let path = format!(
            "{}/../kmsrot-types/tests/fixtures/events/cloudtrail-update-alias.json",
            manifest_dir()
        );
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["detail"]["responseElements"] = serde_json::json!({"keyId": KEY_ARN});
        // What a tag call would carry, beside the alias call's parameters.
        doc["detail"]["requestParameters"]["tags"] =
            serde_json::json!([{"tagKey": "kmsrot:stage", "tagValue": "pending"}]);
        for name in ROUTED_CALLS
            .iter()
            .chain(&["EnableKey", "CreateAlias", "CreateGrant"])
        {
            doc["detail"]["eventName"] = (*name).into();
            let task = route(&Invocation::parse(doc.clone()).unwrap(), EXPECTED);
            let ignored = matches!(task, Ok(Task::Ignore { .. }));
            assert_eq!(ignored, !ROUTED_CALLS.contains(name), "{name}: {task:?}");
        }
    }

    /// TagResource and UntagResource records name the `kmsrot:*` tags they set (with their
    /// values) or removed; other tags are not reported, and a call that changes none of
    /// kmsrot's is ignored.
    #[test]
    fn changes_of_kmsrot_tags_are_reported_with_who_and_what() {
        let Ok(Task::TagsChanged {
            key_id,
            event_name,
            by,
            issuer,
            changed,
        }) = check("cloudtrail-tag-resource")
        else {
            panic!("not a tag change")
        };
        assert_eq!(key_id, "c4a91d5e-2f3b-47c8-8e0a-6b1d9f2e7a54");
        assert_eq!(event_name, "TagResource");
        assert!(by.unwrap().contains("assumed-role/KmsAdministrator"));
        assert_eq!(
            issuer.as_deref(),
            Some("arn:aws:iam::123456789012:role/KmsAdministrator")
        );
        assert_eq!(
            changed,
            [kmsrot_types::TagEdit {
                tag: "kmsrot:pending-key".into(),
                value: Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into()),
            }]
        );
        let Ok(Task::TagsChanged { changed, .. }) = check("cloudtrail-untag-resource") else {
            panic!("not a tag change")
        };
        assert_eq!(
            changed,
            [kmsrot_types::TagEdit {
                tag: "kmsrot:alias".into(),
                value: None,
            }]
        );
        let path = format!(
            "{}/../kmsrot-types/tests/fixtures/events/cloudtrail-tag-resource.json",
            manifest_dir()
        );
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["detail"]["requestParameters"]["tags"] =
            serde_json::json!([{"tagKey": "team", "tagValue": "payments"}]);
        assert!(matches!(
            route(&Invocation::parse(doc).unwrap(), EXPECTED),
            Ok(Task::Ignore { reason }) if reason.contains("kmsrot:")
        ));
    }

    #[test]
    fn a_use_refused_for_the_key_state_is_a_canary() {
        let task = check("cloudtrail-decrypt-disabled");
        let Ok(Task::Canary { key_id, failed }) = task else {
            panic!("{task:?}");
        };
        assert_eq!(key_id, KEY_ARN);
        assert_eq!(failed.operation, "Decrypt");
        assert_eq!(failed.error_code, "DisabledException");
        assert!(failed.by.unwrap().contains("assumed-role/"));
        assert!(failed.cloudtrail_event_id.is_some() && failed.at.is_some());
        // Other failures of the same call, and the same error on other calls, are not.
        let path = format!(
            "{}/../kmsrot-types/tests/fixtures/events/cloudtrail-decrypt-disabled.json",
            manifest_dir()
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (field, value) in [
            ("errorCode", "AccessDeniedException"),
            ("eventName", "DescribeKey"),
        ] {
            let mut doc = doc.clone();
            doc["detail"][field] = value.into();
            assert!(
                matches!(
                    route(&Invocation::parse(doc).unwrap(), EXPECTED),
                    Ok(Task::Ignore { .. })
                ),
                "{field}={value}"
            );
        }
        let mut doc = doc.clone();
        doc["detail"]["resources"] = serde_json::json!([]);
        doc["detail"]["requestParameters"] = serde_json::json!({"keyId": KEY});
        assert!(matches!(
            route(&Invocation::parse(doc).unwrap(), EXPECTED),
            Ok(Task::Canary { key_id, .. }) if key_id == KEY
        ));
    }

    #[test]
    fn a_failed_call_changed_nothing() {
        assert!(matches!(
            check("cloudtrail-schedule-key-deletion-failed"),
            Ok(Task::Ignore { reason }) if reason.contains("KMSInvalidStateException")
        ));
    }

    #[test]
    fn an_expiry_is_recorded_by_its_time_and_key_material() {
        let path = format!(
            "{}/../kmsrot-types/tests/fixtures/events/kms-imported-key-material-expiration.json",
            manifest_dir()
        );
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["time"] = "2026-01-01T00:00:00Z".into();
        let task = route(&Invocation::parse(doc.clone()).unwrap(), EXPECTED);
        assert!(
            matches!(&task, Ok(Task::RecordExpiration { record, .. }) if record == "2026-01-01T00:00:00Z"),
            "{task:?}"
        );
        doc["detail"]["key-material-id"] = "ab12".into();
        let task = route(&Invocation::parse(doc.clone()).unwrap(), EXPECTED);
        assert!(
            matches!(&task, Ok(Task::RecordExpiration { record, .. }) if record == "ab12@2026-01-01T00:00:00Z"),
            "{task:?}"
        );
        doc.as_object_mut().unwrap().remove("time");
        assert!(matches!(
            route(&Invocation::parse(doc).unwrap(), EXPECTED),
            Err(Rejection::Malformed { .. })
        ));
    }

    #[test]
    fn requests_route_as_they_are() {
        assert!(matches!(
            check("request-rotate"),
            Ok(Task::Request(Request::Rotate {
                rotation_id: Some(_),
                ..
            }))
        ));
        assert!(matches!(
            check("request-rollback"),
            Ok(Task::Request(Request::Rollback { from: Some(_), .. }))
        ));
        assert_eq!(
            check("request-status-all"),
            Ok(Task::Request(Request::Status { alias: None }))
        );
        assert!(matches!(
            check("request-sweep-one"),
            Ok(Task::Request(Request::Sweep { dry_run: true, .. }))
        ));
    }

    #[test]
    fn forged_and_foreign_events_are_rejected() {
        assert!(matches!(
            check("forged-source"),
            Err(Rejection::Source { source_name, expected: "aws.kms", .. }) if source_name == "com.example.attacker"
        ));
        assert_eq!(
            check("foreign-account"),
            Err(Rejection::Account {
                got: "999999999999".into(),
                expected: "123456789012".into()
            })
        );
        assert_eq!(
            check("foreign-region"),
            Err(Rejection::Region {
                got: "eu-west-1".into(),
                expected: "us-east-1".into()
            })
        );
        assert!(matches!(
            check("cloudtrail-forged-event-source"),
            Err(Rejection::Source {
                expected: "kms.amazonaws.com",
                ..
            })
        ));
        // A schedule that claims to come from KMS, and a KMS event that claims to be a schedule.
        let mut doc: serde_json::Value = serde_json::json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.kms",
            "account": "123456789012", "time": "2025-06-10T14:22:07Z", "region": "us-east-1",
            "resources": [], "detail": {}
        });
        let err = route(&Invocation::parse(doc.clone()).unwrap(), EXPECTED).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event `Scheduled Event` claims source `aws.kms`, but it only comes from `aws.events`"
        );
        doc["detail-type"] = "KMS CMK Deletion".into();
        doc["source"] = "aws.events".into();
        doc["detail"] = serde_json::json!({"key-id": KEY});
        assert!(matches!(
            route(&Invocation::parse(doc).unwrap(), EXPECTED),
            Err(Rejection::Source { .. })
        ));
    }

    #[test]
    fn alias_calls_on_aws_managed_aliases_and_locks_are_ignored() {
        let path = format!(
            "{}/../kmsrot-types/tests/fixtures/events/cloudtrail-delete-alias.json",
            manifest_dir()
        );
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        doc["detail"]["requestParameters"]["aliasName"] = "alias/aws/s3".into();
        assert!(matches!(
            route(&Invocation::parse(doc.clone()).unwrap(), EXPECTED),
            Ok(Task::Ignore { .. })
        ));
        // A run's lock, released: not an application's alias, nothing to check.
        doc["detail"]["requestParameters"]["aliasName"] = "alias/kmsrot-lock/payments".into();
        assert!(matches!(
            route(&Invocation::parse(doc).unwrap(), EXPECTED),
            Ok(Task::Ignore { reason }) if reason.contains("lock")
        ));
    }
}
