//! The command lines the documentation quotes, so that tests can parse each with the real
//! argument parser of its program (`kmsrot`, `cargo xtask`, `kmsrot-validate`).

use std::path::{Path, PathBuf};

/// The workspace's root folder, found from the folder of the package whose test runs, as
/// cargo sets it at run time (not at build time: builds are shared between clones).
pub fn workspace_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map_or(start.clone(), Path::to_path_buf)
}

/// The workspace's documents: `README.md` and every `docs/*.md`.
pub fn documents() -> Vec<PathBuf> {
    let root = workspace_root();
    let mut paths = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    paths.extend(docs);
    paths
}

/// The command lines of `program` in the `sh`, `bash` and `console` blocks of `text`: a
/// command starts a line (after an optional `$ ` prompt) or follows `| ` or `&& `, and is cut
/// before a pipe, a redirection, a comment, `&&` or `;`.
pub fn commands(text: &str, program: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_block = false;
    let start = format!("{program} ");
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = matches!(line, "```sh" | "```bash" | "```console");
            continue;
        }
        if !in_block {
            continue;
        }
        let line = line.trim_start();
        let line = line.strip_prefix("$ ").unwrap_or(line);
        let mut candidates = vec![line];
        for joint in ["| ", "&& ", "$("] {
            candidates.extend(
                line.match_indices(joint)
                    .map(|(at, j)| &line[at + j.len()..]),
            );
        }
        for candidate in candidates {
            let candidate = candidate.trim_start();
            if !candidate.starts_with(&start) {
                continue;
            }
            let end = [" | ", " > ", " < ", " #", " && ", ";", ")"]
                .iter()
                .filter_map(|stop| candidate.find(stop))
                .min()
                .unwrap_or(candidate.len());
            found.push(candidate[..end].trim().to_owned());
        }
    }
    found
}

/// Checks every command line of `program` that the README and `docs/` quote with `parses`,
/// which gets its arguments (program name first, as `try_parse_from` takes them) and says
/// whether they parse. A line that shows a usage error on purpose says so
/// (`…; echo "exit code $?"  # 2: …`) and must not parse. Panics naming the document and
/// the line; returns how many lines were checked.
pub fn check_commands(program: &str, parses: impl Fn(&[String]) -> Result<(), String>) -> usize {
    let mut checked = 0;
    for path in documents() {
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for command in commands(&text, program) {
            checked += 1;
            let args = shlex::split(&command).unwrap_or_else(|| panic!("cannot split {command}"));
            let shows_usage_error = text.lines().any(|line| {
                line.contains(&format!("{command}; echo \"exit code $?\"")) && line.contains("# 2")
            });
            match parses(&args) {
                Err(err) if !shows_usage_error => {
                    panic!("{}: `{command}` does not parse:\n{err}", path.display())
                }
                Ok(()) if shows_usage_error => {
                    panic!("{}: `{command}` should be a usage error", path.display())
                }
                _ => {}
            }
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_where_they_start_and_cut_where_they_end() {
        let text = "```sh\n$ kmsrot status --alias alias/a > out # note\necho x | kmsrot encrypt --alias alias/a\ncargo xtask deploy --stack-name kmsrot --region us-east-1\nX=$(kmsrot resolve --alias alias/a)\n```\nkmsrot not-in-a-block\n```text\nkmsrot neither\n```\n";
        assert_eq!(
            commands(text, "kmsrot"),
            [
                "kmsrot status --alias alias/a",
                "kmsrot encrypt --alias alias/a",
                "kmsrot resolve --alias alias/a"
            ]
        );
        assert_eq!(
            commands(text, "cargo xtask"),
            ["cargo xtask deploy --stack-name kmsrot --region us-east-1"]
        );
        assert!(documents().iter().any(|p| p.ends_with("README.md")));
    }
}
