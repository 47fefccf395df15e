//! `.env` files: the one the services of a directory read (`chosen`: `.env`, else `.env.local`,
//! else the first other `.env.*`), the variable names it sets, and what a template
//! (`.env.example`...) documents when the real file is missing. Names only: the host redacts the
//! values before the plugin sees them, and nothing here would copy one anyway.

use super::{Detected, Dir, text};
use crate::model::{EntryKind, Evidence};

/// Committed templates, not secrets: they document the variables.
const TEMPLATES: &[&str] = &[".env.example", ".env.sample", ".env.template", ".env.dist"];

fn env_files(dir: &Dir) -> Vec<String> {
    let mut v: Vec<String> = dir
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| text::base_name(&e.path).to_string())
        .filter(|n| (n == ".env" || n.starts_with(".env.")) && !TEMPLATES.contains(&n.as_str()))
        .collect();
    // `.env` first, then `.env.local`, then the rest by name.
    v.sort_by_key(|n| (n != ".env", n != ".env.local", n.clone()));
    v
}

/// The env file the services in `dir` read, root-relative.
pub fn chosen(dir: &Dir) -> Option<String> {
    env_files(dir).first().map(|n| dir.join(n))
}

pub fn detect(dir: &Dir) -> Detected {
    let files = env_files(dir);
    let template = TEMPLATES.iter().find(|t| dir.has(t));
    if files.is_empty() && template.is_none() {
        return Detected::default();
    }
    let mut d = Detected {
        source: "envfile",
        ..Detected::default()
    };
    let names_of = |name: &str| {
        dir.read(name)
            .map(|c| text::env_names(&c))
            .unwrap_or_default()
    };
    if let Some(first) = files.first() {
        let names = names_of(first);
        d.evidence.push(Evidence::new(
            dir.join(first),
            format!(
                "the services here read it as their env file (sets {}; values are never copied)",
                if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names.join(", ")
                }
            ),
        ));
        for other in &files[1..] {
            d.notes.push(format!(
                "{} is not read: {} is the env file of the services in {}",
                dir.join(other),
                dir.join(first),
                if dir.path.is_empty() { "." } else { &dir.path }
            ));
        }
    } else if let Some(t) = template {
        let names = names_of(t);
        d.evidence.push(Evidence::new(
            dir.join(t),
            "documents the variables the services expect",
        ));
        d.notes.push(format!(
            "{} is missing: {} documents {}; create it with real values before starting",
            dir.join(".env"),
            dir.join(t),
            if names.is_empty() {
                "no variable".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    d
}
