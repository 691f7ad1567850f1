//! The CloudFormation template: `cargo xtask lint-template` (the pinned cfn-lint), and the
//! tidy tests that hold it to kmsrot's rules: least-privilege IAM, the Lambda that xtask
//! packages, and a rule for every event the Lambda routes.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::pytools;

/// The one CloudFormation template, relative to the workspace root (kmsrot-deploy reads the
/// same path).
pub(crate) const TEMPLATE: &str = "infrastructure/kms-rotation-stack.yaml";

/// `cargo xtask lint-template`: cfn-lint, pinned in `tools/cfn-lint/`. Errors and warnings
/// fail; informational findings do not.
pub(crate) fn lint() -> Result<()> {
    let venv = pytools::install(pytools::CFN_LINT)?;
    let status = Command::new(venv.bin().join("cfn-lint"))
        .current_dir(crate::project_root())
        .args(["--format", "parseable", "--", TEMPLATE])
        .status()
        .context("running cfn-lint")?;
    // cfn-lint's exit code is a bit field: 2 errors, 4 warnings, 8 informational.
    match status.code() {
        Some(code) if code & 0b110 == 0 => {
            println!("xtask: cfn-lint finds no errors or warnings in {TEMPLATE}");
            Ok(())
        }
        _ => bail!("cfn-lint found problems in {TEMPLATE} ({status})"),
    }
}

#[cfg(test)]
mod tests {
    //! Tidy tests over the template: they read it as YAML, with CloudFormation's short-form
    //! tags (`!Ref`, `!Sub`, …) kept as tagged values.

    use std::collections::BTreeSet;

    use kmsrot_lambda::route::{CANARY_CALLS, CANARY_ERRORS, ROUTED_CALLS};
    use kmsrot_types::event::{SOURCE_KMS, detail_type};
    use serde_norway::Value;

    use crate::package::{HANDLER, LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME};

    fn template() -> Value {
        let path = crate::project_root().join(super::TEMPLATE);
        let text = std::fs::read_to_string(&path).unwrap();
        serde_norway::from_str(&text).unwrap()
    }

    fn resources(template: &Value) -> Vec<(String, Value)> {
        template["Resources"]
            .as_mapping()
            .expect("Resources")
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
            .collect()
    }

    fn of_type(template: &Value, kind: &str) -> Vec<(String, Value)> {
        resources(template)
            .into_iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .collect()
    }

    /// A value as text: a string, or a short-form function as `!Tag argument`.
    fn text(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Tagged(tagged) => format!("{} {}", tagged.tag, text(&tagged.value)),
            Value::Sequence(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
            other => format!("{other:?}"),
        }
    }

    /// A string or a list of strings.
    fn texts(value: &Value) -> Vec<String> {
        match value {
            Value::Sequence(items) => items.iter().map(text).collect(),
            Value::Null => Vec::new(),
            other => vec![text(other)],
        }
    }

    /// Every statement of every IAM policy in the template, with the resource it is in.
    fn iam_statements(template: &Value) -> Vec<(String, Value)> {
        let mut statements = Vec::new();
        for (name, resource) in resources(template) {
            let properties = &resource["Properties"];
            let documents: Vec<&Value> = match resource["Type"].as_str() {
                Some("AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group") => {
                    properties["Policies"]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .map(|p| &p["PolicyDocument"])
                        .collect()
                }
                Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy") => {
                    vec![&properties["PolicyDocument"]]
                }
                _ => continue,
            };
            for document in documents {
                for statement in document["Statement"].as_sequence().expect("Statement list") {
                    statements.push((name.clone(), statement.clone()));
                }
            }
        }
        statements
    }

    /// Actions that have no resource-level permissions, or whose resource does not exist yet
    /// (CreateKey, and TagResource during CreateKey): the only ones allowed `Resource: "*"`.
    const UNSCOPED: [&str; 5] = [
        "kms:CreateKey",
        "kms:TagResource",
        "kms:ListAliases",
        "kms:ListKeys",
        "tag:GetResources",
    ];
    /// Of those, the ones that must be conditioned on the request's kmsrot tags.
    const NEEDS_REQUEST_TAGS: [&str; 2] = ["kms:CreateKey", "kms:TagResource"];
    /// Key actions allowed on every key without a tag condition: they read metadata only.
    const READ_ONLY_KEY_ACTIONS: [&str; 2] = ["kms:DescribeKey", "kms:ListResourceTags"];

    /// Why a statement breaks kmsrot's IAM rules, if it does.
    fn iam_violation(statement: &Value) -> Option<String> {
        let map = statement.as_mapping()?;
        for forbidden in ["NotAction", "NotResource", "NotPrincipal"] {
            if map.contains_key(forbidden) {
                return Some(format!("uses {forbidden}"));
            }
        }
        if statement["Effect"].as_str() == Some("Deny") {
            return None;
        }
        let actions = texts(&statement["Action"]);
        if actions.is_empty() {
            return Some("has no Action".into());
        }
        if let Some(wild) = actions.iter().find(|a| a.contains('*')) {
            return Some(format!("allows the wildcard action {wild}"));
        }
        let resources = texts(&statement["Resource"]);
        if resources.is_empty() {
            return Some("has no Resource".into());
        }
        let condition = text_of_mapping(&statement["Condition"]);
        if resources.iter().any(|r| r == "*") {
            if let Some(action) = actions.iter().find(|a| !UNSCOPED.contains(&a.as_str())) {
                return Some(format!("allows {action} on every resource"));
            }
            if statement["Condition"].is_null() {
                return Some(format!(
                    "allows {} on every resource without a condition",
                    actions.join(", ")
                ));
            }
            if actions
                .iter()
                .any(|a| NEEDS_REQUEST_TAGS.contains(&a.as_str()))
                && !condition.contains("aws:RequestTag/kmsrot:alias")
            {
                return Some(format!(
                    "allows {} on every resource without a kmsrot request-tag condition",
                    actions.join(", ")
                ));
            }
        }
        let every_key = resources.iter().any(|r| r.ends_with(":key/*"));
        let writes = actions
            .iter()
            .any(|a| a.starts_with("kms:") && !READ_ONLY_KEY_ACTIONS.contains(&a.as_str()));
        if every_key && writes && !condition.contains("aws:ResourceTag/kmsrot:") {
            return Some(format!(
                "allows {} on every key without a kmsrot resource-tag condition",
                actions.join(", ")
            ));
        }
        None
    }

    /// A condition block flattened to text, to look for the condition keys it uses.
    fn text_of_mapping(value: &Value) -> String {
        serde_norway::to_string(value).unwrap_or_default()
    }

    #[test]
    fn iam_is_least_privilege() {
        let template = template();
        let statements = iam_statements(&template);
        assert!(statements.len() > 5, "no IAM statements found");
        let violations: Vec<String> = statements
            .iter()
            .filter_map(|(name, s)| {
                iam_violation(s).map(|why| format!("{name} {}: {why}", text(&s["Sid"])))
            })
            .collect();
        assert!(violations.is_empty(), "{violations:#?}");
        for (name, role) in of_type(&template, "AWS::IAM::Role") {
            assert!(
                role["Properties"]["ManagedPolicyArns"].is_null(),
                "{name} has managed policies"
            );
        }
        // Every IAM statement on Resource "*" says why, in a comment right above it.
        let source = std::fs::read_to_string(crate::project_root().join(super::TEMPLATE)).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        let unscoped_sids: BTreeSet<String> = statements
            .iter()
            .filter(|(_, s)| texts(&s["Resource"]).iter().any(|r| r == "*"))
            .map(|(_, s)| text(&s["Sid"]))
            .collect();
        assert!(!unscoped_sids.is_empty());
        for sid in unscoped_sids {
            let at = lines
                .iter()
                .position(|l| l.trim() == format!("- Sid: {sid}"))
                .unwrap_or_else(|| panic!("statement {sid} not found"));
            assert!(
                at > 0 && lines[at - 1].trim_start().starts_with('#'),
                "statement {sid} allows Resource \"*\" without a comment saying why"
            );
        }
    }

    /// The `Kms` primitives the engine calls through the store's pace, with the KMS operation
    /// each makes. A new one must be added here, so that the check below sees it.
    const PACED_PRIMITIVES: [(&str, &str); 11] = [
        ("metadata", "DescribeKey"),
        ("tags", "ListResourceTags"),
        ("rotation_status_of", "GetKeyRotationStatus"),
        ("encrypt_with", "Encrypt"),
        ("decrypt", "Decrypt"),
        ("decrypt_asymmetric", "Decrypt"),
        ("sign_with", "Sign"),
        ("verify", "Verify"),
        ("generate_mac_with", "GenerateMac"),
        ("verify_mac", "VerifyMac"),
        ("public_key", "GetPublicKey"),
    ];

    /// The operations the rotation engine makes, read from its source: every
    /// `call("Operation", …)` and `listing("Operation", …)` of the store, its paced reading of
    /// tags, and every paced `Kms`
    /// primitive (by [`PACED_PRIMITIVES`]).
    fn engine_operations() -> BTreeSet<String> {
        let dir = crate::project_root().join("crates/kmsrot-core/src/engine");
        let mut operations = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for marker in [".call(", ".listing("] {
                for (at, _) in source.match_indices(marker) {
                    // rustfmt may break the line before the operation's name.
                    if let Some(rest) = source[at + marker.len()..].trim_start().strip_prefix('"') {
                        operations.insert(rest[..rest.find('"').unwrap()].to_owned());
                    }
                }
            }
            if source.contains(".tags_paced(") {
                operations.insert("ListResourceTags".to_owned());
            }
            for (at, _) in source.match_indices(".paced(") {
                let rest = &source[at..];
                // The primitive is the method called on the client in the argument:
                // `.paced(kms.sign_with(…))`, `.paced(self.store.kms().public_key(…))`,
                // `.paced(Box::pin(self.kms.tags(…)))`.
                let argument = &rest[".paced(".len()..];
                let argument = argument.strip_prefix("Box::pin(").unwrap_or(argument);
                let argument = argument.replacen("kms().", "kms.", 1);
                let head = &argument[..argument.find('(').unwrap()];
                let method = head.rsplit('.').next().unwrap();
                let (_, operation) = PACED_PRIMITIVES
                    .iter()
                    .find(|(name, _)| *name == method)
                    .unwrap_or_else(|| {
                        panic!("the engine paces `{head}`: add it to PACED_PRIMITIVES")
                    });
                operations.insert((*operation).to_owned());
            }
        }
        operations
    }

    /// Every call the engine makes is one the stack's role is allowed: ListGrants, CreateGrant,
    /// GetKeyLastUsage and GetPublicKey as much as CreateKey and UpdateAlias.
    #[test]
    fn the_role_may_make_every_call_the_engine_makes() {
        let template = template();
        let allowed: BTreeSet<String> = iam_statements(&template)
            .into_iter()
            .filter(|(_, s)| text(&s["Effect"]) == "Allow")
            .flat_map(|(_, s)| texts(&s["Action"]))
            .collect();
        let operations = engine_operations();
        for expected in [
            "ListGrants",
            "ListAliases",
            "ListResourceTags",
            "CreateGrant",
            "GetKeyLastUsage",
            "GetPublicKey",
            "CreateKey",
            "UpdateAlias",
            "CreateAlias",
            "DeleteAlias",
            "Sign",
        ] {
            assert!(
                operations.contains(expected),
                "the engine's operations were not read: {expected} is missing from {operations:?}"
            );
        }
        let missing: Vec<String> = operations
            .iter()
            .map(|op| match op.as_str() {
                "GetResources" => "tag:GetResources".to_owned(),
                op => format!("kms:{op}"),
            })
            .filter(|action| !allowed.contains(action))
            .collect();
        assert!(
            missing.is_empty(),
            "the role may not make these engine calls: {missing:?}"
        );
    }

    /// Changes of kmsrot's tags reach the function (issue 16): TagResource and UntagResource
    /// that succeeded, set or remove a `kmsrot:` tag, and were made by anyone but the
    /// function's own role, whose session ARNs are `assumed-role/ROLE/SESSION`.
    #[test]
    fn changes_of_kmsrot_tags_by_others_reach_the_function() {
        let template = template();
        let detail =
            &template["Resources"]["KmsTagChangeRule"]["Properties"]["EventPattern"]["detail"];
        assert_eq!(
            texts(&detail["eventName"]),
            ["TagResource", "UntagResource"]
        );
        let excluded = text(&detail["userIdentity"]["arn"][0]["anything-but"]["prefix"]);
        assert!(
            excluded.starts_with("!Sub ") && excluded.ends_with(":assumed-role/${FunctionRole}/"),
            "{excluded}"
        );
        let branches = detail["$or"].as_sequence().expect("$or");
        let prefixes: Vec<String> = branches
            .iter()
            .map(|b| {
                let parameters = &b["requestParameters"];
                let matcher = if parameters["tags"].is_null() {
                    &parameters["tagKeys"][0]
                } else {
                    &parameters["tags"]["tagKey"][0]
                };
                text(&matcher["prefix"])
            })
            .collect();
        assert_eq!(prefixes, ["kmsrot:", "kmsrot:"]);
    }

    /// The role may never use a key that an alias names, whatever tags say: a Deny on the
    /// data-plane calls for keys with aliases.
    #[test]
    fn the_role_never_uses_keys_that_aliases_name() {
        let template = template();
        let deny = iam_statements(&template)
            .into_iter()
            .map(|(_, s)| s)
            .find(|s| {
                s["Effect"].as_str() == Some("Deny")
                    && text_of_mapping(&s["Condition"]).contains("kms:ResourceAliases")
            })
            .expect("a Deny on keys with aliases");
        let denied = texts(&deny["Action"]);
        // It covers every Region: the function tests replicas in other Regions.
        assert!(
            texts(&deny["Resource"])
                .iter()
                .any(|r| r.contains(":kms:*:") && r.ends_with(":key/*")),
            "the Deny must cover keys in every Region: {:?}",
            deny["Resource"]
        );
        for statement in iam_statements(&template).into_iter().map(|(_, s)| s) {
            if statement["Effect"].as_str() != Some("Allow") {
                continue;
            }
            for action in texts(&statement["Action"]) {
                let data_plane = [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:Sign",
                    "kms:Verify",
                    "kms:GenerateMac",
                    "kms:VerifyMac",
                ]
                .contains(&action.as_str());
                let only_via_sns =
                    text_of_mapping(&statement["Condition"]).contains("kms:ViaService");
                assert!(
                    !data_plane || only_via_sns || denied.contains(&action),
                    "{action} is allowed and not denied on keys that aliases name"
                );
            }
        }
    }

    /// The role can never bypass CreateKey's policy lockout safety check, and creates and
    /// tags new keys only in the Regions it serves.
    #[test]
    fn the_role_never_bypasses_the_lockout_check_and_creates_keys_only_where_it_serves() {
        let template = template();
        let statements = iam_statements(&template);
        let bypass = statements
            .iter()
            .map(|(_, s)| s)
            .find(|s| {
                s["Effect"].as_str() == Some("Deny")
                    && text_of_mapping(&s["Condition"])
                        .contains("kms:BypassPolicyLockoutSafetyCheck")
            })
            .expect("a Deny on kms:BypassPolicyLockoutSafetyCheck");
        let denied = texts(&bypass["Action"]);
        for action in ["kms:CreateKey", "kms:PutKeyPolicy", "kms:ReplicateKey"] {
            assert!(denied.iter().any(|a| a == action), "{action} in {denied:?}");
        }
        for (_, statement) in &statements {
            let actions = texts(&statement["Action"]);
            let creates = actions
                .iter()
                .any(|a| a == "kms:CreateKey" || a == "kms:TagResource");
            if statement["Effect"].as_str() == Some("Allow")
                && creates
                && texts(&statement["Resource"]).iter().any(|r| r == "*")
            {
                assert!(
                    !statement["Condition"]["StringEquals"]["aws:RequestedRegion"].is_null(),
                    "{} allows {actions:?} on \"*\" in any Region",
                    text(&statement["Sid"])
                );
            }
        }
    }

    /// The service control policy and the permissions boundary shipped beside the template
    /// deny changing kmsrot's tags (and creating keys with them), the SCP to everyone but the
    /// principals it names.
    #[test]
    fn the_tag_guard_policies_deny_changing_kmsrot_tags() {
        for (file, exempts) in [
            ("infrastructure/kmsrot-tag-guard-scp.json", true),
            ("infrastructure/kmsrot-tag-guard-boundary.json", false),
        ] {
            let text = std::fs::read_to_string(crate::project_root().join(file)).unwrap();
            let policy: serde_json::Value = serde_json::from_str(&text).unwrap();
            let denies: Vec<&serde_json::Value> = policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["Effect"] == "Deny")
                .collect();
            let denied: Vec<&str> = denies
                .iter()
                .flat_map(|s| s["Action"].as_array().unwrap())
                .filter_map(|a| a.as_str())
                .collect();
            for action in [
                "kms:TagResource",
                "kms:UntagResource",
                "kms:CreateKey",
                "kms:ReplicateKey",
            ] {
                assert!(denied.contains(&action), "{file}: {action}");
            }
            for deny in denies {
                assert_eq!(
                    deny["Condition"]["ForAnyValue:StringLike"]["aws:TagKeys"], "kmsrot:*",
                    "{file}"
                );
                assert_eq!(
                    !deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"].is_null(),
                    exempts,
                    "{file}"
                );
            }
        }
    }

    #[test]
    fn the_iam_check_catches_what_it_forbids() {
        let bad = [
            "{Effect: Allow, Action: '*', Resource: '*'}",
            "{Effect: Allow, Action: 'kms:*', Resource: 'arn:aws:kms:us-east-1:1:key/k'}",
            "{Effect: Allow, Action: [kms:Decrypt], Resource: '*'}",
            "{Effect: Allow, Action: [kms:CreateKey], Resource: '*'}",
            "{Effect: Allow, Action: [kms:DisableKey], Resource: !Sub 'arn:aws:kms:${AWS::Region}:1:key/*'}",
            "{Effect: Allow, NotAction: [kms:Decrypt], Resource: '*'}",
            "{Effect: Allow, Action: [kms:ListAliases], Resource: '*'}",
        ];
        for statement in bad {
            let value: Value = serde_norway::from_str(statement).unwrap();
            assert!(iam_violation(&value).is_some(), "{statement} passed");
        }
        let good = [
            "{Effect: Allow, Action: [kms:ListAliases, tag:GetResources], Resource: '*', Condition: {StringEquals: {'aws:RequestedRegion': us-east-1}}}",
            "{Effect: Allow, Action: kms:CreateKey, Resource: '*', Condition: {'Null': {'aws:RequestTag/kmsrot:alias': 'false'}}}",
            "{Effect: Allow, Action: [kms:DisableKey], Resource: 'arn:aws:kms:r:1:key/*', Condition: {'Null': {'aws:ResourceTag/kmsrot:alias': 'false'}}}",
            "{Effect: Allow, Action: [kms:DescribeKey], Resource: 'arn:aws:kms:r:1:key/*'}",
        ];
        for statement in good {
            let value: Value = serde_norway::from_str(statement).unwrap();
            assert_eq!(iam_violation(&value), None, "{statement}");
        }
    }

    #[test]
    fn the_function_is_what_xtask_packages() {
        let template = template();
        let functions = of_type(&template, "AWS::Lambda::Function");
        assert_eq!(functions.len(), 1, "one rotation function");
        let properties = &functions[0].1["Properties"];
        assert_eq!(properties["Runtime"].as_str(), Some(LAMBDA_RUNTIME));
        assert_eq!(properties["Handler"].as_str(), Some(HANDLER));
        assert_eq!(texts(&properties["Architectures"]), [LAMBDA_ARCHITECTURE]);
        assert_eq!(text(&properties["Code"]["S3Bucket"]), "!Ref ArtifactBucket");
        assert_eq!(text(&properties["Code"]["S3Key"]), "!Ref ArtifactKey");
        assert!(
            properties["ReservedConcurrentExecutions"]
                .as_u64()
                .is_some()
        );
        assert!(!properties["DeadLetterConfig"]["TargetArn"].is_null());
        // Deploy sets these two itself.
        for name in ["ArtifactBucket", "ArtifactKey"] {
            assert!(!template["Parameters"][name].is_null(), "parameter {name}");
        }
        let variables: BTreeSet<String> = properties["Environment"]["Variables"]
            .as_mapping()
            .expect("environment variables")
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        for name in &variables {
            assert!(
                kmsrot_lambda::settings::ALL.contains(&name.as_str()),
                "{name} is not a setting of the Lambda"
            );
        }
        let logs = of_type(&template, "AWS::Logs::LogGroup");
        assert!(
            logs.iter()
                .any(|(_, l)| !l["Properties"]["RetentionInDays"].is_null()),
            "a log group with retention"
        );
    }

    #[test]
    fn every_event_the_lambda_routes_has_a_rule_with_a_scoped_permission() {
        let template = template();
        let rules = of_type(&template, "AWS::Events::Rule");
        let mut detail_types = BTreeSet::new();
        let mut calls = BTreeSet::new();
        let mut schedules = 0;
        let mut canaries = 0;
        for (name, rule) in &rules {
            let properties = &rule["Properties"];
            let pattern = &properties["EventPattern"];
            if !properties["ScheduleExpression"].is_null() {
                schedules += 1;
            } else {
                assert_eq!(texts(&pattern["source"]), [SOURCE_KMS], "{name}");
                for detail in texts(&pattern["detail-type"]) {
                    detail_types.insert(detail);
                }
                // `errorCode: [{ exists: false }]` (only calls that succeeded), or the canary's
                // list of error codes.
                let codes: Vec<String> = pattern["detail"]["errorCode"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .filter_map(|code| code.as_str().map(str::to_owned))
                    .collect();
                if codes.is_empty() {
                    calls.extend(texts(&pattern["detail"]["eventName"]));
                } else {
                    // The canary: failed uses of disabled keys. Read-only calls (Decrypt, …)
                    // reach only a rule that asks for every management event.
                    canaries += 1;
                    assert_eq!(codes, CANARY_ERRORS.map(String::from), "{name}");
                    assert_eq!(
                        texts(&pattern["detail"]["eventName"]),
                        CANARY_CALLS.map(String::from),
                        "{name}"
                    );
                    assert_eq!(
                        properties["State"].as_str(),
                        Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"),
                        "{name}"
                    );
                }
            }
            let targets = properties["Targets"].as_sequence().expect("targets");
            assert!(
                targets
                    .iter()
                    .all(|t| text(&t["Arn"]) == "!GetAtt RotationFunction.Arn"
                        && !t["DeadLetterConfig"].is_null()),
                "{name} targets the function, with a dead-letter queue"
            );
            let permissions: Vec<_> = of_type(&template, "AWS::Lambda::Permission")
                .into_iter()
                .filter(|(_, p)| {
                    text(&p["Properties"]["SourceArn"]) == format!("!GetAtt {name}.Arn")
                })
                .collect();
            assert_eq!(permissions.len(), 1, "{name} has one permission");
            let permission = &permissions[0].1["Properties"];
            assert_eq!(
                permission["Principal"].as_str(),
                Some("events.amazonaws.com")
            );
            assert_eq!(permission["Action"].as_str(), Some("lambda:InvokeFunction"));
        }
        let routed: BTreeSet<String> = [
            detail_type::KEY_ROTATION,
            detail_type::KEY_DELETION,
            detail_type::MATERIAL_EXPIRATION,
            detail_type::API_CALL,
        ]
        .map(String::from)
        .into();
        assert_eq!(detail_types, routed);
        assert_eq!(
            calls,
            ROUTED_CALLS
                .map(String::from)
                .into_iter()
                .collect::<BTreeSet<_>>()
        );
        assert_eq!(schedules, 1, "one sweep schedule");
        assert_eq!(canaries, 1, "one canary rule");
        // Every permission belongs to a rule: nothing else may invoke the function.
        assert_eq!(
            of_type(&template, "AWS::Lambda::Permission").len(),
            rules.len()
        );
    }

    /// The template offers exactly the key specs KMS offers, and for each exactly the usages
    /// kmsrot manages (`kmsrot_types::key_kind`, the one table).
    #[test]
    fn the_template_offers_the_key_kinds_kmsrot_manages() {
        use std::collections::{BTreeMap, BTreeSet};

        use kmsrot_types::KeyKind;
        use kmsrot_types::key_kind::SPECS;

        let template = template();
        let offered: BTreeSet<String> = texts(&template["Parameters"]["KeySpec"]["AllowedValues"])
            .into_iter()
            .collect();
        let specs: BTreeSet<String> = SPECS.iter().map(|s| s.spec.to_owned()).collect();
        assert_eq!(offered, specs, "KeySpec's AllowedValues");
        // The role may create a pending key of every one of them, or rotations would fail.
        // (The replicas ReplicateKey creates in other Regions copy their primary's spec.)
        let creatable: Vec<BTreeSet<String>> = iam_statements(&template)
            .into_iter()
            .filter(|(_, statement)| {
                statement["Effect"].as_str() == Some("Allow")
                    && texts(&statement["Action"]).contains(&"kms:CreateKey".to_owned())
                    && text(&statement["Condition"]["StringEquals"]["aws:RequestedRegion"])
                        != "!Ref ReplicaRegions"
            })
            .map(|(_, statement)| {
                texts(&statement["Condition"]["StringEquals"]["kms:KeySpec"])
                    .into_iter()
                    .collect()
            })
            .collect();
        assert!(!creatable.is_empty(), "a statement allows kms:CreateKey");
        for allowed in creatable {
            assert_eq!(
                allowed, specs,
                "kms:KeySpec of the role's CreateKey statement"
            );
        }

        let usages = [
            "ENCRYPT_DECRYPT",
            "SIGN_VERIFY",
            "GENERATE_VERIFY_MAC",
            "KEY_AGREEMENT",
        ];
        let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, rule) in template["Rules"].as_mapping().expect("Rules") {
            let condition = text(&rule["RuleCondition"]);
            if !condition.contains("!Ref KeySpec") {
                continue;
            }
            let asserted: Vec<String> = rule["Assertions"]
                .as_sequence()
                .expect("Assertions")
                .iter()
                .map(|assertion| text(&assertion["Assert"]))
                .filter(|assert| assert.contains("!Ref KeyUsage"))
                .collect();
            for spec in condition.split([',', ' ']).filter(|t| specs.contains(*t)) {
                allowed.entry(spec.to_owned()).or_default().extend(
                    asserted
                        .iter()
                        .flat_map(|assert| assert.split([',', ' ']))
                        .filter(|t| usages.contains(t))
                        .map(str::to_owned),
                );
            }
        }
        for info in SPECS {
            let managed: BTreeSet<String> = info
                .usages
                .iter()
                .filter(|usage| KeyKind::of(info.spec, usage).is_ok())
                .map(|usage| (*usage).to_owned())
                .collect();
            assert_eq!(
                allowed.get(info.spec).cloned().unwrap_or_default(),
                managed,
                "the Rules' usages for {}",
                info.spec
            );
        }
    }

    #[test]
    fn the_topic_is_encrypted_and_the_alarms_notify_it() {
        let template = template();
        let topics = of_type(&template, "AWS::SNS::Topic");
        assert_eq!(topics.len(), 1);
        assert!(!topics[0].1["Properties"]["KmsMasterKeyId"].is_null());
        let alarms = of_type(&template, "AWS::CloudWatch::Alarm");
        let watched: BTreeSet<String> = alarms
            .iter()
            .map(|(_, a)| text_of_mapping(&a["Properties"]))
            .collect();
        for metric in [
            "RotationsFailed",
            "GuardActions",
            "Errors",
            "ApproximateNumberOfMessagesVisible",
        ] {
            assert!(
                watched.iter().any(|w| w.contains(metric)),
                "an alarm on {metric}"
            );
        }
        for (name, alarm) in &alarms {
            assert_eq!(
                texts(&alarm["Properties"]["AlarmActions"]),
                [format!("!Ref {}", topics[0].0)],
                "{name}"
            );
        }
    }
}
