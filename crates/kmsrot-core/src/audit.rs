//! `kmsrot audit code`: KMS keys hard-coded in source and configuration. Hard-coding a key
//! (instead of naming an alias) is what breaks applications at rotation, and it is the bug
//! kmsrot exists to fix.
//!
//! What counts:
//! - a key ARN (`arn:…:kms:REGION:ACCOUNT:key/ID`): always a finding, high confidence;
//! - a multi-Region key ID (`mrk-` and 32 hex digits): high confidence;
//! - a bare UUID (the form of a key ID): high confidence when the same line or the two lines
//!   around it mention KMS (`kms`, `KeyId`, `key_id`, `cmk`, …); otherwise low confidence,
//!   since request IDs and other identifiers look the same. Low-confidence findings are
//!   reported but do not fail the audit.
//!
//! Files are walked with the `ignore` crate: `.gitignore`, `.ignore` and hidden files are
//! respected (skipped), and binary files (a NUL byte in the first 8 KiB) and files over 10 MiB
//! are skipped.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use kmsrot_types::audit::{CodeFinding, Confidence};
use regex::Regex;

/// Files larger than this are not read.
const MAX_FILE: u64 = 10 * 1024 * 1024;

static KEY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    )
    .expect("valid regex")
});

static KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b",
    )
    .expect("valid regex")
});

static KMS_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)kms|key[_-]?id|\bcmk\b|keyarn|key[_-]arn|encrypt|decrypt|sse")
        .expect("valid regex")
});

/// Why the audit could not run.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct AuditError {
    path: String,
    source: ignore::Error,
}

/// The hard-coded keys in one text. Paths and line numbers are filled in; lookups are not.
pub fn scan_text(path: &str, text: &str) -> Vec<CodeFinding> {
    let lines: Vec<&str> = text.lines().collect();
    let mut findings = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let mut taken: Vec<(usize, usize)> = Vec::new();
        for m in KEY_ARN.captures_iter(line) {
            let whole = m.get(0).expect("match");
            taken.push((whole.start(), whole.end()));
            findings.push(finding(
                path,
                index,
                line,
                whole.start(),
                whole.as_str(),
                &m[1],
                Confidence::High,
                "a key ARN",
            ));
        }
        for m in KEY_ID.find_iter(line) {
            if taken.iter().any(|(s, e)| m.start() >= *s && m.end() <= *e) {
                continue;
            }
            let id = m.as_str().to_ascii_lowercase();
            let (confidence, why) = if id.starts_with("mrk-") {
                (Confidence::High, "a multi-Region key ID")
            } else if near_kms(&lines, index) {
                (Confidence::High, "a key ID next to KMS context")
            } else {
                (
                    Confidence::Low,
                    "a UUID with no KMS context nearby: maybe another identifier",
                )
            };
            findings.push(finding(
                path,
                index,
                line,
                m.start(),
                m.as_str(),
                &id,
                confidence,
                why,
            ));
        }
    }
    findings
}

#[allow(
    clippy::too_many_arguments,
    reason = "a private constructor for one struct literal"
)]
fn finding(
    path: &str,
    index: usize,
    line: &str,
    byte: usize,
    text: &str,
    key_id: &str,
    confidence: Confidence,
    why: &str,
) -> CodeFinding {
    CodeFinding {
        path: path.to_owned(),
        line: index + 1,
        column: line[..byte].chars().count() + 1,
        text: text.to_owned(),
        key_id: key_id.to_ascii_lowercase(),
        confidence,
        why: why.to_owned(),
        key_arn: None,
        aliases: Vec::new(),
        lookup: None,
    }
}

/// Whether the line at `index`, or one of the two lines before or after it, mentions KMS.
fn near_kms(lines: &[&str], index: usize) -> bool {
    let from = index.saturating_sub(2);
    let to = (index + 3).min(lines.len());
    lines[from..to].iter().any(|l| KMS_CONTEXT.is_match(l))
}

/// Every hard-coded key under `paths` (files, or directories walked with their ignore files),
/// sorted by path and position.
pub fn scan_paths(paths: &[PathBuf]) -> Result<Vec<CodeFinding>, AuditError> {
    let mut findings = Vec::new();
    for root in paths {
        let walk = ignore::WalkBuilder::new(root)
            // .gitignore applies even outside a git repository (a checkout without .git).
            .require_git(false)
            .build();
        for entry in walk {
            let entry = entry.map_err(|source| AuditError {
                path: root.display().to_string(),
                source,
            })?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            if let Some(text) = read_text(entry.path()) {
                findings.extend(scan_text(&entry.path().display().to_string(), &text));
            }
        }
    }
    findings.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    Ok(findings)
}

/// A file's text, or `None` for a binary, unreadable or very large file.
fn read_text(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_FILE {
        tracing::info!(path = %path.display(), size, "audit: skipped a file over 10 MiB");
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn check(text: &str) -> Vec<(usize, usize, String, Confidence)> {
        scan_text("f", text)
            .into_iter()
            .map(|f| (f.line, f.column, f.key_id, f.confidence))
            .collect()
    }

    #[test]
    fn arns_are_found_once_with_their_key_id() {
        let text = format!("key = \"arn:aws:kms:eu-west-1:111122223333:key/{ID}\"");
        assert_eq!(check(&text), [(1, 8, ID.to_owned(), Confidence::High)]);
        let gov = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef";
        assert_eq!(
            check(gov),
            [(
                1,
                1,
                "mrk-0123456789abcdef0123456789abcdef".to_owned(),
                Confidence::High
            )]
        );
    }

    #[test]
    fn bare_ids_need_kms_context_nearby_for_high_confidence() {
        assert_eq!(
            check(&format!("KMS_KEY_ID={ID}")),
            [(1, 12, ID.to_owned(), Confidence::High)]
        );
        let nearby = format!(
            "# the key for the billing data, see KMS\n\nvalue: {}",
            ID.to_uppercase()
        );
        assert_eq!(check(&nearby), [(3, 8, ID.to_owned(), Confidence::High)]);
        let far = format!("kms\n\n\n\nrequest_id: {ID}");
        assert_eq!(check(&far), [(5, 13, ID.to_owned(), Confidence::Low)]);
        assert_eq!(
            check("mrk-0123456789abcdef0123456789abcdef")[0].3,
            Confidence::High
        );
    }

    #[test]
    fn alias_names_and_near_misses_are_not_keys() {
        assert!(check("alias/payments kms alias/aws/s3").is_empty());
        assert!(
            check(&format!("kms {ID}0")).is_empty(),
            "longer than a UUID"
        );
        assert!(check("kms 1234abcd-12ab-34cd-56ef").is_empty());
    }
}
