//! `cargo xtask tidy`: the invariants a grep can check, over the whole tree, in well under a second.
//! Every finding names `file:line` and the rule it breaks:
//!
//! - ARCHITECTURE.md's confinements in `host/src`: `sqlx` only in `store/`, `wasmtime` only in
//!   `plugins/`, `axum` only in `api/` and the daemon's boot (`daemon.rs`), `libc`/`nix` process calls
//!   (fork, exec, kill, wait, setsid, posix_spawn, ...) and `std`/`tokio` `process::Command` only in
//!   `process.rs` and `process/` (the CLI, a process of its own, may run `$EDITOR`);
//! - every path that ARCHITECTURE.md and the READMEs name exists (`tidy/docs.rs`);
//! - no `#[ignore]` anywhere, and no sleep in test code (`tests/`, `#[cfg(test)]` items and the files
//!   they declare) unless its line says `// tidy:allow-sleep: why`;
//! - every `.rs` file of a crate is reached by its `mod` declarations (a file in `tests/tests/` that
//!   `main.rs` does not name would silently never run).
//!
//! It reads files and nothing else: no cargo, no network. The matchers are unit-tested in each module.

mod docs;
mod lex;
mod modules;
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use lex::Source;

/// Directories never looked into: build output, VCS data, dependencies of the frontend.
const SKIPPED_DIRS: &[&str] = &["target", ".git", "node_modules"];

/// Crates whose files must all be reached from their roots: (source directory, roots).
const CRATES: &[(&str, &[&str])] = &[
    ("host/src", &["host/src/lib.rs", "host/src/main.rs"]),
    ("tests/tests", &["tests/tests/main.rs"]),
    ("tests/src", &["tests/src/lib.rs"]),
    ("xtask/src", &["xtask/src/main.rs"]),
];

pub fn main(args: &[String]) -> anyhow::Result<()> {
    if let Some(arg) = args.first() {
        bail!("`tidy` takes no arguments, got {arg:?}");
    }
    let started = Instant::now();
    let root = crate::root();
    let (findings, files) = check(&root)?;
    for f in &findings {
        eprintln!("{f}");
    }
    let took = started.elapsed().as_secs_f64() * 1000.0;
    if !findings.is_empty() {
        bail!(
            "{} finding(s) in {files} files ({took:.0} ms); see the rules in xtask/src/tidy/mod.rs",
            findings.len()
        );
    }
    println!("tidy: {files} files clean ({took:.0} ms)");
    Ok(())
}

/// Every finding in the tree at `root` as `path:line: message`, sorted, and how many files were read.
pub fn check(root: &Path) -> anyhow::Result<(Vec<String>, usize)> {
    let mut paths = Vec::new();
    walk(root, root, &mut paths)?;
    let mut rust: BTreeMap<String, (String, Source)> = BTreeMap::new();
    let mut docs: Vec<(String, String)> = Vec::new();
    for rel in &paths {
        let is_doc = rel == "ARCHITECTURE.md" || {
            let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
            name.starts_with("readme") && name.ends_with(".md")
        };
        if !rel.ends_with(".rs") && !is_doc {
            continue;
        }
        let text =
            fs::read_to_string(root.join(rel)).with_context(|| format!("cannot read {rel}"))?;
        if is_doc {
            docs.push((rel.clone(), text));
        } else {
            let src = Source::new(&text);
            rust.insert(rel.clone(), (text, src));
        }
    }
    let files = rust.len() + docs.len();

    let mut findings: Vec<(String, usize, String)> = Vec::new();
    let test_files = test_files(&rust);
    for (rel, (_, src)) in &rust {
        let mut add = |found: Vec<(usize, String)>| {
            findings.extend(found.into_iter().map(|(l, m)| (rel.clone(), l, m)));
        };
        if rel.starts_with("host/src/") {
            for rule in rules::CONFINED {
                add(rules::confined_crate(rel, src, rule));
            }
            if !(rel == "host/src/process.rs" || rel.starts_with("host/src/process/")) {
                add(rules::process_calls(src));
                if !rel.starts_with("host/src/cli/") {
                    add(rules::command_spawns(src));
                }
            }
        }
        add(rules::ignore_attrs(src));
        let whole = rel.starts_with("tests/")
            || test_files
                .iter()
                .any(|t| rel == t || rel.starts_with(&format!("{t}/")));
        let ranges = if whole {
            vec![(0, src.code.len())]
        } else {
            src.cfg_test_ranges()
        };
        add(rules::sleeps(src, &ranges));
    }
    for (rel, text) in &docs {
        for (line, message) in docs::missing_paths(root, Path::new(rel), text) {
            findings.push((rel.clone(), line, message));
        }
    }
    for (dir, roots) in CRATES {
        for file in modules::unreached(dir, roots, &rust) {
            let message = format!(
                "no `mod` declaration reaches this file from {}, so it is never compiled: declare it \
                 (`mod name;` in its parent module) or delete it",
                roots.join(" or ")
            );
            findings.push((file, 1, message));
        }
    }
    findings.sort();
    Ok((
        findings
            .into_iter()
            .map(|(path, line, message)| format!("{path}:{line}: {message}"))
            .collect(),
        files,
    ))
}

/// Files and directories (repository-relative, without `.rs`) that `#[cfg(test)] mod NAME;`
/// declarations point to: test code as a whole.
fn test_files(rust: &BTreeMap<String, (String, Source)>) -> BTreeSet<String> {
    let names: BTreeSet<String> = rust.keys().cloned().collect();
    let mut out = BTreeSet::new();
    for (rel, (text, src)) in rust {
        let declared = modules::declarations(text, src);
        for (start, end, name) in src.cfg_test_items() {
            let Some(name) = name else { continue };
            let path = declared
                .iter()
                .find(|(n, _, pos)| *n == name && start <= *pos && *pos < end)
                .and_then(|(_, p, _)| p.clone());
            let is_root = CRATES
                .iter()
                .any(|(_, roots)| roots.contains(&rel.as_str()));
            if let Some(file) = modules::resolve(rel, is_root, &name, path.as_deref(), &names) {
                // `x.rs` stands for `x/` too (its submodules); `x/mod.rs` for its directory.
                let stem = file
                    .strip_suffix("/mod.rs")
                    .or_else(|| file.strip_suffix(".rs"))
                    .unwrap_or(&file)
                    .to_string();
                out.insert(file.clone());
                out.insert(stem);
            }
        }
    }
    out
}

/// Repository-relative paths (with `/`) of every file below `dir`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_ref()) {
                walk(root, &entry.path(), out)?;
            }
        } else if kind.is_file() {
            let rel = entry.path();
            let rel = rel.strip_prefix(root).unwrap_or(&rel);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_tree_with_one_finding_of_each_kind() {
        let root = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = root.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(
            "host/src/lib.rs",
            "mod api;\nmod process;\nmod cron;\n#[cfg(test)]\nmod tests;\n",
        );
        write("host/src/main.rs", "fn main() {}\n");
        write("host/src/api/mod.rs", "use axum::Router;\nuse sqlx::Row;\n");
        write(
            "host/src/process.rs",
            "fn k() { unsafe { libc::kill(1, 9) }; }\n",
        );
        write(
            "host/src/cron.rs",
            "fn k() { nix::sys::signal::kill(p, s); }\n#[cfg(test)]\nmod t {\n #[test]\n #[ignore]\n fn a() { std::thread::sleep(d); }\n}\n",
        );
        write("host/src/tests.rs", "fn b() { std::thread::sleep(d); }\n");
        write("tests/tests/main.rs", "mod api;\n");
        write("tests/tests/api.rs", "fn c() { tokio::time::sleep(d); }\n");
        write("tests/tests/orphan.rs", "\n");
        write("ARCHITECTURE.md", "| `api/mod.rs` | `api/gone.rs` |\n");
        let (found, files) = check(root.path()).unwrap();
        let short: Vec<String> = found
            .iter()
            .map(|f| f.split(": ").next().unwrap().to_string())
            .collect();
        assert_eq!(
            short,
            [
                "ARCHITECTURE.md:1",
                "host/src/api/mod.rs:2",
                "host/src/cron.rs:1",
                "host/src/cron.rs:5",
                "host/src/cron.rs:6",
                "host/src/tests.rs:1",
                "tests/tests/api.rs:1",
                "tests/tests/orphan.rs:1",
            ],
            "{found:#?}"
        );
        assert_eq!(files, 10);
    }
}
