//! `kmsrot audit code`: KMS keys hard-coded in source and configuration. Hard-coding a key
//! (instead of naming an alias) is what breaks applications at rotation, and it is the bug
//! kmsrot exists to fix.
//!
//! What counts:
//! - a key ARN (`arn:…:kms:REGION:ACCOUNT:key/ID`): always a finding, high confidence;
//! - a multi-Region key ID (`mrk-` and 32 hex digits): high confidence;
//! - a bare UUID (the form of a key ID): high confidence when a line within two of it
//!   mentions KMS (`kms`, `KeyId`, `key_id`, `cmk`, `encrypt`, `sse`, …); otherwise low confidence,
//!   since request IDs and other identifiers look the same. Low-confidence findings are
//!   reported but do not fail the audit.
//!
//! Files are walked with the `ignore` crate, as git would see them: what `.gitignore` and
//! `.ignore` exclude is skipped, dotfiles are searched, `.git` is not. Binary files (a NUL
//! byte in the first 8 KiB) are skipped; files over 10 MiB and unreadable ones are reported
//! as unreadable.

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

/// A key ID; its boundaries are checked by hand (see `standalone`), since `\b` would miss
/// `key_<id>` and take the ID out of `<id>-v2`.
static KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    )
    .expect("valid regex")
});

static KMS_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)kms|key[_-]?id|\bcmk\b|key[_-]?arn|encrypt|\bsse\b|sse[_-]?kms|serversideencryption",
    )
    .expect("valid regex")
});

/// Why the audit could not run.
#[derive(Debug, thiserror::Error)]
#[error("{path} does not exist or is not a file or directory; name files or directories to search")]
pub struct AuditError {
    path: String,
}

/// What the audit found, and what it could not read.
#[derive(Debug, Default)]
pub struct Scan {
    /// The findings, sorted by path and position.
    pub findings: Vec<CodeFinding>,
    /// Files or directories that could not be read, with why. An audit that skipped some
    /// cannot vouch for them.
    pub unreadable: Vec<String>,
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
            if taken.iter().any(|(s, e)| m.start() >= *s && m.end() <= *e)
                || !standalone(line, m.start(), m.end())
            {
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

/// Whether `line[start..end]` stands alone: no letter or digit just before it (`_`, `/` and
/// punctuation are fine), and no letter, digit or `-` just after it.
fn standalone(line: &str, start: usize, end: usize) -> bool {
    let before = line[..start].chars().next_back();
    let after = line[end..].chars().next();
    !before.is_some_and(|c| c.is_ascii_alphanumeric())
        && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Whether the line at `index`, or a line within two of it, mentions KMS.
fn near_kms(lines: &[&str], index: usize) -> bool {
    let from = index.saturating_sub(2);
    let to = (index + 3).min(lines.len());
    lines[from..to].iter().any(|l| KMS_CONTEXT.is_match(l))
}

/// Every hard-coded key under `paths` (files, or directories walked with their ignore files),
/// sorted by path and position. A file reached through two of the paths is read once.
pub fn scan_paths(paths: &[PathBuf]) -> Result<Scan, AuditError> {
    let mut scan = Scan::default();
    let mut seen = std::collections::HashSet::new();
    for root in paths {
        if !(root.is_file() || root.is_dir()) {
            return Err(AuditError {
                path: root.display().to_string(),
            });
        }
        let walk = ignore::WalkBuilder::new(root)
            // As git would: .gitignore applies even outside a repository, and dotfiles
            // (.github/, .env, .gitlab-ci.yml) are searched; only .git itself is not.
            .require_git(false)
            .hidden(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walk {
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    scan.unreadable.push(err.to_string());
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let identity =
                std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path().to_owned());
            if !seen.insert(identity) {
                continue;
            }
            match read_text(entry.path()) {
                Ok(Some(text)) => scan
                    .findings
                    .extend(scan_text(&entry.path().display().to_string(), &text)),
                Ok(None) => {}
                Err(why) => scan
                    .unreadable
                    .push(format!("{}: {why}", entry.path().display())),
            }
        }
    }
    scan.findings
        .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    Ok(scan)
}

/// A file's text (without a byte-order mark), `None` for a binary file, or why it cannot be
/// read (too large, unreadable).
fn read_text(path: &Path) -> Result<Option<String>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_FILE {
        return Err(format!("{size} bytes, over the 10 MiB the audit reads"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(
        text.strip_prefix('\u{feff}').unwrap_or(&text).to_owned(),
    ))
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
    fn words_that_merely_contain_kms_letters_are_not_context() {
        assert_eq!(
            check(&format!("assert_eq!(id, \"{ID}\"); // assets processed")),
            [(1, 17, ID.to_owned(), Confidence::Low)]
        );
    }

    #[test]
    fn ids_glued_to_underscores_count_and_ids_inside_longer_tokens_do_not() {
        assert_eq!(check(&format!("kms key_{ID}"))[0].2, ID);
        assert!(check(&format!("kms {ID}-v2")).is_empty());
        assert!(check(&format!("kms x{ID}")).is_empty());
    }

    #[test]
    fn columns_count_characters_and_a_byte_order_mark_is_not_one() {
        assert_eq!(check(&format!("clé kms {ID}"))[0].1, 9);
        let dir = std::env::temp_dir().join(format!("kmsrot-audit-bom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bom.txt");
        std::fs::write(&file, format!("\u{feff}kms {ID}\n")).unwrap();
        let scan = scan_paths(&[file.clone(), dir.clone()]).unwrap();
        assert_eq!(scan.findings.len(), 1, "read once through both paths");
        assert_eq!(scan.findings[0].column, 5);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_path_is_an_error() {
        assert!(scan_paths(&[PathBuf::from("-")]).is_err());
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
