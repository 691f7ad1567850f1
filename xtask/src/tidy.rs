//! Repository rules, as ordinary tests: `cargo test` checks what CI checks.

#![cfg(test)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::project_root;

fn read(path: &str) -> String {
    fs::read_to_string(project_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let root = project_root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("xtask/src"), &mut files);
    assert!(files.len() > 10);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap().starts_with("//!"))
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` line: {missing:?}"
    );
}

#[test]
fn every_crate_uses_the_workspace_lints() {
    let root = project_root();
    let mut manifests: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("Cargo.toml"))
        .collect();
    manifests.push(root.join("xtask/Cargo.toml"));
    for manifest in manifests {
        let text = fs::read_to_string(&manifest).unwrap();
        assert!(
            text.contains("[lints]\nworkspace = true"),
            "{} does not inherit the workspace lints",
            manifest.display()
        );
    }
}

#[test]
fn readme_documents_exactly_the_cli_exit_codes() {
    let exit_rs = read("crates/kmsrot-cli/src/exit.rs");
    let mut in_code: BTreeSet<u8> = exit_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub(crate) const "))
        .filter_map(|l| l.split("u8 = ").nth(1))
        .map(|n| n.trim_end_matches(';').parse().unwrap())
        .collect();
    in_code.insert(0);
    let readme = read("README.md");
    let section = readme
        .split("### Exit codes")
        .nth(1)
        .expect("README has an exit code section");
    let in_readme: BTreeSet<u8> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1)?.trim().parse().ok())
        .collect();
    assert_eq!(in_readme, in_code);
}

#[test]
fn readme_lists_every_cli_subcommand() {
    let main_rs = read("crates/kmsrot-cli/src/main.rs");
    let body = main_rs
        .split("enum Command {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("main.rs has `enum Command`");
    let commands: Vec<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("///") && !l.starts_with("#["))
        .filter_map(|l| l.split('(').next())
        .filter(|name| !name.is_empty() && name.chars().all(char::is_alphanumeric))
        .map(kebab)
        .collect();
    assert!(commands.len() >= 3, "{commands:?}");
    let readme = read("README.md");
    for command in commands {
        assert!(
            readme.contains(&format!("`kmsrot {command}")),
            "README does not document `kmsrot {command}`"
        );
    }
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[test]
fn every_emulator_patch_is_documented_and_tested() {
    let script = read("tools/emulator/kmsrot_emulator.py");
    let patches = script.matches("\n# Patch ").count();
    let readme = read("tools/emulator/README.md");
    let tests = read("crates/kmsrot-testsuite/tests/it/emulator.rs");
    for n in 1..=patches {
        assert!(
            readme.contains(&format!("\n| {n} |")),
            "patch {n} is missing from tools/emulator/README.md"
        );
        assert!(
            tests.contains(&format!("/// Patch {n}:")),
            "patch {n} has no test in tests/it/emulator.rs"
        );
    }
    assert!(patches >= 4);
}

/// The string constants `pub const NAME: &str = "value";` of a source file.
fn string_consts(path: &str) -> Vec<String> {
    read(path)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter(|l| l.contains(": &str = \""))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn lambda_docs_cover_every_setting_event_and_metric() {
    let docs = read("docs/LAMBDA.md");
    let settings = string_consts("crates/kmsrot-lambda/src/settings.rs");
    assert!(settings.len() >= 7, "{settings:?}");
    let events = string_consts("crates/kmsrot-types/src/event.rs");
    assert!(events.len() >= 8, "{events:?}");
    // Metric names: `Variant => "Name", Unit, "doc";` lines of the metric_names! table.
    let metrics: Vec<String> = read("crates/kmsrot-types/src/metrics.rs")
        .lines()
        .filter(|l| l.contains(" => \"") && l.trim_end().ends_with(';'))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect();
    assert!(metrics.len() >= 12, "{metrics:?}");
    for name in settings.iter().chain(&events).chain(&metrics) {
        assert!(
            docs.contains(&format!("`{name}`")) || docs.contains(name.as_str()),
            "docs/LAMBDA.md does not mention {name}"
        );
    }
    for name in &settings {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "docs/LAMBDA.md's settings table lacks `{name}`"
        );
    }
    for name in &metrics {
        assert!(
            docs.contains(&format!("| `{name}` |")),
            "docs/LAMBDA.md's metrics table lacks `{name}`"
        );
    }
}

/// The engine's KMS calls all go through `engine/store.rs`, which paces them and maps their
/// errors: no other engine module takes a slot from the pace, holds an SDK client or sends a
/// request.
#[test]
fn only_the_store_calls_kms_in_the_engine() {
    let dir = project_root().join("crates/kmsrot-core/src/engine");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    assert!(files.len() > 5);
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("store.rs")) {
        let text = fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for forbidden in [
                "pace.tick",
                "Pace::",
                ".client",
                ".send()",
                "into_paginator",
            ] {
                if code.contains(forbidden) {
                    let name = file.file_name().unwrap().to_string_lossy();
                    found.push(format!("{name}:{}: {forbidden}", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "KMS calls outside engine/store.rs: {found:?}"
    );
}
