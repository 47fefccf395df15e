//! Deterministic detection: each ecosystem's detector looks at one directory of the project and
//! says what runs there (`Detected`). `plan` runs them over the root and, for monorepos, over the
//! directories that hold projects of their own, then names the services, hands out the free ports
//! (`PORT` plus the framework's own flag, through the `{port}` placeholder), sorts everything and
//! writes the notes. Detectors never see port numbers or service names, so their output is the same
//! whatever the host offers.
//!
//! A detector is a function `fn(&Dir) -> Detected` in its own file, listed in `DETECTORS`. The
//! other files here serve them all: `walk` picks the directories (a few listings, never the
//! whole tree), `assemble` turns the findings into the plan (pure), `text` and `yaml` read
//! command lines, env files and compose files.

mod assemble;
mod compose;
mod cron;
mod envfile;
mod makefile;
mod procfile;
mod python;
pub mod text;
mod walk;
pub mod yaml;

use std::collections::BTreeMap;

use crate::model::{Entry, EntryKind, Evidence, Log, Plan, Project, Setup};

pub use assemble::MAX_NAME;

mod go;
mod node;
mod ruby;
mod rust;
mod static_site;
#[cfg(test)]
mod tests_more;

/// Stands for the port the service is given, in `argv` and `env` values of a `Found`.
pub const PORT: &str = "{port}";

/// A directory of the project as detectors see it: its entries (one level) and reads relative to
/// the project root.
pub struct Dir<'a> {
    pub project: &'a dyn Project,
    /// Relative to the root, `""` for the root, no trailing `/`.
    pub path: String,
    /// Its entries, one level deep, paths relative to the root.
    pub entries: Vec<Entry>,
}

impl Dir<'_> {
    /// `name` joined to this directory: the root-relative path a `Project` call takes.
    pub fn join(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.path)
        }
    }

    /// Whether the directory has an entry `name` (a file or a directory).
    pub fn has(&self, name: &str) -> bool {
        let want = self.join(name);
        self.entries.iter().any(|e| e.path == want)
    }

    pub fn has_dir(&self, name: &str) -> bool {
        let want = self.join(name);
        self.entries
            .iter()
            .any(|e| e.path == want && e.kind == EntryKind::Directory)
    }

    /// A text file of this directory (at most 256 KiB), `None` when it is missing or unreadable.
    pub fn read(&self, name: &str) -> Option<String> {
        let f = self.project.read_file(&self.join(name), 256 * 1024).ok()?;
        (!f.binary).then_some(f.content)
    }
}

/// A service a detector found, before it has a name or a port.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// The process's role when the project names one (a Procfile's `web`, a compose service, a
    /// Rust bin), else `""`: `plan` names the service `<project>` or `<project>-<process>`.
    pub process: String,
    /// May contain `PORT` (`{port}`) where the framework takes its port.
    pub argv: Vec<String>,
    /// Relative to the root.
    pub working_dir: String,
    /// It serves on a port (it gets one of the free ports and `PORT`).
    pub listens: bool,
    /// Variables it needs set; values may contain `{port}`. Never values read from `.env` files.
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub health_path: Option<String>,
    pub data_dir: bool,
    pub confidence: f32,
    pub evidence: Vec<Evidence>,
}

/// A cron job a detector found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FoundCron {
    /// Short, from the command or the file (`cleanup`); `plan` prefixes the project's name.
    pub process: String,
    pub schedule: String,
    pub argv: Vec<String>,
    pub working_dir: String,
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub evidence: Vec<Evidence>,
}

/// What one detector found in one directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detected {
    /// The detector's name (`python`, `node`, `procfile`), for the plan's `source`.
    pub source: &'static str,
    pub services: Vec<Found>,
    pub cron_jobs: Vec<FoundCron>,
    pub setup: Vec<Setup>,
    pub evidence: Vec<Evidence>,
    pub notes: Vec<String>,
}

/// A detector: looks at one directory, finds nothing (`Detected::default()`) or something.
pub type Detector = fn(&Dir) -> Detected;

/// Every detector, in the order their findings are preferred when two describe the same process:
/// the project's own declarations (Procfile) first, then the frameworks, then hints (compose,
/// Makefile). One line per detector. The static-site detector is last: it only plans what no
/// manifest claims.
pub const DETECTORS: &[(&str, Detector)] = &[
    ("procfile", procfile::detect),
    ("python", python::detect),
    ("node", node::detect),
    ("rust", rust::detect),
    ("go", go::detect),
    ("ruby", ruby::detect),
    ("compose", compose::detect),
    ("makefile", makefile::detect),
    ("cron", cron::detect),
    ("envfile", envfile::detect),
    ("static_site", static_site::detect),
];

/// The plan for the project, or `Err("nothing found in <name>: looked for ...")`.
pub fn plan(
    project: &dyn Project,
    name: &str,
    free_ports: &[u16],
    log: &dyn Log,
) -> Result<Plan, String> {
    let dirs = walk::project_dirs(project);
    let mut found = Vec::new();
    for dir in &dirs {
        for (detector, detect) in DETECTORS {
            let mut d = detect(dir);
            let empty = d.services.is_empty()
                && d.cron_jobs.is_empty()
                && d.setup.is_empty()
                && d.evidence.is_empty()
                && d.notes.is_empty();
            if empty {
                continue;
            }
            d.source = detector;
            log.info(&format!(
                "{detector} in {}: {} service(s), {} cron job(s)",
                if dir.path.is_empty() { "." } else { &dir.path },
                d.services.len(),
                d.cron_jobs.len()
            ));
            found.push((dir.path.clone(), d));
        }
    }
    let env_files: BTreeMap<String, String> = dirs
        .iter()
        .filter_map(|d| envfile::chosen(d).map(|f| (d.path.clone(), f)))
        .collect();
    let plan = assemble::assemble(name, free_ports, found, &env_files);
    if plan.services.is_empty() && plan.cron_jobs.is_empty() {
        let mut why = format!("nothing found in {name}: looked for {}", looked_for());
        if !plan.notes.is_empty() {
            why.push_str(&format!(" ({})", plan.notes.join("; ")));
        }
        return Err(why);
    }
    Ok(plan)
}

/// What the detectors look for, for the "nothing found" answer.
pub fn looked_for() -> String {
    DETECTORS
        .iter()
        .map(|(name, _)| match *name {
            "procfile" => "a Procfile",
            "python" => "Python (requirements.txt, pyproject.toml, Pipfile, manage.py, app.py/main.py/server.py)",
            "compose" => "docker-compose.yml/compose.yaml services with a build and a command",
            "makefile" => "Makefile run/start/serve targets",
            "cron" => "a crontab file, *.cron or render.yaml cron services",
            "envfile" => ".env files (only with a service)",
            "node" => "Node (package.json)",
            "rust" => "Rust (Cargo.toml)",
            "go" => "Go (go.mod)",
            "ruby" => "Ruby (Gemfile, config.ru)",
            "static_site" => "a static site (index.html)",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces the `{port}` placeholder.
pub fn with_port(s: &str, port: u16) -> String {
    s.replace(PORT, &port.to_string())
}

/// Lists one directory level (`dir` relative to the root).
pub fn entries(project: &dyn Project, dir: &str) -> Vec<Entry> {
    project.list_dir(dir, 1).unwrap_or_default()
}
