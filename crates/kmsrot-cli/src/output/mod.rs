//! Output formats, and the human rendering of results. Nothing outside the CLI formats for
//! people.
//!
//! This module holds what every command shares: the formats, JSON, `emit` (one result as
//! JSON or as text), aligned fields, tables and byte sizes. Each submodule renders one
//! domain's results for people.

mod audit;
mod key;
mod reencrypt;
mod rotation;
mod s3;
mod status;

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

pub(crate) use audit::{account_text, audit_text};
pub(crate) use key::{Checked, key_fields, print_verified};
pub(crate) use reencrypt::{batch_job_text, reencrypt_text, rewrap_text};
pub(crate) use rotation::{action_text, outcome_lines, outcome_text, verdict_text};
pub(crate) use s3::{bucket_encryption_text, object_keys_text};
pub(crate) use status::{STATUS_HEADERS, status_row};
pub(crate) use status::{orphan_text, status_notes};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// A value as pretty JSON followed by a newline.
pub(crate) fn render_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut text = serde_json::to_vec_pretty(value).context("rendering JSON")?;
    text.push(b'\n');
    Ok(text)
}

/// Prints a value as pretty JSON followed by a newline.
///
/// The document is rendered first and then written, so that a closed stdout surfaces as a
/// plain `io::Error` (which `exit` treats as no failure) rather than inside a serde error.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = render_json(value)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&text)
        .and_then(|()| out.flush())
        .context("writing stdout")
}

/// Prints one result in the chosen format: the JSON document `json` makes, for scripts, or
/// what `text` writes, for people. Only the closure of the chosen format runs.
pub(crate) fn emit<T: Serialize>(
    format: Format,
    json: impl FnOnce() -> T,
    text: impl FnOnce() -> Result<()>,
) -> Result<()> {
    match format {
        Format::Json => print_json(&json()),
        Format::Text => text(),
    }
}

/// Prints aligned `label  value` lines.
pub(crate) fn print_fields(fields: &[(&str, String)]) -> Result<()> {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (label, value) in fields {
        writeln!(out, "{label:<width$}  {value}").context("writing stdout")?;
    }
    Ok(())
}

/// Prints a table: a header row, then one row per entry, columns padded to their widest cell.
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) -> Result<()> {
    crate::io::Sink::Stdout.write(table_text(headers, rows).as_bytes())
}

/// A table as text: a header row, then one row per entry, columns padded to their widest cell.
pub(crate) fn table_text(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        let mut text = text.trim_end().to_owned();
        text.push('\n');
        text
    };
    let mut text = line(headers.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// Bytes for people: 4.0 KiB, 1.2 MiB.
pub(crate) fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What the snapshot tests of the submodules share.
#[cfg(test)]
mod fixtures {
    use super::*;

    // Snapshots of what people and scripts read. The fixtures are fixed values, so the
    // snapshots pin the rendering and the JSON schema; `UPDATE_EXPECT=1 cargo test` rewrites
    // them after a deliberate change.

    pub(super) const OLD: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab";
    pub(super) const NEW: &str =
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    pub(super) fn json_text<T: Serialize>(value: &T) -> String {
        String::from_utf8(render_json(value).unwrap()).unwrap()
    }
}
