//! Which package manager a Node package uses (its lockfile, or `packageManager`), how each one
//! installs and runs, and the workspaces a directory declares or belongs to.

use serde_json::{Map, Value};

use super::strings;
use crate::detect::{Detected, Dir, entries};
use crate::model::Evidence;

/// Lockfiles in the order they are preferred when a directory has several.
const LOCKFILES: &[(&str, Pm)] = &[
    ("package-lock.json", Pm::Npm),
    ("pnpm-lock.yaml", Pm::Pnpm),
    ("yarn.lock", Pm::Yarn),
    ("bun.lock", Pm::Bun),
    ("bun.lockb", Pm::Bun),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pm {
    Npm,
    Pnpm,
    Yarn,
    Bun,
}

impl Pm {
    pub(super) fn name(self) -> &'static str {
        match self {
            Pm::Npm => "npm",
            Pm::Pnpm => "pnpm",
            Pm::Yarn => "yarn",
            Pm::Bun => "bun",
        }
    }

    /// Runs a script of `package.json`.
    pub(super) fn run(self, script: &str) -> Vec<String> {
        match (self, script) {
            (Pm::Npm, "start") => strings(&["npm", "start"]),
            _ => strings(&[self.name(), "run", script]),
        }
    }

    /// Runs a binary the dependencies installed. Straight from `node_modules/.bin` (relative to the
    /// working directory) rather than through `npx`, which may fetch a missing package from the
    /// registry; yarn's own runner as Plug'n'Play installs have no `node_modules`.
    /// `hoisted`: the way from the package up to its workspace root, where npm and bun put the
    /// workspace's binaries (pnpm links them into each package).
    pub(super) fn exec(self, bin: &str, hoisted: Option<&str>) -> Vec<String> {
        match (self, hoisted) {
            (Pm::Yarn, _) => strings(&["yarn", bin]),
            (Pm::Npm | Pm::Bun, Some(up)) => vec![format!("{up}/node_modules/.bin/{bin}")],
            (Pm::Npm | Pm::Pnpm | Pm::Bun, _) => vec![format!("node_modules/.bin/{bin}")],
        }
    }

    pub(super) fn install(self, locked: bool) -> &'static str {
        match (self, locked) {
            (Pm::Npm, true) => "npm ci",
            (Pm::Npm, false) => "npm install",
            (Pm::Pnpm, true) => "pnpm install --frozen-lockfile",
            (Pm::Pnpm, false) => "pnpm install",
            (Pm::Yarn, true) => "yarn install --frozen-lockfile",
            (Pm::Yarn, false) => "yarn install",
            (Pm::Bun, true) => "bun install --frozen-lockfile",
            (Pm::Bun, false) => "bun install",
        }
    }
}

/// The package manager and its lockfile (`None`: no lockfile, npm assumed).
pub(super) fn package_manager(
    dir: &Dir,
    pkg: &Map<String, Value>,
    out: &mut Detected,
) -> (Pm, Option<String>) {
    let present: Vec<(&str, Pm)> = LOCKFILES
        .iter()
        .copied()
        .filter(|(l, _)| dir.has(l))
        .collect();
    // `"packageManager": "pnpm@9.1.0"` (corepack) says which one the project means.
    let declared = pkg
        .get("packageManager")
        .and_then(Value::as_str)
        .and_then(|s| s.split('@').next())
        .and_then(|n| {
            [Pm::Npm, Pm::Pnpm, Pm::Yarn, Pm::Bun]
                .into_iter()
                .find(|p| p.name() == n)
        });
    let chosen = declared
        .and_then(|d| present.iter().find(|(_, p)| *p == d))
        .or(present.first())
        .copied();
    if present.len() > 1 {
        let names: Vec<&str> = present.iter().map(|(l, _)| *l).collect();
        let (l, pm) = chosen.expect("several lockfiles, one is chosen");
        out.notes.push(format!(
            "{} has several lockfiles ({}): {} was chosen from {l}; remove the others to make it certain",
            if dir.path.is_empty() { "the project" } else { &dir.path },
            names.join(", "),
            pm.name()
        ));
    }
    match chosen {
        Some((l, pm)) => {
            out.evidence.push(Evidence::new(
                dir.join(l),
                format!("{l}: package manager {}", pm.name()),
            ));
            (pm, Some(l.to_string()))
        }
        None => {
            let pm = declared.unwrap_or(Pm::Npm);
            out.notes.push(format!(
                "{} has no lockfile: {} assumed{}",
                dir.join("package.json"),
                pm.name(),
                if declared.is_some() {
                    " from `packageManager`"
                } else {
                    ""
                }
            ));
            out.evidence.push(Evidence::new(
                dir.join("package.json"),
                format!("no lockfile: package manager {}", pm.name()),
            ));
            (pm, None)
        }
    }
}

/// The nearest directory above `dir` that declares workspaces (`workspaces` in its package.json,
/// or a `pnpm-workspace.yaml`).
pub(super) fn workspace_root(dir: &Dir) -> Option<String> {
    if dir.path.is_empty() {
        return None;
    }
    let mut ancestors = vec![];
    let mut p = dir.path.as_str();
    while let Some((parent, _)) = p.rsplit_once('/') {
        ancestors.push(parent.to_string());
        p = parent;
    }
    ancestors.push(String::new());
    let at = |a: &str, f: &str| {
        if a.is_empty() {
            f.to_string()
        } else {
            format!("{a}/{f}")
        }
    };
    ancestors.into_iter().find(|a| {
        dir.project
            .read_file(&at(a, "pnpm-workspace.yaml"), 1)
            .is_ok()
            || dir
                .project
                .read_file(&at(a, "package.json"), 256 * 1024)
                .ok()
                .and_then(|f| serde_json::from_str::<Value>(&f.content).ok())
                .is_some_and(|v| v.get("workspaces").is_some())
    })
}

/// Whether the directory declares workspaces (`workspaces` in package.json for npm, yarn and bun,
/// or `pnpm-workspace.yaml`), then noted with the packages found.
pub(super) fn workspaces(dir: &Dir, pkg: &Map<String, Value>, out: &mut Detected) -> bool {
    let mut patterns: Vec<String> = match pkg.get("workspaces") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(Value::Object(o)) => o
            .get("packages")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        _ => vec![],
    };
    let mut from = dir.join("package.json");
    if let Some(yaml) = dir.read("pnpm-workspace.yaml") {
        from = dir.join("pnpm-workspace.yaml");
        // The items of the top-level `packages:` list; other keys (`onlyBuiltDependencies:`,
        // `catalog:`) list package names, not directories.
        let mut in_packages = false;
        for l in yaml.lines() {
            if !l.starts_with([' ', '\t', '-']) && !l.trim().is_empty() {
                in_packages = l.trim_end() == "packages:";
                continue;
            }
            let Some(item) = l.trim().strip_prefix('-') else {
                continue;
            };
            let item = item.trim().trim_matches(|c| c == '"' || c == '\'');
            if in_packages && !item.is_empty() {
                patterns.push(item.to_string());
            }
        }
    }
    if patterns.is_empty() {
        return false;
    }
    let mut packages = vec![];
    for p in &patterns {
        if p.starts_with('!') {
            continue;
        }
        // `apps/*` lists the directories of `apps` holding a package.json; anything else is taken
        // as a directory.
        match p.strip_suffix("/*").or(p.strip_suffix("/**")) {
            Some(parent) => {
                let parent = dir.join(parent);
                for e in entries(dir.project, &parent) {
                    if dir
                        .project
                        .read_file(&format!("{}/package.json", e.path), 1)
                        .is_ok()
                    {
                        packages.push(e.path);
                    }
                }
            }
            None => packages.push(dir.join(p.trim_end_matches('/'))),
        }
    }
    packages.sort();
    packages.dedup();
    out.notes.push(format!(
        "{from} declares workspaces ({}): packages {}; each is planned on its own",
        patterns.join(", "),
        if packages.is_empty() {
            "none found".to_string()
        } else {
            packages.join(", ")
        }
    ));
    true
}
