//! Paths named in the docs must exist. A backticked span in ARCHITECTURE.md or a README that looks
//! like a path of this repository is resolved against the repository root, against `host/src` (the code
//! map names modules such as `cron/exec.rs`) and against the document's own directory; one of them must
//! exist. Fenced code blocks are examples, not claims about the tree, and are skipped, as are build
//! outputs (`target/...`), absolute paths, URLs and anything with a placeholder (`<name>`, `{id}`, `*`).

use std::path::Path;

/// Extensions that make a span a file path even when its first directory is not one of ours.
const FILE_EXTENSIONS: &[&str] = &[
    "rs",
    "md",
    "toml",
    "wit",
    "json",
    "sql",
    "sh",
    "c",
    "py",
    "yml",
    "yaml",
    "lock",
    "txt",
    "caddyfile",
    "db",
];

/// Characters that never occur in the repository's paths but do in commands, URLs, routes, types and
/// placeholders.
const NOT_IN_PATHS: &[char] = &[
    '<', '>', '{', '}', '*', '$', '=', '|', ',', ';', ':', '(', ')', '[', ']', '"', '\'', '?', '!',
    '@', '&', '%', '~', '#', '+', '\\',
];

/// Where a span is looked up: the repository root, `host/src`, the document's directory.
pub fn bases(root: &Path, doc: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![root.to_path_buf(), root.join("host/src")];
    if let Some(dir) = root.join(doc).parent() {
        out.push(dir.to_path_buf());
    }
    out
}

/// Whether a backticked span names something in the repository (and so must exist). `known_first`
/// says whether a directory or file of that name exists at one of the bases, for spans such as
/// `host/migrations` that have neither an extension nor a trailing slash.
pub fn is_repo_path(span: &str, known_first: impl Fn(&str) -> bool) -> bool {
    let span = span.trim();
    if span.is_empty()
        || span
            .chars()
            .any(|c| c.is_whitespace() || NOT_IN_PATHS.contains(&c))
        || span.starts_with(['/', '-'])
        || (span.contains("..") && !span.starts_with("../"))
        || span == "target"
        || span.starts_with("target/")
    {
        return false;
    }
    let trimmed = span.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    let has_extension = last
        .rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && FILE_EXTENSIONS.contains(&ext));
    if !span.contains('/') {
        return has_extension && (last.ends_with(".rs") || last.ends_with(".md"));
    }
    has_extension
        || span.ends_with('/')
        || span.starts_with("./")
        || span.starts_with("../")
        || known_first(span.split('/').next().unwrap_or(span))
}

/// The backticked spans of a Markdown text outside fenced blocks, with their 1-based lines. A line
/// that is nothing but a span and a colon right before a fenced block names the example's file (what a
/// tutorial has the reader create), not a file of the repository, and is skipped.
pub fn spans(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let trimmed = line.trim();
        let names_example = trimmed.starts_with('`')
            && trimmed.ends_with("`:")
            && trimmed.matches('`').count() == 2
            && lines[i + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_start().starts_with("```"));
        if names_example {
            continue;
        }
        // Odd pieces between backticks are spans; a line with an unmatched backtick ends without one.
        let pieces: Vec<&str> = line.split('`').collect();
        for (j, piece) in pieces.iter().enumerate() {
            if j % 2 == 1 && j + 1 < pieces.len() {
                out.push((i + 1, *piece));
            }
        }
    }
    out
}

/// Paths a document names that exist at none of its bases.
pub fn missing_paths(root: &Path, doc: &Path, text: &str) -> Vec<(usize, String)> {
    let bases = bases(root, doc);
    let known_first = |first: &str| bases.iter().any(|b| b.join(first).exists());
    spans(text)
        .into_iter()
        .filter(|(_, span)| is_repo_path(span, known_first))
        .filter(|(_, span)| !bases.iter().any(|b| b.join(span.trim()).exists()))
        .map(|(line, span)| {
            (
                line,
                format!(
                    "names `{span}`, which exists neither in the repository root, nor in host/src, \
                     nor next to the document"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_outside_fences() {
        let text = "see `a/b.rs` and `c`\n```\n`x/y.rs`\n```\nodd ` backtick `d.rs` x\n\
                    `my/Cargo.toml`:\n\n```toml\n```\n`not/example.rs`:\nsome text\n";
        assert_eq!(
            spans(text),
            [
                (1, "a/b.rs"),
                (1, "c"),
                (5, " backtick "),
                (10, "not/example.rs")
            ]
        );
    }

    #[test]
    fn what_counts_as_a_repository_path() {
        let ours = |first: &str| matches!(first, "host" | "plugins" | ".ci");
        for yes in [
            "cron/exec.rs",
            "supervisor/mod.rs",
            "host/migrations",
            "plugins/policy",
            "wit/",
            "rules/",
            ".ci/run",
            "../wit",
            "lifecycle.rs",
            "ARCHITECTURE.md",
            "tests/fixtures/compat-0.1/tend.db",
        ] {
            assert!(is_repo_path(yes, ours), "{yes}");
        }
        for no in [
            "/proc",
            "/api/services/{name}",
            "<data-dir>/plugins/",
            "target/plugins/",
            "target",
            "http://localhost:2019",
            "text/plain; charset=utf-8",
            "application/json",
            "127.0.0.0/8",
            "tend.toml",
            "cargo xtask test",
            "fixtures/*",
            "X=/;",
            "$XDG_DATA_HOME/tend",
            "~/.local/share/tend",
            "a/../b",
            "",
        ] {
            assert!(!is_repo_path(no, ours), "{no}");
        }
    }

    #[test]
    fn missing_paths_are_reported_with_their_lines() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("host/src/cron")).unwrap();
        std::fs::create_dir_all(root.path().join("plugins/policy")).unwrap();
        std::fs::write(root.path().join("host/src/cron/exec.rs"), "").unwrap();
        let text =
            "`cron/exec.rs` and `cron/gone.rs`\n`plugins/policy` `../host`\n`plugins/nope/`\n";
        let found = missing_paths(root.path(), Path::new("plugins/README.md"), text);
        let names: Vec<_> = found
            .iter()
            .map(|(l, m)| (*l, m.split('`').nth(1).unwrap()))
            .collect();
        assert_eq!(names, [(1, "cron/gone.rs"), (3, "plugins/nope/")]);
    }
}
