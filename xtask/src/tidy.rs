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

/// The modules a file declares with `mod NAME;` (any visibility); inline `mod NAME { … }`
/// blocks, test modules among them, are not counted.
fn declared_modules(path: &str) -> Vec<String> {
    read(path)
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            // `pub`, `pub(crate)`, `pub(super)`, `pub(in …)`.
            let line = match line.strip_prefix("pub") {
                Some(rest) => match rest.strip_prefix('(') {
                    Some(scoped) => scoped.split_once(')')?.1,
                    None => rest,
                },
                None => line,
            };
            let name = line
                .trim_start()
                .strip_prefix("mod ")?
                .strip_suffix(';')?
                .trim();
            let is_name =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            is_name.then(|| name.to_owned())
        })
        .collect()
}

/// The text of every `code span` in a Markdown document (a span may wrap onto the next
/// line), fenced code blocks left out.
fn code_spans(markdown: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Whether a code span names a module: `NAME`, `NAME.rs`, `NAME/`, or a path that ends in it
/// (`engine/guard.rs`, `src/validate/`, `kmsrot_core::observe`).
fn names_module(span: &str, module: &str) -> bool {
    let path = span.trim_end_matches('/');
    let path = path.strip_suffix(".rs").unwrap_or(path);
    path == module
        || path.ends_with(&format!("/{module}"))
        || path.ends_with(&format!("::{module}"))
}

/// ARCHITECTURE.md's code map names every module that a crate root declares, and every
/// module of the engine, of S3 and of the CLI's commands: a new module is placed on the map
/// when it is made.
#[test]
fn architecture_names_every_module() {
    let root = project_root();
    let mut files: Vec<String> = Vec::new();
    for entry in fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        for file in ["src/lib.rs", "src/main.rs"] {
            if dir.join(file).is_file() {
                let path = dir.join(file);
                files.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    files.extend(
        [
            "xtask/src/main.rs",
            "crates/kmsrot-core/src/engine/mod.rs",
            "crates/kmsrot-core/src/s3/mod.rs",
            "crates/kmsrot-cli/src/cmd/mod.rs",
        ]
        .map(str::to_owned),
    );
    let architecture = read("ARCHITECTURE.md");
    let spans = code_spans(&architecture);
    let mut declared = 0;
    let mut missing = Vec::new();
    for file in &files {
        for module in declared_modules(file) {
            declared += 1;
            if !spans.iter().any(|span| names_module(span, &module)) {
                missing.push(format!("`{module}` ({file})"));
            }
        }
    }
    assert!(declared >= 50, "only {declared} modules found in {files:?}");
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md does not name these modules (as `name`, `name.rs`, `name/` or a path \
         ending in it):\n{}",
        missing.join("\n")
    );
}

/// The docs describe what kmsrot is, not what it is going to be: a feature is documented
/// when it exists, and what kmsrot does not do is said plainly. Links stay inside the
/// repository.
#[test]
fn docs_promise_nothing_for_later() {
    const PROMISES: [&str; 8] = [
        "comes later",
        "come later",
        "in later work",
        "still to come",
        "not built yet",
        "will be built",
        "later issues",
        "../shared/",
    ];
    let root = project_root();
    let mut in_docs: Vec<String> = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    in_docs.sort();
    assert!(!in_docs.is_empty(), "no docs/*.md");
    let mut docs = vec!["ARCHITECTURE.md".to_owned(), "README.md".to_owned()];
    docs.extend(in_docs);
    let mut found = Vec::new();
    for doc in &docs {
        for (n, line) in read(doc).lines().enumerate() {
            let lower = line.to_lowercase();
            for promise in PROMISES.iter().filter(|p| lower.contains(**p)) {
                found.push(format!("{doc}:{}: \"{promise}\": {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "describe what exists, or say plainly what kmsrot does not do:\n{}",
        found.join("\n")
    );
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

/// xtask's own dependencies carry no AWS SDK crate, directly or through a kmsrot crate that
/// calls AWS, so that `cargo xtask` starts in seconds on a fresh clone (its tests may use
/// more: dev-dependencies are built only for them).
#[test]
fn xtask_has_no_aws_sdk_dependency() {
    let manifest = read("xtask/Cargo.toml");
    let start = manifest.find("\n[dependencies]\n").expect("[dependencies]");
    let section = &manifest[start + 1..];
    let section = &section[..section[1..]
        .find("\n[")
        .map_or(section.len(), |end| end + 1)];
    let names: Vec<&str> = section
        .lines()
        .skip(1)
        .filter_map(|line| line.split(['.', ' ', '=']).next())
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .collect();
    assert!(names.contains(&"anyhow"), "{names:?}");
    let heavy: Vec<&&str> = names
        .iter()
        .filter(|name| {
            name.starts_with("aws")
                || [
                    "kmsrot-core",
                    "kmsrot-lambda",
                    "kmsrot-testsuite",
                    "kmsrot-deploy",
                    "tokio",
                ]
                .contains(name)
        })
        .collect();
    assert!(heavy.is_empty(), "xtask depends on {heavy:?}");
}

/// The Lambda takes kmsrot-core without its optional parts (S3, the file scanner, STS, SSO),
/// and every AWS SDK crate comes without its legacy `rustls` feature, which would add a second
/// HTTP and TLS stack: the bootstrap carries only what it runs.
#[test]
fn the_lambda_builds_only_what_it_runs() {
    let lambda = read("crates/kmsrot-lambda/Cargo.toml");
    let core = lambda
        .lines()
        .find(|line| line.starts_with("kmsrot-core"))
        .expect("the Lambda depends on kmsrot-core");
    assert_eq!(
        core, "kmsrot-core.workspace = true",
        "no features for the Lambda"
    );
    let workspace = read("Cargo.toml");
    for line in workspace
        .lines()
        .filter(|l| l.starts_with("aws-sdk-") || l.starts_with("aws-config"))
    {
        assert!(
            line.contains("default-features = false") && !line.contains("\"rustls\""),
            "{line}"
        );
    }
}
