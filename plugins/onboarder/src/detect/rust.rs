//! Rust: `Cargo.toml` in the directory. Each binary target (`[[bin]]`, `src/main.rs`,
//! `src/bin/*.rs`, `src/bin/*/main.rs`) becomes a service running `target/release/<bin>` after one
//! `cargo build --release`; `default-run` comes first. A workspace root plans its members' binaries
//! (built from the root, where the shared `target/` is); a member of a workspace plans nothing of its
//! own, so the monorepo walk does not plan it twice. Whether a binary listens is only known when its
//! sources mention a port: without that it is planned as a process without one, at low confidence.
//!
//! `Cargo.toml` is read with a small line reader (tables, `key = "string"`, string arrays), enough
//! for the keys used here; the plugin carries no TOML parser.

use std::collections::BTreeMap;

use super::{Detected, Dir, Found, PORT, entries};
use crate::model::{CommandType, EntryKind, Evidence, Project, Setup};

/// What in a binary's sources says it serves on a port (a regular expression for `grep`).
const LISTENS: &str =
    "PORT|TcpListener|HttpServer::new|axum::serve|hyper::Server|warp::serve|tiny_http|rocket::";

/// The keys of one TOML table (`package`, `bin`, `workspace`): strings, and arrays of strings.
#[derive(Debug, Default)]
struct Table {
    name: String,
    strings: BTreeMap<String, String>,
    arrays: BTreeMap<String, Vec<String>>,
    bools: BTreeMap<String, bool>,
}

fn parse_toml(text: &str) -> Vec<Table> {
    let mut tables = vec![Table::default()];
    let mut open: Option<(String, String)> = None; // a multi-line array: key, text so far
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if let Some((key, mut acc)) = open.take() {
            acc.push_str(line);
            if line.contains(']') {
                let t = tables.last_mut().expect("a table");
                t.arrays.insert(key, string_items(&acc));
            } else {
                open = Some((key, acc));
            }
            continue;
        }
        if let Some(h) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            tables.push(Table {
                name: h.trim().to_string(),
                ..Table::default()
            });
        } else if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            tables.push(Table {
                name: h.trim().to_string(),
                ..Table::default()
            });
        } else if let Some((k, v)) = line.split_once('=') {
            let (k, v) = (k.trim().trim_matches('"').to_string(), v.trim());
            let t = tables.last_mut().expect("a table");
            if v.starts_with('[') {
                if v.contains(']') {
                    t.arrays.insert(k, string_items(v));
                } else {
                    open = Some((k, v.to_string()));
                }
            } else if let Some(s) = unquote(v) {
                t.strings.insert(k, s);
            } else if v == "true" || v == "false" {
                t.bools.insert(k, v == "true");
            }
        }
    }
    tables
}

fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn unquote(v: &str) -> Option<String> {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
        .map(str::to_string)
}

fn string_items(array: &str) -> Vec<String> {
    let inner = array.trim().trim_start_matches('[').trim_end_matches(']');
    inner.split(',').filter_map(unquote).collect()
}

struct Manifest {
    tables: Vec<Table>,
}

impl Manifest {
    fn read(project: &dyn Project, path: &str) -> Option<Manifest> {
        let f = project.read_file(path, 256 * 1024).ok()?;
        Some(Manifest {
            tables: parse_toml(&f.content),
        })
    }

    fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    fn package(&self, key: &str) -> Option<&str> {
        self.table("package")?.strings.get(key).map(String::as_str)
    }
}

/// A binary target: its name and its main source file (root-relative).
#[derive(Debug)]
struct Bin {
    name: String,
    source: String,
    evidence: Evidence,
}

/// The binaries of the package in `crate_dir` (root-relative).
fn bins(project: &dyn Project, crate_dir: &str, m: &Manifest) -> Vec<Bin> {
    let join = |p: &str| {
        if crate_dir.is_empty() {
            p.to_string()
        } else {
            format!("{crate_dir}/{p}")
        }
    };
    let manifest = join("Cargo.toml");
    let exists = |p: &str| project.read_file(p, 1).is_ok();
    let mut out: Vec<Bin> = vec![];
    for t in m.tables.iter().filter(|t| t.name == "bin") {
        let Some(name) = t.strings.get("name") else {
            continue;
        };
        // Without `path`, cargo takes `src/bin/<name>.rs`, or `src/main.rs` for the package's name.
        let source = t.strings.get("path").map(|p| join(p)).unwrap_or_else(|| {
            let own = join(&format!("src/bin/{name}.rs"));
            if !exists(&own) && m.package("name") == Some(name.as_str()) {
                join("src/main.rs")
            } else {
                own
            }
        });
        out.push(Bin {
            name: name.clone(),
            source,
            evidence: Evidence::new(&manifest, format!("[[bin]] `{name}`")),
        });
    }
    let autobins = m
        .table("package")
        .and_then(|t| t.bools.get("autobins"))
        .copied()
        .unwrap_or(true);
    if !autobins {
        return out;
    }
    let mut auto = vec![];
    let main = join("src/main.rs");
    if exists(&main)
        && let Some(name) = m.package("name")
    {
        auto.push((
            name.to_string(),
            main.clone(),
            format!("{main}: the package's binary"),
        ));
    }
    for e in entries(project, &join("src/bin")) {
        let file = e.path.rsplit('/').next().unwrap_or(&e.path).to_string();
        match e.kind {
            EntryKind::File => {
                if let Some(stem) = file.strip_suffix(".rs") {
                    auto.push((
                        stem.to_string(),
                        e.path.clone(),
                        format!("{}: a binary", e.path),
                    ));
                }
            }
            EntryKind::Directory => {
                let main = format!("{}/main.rs", e.path);
                if exists(&main) {
                    auto.push((file, main.clone(), format!("{main}: a binary")));
                }
            }
            _ => {}
        }
    }
    for (name, source, reason) in auto {
        // A `[[bin]]` with the same name or source configures the discovered target.
        if out.iter().any(|b| b.name == name || b.source == source) {
            continue;
        }
        out.push(Bin {
            evidence: Evidence::new(&source, reason),
            name,
            source,
        });
    }
    out
}

/// The directories of the workspace's `members` (globs `dir/*` expanded), root-relative.
fn members(dir: &Dir, ws: &Table) -> Vec<String> {
    let excluded = ws.arrays.get("exclude").cloned().unwrap_or_default();
    let mut out = vec![];
    for m in ws.arrays.get("members").into_iter().flatten() {
        match m.strip_suffix("/*") {
            Some(parent) => {
                for e in entries(dir.project, &dir.join(parent)) {
                    if e.kind == EntryKind::Directory {
                        out.push(e.path);
                    }
                }
            }
            None => out.push(dir.join(m.trim_end_matches('/'))),
        }
    }
    out.retain(|p| !excluded.iter().any(|x| *p == dir.join(x)));
    out.sort();
    out.dedup();
    out
}

/// Whether a workspace above `dir` lists it, so the root plans it.
fn in_workspace(dir: &Dir) -> Option<String> {
    let mut p = dir.path.as_str();
    while let Some((parent, _)) = p.rsplit_once('/') {
        p = parent;
        if let Some(ws) = in_workspace_at(dir, p) {
            return Some(ws);
        }
    }
    if !dir.path.is_empty() {
        return in_workspace_at(dir, "");
    }
    None
}

fn in_workspace_at(dir: &Dir, root: &str) -> Option<String> {
    let path = if root.is_empty() {
        "Cargo.toml".to_string()
    } else {
        format!("{root}/Cargo.toml")
    };
    let m = Manifest::read(dir.project, &path)?;
    let ws = m.table("workspace")?;
    let root_dir = Dir {
        project: dir.project,
        path: root.to_string(),
        entries: vec![],
    };
    members(&root_dir, ws).contains(&dir.path).then_some(path)
}

pub fn detect(dir: &Dir) -> Detected {
    let mut out = Detected {
        source: "rust",
        ..Detected::default()
    };
    if !dir.has("Cargo.toml") {
        return Detected::default();
    }
    let manifest_path = dir.join("Cargo.toml");
    let Some(m) = Manifest::read(dir.project, &manifest_path) else {
        return Detected::default();
    };
    if let Some(ws) = in_workspace(dir) {
        out.notes.push(format!(
            "{manifest_path} is a member of the workspace {ws}: planned from there"
        ));
        return out;
    }
    // (crate directory, its manifest) of every package planned here.
    let mut crates: Vec<(String, Manifest)> = vec![];
    let mut member_dirs = vec![];
    if let Some(ws) = m.table("workspace") {
        member_dirs = members(dir, ws);
    }
    // An empty `[workspace]` only stops cargo looking above the package: not a workspace to walk.
    let workspace = !member_dirs.is_empty();
    if workspace {
        out.evidence.push(Evidence::new(
            &manifest_path,
            format!("a Cargo workspace of {} members", member_dirs.len()),
        ));
    }
    if m.table("package").is_some() {
        crates.push((dir.path.clone(), m));
    }
    for d in &member_dirs {
        if let Some(mm) = Manifest::read(dir.project, &format!("{d}/Cargo.toml")) {
            crates.push((d.clone(), mm));
        }
    }
    let mut all: Vec<(Bin, bool)> = vec![];
    for (crate_dir, cm) in &crates {
        let default_run = cm.package("default-run").map(str::to_string);
        for b in bins(dir.project, crate_dir, cm) {
            let first = default_run.as_deref() == Some(b.name.as_str());
            all.push((b, first));
        }
    }
    if all.is_empty() {
        out.notes.push(format!(
            "{manifest_path}: no binary target (a library): nothing to run"
        ));
        return out;
    }
    let build = if workspace {
        "cargo build --release --workspace"
    } else {
        "cargo build --release"
    };
    out.setup.push(Setup {
        command_type: CommandType::Exec,
        command: build.into(),
        is_safe: true,
        // Downloads crates unless they are vendored.
        allowed_in_production: false,
        timeout_s: Some(1800),
        reason: format!("build the {} binaries into target/release", all.len()),
        working_dir: dir.path.clone(),
    });
    // `default-run` first, then by name.
    all.sort_by(|(a, af), (b, bf)| bf.cmp(af).then(a.name.cmp(&b.name)));
    let several = all.len() > 1;
    for (b, default_run) in all {
        let mut evidence = vec![b.evidence.clone()];
        if default_run {
            evidence.push(Evidence::new(
                &manifest_path,
                format!("default-run = `{}`", b.name),
            ));
        }
        // One binary: anything in its package may open the port; several: only its own source says.
        let grep_path = if several {
            b.source.clone()
        } else {
            b.source
                .rsplit_once("/src/")
                .map(|(c, _)| format!("{c}/src"))
                .unwrap_or_else(|| "src".into())
        };
        let hit = dir
            .project
            .grep(LISTENS, &grep_path, 1)
            .ok()
            .and_then(|m| m.into_iter().next());
        // A binary that is not `default-run` among several is less likely the one to keep running.
        let confidence = match (hit.is_some(), several && !default_run) {
            (true, false) => 0.8,
            (true, true) => 0.7,
            (false, false) => 0.5,
            (false, true) => 0.4,
        };
        let mut env = BTreeMap::new();
        match &hit {
            Some(h) => {
                evidence.push(Evidence::new(
                    &h.path,
                    format!("mentions a port: `{}`", clip(h.text.trim())),
                ));
                env.insert("PORT".to_string(), PORT.to_string());
            }
            None => out.notes.push(format!(
                "binary `{}` ({}) mentions no port: planned without one, check whether it listens",
                b.name, b.source
            )),
        }
        out.services.push(Found {
            process: if several {
                b.name.clone()
            } else {
                String::new()
            },
            argv: vec![format!("target/release/{}", b.name)],
            working_dir: dir.path.clone(),
            listens: hit.is_some(),
            env,
            confidence,
            evidence,
            ..Found::default()
        });
    }
    out
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
