//! What the rotation Lambda accepts: the EventBridge events it routes, and the JSON requests of
//! its direct-invoke API. Both arrive as one JSON document; [`Invocation::parse`] tells them
//! apart and types them, and [`Invocation`] round-trips through JSON.
//!
//! Parsing checks shape only. Whether an event comes from the expected source, account and
//! region is the Lambda's routing decision, made on these types.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AliasName, KeyArn};

/// `source` of events that KMS sends, its CloudTrail events included.
pub const SOURCE_KMS: &str = "aws.kms";
/// `source` of EventBridge's scheduled events.
pub const SOURCE_SCHEDULE: &str = "aws.events";
/// `eventSource` of KMS's CloudTrail records.
pub const CLOUDTRAIL_KMS: &str = "kms.amazonaws.com";

/// `detail-type` of each event kmsrot routes.
pub mod detail_type {
    /// KMS rotated a key's material (automatic or on demand).
    pub const KEY_ROTATION: &str = "KMS CMK Rotation";
    /// KMS deleted a key at the end of its waiting period.
    pub const KEY_DELETION: &str = "KMS CMK Deletion";
    /// Imported key material expired.
    pub const MATERIAL_EXPIRATION: &str = "KMS Imported Key Material Expiration";
    /// A CloudTrail record of an API call.
    pub const API_CALL: &str = "AWS API Call via CloudTrail";
    /// An EventBridge schedule fired.
    pub const SCHEDULED: &str = "Scheduled Event";
}

/// The `detail` of "KMS CMK Rotation". The first form of the event had only `key-id`; the
/// fields added with on-demand rotation and imported-material rotation are optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct KeyRotationDetail {
    /// The key whose material rotated (a key ID).
    pub key_id: String,
    /// `AWS_KMS` or `EXTERNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_origin: Option<String>,
    /// `AUTOMATIC` or `ON_DEMAND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<String>,
    /// The key material that was current before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_material_id: Option<String>,
    /// The key material that is current now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
}

/// The `detail` of "KMS CMK Deletion" and "KMS Imported Key Material Expiration".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct KeyDetail {
    /// The key (a key ID).
    pub key_id: String,
    /// The key material concerned, in the newer form of the events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// Who made an API call, as CloudTrail records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// For example `AssumedRole` or `IAMUser`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The principal's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The principal's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Everything else CloudTrail records about the principal.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

impl UserIdentity {
    /// The role an `AssumedRole` session was issued by (`sessionContext.sessionIssuer.arn`),
    /// for example `arn:aws:iam::111122223333:role/kmsrot-FunctionRole-1A2B3C`.
    pub fn session_issuer(&self) -> Option<&str> {
        self.other
            .get("sessionContext")?
            .get("sessionIssuer")?
            .get("arn")?
            .as_str()
    }
}

/// A resource named in a CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudTrailResource {
    /// Its ARN.
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Its account.
    #[serde(rename = "accountId", default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// For example `AWS::KMS::Key`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The `detail` of "AWS API Call via CloudTrail": the CloudTrail record. The fields kmsrot
/// reads are typed; the rest is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailDetail {
    /// The service called, `kms.amazonaws.com` for KMS.
    pub event_source: String,
    /// The operation, for example `ScheduleKeyDeletion`.
    pub event_name: String,
    /// The region the call was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    /// The account the call acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
    /// Who made the call.
    #[serde(default)]
    pub user_identity: UserIdentity,
    /// The caller's user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Set when the call failed, in which case it changed nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The request's parameters (camelCase, as CloudTrail records them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Value>,
    /// What the call returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_elements: Option<Value>,
    /// The resources the call named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<CloudTrailResource>,
    /// The CloudTrail event ID.
    #[serde(rename = "eventID", default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Everything else in the record.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

impl CloudTrailDetail {
    /// A string request parameter, for example `keyId` or `aliasName`.
    pub fn request_parameter(&self, name: &str) -> Option<&str> {
        self.request_parameters.as_ref()?.get(name)?.as_str()
    }

    /// A string element of the response, for example `keyId`.
    pub fn response_element(&self, name: &str) -> Option<&str> {
        self.response_elements.as_ref()?.get(name)?.as_str()
    }

    /// The key ARNs among the resources the call named.
    pub fn key_arns(&self) -> impl Iterator<Item = KeyArn> + '_ {
        self.resources
            .iter()
            .filter_map(|r| r.arn.as_deref()?.parse().ok())
    }
}

/// An EventBridge event the Lambda routes, typed by its `detail-type`. It serializes as the
/// event itself, and deserializes through [`Event::parse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, try_from = "Value")]
pub enum Event {
    /// "KMS CMK Rotation".
    KeyRotation(EventBridgeEvent<KeyRotationDetail>),
    /// "KMS CMK Deletion".
    KeyDeletion(EventBridgeEvent<KeyDetail>),
    /// "KMS Imported Key Material Expiration".
    MaterialExpiration(EventBridgeEvent<KeyDetail>),
    /// "AWS API Call via CloudTrail" (boxed: a CloudTrail record is large).
    ApiCall(Box<EventBridgeEvent<CloudTrailDetail>>),
    /// "Scheduled Event".
    Scheduled(EventBridgeEvent<Value>),
}

/// The envelope fields every event shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// `source`.
    pub source: &'a str,
    /// `detail-type`.
    pub detail_type: &'a str,
    /// `account`.
    pub account: Option<&'a str>,
    /// `region`.
    pub region: Option<&'a str>,
    /// `id`.
    pub id: Option<&'a str>,
}

impl Event {
    /// The fields every event shares.
    pub fn envelope(&self) -> Envelope<'_> {
        fn of<T: Serialize + serde::de::DeserializeOwned>(
            event: &EventBridgeEvent<T>,
        ) -> Envelope<'_> {
            Envelope {
                source: &event.source,
                detail_type: &event.detail_type,
                account: event.account.as_deref(),
                region: event.region.as_deref(),
                id: event.id.as_deref(),
            }
        }
        match self {
            Self::KeyRotation(e) => of(e),
            Self::KeyDeletion(e) | Self::MaterialExpiration(e) => of(e),
            Self::ApiCall(e) => of(e),
            Self::Scheduled(e) => of(e),
        }
    }
}

/// A direct invocation of the Lambda (the `action` field names the operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Rotate one alias now (`kmsrot rotate`).
    Rotate {
        /// The alias.
        alias: AliasName,
        /// Report the plan only.
        #[serde(default)]
        dry_run: bool,
        /// The idempotency token of a manual rotation; a retried request with the same ID
        /// finishes that rotation instead of starting another.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rotation_id: Option<String>,
        /// Rotate although the key policy authorizes through the alias (`kmsrot rotate
        /// --accept-alias-conditions`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        accept_alias_conditions: bool,
    },
    /// Point one alias back at its previous key (`kmsrot rollback`).
    Rollback {
        /// The alias.
        alias: AliasName,
        /// Roll back only while the alias names this key (idempotent retries).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<KeyArn>,
    },
    /// The status of one alias, or of every managed alias.
    Status {
        /// The alias; all managed aliases when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<AliasName>,
    },
    /// Sweep one alias, or the whole fleet.
    Sweep {
        /// The alias; every managed alias when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<AliasName>,
        /// Report what would be done; change nothing.
        #[serde(default)]
        dry_run: bool,
    },
}

/// One JSON document delivered to the Lambda. It serializes as the event or request itself,
/// and deserializes through [`Invocation::parse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, try_from = "Value")]
pub enum Invocation {
    /// An EventBridge event.
    Event(Box<Event>),
    /// A direct request.
    Request(Request),
}

/// Why a document is not something the Lambda accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a JSON object.
    #[error(
        "the payload is not a JSON object; send an EventBridge event or a request such as {{\"action\": \"status\"}}"
    )]
    NotAnObject,
    /// An EventBridge event of a kind kmsrot does not route.
    #[error(
        "unsupported event: source `{event_source}`, detail-type `{detail_type}`; kmsrot routes KMS rotation, deletion, key material expiration and CloudTrail events, and scheduled events"
    )]
    Unsupported {
        /// `source`.
        event_source: String,
        /// `detail-type`.
        detail_type: String,
    },
    /// A document whose shape is wrong.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What it was taken for.
        what: String,
        /// What is wrong, from the parser.
        reason: String,
    },
}

impl Invocation {
    /// Types one document: an EventBridge event (it has `detail-type`), or a request (it has
    /// `action`).
    pub fn parse(value: Value) -> Result<Self, EventError> {
        let Some(object) = value.as_object() else {
            return Err(EventError::NotAnObject);
        };
        if object.contains_key("action") && !object.contains_key("detail-type") {
            return serde_json::from_value(value)
                .map(Invocation::Request)
                .map_err(|err| malformed("request", &err));
        }
        Event::parse(value).map(|event| Invocation::Event(Box::new(event)))
    }
}

impl TryFrom<Value> for Invocation {
    type Error = EventError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl Event {
    /// Types an EventBridge event by its `detail-type`.
    pub fn parse(value: Value) -> Result<Self, EventError> {
        let Some(object) = value.as_object() else {
            return Err(EventError::NotAnObject);
        };
        let (Some(source), Some(kind)) = (
            object.get("source").and_then(Value::as_str),
            object.get("detail-type").and_then(Value::as_str),
        ) else {
            return Err(EventError::Malformed {
                what: "event".into(),
                reason: "an EventBridge event needs `source` and `detail-type` (a request needs `action`)"
                    .into(),
            });
        };
        let what = format!("`{kind}` event");
        match kind {
            detail_type::KEY_ROTATION => typed(value, &what, Event::KeyRotation),
            detail_type::KEY_DELETION => typed(value, &what, Event::KeyDeletion),
            detail_type::MATERIAL_EXPIRATION => typed(value, &what, Event::MaterialExpiration),
            detail_type::API_CALL => typed(value, &what, |e| Event::ApiCall(Box::new(e))),
            detail_type::SCHEDULED => typed(value, &what, Event::Scheduled),
            _ => Err(EventError::Unsupported {
                event_source: source.to_owned(),
                detail_type: kind.to_owned(),
            }),
        }
    }
}

/// Deserializes an event with a typed detail, and wraps it.
fn typed<T>(
    value: Value,
    what: &str,
    wrap: impl FnOnce(EventBridgeEvent<T>) -> Event,
) -> Result<Event, EventError>
where
    T: Serialize + serde::de::DeserializeOwned,
{
    serde_json::from_value(value)
        .map(wrap)
        .map_err(|err| malformed(what, &err))
}

impl TryFrom<Value> for Event {
    type Error = EventError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

fn malformed(what: &str, err: &serde_json::Error) -> EventError {
    EventError::Malformed {
        what: what.to_owned(),
        reason: err.to_string(),
    }
}
