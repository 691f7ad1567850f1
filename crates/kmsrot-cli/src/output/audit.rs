//! `kmsrot audit code` and `kmsrot audit account`, for people.

/// `kmsrot audit code`'s findings, one line each (and a line of advice under those that were
/// looked up), then a summary.
pub(crate) fn audit_text(findings: &[kmsrot_types::audit::CodeFinding]) -> String {
    use kmsrot_types::audit::Confidence;
    let mut out = String::new();
    for f in findings {
        let confidence = match f.confidence {
            Confidence::High => "high",
            Confidence::Low => "low",
        };
        out.push_str(&format!(
            "{}:{}:{}: [{confidence}] {} ({})\n",
            f.path, f.line, f.column, f.text, f.why
        ));
        if let Some(note) = &f.lookup {
            out.push_str(&format!("    {note}\n"));
        } else if let Some(hint) = f.aliases.first() {
            let managed = if hint.managed {
                "managed by kmsrot"
            } else {
                "not managed by kmsrot; `kmsrot adopt` it"
            };
            out.push_str(&format!("    name `{}` instead ({managed})\n", hint.alias));
        } else if let Some(arn) = &f.key_arn {
            out.push_str(&format!(
                "    {arn} has no alias; create one with `kmsrot adopt` after `aws kms create-alias`\n"
            ));
        }
    }
    let high = findings
        .iter()
        .filter(|f| f.confidence == Confidence::High)
        .count();
    out.push_str(&format!(
        "{high} hard-coded key reference(s), {} low-confidence look-alike(s)\n",
        findings.len() - high
    ));
    out
}

/// `kmsrot audit account`'s report: one line per finding, then a summary.
pub(crate) fn account_text(report: &kmsrot_types::audit::AccountReport) -> String {
    use kmsrot_types::audit::AccountIssue;
    let mut out = String::new();
    for f in &report.findings {
        let label = match f.issue {
            AccountIssue::AliasNamesKeyPendingDeletion => "PENDING DELETION",
            AccountIssue::AliasNamesUnusableKey => "UNUSABLE KEY",
            AccountIssue::Overdue => "OVERDUE",
            AccountIssue::Noncompliant => "NONCOMPLIANT",
            AccountIssue::RotationDisabled => "ROTATION OFF",
            AccountIssue::NoRotation => "NO ROTATION",
            AccountIssue::UnmanagedAlias => "UNMANAGED",
            AccountIssue::Unreadable => "UNREADABLE",
            AccountIssue::Grants => "GRANTS",
            AccountIssue::ServiceGrant => "SERVICE GRANT",
            AccountIssue::RetirementHeld => "HELD",
            AccountIssue::SharedKey => "SHARED KEY",
            AccountIssue::RegionDiverges => "REGION DIVERGES",
            AccountIssue::Replica => "REPLICA",
            AccountIssue::AliasCondition => "ALIAS CONDITION",
            AccountIssue::Orphan => "ORPHAN",
        };
        out.push_str(&format!("{label}: {}\n", f.detail));
    }
    out.push_str(&format!(
        "{} finding(s) over {} customer-managed key(s) and {} alias(es) in {}\n",
        report.problems(),
        report.keys,
        report.aliases,
        report.region
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::fixtures::{NEW, OLD, json_text};

    #[test]
    fn audit_snapshots() {
        use kmsrot_types::audit::{
            AccountFinding, AccountIssue, AccountReport, CodeFinding, Confidence,
        };
        let findings = vec![
            CodeFinding {
                path: "./app/crypto.py".into(),
                line: 3,
                column: 20,
                text: NEW.into(),
                key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
                confidence: Confidence::High,
                why: "a key ARN".into(),
                key_arn: Some(NEW.parse().unwrap()),
                aliases: vec![kmsrot_types::audit::AliasHint {
                    alias: "alias/payments".parse().unwrap(),
                    managed: true,
                }],
                lookup: None,
            },
            CodeFinding {
                path: "./notes.md".into(),
                line: 9,
                column: 1,
                text: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
                key_id: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
                confidence: Confidence::Low,
                why: "a UUID with no KMS context nearby: maybe another identifier".into(),
                key_arn: None,
                aliases: vec![],
                lookup: Some("not looked up: --no-lookup".into()),
            },
        ];
        expect_test::expect![[r#"
            ./app/crypto.py:3:20: [high] arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab (a key ARN)
                name `alias/payments` instead (managed by kmsrot)
            ./notes.md:9:1: [low] 0f8fad5b-d9cb-469f-a165-70867728950e (a UUID with no KMS context nearby: maybe another identifier)
                not looked up: --no-lookup
            1 hard-coded key reference(s), 1 low-confidence look-alike(s)
        "#]].assert_eq(&audit_text(&findings));
        expect_test::expect![[r#"
            {
              "path": "./app/crypto.py",
              "line": 3,
              "column": 20,
              "text": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "key_id": "1234abcd-12ab-34cd-56ef-1234567890ab",
              "confidence": "high",
              "why": "a key ARN",
              "key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
              "aliases": [
                {
                  "alias": "alias/payments",
                  "managed": true
                }
              ]
            }
        "#]].assert_eq(&json_text(&findings[0]));
        let account = AccountReport {
            region: "eu-west-1".into(),
            keys: 3,
            aliases: 2,
            findings: vec![
                AccountFinding {
                    issue: AccountIssue::AliasNamesKeyPendingDeletion,
                    alias: Some("alias/old-app".parse().unwrap()),
                    key: Some(OLD.parse().unwrap()),
                    detail: "the key is pending deletion; cancel it or move the alias".into(),
                },
                AccountFinding {
                    issue: AccountIssue::RotationDisabled,
                    alias: None,
                    key: Some(NEW.parse().unwrap()),
                    detail: "automatic rotation is off".into(),
                },
            ],
        };
        expect_test::expect![[r#"
            PENDING DELETION: the key is pending deletion; cancel it or move the alias
            ROTATION OFF: automatic rotation is off
            2 finding(s) over 3 customer-managed key(s) and 2 alias(es) in eu-west-1
        "#]]
        .assert_eq(&account_text(&account));
        expect_test::expect![[r#"
            {
              "region": "eu-west-1",
              "keys": 3,
              "aliases": 2,
              "findings": [
                {
                  "issue": "alias_names_key_pending_deletion",
                  "alias": "alias/old-app",
                  "key": "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab",
                  "detail": "the key is pending deletion; cancel it or move the alias"
                },
                {
                  "issue": "rotation_disabled",
                  "key": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                  "detail": "automatic rotation is off"
                }
              ]
            }
        "#]].assert_eq(&json_text(&account));
    }
}
