//! Key policies across a manual rotation, which gives the new key the current key's key policy.
//!
//! [`review`] prepares that policy. The Developer Guide ("Elements in a key policy"): "In a key
//! policy, the value of the Resource element is `"*"`, which means "this KMS key."" A `Resource`
//! naming the old key's ARN names nothing on the new key, so it is rewritten to `"*"`; other
//! mentions of the old key are reported. So are alias conditions: "The `kms:ResourceAliases`
//! condition key allows or denies access to a KMS key based on the aliases associated with the
//! KMS key." ("Use aliases to control access to KMS keys"), and `UpdateAlias`'s reference:
//! "Adding, deleting, or updating an alias can allow or deny permission to the KMS key." Once
//! the alias moves, whoever such a condition let use the old key (decrypt what it encrypted) no
//! longer can.
//!
//! [`lockout`] tells whether `CreateKey` would refuse the policy. Its reference, on `Policy`: "The
//! key policy must allow the calling principal to make a subsequent `PutKeyPolicy` request on the
//! KMS key." kmsrot never sets `BypassPolicyLockoutSafetyCheck` ("Setting this value to true
//! increases the risk that the KMS key becomes unmanageable."). [`diff`] shows a person what a
//! rotation changes (`rotate --dry-run`). Nothing here calls KMS.

use kmsrot_types::KeyArn;
use serde_json::{Map, Value};

/// The condition keys that authorize by alias (condition keys are matched ignoring case).
const ALIAS_CONDITION_KEYS: [&str; 2] = ["kms:ResourceAliases", "kms:RequestAlias"];

/// The action the policy lockout safety check asks about.
const PUT_KEY_POLICY: &str = "kms:PutKeyPolicy";

/// A statement of a policy document, with its `Sid` or `#N` (N 1-based).
type Statement<'a> = (String, &'a Map<String, Value>);

/// What a rotation does to the current key's policy before giving it to the new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyReview {
    /// The policy for the new key, as JSON text: the current key's, with every `Resource` that
    /// is exactly the old key's ARN (a string, or an element of an array) rewritten to `"*"`.
    /// Byte for byte the input when nothing was rewritten; otherwise the input with those strings
    /// replaced in place or, when that would change anything else, the result as compact JSON.
    pub policy: String,
    /// The statements whose `Resource` was rewritten, in order, by `Sid` or, without one, `#N`
    /// (N is the statement's 1-based position).
    pub rewritten: Vec<String>,
    /// Every other literal mention of the old key in a statement: a string that contains its key
    /// ID (so also its ARN), ignoring case. Written `STATEMENT: PATH`, the statement as in
    /// `rewritten`, the path as field names joined with `.` and 0-based array positions in
    /// brackets: `AllowApp: Condition.StringEquals.kms:EncryptionContext:tenant`,
    /// `DenyOthers: NotResource[0]`. Fields outside `Statement` are not read.
    pub mentions: Vec<String>,
    /// The conditions on `kms:ResourceAliases` or `kms:RequestAlias` (any operator, `Allow` or
    /// `Deny`).
    pub alias_conditions: Vec<AliasCondition>,
}

/// A condition on an alias condition key: its effect on the old key changes when the alias moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasCondition {
    /// The statement, by `Sid` or `#N`.
    pub statement: String,
    /// The condition operator as written, e.g. `ForAnyValue:StringEquals`.
    pub operator: String,
    /// The condition key as written, e.g. `kms:ResourceAliases`.
    pub key: String,
}

/// Why a key policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPolicyError {
    /// Not a JSON object with a `Statement` (object or array of objects).
    #[error("the key policy is not a JSON policy document: {0}")]
    NotAPolicy(String),
}

/// Reviews `policy` (a key policy document) for a new key that replaces `old_key`.
///
/// # Errors
///
/// [`KeyPolicyError::NotAPolicy`] when `policy` is not a JSON object whose `Statement` is an object
/// or an array of objects.
pub fn review(policy: &str, old_key: &KeyArn) -> Result<PolicyReview, KeyPolicyError> {
    let mut document = parse(policy)?;
    let old_arn = old_key.to_string();
    let arn = old_arn.as_str();
    let labels: Vec<String> = statements(&document)?.into_iter().map(|s| s.0).collect();
    let mut rewritten = Vec::new();
    for (statement, label) in statements_mut(&mut document).into_iter().zip(labels) {
        let resources: Vec<&mut Value> = match statement.get_mut("Resource") {
            Some(Value::Array(items)) => items.iter_mut().collect(),
            Some(single) => vec![single],
            None => Vec::new(),
        };
        let mut changed = false;
        for resource in resources.into_iter().filter(|r| r.as_str() == Some(arn)) {
            *resource = Value::from("*");
            changed = true;
        }
        if changed {
            rewritten.push(label);
        }
    }
    let key_id = old_key.key_id().as_str().to_ascii_lowercase();
    let (mut mentions, mut alias_conditions) = (Vec::new(), Vec::new());
    for (label, statement) in statements(&document)? {
        for (field, value) in statement {
            find_mentions(value, field, &key_id, &label, &mut mentions);
        }
        let Some(Value::Object(condition)) = statement.get("Condition") else {
            continue;
        };
        for (operator, block) in condition {
            for key in block.as_object().into_iter().flat_map(Map::keys) {
                if ALIAS_CONDITION_KEYS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(key))
                {
                    alias_conditions.push(AliasCondition {
                        statement: label.clone(),
                        operator: operator.clone(),
                        key: key.clone(),
                    });
                }
            }
        }
    }
    let policy = if rewritten.is_empty() {
        policy.to_owned()
    } else {
        // In place, to keep the author's layout, unless the ARN is also elsewhere.
        let replaced = policy.replace(&format!("\"{arn}\""), "\"*\"");
        match serde_json::from_str::<Value>(&replaced) {
            Ok(value) if value == document => replaced,
            _ => document.to_string(),
        }
    };
    Ok(PolicyReview {
        policy,
        rewritten,
        mentions,
        alias_conditions,
    })
}

/// Why `CreateKey`'s policy lockout safety check would refuse `policy` for `caller` in
/// `account` (12 digits), or `None` when it would accept it.
///
/// `caller` is the ARN STS `GetCallerIdentity` reports (IAM user, role, or session
/// `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`). A statement is about its
/// `kms:PutKeyPolicy` on the new key when its `Action` matches `kms:PutKeyPolicy` (ignoring case,
/// with IAM's wildcards `*` and `?`) or its `NotAction` does not; its `Resource` has a wildcard
/// (`"*"` is the key itself; a pattern is taken to include it) or its `NotResource` has none
/// ("If either of the required `Resource` or `Action` elements are missing from a key policy
/// statement, the policy statement has no effect."); and its `Principal` (`"*"`, or `AWS` with a
/// string or an array) names `*`, the account's root `arn:PARTITION:iam::ACCOUNT:root` (the
/// caller's partition) or the bare account ID (both delegate to IAM), the caller's ARN, or, for a
/// session, a role `arn:PARTITION:iam::ACCOUNT:role/…/ROLE` of the session's role name.
/// `NotPrincipal` and other principal types name no one here.
///
/// It passes with an `Allow` statement and no `Deny` statement about it. A `Condition` cannot be
/// evaluated here: an `Allow` with one counts, a `Deny` with one does not. The caller's IAM
/// policies are not read. The message names the caller and what to add.
#[must_use]
pub fn lockout(policy: &str, account: &str, caller: &str) -> Option<String> {
    let document = match parse(policy) {
        Ok(document) => document,
        Err(error) => return Some(error.to_string()),
    };
    let statements = match statements(&document) {
        Ok(statements) => statements,
        Err(error) => return Some(error.to_string()),
    };
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    let partition = match parts[..] {
        ["arn", partition, ..] => partition,
        _ => "aws",
    };
    let root = format!("arn:{partition}:iam::{account}:root");
    // A session, `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`, is named by its role.
    let role = match parts[..] {
        [_, _, "sts", _, _, session] => session.strip_prefix("assumed-role/"),
        _ => None,
    }
    .and_then(|rest| rest.split('/').next());
    let roles = format!("arn:{partition}:iam::{account}:role/");
    let names = |principal: &str| {
        [caller, account, root.as_str(), "*"].contains(&principal)
            || role.is_some_and(|role| {
                let path = principal.strip_prefix(roles.as_str());
                path.and_then(|path| path.rsplit('/').next()) == Some(role)
            })
    };
    let puts_key_policy = |action: &str| wildcard_match(action, PUT_KEY_POLICY);
    let about_caller = |statement: &Map<String, Value>| {
        let principals = match statement.get("Principal") {
            Some(Value::Object(principal)) => principal.get("AWS").map(strings).unwrap_or_default(),
            Some(other) => strings(other),
            None => Vec::new(),
        };
        includes(statement, "Action", puts_key_policy)
            && includes(statement, "Resource", |resource| resource.contains('*'))
            && principals.into_iter().any(&names)
    };
    let effect_is = |statement: &Map<String, Value>, effect: &str| {
        statement.get("Effect").and_then(Value::as_str) == Some(effect)
    };
    let refused = "CreateKey's policy lockout safety check would refuse this key policy";
    if let Some((label, _)) = statements.iter().find(|&&(_, statement)| {
        effect_is(statement, "Deny")
            && !statement.contains_key("Condition")
            && about_caller(statement)
    }) {
        return Some(format!(
            "{refused}: statement `{label}` denies `{PUT_KEY_POLICY}` to `{caller}`, and \
             kmsrot never bypasses the check; change that statement so that it does not apply \
             to `{caller}`"
        ));
    }
    if statements
        .iter()
        .any(|&(_, statement)| effect_is(statement, "Allow") && about_caller(statement))
    {
        return None;
    }
    let whom = match role {
        Some(role) => format!("its role `{roles}{role}` (with the role's path)"),
        None => format!("`{caller}`"),
    };
    Some(format!(
        "{refused}: no statement allows `{caller}` to call `{PUT_KEY_POLICY}` on the key, and \
         kmsrot never bypasses the check. Add a statement that allows `{PUT_KEY_POLICY}` (or \
         `kms:*`) on `\"Resource\": \"*\"` to the account, \
         `\"Principal\": {{\"AWS\": \"{root}\"}}` (which lets IAM policies grant it), or to {whom}"
    ))
}

/// A line diff between two key policies, for people (`rotate --dry-run`): each is pretty-printed
/// with `serde_json` (statements keep their order; text that is not JSON is taken as it is), and
/// each line of a longest common subsequence of lines is given after `"  "`, the others after
/// `"- "` (only in `old`) or `"+ "` (only in `new`). Empty when equal once pretty-printed.
#[must_use]
pub fn diff(old: &str, new: &str) -> Vec<String> {
    let pretty = |text: &str| match serde_json::from_str::<Value>(text) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => text.to_owned(),
    };
    let (old_text, new_text) = (pretty(old), pretty(new));
    if old_text == new_text {
        return Vec::new();
    }
    let old: Vec<&str> = old_text.lines().collect();
    let new: Vec<&str> = new_text.lines().collect();
    // common[i][j]: the length of a longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0_usize; new.len() + 1]; old.len() + 1];
    for (i, old_line) in old.iter().enumerate().rev() {
        for (j, new_line) in new.iter().enumerate().rev() {
            common[i][j] = if old_line == new_line {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::with_capacity(old.len() + new.len());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            lines.push(format!("  {}", old[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(format!("- {}", old[i]));
            i += 1;
        } else {
            lines.push(format!("+ {}", new[j]));
            j += 1;
        }
    }
    lines
}

/// The policy as JSON.
fn parse(policy: &str) -> Result<Value, KeyPolicyError> {
    serde_json::from_str(policy).map_err(|error| KeyPolicyError::NotAPolicy(error.to_string()))
}

/// The statements of a policy document, in order.
fn statements(document: &Value) -> Result<Vec<Statement<'_>>, KeyPolicyError> {
    let not_a_policy = |reason: String| Err(KeyPolicyError::NotAPolicy(reason));
    let listed: Vec<&Value> = match document.as_object().map(|fields| fields.get("Statement")) {
        None => return not_a_policy("it is not a JSON object".to_owned()),
        Some(None) => return not_a_policy("it has no `Statement`".to_owned()),
        Some(Some(Value::Array(items))) => items.iter().collect(),
        Some(Some(single)) => vec![single],
    };
    let mut statements = Vec::with_capacity(listed.len());
    for (index, item) in listed.into_iter().enumerate() {
        let Some(statement) = item.as_object() else {
            return not_a_policy(format!("statement #{} is not a JSON object", index + 1));
        };
        let label = match statement.get("Sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => sid.to_owned(),
            _ => format!("#{}", index + 1),
        };
        statements.push((label, statement));
    }
    Ok(statements)
}

/// The statements of a document [`statements`] accepted, in the same order, to change.
fn statements_mut(document: &mut Value) -> Vec<&mut Map<String, Value>> {
    match document.get_mut("Statement") {
        Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        Some(Value::Object(single)) => vec![single],
        _ => Vec::new(),
    }
}

/// Adds `LABEL: PATH` to `found` for every string under `value` (at `path`) that contains
/// `key_id` (lower case), ignoring ASCII case.
fn find_mentions(value: &Value, path: &str, key_id: &str, label: &str, found: &mut Vec<String>) {
    match value {
        Value::String(text) if text.to_ascii_lowercase().contains(key_id) => {
            found.push(format!("{label}: {path}"));
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                find_mentions(item, &format!("{path}[{index}]"), key_id, label, found);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                find_mentions(item, &format!("{path}.{name}"), key_id, label, found);
            }
        }
        _ => {}
    }
}

/// A field that holds a string or an array of strings, as its strings.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether the statement's `FIELD` (`Action`, `Resource`) has a value that `accepts`, or, without
/// one, its `NotFIELD` has none.
fn includes(statement: &Map<String, Value>, field: &str, accepts: impl Fn(&str) -> bool) -> bool {
    let any = |value: &Value| strings(value).into_iter().any(&accepts);
    match (
        statement.get(field),
        statement.get(format!("Not{field}").as_str()),
    ) {
        (Some(values), _) => any(values),
        (None, Some(excluded)) => !any(excluded),
        (None, None) => false,
    }
}

/// Whether `text` matches `pattern`, ignoring ASCII case, where `*` matches any run of
/// characters and `?` any one character (IAM's wildcards).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    // The last `*` seen in `pattern`, and where in `text` its match ends for now.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&text[t]) => (p, t) = (p + 1, t + 1),
            _ => {
                // The last `*` takes one more character, and matching goes on after it.
                let Some((at, end)) = star else {
                    return false;
                };
                (p, t, star) = (at + 1, end + 1, Some((at, end + 1)));
            }
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OLD: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const OTHER: &str =
        "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
    const ACCOUNT: &str = "111122223333";
    const USER: &str = "arn:aws:iam::111122223333:user/bob";
    const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice";
    /// KMS's default key policy, laid out by hand.
    const DEFAULT: &str = r#"{ "Version" : "2012-10-17", "Id" : "key-default-1", "Statement" : [ {
    "Sid" : "Enable IAM User Permissions", "Effect" : "Allow", "Action" : "kms:*",
    "Principal" : { "AWS" : "arn:aws:iam::111122223333:root" }, "Resource" : "*" } ] }"#;

    fn policy(statements: &[Value]) -> String {
        json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
    }

    /// A statement `sid` that allows `USER` `kms:*` on `resource`, with `extra` fields (`null`
    /// removes one).
    fn allow(sid: &str, resource: &Value, extra: &Value) -> Value {
        let mut statement = json!({ "Sid": sid, "Effect": "Allow", "Principal": { "AWS": USER },
                                    "Action": "kms:*", "Resource": resource });
        let fields = statement.as_object_mut().unwrap();
        fields.extend(extra.as_object().cloned().unwrap_or_default());
        fields.retain(|_, value| !value.is_null());
        statement
    }

    /// A policy that allows `principal` to `action` on the key.
    fn to(principal: &Value, action: &str) -> String {
        let extra = json!({ "Principal": principal, "Action": action });
        policy(&[allow("To", &json!("*"), &extra)])
    }

    /// The review of `input`, and the new policy as JSON.
    fn reviewed(input: &str) -> (PolicyReview, Value) {
        let got = review(input, &OLD.parse().unwrap()).unwrap();
        let new = serde_json::from_str(&got.policy).unwrap();
        (got, new)
    }

    #[test]
    fn a_resource_naming_the_old_key_becomes_this_key() {
        let input = policy(&[allow("App", &json!(OLD), &json!({}))]);
        let (got, _) = reviewed(&input);
        assert_eq!(got.rewritten, ["App"]);
        assert_eq!(got.policy, input.replace(OLD, "*"), "rewritten in place");
        assert!(got.mentions.is_empty(), "{:?}", got.mentions);

        let (got, new) = reviewed(&policy(&[allow("A", &json!([OLD, OTHER]), &json!({}))]));
        assert_eq!(got.rewritten, ["A"]);
        assert_eq!(new["Statement"][0]["Resource"], json!(["*", OTHER]));

        let single = json!({ "Statement": allow("One", &json!(OLD), &json!({})) });
        let (got, new) = reviewed(&single.to_string());
        assert_eq!(got.rewritten, ["One"]);
        assert_eq!(new["Statement"]["Resource"], "*");

        let (got, _) = reviewed(DEFAULT);
        assert_eq!(got.policy, DEFAULT, "byte for byte");
        assert!(got.rewritten.is_empty() && got.mentions.is_empty());
    }

    #[test]
    fn other_mentions_of_the_old_key_are_reported_not_rewritten() {
        let context = json!({ "Sid": null, "Condition": { "StringEquals": {
            "kms:EncryptionContext:key": "1234abcd-12ab-34cd-56ef-1234567890ab" } } });
        let unnamed = allow("", &json!("*"), &context);
        let deny = json!({ "Sid": "DenyOthers", "Effect": "Deny", "Principal": "*",
                           "Action": "kms:*", "NotResource": [OLD] });
        let upper = json!(OLD.replace("1234abcd", "1234ABCD"));
        let input = policy(&[unnamed, deny, allow("Upper", &upper, &json!({}))]);
        let (got, _) = reviewed(&input);
        #[rustfmt::skip]
        let expected = ["#1: Condition.StringEquals.kms:EncryptionContext:key",
                        "DenyOthers: NotResource[0]", "Upper: Resource"];
        assert_eq!(got.mentions, expected);
        assert!(got.rewritten.is_empty());
        assert_eq!(got.policy, input);

        let source = json!({ "Condition": { "ArnEquals": { "aws:SourceArn": OLD } } });
        let (got, new) = reviewed(&policy(&[allow("Arn", &json!(OLD), &source)]));
        assert_eq!(got.rewritten, ["Arn"]);
        assert_eq!(got.mentions, ["Arn: Condition.ArnEquals.aws:SourceArn"]);
        let statement = &new["Statement"][0];
        assert_eq!(statement["Resource"], "*");
        assert_eq!(statement["Condition"]["ArnEquals"]["aws:SourceArn"], OLD);
    }

    #[test]
    fn alias_conditions_are_found_under_any_operator() {
        let by = |sid: &str, operator: &str, key: &str| {
            let condition = json!({ "Condition": { operator: { key: "alias/app*" } } });
            allow(sid, &json!("*"), &condition)
        };
        let (got, _) = reviewed(&policy(&[
            by("Resource", "ForAnyValue:StringLike", "kms:ResourceAliases"),
            by("Request", "StringEquals", "kms:RequestAlias"),
            by("IfExists", "StringLikeIfExists", "KMS:requestalias"),
            by("Tag", "StringEquals", "aws:ResourceTag/app"),
        ]));
        let found: Vec<[&str; 3]> = got
            .alias_conditions
            .iter()
            .map(|c| [c.statement.as_str(), c.operator.as_str(), c.key.as_str()])
            .collect();
        #[rustfmt::skip]
        let expected = [["Resource", "ForAnyValue:StringLike", "kms:ResourceAliases"],
                        ["Request", "StringEquals", "kms:RequestAlias"],
                        ["IfExists", "StringLikeIfExists", "KMS:requestalias"]];
        assert_eq!(found, expected);
    }

    #[test]
    fn what_is_not_a_policy_document_is_refused() {
        #[rustfmt::skip]
        let inputs = ["{", "", r#""policy""#, "[]", "{}", r#"{"Version": "2012-10-17"}"#,
                      r#"{"Statement": ["kms:*"]}"#, r#"{"Statement": 1}"#];
        for input in inputs {
            let result = review(input, &OLD.parse().unwrap());
            let refused = matches!(result, Err(KeyPolicyError::NotAPolicy(_)));
            assert!(refused, "{input:?}");
        }
        let message = review("{}", &OLD.parse().unwrap()).unwrap_err().to_string();
        assert!(message.contains("no `Statement`"), "{message}");
    }

    #[test]
    fn lockout_table() {
        let aws = |arn: &str| json!({ "AWS": arn });
        let role = |name: &str| json!({ "AWS": format!("arn:aws:iam::111122223333:role/{name}") });
        let root = serde_json::from_str::<Value>(DEFAULT).unwrap()["Statement"][0].clone();
        let with = |extra: &Value| policy(&[root.clone(), allow("NoChanges", &json!("*"), extra)]);
        let deny = json!({ "Effect": "Deny", "Action": "kms:PutKeyPolicy" });
        let deny_if =
            json!({ "Effect": "Deny", "Condition": { "Bool": { "aws:ViaAWSService": "true" } } });
        let only = |extra: &Value| policy(&[allow("Only", &json!("*"), extra)]);
        let gov = "arn:aws-us-gov:iam::111122223333:user/bob";
        #[rustfmt::skip]
        let cases: Vec<(&str, String, &str, bool)> = vec![
            ("default policy, user", DEFAULT.to_owned(), USER, true),
            ("default policy, session", DEFAULT.to_owned(), SESSION, true),
            ("another role only", to(&role("Other"), "kms:*"), SESSION, false),
            ("the session's role", to(&role("ops/KeyAdmin"), "kms:*"), SESSION, true),
            ("a role ending alike", to(&role("NotKeyAdmin"), "kms:*"), SESSION, false),
            ("the caller", to(&json!({ "AWS": [OTHER, USER] }), "kms:PutKeyPolicy"), USER, true),
            ("kms:Put*", to(&aws(USER), "kms:Put*"), USER, true),
            ("kms:???KeyPolicy", to(&aws(USER), "kms:???KeyPolicy"), USER, true),
            ("another action", to(&aws(USER), "kms:PutKey"), USER, false),
            ("bare account ID", to(&aws(ACCOUNT), "kms:PutKeyPolicy"), USER, true),
            ("Principal *", to(&json!("*"), "KMS:putkeypolicy"), USER, true),
            ("AWS *", to(&aws("*"), "*"), USER, true),
            ("a service", to(&json!({ "Service": "logs.amazonaws.com" }), "kms:*"), USER, false),
            ("another account", to(&aws("arn:aws:iam::444455556666:root"), "kms:*"), USER, false),
            ("aws-us-gov root", to(&aws("arn:aws-us-gov:iam::111122223333:root"), "kms:*"), gov, true),
            ("aws root, aws-us-gov caller", to(&aws("arn:aws:iam::111122223333:root"), "*"), gov, false),
            ("a deny", with(&deny), USER, false),
            ("a deny with a condition", with(&deny_if), USER, true),
            ("another key", policy(&[allow("K", &json!(OTHER), &json!({}))]), USER, false),
            ("no Resource", only(&json!({ "Resource": null })), USER, false),
            ("NotAction of another", only(&json!({ "Action": null, "NotAction": "kms:Get*" })), USER, true),
            ("NotAction of it", only(&json!({ "Action": null, "NotAction": "kms:Put*" })), USER, false),
            ("not a policy", "{".to_owned(), USER, false),
        ];
        let failures: Vec<String> = cases
            .iter()
            .map(|(name, text, caller, passes)| (name, lockout(text, ACCOUNT, caller), passes))
            .filter(|(_, verdict, passes)| verdict.is_none() != **passes)
            .map(|(name, verdict, _)| format!("{name}: {verdict:?}"))
            .collect();
        assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    }

    #[test]
    fn lockout_messages_name_the_caller_and_what_to_add() {
        let other_role = json!({ "AWS": "arn:aws:iam::111122223333:role/Other" });
        let message = lockout(&to(&other_role, "kms:*"), ACCOUNT, SESSION).unwrap();
        #[rustfmt::skip]
        let expected = [SESSION, "`kms:PutKeyPolicy`", "arn:aws:iam::111122223333:root",
                        "role/KeyAdmin"];
        for expected in expected {
            assert!(message.contains(expected), "{expected:?} not in {message}");
        }
        let freeze = json!({ "Effect": "Deny", "Principal": "*", "Action": "kms:Put*" });
        let frozen = policy(&[allow("Freeze", &json!("*"), &freeze)]);
        let message = lockout(&frozen, ACCOUNT, USER).unwrap();
        assert!(message.contains("`Freeze`"), "{message}");
        assert!(message.contains(USER), "{message}");
        let message = lockout("[]", ACCOUNT, USER).unwrap();
        assert!(message.contains("not a JSON policy document"), "{message}");
    }

    #[test]
    fn diff_shows_only_what_changed() {
        let compact = serde_json::from_str::<Value>(DEFAULT).unwrap().to_string();
        assert!(diff(DEFAULT, &compact).is_empty());
        let old = policy(&[allow("App", &json!(OLD), &json!({}))]);
        let lines = diff(&old, &reviewed(&old).0.policy);
        let removed: Vec<&String> = lines.iter().filter(|l| l.starts_with("- ")).collect();
        let added: Vec<&String> = lines.iter().filter(|l| l.starts_with("+ ")).collect();
        assert_eq!((removed.len(), added.len()), (1, 1), "{lines:#?}");
        assert!(removed[0].contains(OLD), "{lines:#?}");
        assert!(added[0].contains(r#""*""#), "{lines:#?}");
    }
}
