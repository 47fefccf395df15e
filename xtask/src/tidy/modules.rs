//! Which `.rs` files a crate compiles: the files its `mod NAME;` declarations reach from the crate
//! roots (`#[path = "..."]` included). A file nothing reaches is never compiled, so its tests never
//! run: with `autotests = false` that is what happens to a new file in `tests/tests/` until
//! `tests/tests/main.rs` names it. Also where `#[cfg(test)] mod NAME;` declarations point, so that
//! such files count as test code.

use std::collections::{BTreeMap, BTreeSet};

use super::lex::Source;

/// The directory (repository-relative, `/`-separated, without a trailing slash) in which the
/// `mod NAME;` declarations of `file` look for `NAME.rs` and `NAME/mod.rs`.
pub fn child_dir(file: &str, is_root: bool) -> String {
    let (parent, name) = file.rsplit_once('/').unwrap_or(("", file));
    if is_root || matches!(name, "mod.rs" | "lib.rs" | "main.rs") {
        parent.to_string()
    } else {
        let stem = name.strip_suffix(".rs").unwrap_or(name);
        if parent.is_empty() {
            stem.to_string()
        } else {
            format!("{parent}/{stem}")
        }
    }
}

/// The `mod NAME;` declarations of a file as (name, `#[path]` value, offset).
pub fn declarations(text: &str, src: &Source) -> Vec<(String, Option<String>, usize)> {
    let idents = src.idents();
    let mut out = Vec::new();
    for (i, (pos, tok)) in idents.iter().enumerate() {
        if *tok != "mod" {
            continue;
        }
        let Some((name_pos, name)) = idents.get(i + 1) else {
            continue;
        };
        if src.next_char(name_pos + name.len()) != Some(';') {
            continue;
        }
        out.push((name.to_string(), path_attr(text, src, *pos), *pos));
    }
    out
}

/// The value of a `#[path = "..."]` among the attributes right before the item at `pos`.
fn path_attr(text: &str, src: &Source, pos: usize) -> Option<String> {
    let mut before = src.code[..pos].trim_end();
    // Visibility: `pub`, `pub(crate)`, `pub(super)`.
    if let Some(rest) = before.strip_suffix(')')
        && let Some(open) = rest.rfind('(')
        && rest[..open].trim_end().ends_with("pub")
    {
        before = rest[..open].trim_end();
    }
    before = before.strip_suffix("pub").unwrap_or(before).trim_end();
    while before.ends_with(']') {
        let open = before.rfind("#[")?;
        let attr = &text[open..before.len()];
        if attr
            .trim_start_matches("#[")
            .trim_start()
            .starts_with("path")
        {
            let value = attr.split('"').nth(1)?;
            return Some(value.to_string());
        }
        before = before[..open].trim_end();
    }
    None
}

/// Where a declaration in `file` points: `#[path]` relative to the file's directory, else
/// `NAME.rs` or `NAME/mod.rs` (whichever exists in `files`).
pub fn resolve(
    file: &str,
    is_root: bool,
    name: &str,
    path: Option<&str>,
    files: &BTreeSet<String>,
) -> Option<String> {
    if let Some(p) = path {
        let parent = file.rsplit_once('/').map_or("", |(d, _)| d);
        return Some(normalize(&format!("{parent}/{p}")));
    }
    let dir = child_dir(file, is_root);
    [format!("{dir}/{name}.rs"), format!("{dir}/{name}/mod.rs")]
        .into_iter()
        .find(|c| files.contains(c))
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The files under `dir` (a key prefix of `sources`) that no declaration reaches from `roots`.
pub fn unreached(
    dir: &str,
    roots: &[&str],
    sources: &BTreeMap<String, (String, Source)>,
) -> Vec<String> {
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<(String, bool)> = roots
        .iter()
        .filter(|r| names.contains(**r))
        .map(|r| (r.to_string(), true))
        .collect();
    while let Some((file, is_root)) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let Some((text, src)) = sources.get(&file) else {
            continue;
        };
        for (name, path, _) in declarations(text, src) {
            if let Some(child) = resolve(&file, is_root, &name, path.as_deref(), &names) {
                todo.push((child, false));
            }
        }
    }
    names
        .into_iter()
        .filter(|f| f.starts_with(&format!("{dir}/")) && !seen.contains(f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> BTreeMap<String, (String, Source)> {
        files
            .iter()
            .map(|(p, t)| (p.to_string(), (t.to_string(), Source::new(t))))
            .collect()
    }

    #[test]
    fn declarations_with_visibility_and_path_attributes() {
        let text = "mod a;\npub(crate) mod b;\n#[cfg(test)]\n#[path = \"b_tests.rs\"]\nmod c;\nmod inline { }\n// mod d;\n";
        let src = Source::new(text);
        let found: Vec<_> = declarations(text, &src)
            .into_iter()
            .map(|(n, p, _)| (n, p))
            .collect();
        assert_eq!(
            found,
            [
                ("a".to_string(), None),
                ("b".to_string(), None),
                ("c".to_string(), Some("b_tests.rs".to_string()))
            ]
        );
    }

    #[test]
    fn files_no_module_reaches_are_reported() {
        let s = sources(&[
            ("t/tests/main.rs", "mod api;\nmod cron;\n"),
            ("t/tests/api.rs", "fn x() {}"),
            (
                "t/tests/cron.rs",
                "mod overlap;\n#[path = \"cron/extra.rs\"]\nmod extra;\n",
            ),
            ("t/tests/cron/overlap.rs", ""),
            ("t/tests/cron/extra.rs", ""),
            ("t/tests/errors.rs", ""),
            ("t/tests/cron/stray.rs", ""),
        ]);
        assert_eq!(
            unreached("t/tests", &["t/tests/main.rs"], &s),
            ["t/tests/cron/stray.rs", "t/tests/errors.rs"]
        );
    }

    #[test]
    fn child_directories_of_roots_mod_rs_and_plain_files() {
        assert_eq!(child_dir("host/src/lib.rs", true), "host/src");
        assert_eq!(child_dir("host/src/cron/mod.rs", false), "host/src/cron");
        assert_eq!(child_dir("host/src/process.rs", false), "host/src/process");
        assert_eq!(child_dir("tests/tests/main.rs", true), "tests/tests");
    }
}
