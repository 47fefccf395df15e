//! Go: `go.mod` in the directory. A `main.go` at its top and every `cmd/<name>/main.go` is a
//! program: each is built by a setup step (`go build -o bin/<name> ./cmd/<name>`) and runs
//! `bin/<name>`. A program listens when its package mentions a port (`PORT`, `ListenAndServe`,
//! `net.Listen`); it then gets `PORT`.

use std::collections::BTreeMap;

use super::{Detected, Dir, Found, PORT, entries};
use crate::model::{CommandType, EntryKind, Evidence, Setup};

/// What in a program's sources says it serves on a port (a regular expression for `grep`).
const LISTENS: &str = "PORT|ListenAndServe|net\\.Listen|\\.Listen\\(|\\.Run\\(\"";

pub fn detect(dir: &Dir) -> Detected {
    let mut out = Detected {
        source: "go",
        ..Detected::default()
    };
    let Some(gomod) = dir.read("go.mod") else {
        return Detected::default();
    };
    let module = gomod
        .lines()
        .find_map(|l| l.trim().strip_prefix("module "))
        .map(|m| m.trim().trim_matches('"').to_string());
    let go_mod = dir.join("go.mod");
    out.evidence.push(Evidence::new(
        &go_mod,
        match &module {
            Some(m) => format!("Go module `{m}`"),
            None => "a Go module".into(),
        },
    ));

    // (name, package directory relative to `dir` as `go build` takes it, main file)
    let mut programs: Vec<(String, String, String)> = vec![];
    if dir.has("main.go") {
        // `github.com/acme/ledger/v2` is `ledger`: a major-version suffix is no name.
        let name = module
            .as_deref()
            .and_then(|m| {
                m.rsplit('/').find(|seg| {
                    !(seg.len() > 1
                        && seg.starts_with('v')
                        && seg[1..].bytes().all(|b| b.is_ascii_digit()))
                })
            })
            .filter(|n| !n.is_empty())
            .or_else(|| dir.path.rsplit('/').next().filter(|n| !n.is_empty()))
            .unwrap_or("app")
            .to_string();
        programs.push((name, ".".into(), dir.join("main.go")));
    }
    for e in entries(dir.project, &dir.join("cmd")) {
        if e.kind != EntryKind::Directory {
            continue;
        }
        let main = format!("{}/main.go", e.path);
        if dir.project.read_file(&main, 1).is_err() {
            continue;
        }
        let name = e.path.rsplit('/').next().unwrap_or(&e.path).to_string();
        programs.push((name.clone(), format!("./cmd/{name}"), main));
    }
    if programs.is_empty() {
        out.notes.push(format!(
            "{go_mod}: no `main.go` at the top nor `cmd/*/main.go`: nothing to run"
        ));
        return out;
    }
    let several = programs.len() > 1;
    for (name, pkg, main) in programs {
        out.setup.push(Setup {
            command_type: CommandType::Exec,
            command: format!("go build -o bin/{name} {pkg}"),
            is_safe: true,
            // Downloads modules unless they are vendored.
            allowed_in_production: false,
            timeout_s: Some(900),
            reason: format!("build the program `{name}` ({main}) into bin/{name}"),
            working_dir: dir.path.clone(),
        });
        let pkg_dir = main.rsplit_once('/').map_or("", |(d, _)| d);
        // The root package is grepped only in its main file, as `cmd/` below it holds the others.
        let grep_path = if pkg == "." { main.as_str() } else { pkg_dir };
        let hit = dir
            .project
            .grep(LISTENS, grep_path, 1)
            .ok()
            .and_then(|m| m.into_iter().next());
        let mut evidence = vec![Evidence::new(
            &main,
            format!("package main: program `{name}`"),
        )];
        let mut env = BTreeMap::new();
        if let Some(h) = &hit {
            evidence.push(Evidence::new(
                &h.path,
                format!("listens: `{}`", clip(h.text.trim())),
            ));
            env.insert("PORT".to_string(), PORT.to_string());
        } else {
            out.notes.push(format!(
                "program `{name}` ({main}) mentions no port: planned without one"
            ));
        }
        out.services.push(Found {
            process: if several { name.clone() } else { String::new() },
            argv: vec![format!("bin/{name}")],
            working_dir: dir.path.clone(),
            listens: hit.is_some(),
            env,
            confidence: if hit.is_some() { 0.85 } else { 0.6 },
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
