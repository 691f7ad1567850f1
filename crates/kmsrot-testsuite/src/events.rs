//! EventBridge events as AWS delivers them to the rotation Lambda, built for tests.

use kmsrot_types::{AliasName, KeyArn};
use serde_json::{Value, json};

/// The emulator's account.
pub const ACCOUNT: &str = "123456789012";

/// An `aws.kms` event of `detail_type` with `detail`.
pub fn kms(region: &str, detail_type: &str, detail: Value) -> Value {
    envelope("aws.kms", region, detail_type, detail)
}

/// An EventBridge event.
pub fn envelope(source: &str, region: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": format!("{:08x}-0000-4000-8000-{:012x}", fastrand::u32(..), fastrand::u64(..(1 << 48))),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-29T12:00:00Z",
        "region": region,
        "resources": [],
        "detail": detail,
    })
}

/// A scheduled event.
pub fn scheduled(region: &str) -> Value {
    let mut event = envelope("aws.events", region, "Scheduled Event", json!({}));
    event["resources"] = json!([format!(
        "arn:aws:events:{region}:{ACCOUNT}:rule/kmsrot-sweep"
    )]);
    event
}

/// A CloudTrail record of a KMS call by an operator, delivered through EventBridge.
pub fn cloudtrail(
    region: &str,
    event_name: &str,
    request_parameters: Value,
    response_elements: Value,
    resources: &[String],
) -> Value {
    let resources: Vec<Value> = resources
        .iter()
        .map(|arn| json!({"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": arn}))
        .collect();
    kms(
        region,
        "AWS API Call via CloudTrail",
        json!({
            "eventVersion": "1.11",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:operator",
                "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Operator/operator"),
                "accountId": ACCOUNT,
            },
            "eventTime": "2026-11-29T12:00:00Z",
            "eventSource": "kms.amazonaws.com",
            "eventName": event_name,
            "awsRegion": region,
            "sourceIPAddress": "198.51.100.23",
            "userAgent": "aws-cli/2.27.31",
            "requestParameters": request_parameters,
            "responseElements": response_elements,
            "requestID": "7d4b1e9a-2c6f-4a83-b5d0-e8f3a1c7d296",
            "eventID": "3f8a6c2d-0e5b-4d97-81f4-a7c9e3b5d062",
            "readOnly": false,
            "resources": resources,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }),
    )
}

/// The CloudTrail record of an operator's call on one key (`DisableKey`,
/// `ScheduleKeyDeletion`), as AWS records it: the key ID in the request, the key ARN in the
/// response and the resources.
pub fn key_call(region: &str, event_name: &str, key: &KeyArn) -> Value {
    cloudtrail(
        region,
        event_name,
        json!({"keyId": key.key_id().as_str()}),
        json!({"keyId": key.to_string()}),
        &[key.to_string()],
    )
}

/// The CloudTrail record of an application's cryptographic call (`Decrypt`, …) on `key` that
/// KMS refused with `error_code` (`DisabledException`, `KMSInvalidStateException`): no key in
/// the request of a symmetric `Decrypt`, the key in the resources, and the error.
pub fn failed_use(region: &str, event_name: &str, error_code: &str, key: &KeyArn) -> Value {
    let mut event = cloudtrail(
        region,
        event_name,
        json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
        Value::Null,
        &[key.to_string()],
    );
    event["detail"]["errorCode"] = error_code.into();
    event["detail"]["errorMessage"] = format!("{key} is disabled.").into();
    event["detail"]["readOnly"] = true.into();
    event["detail"]["userIdentity"]["arn"] =
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/MonthlyReports/reports-batch").into();
    event
}

/// The CloudTrail record of an operator's `UpdateAlias` of `alias` to `target`.
pub fn update_alias(region: &str, alias: &AliasName, target: &KeyArn) -> Value {
    cloudtrail(
        region,
        "UpdateAlias",
        json!({"aliasName": alias.as_str(), "targetKeyId": target.key_id().as_str()}),
        json!({"keyId": target.to_string()}),
        &[target.to_string()],
    )
}

/// Whether captured output holds something that looks like key material or a ciphertext: a
/// field named like one, or a run of 40 or more base64 characters (a 32-byte data key is 44;
/// ciphertexts are longer). Key IDs, ARNs and timestamps never form such runs.
pub fn secret_like(output: &str) -> Option<String> {
    let lower = output.to_lowercase();
    for field in [
        "\"plaintext\"",
        "\"ciphertextblob\"",
        "\"ciphertext_blob\"",
        "data_key",
    ] {
        if lower.contains(field) {
            return Some(field.to_owned());
        }
    }
    let mut run = String::new();
    for c in output.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=') {
            run.push(c);
        } else {
            // Paths such as `alias/kmsrot-test/…` are split by `-`; a long run of letters,
            // digits, `+`, `/` and `=` with both cases and digits is base64.
            let mixed = run.chars().any(|c| c.is_ascii_lowercase())
                && run.chars().any(|c| c.is_ascii_uppercase())
                && run.chars().any(|c| c.is_ascii_digit());
            if run.len() >= 40 && mixed {
                return Some(run);
            }
            run.clear();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_like_finds_base64_and_secret_fields_only() {
        let data_key = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
        assert_eq!(
            secret_like(&format!("{{\"k\":\"{data_key}\"}}")).as_deref(),
            Some(data_key)
        );
        assert!(secret_like("{\"Plaintext\": 1}").is_some());
        let log = r#"{"timestamp":"2026-11-29T12:00:00.123456Z","level":"INFO","fields":{"message":"handled","outcome":"{\"outcome\":\"swept\",\"key\":\"arn:aws:kms:ap-south-1:123456789012:key/8f3c2a1e-5b7d-4e9a-9c61-2d4f7a8b0e13\",\"alias\":\"alias/kmsrot-test/lambda-due-12345-0-0a1b2c3d\"}"},"target":"kmsrot_lambda::handler"}"#;
        assert_eq!(secret_like(log), None);
    }
}
