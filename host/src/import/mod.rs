//! Conversion of other supervisors' files into service specs (`tend import`, `POST /api/import`):
//! one file per format (`magictunnel`, `supervisord`, `pm2`, `process_compose`, `procfile`,
//! `compose`), each walking every field of every object it reads, so that a field without an
//! equivalent becomes a warning (object, field, reason) and is never dropped silently. The batch is
//! then finished here: names made valid tend names (dependencies follow the renames), a `healthy`
//! condition on a dependency without a health check turned into `started` (with a warning), and the
//! services ordered dependencies first.
//!
//! Pure: no IO beyond the content and the few values passed in (`Input`); validation against the
//! registry and registration are `ops/import.rs`'s, through the same path as the API.

mod common;
mod compose;
mod magictunnel;
mod pm2;
mod process_compose;
mod procfile;
mod supervisord;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::wire::{DependencyCondition, ImportFormat, ImportWarning, ServiceSpec};

pub(crate) use common::Warnings;

/// What a converter reads: the file, where it lives, and the values it may expand.
pub struct Input<'a> {
    pub file_name: &'a str,
    pub content: &'a str,
    /// Absolute: relative paths and `%(here)s` are taken from it; services that name no working
    /// directory run in it.
    pub base_dir: &'a Path,
    /// PM2's `--env NAME`.
    pub env_name: Option<&'a str>,
    /// supervisord's `%(ENV_X)s`.
    pub environment: &'a BTreeMap<String, String>,
}

/// The services (dependencies first) and what was not carried over.
#[derive(Debug)]
pub struct Converted {
    pub services: Vec<ServiceSpec>,
    pub warnings: Vec<ImportWarning>,
}

/// A file that cannot be converted: where (line when known, the object and field) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{place}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ImportError {
    pub line: Option<usize>,
    /// `program:web command`, `services.db.depends_on`, ...
    pub place: String,
    pub message: String,
}

impl ImportError {
    pub(crate) fn at(place: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError {
            line: None,
            place: place.into(),
            message: message.into(),
        }
    }

    pub(crate) fn line(line: usize, place: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError {
            line: Some(line),
            place: place.into(),
            message: message.into(),
        }
    }
}

/// The format of a file, from its name first, then from its content.
pub fn detect(file_name: &str, content: &str) -> Option<ImportFormat> {
    let base = Path::new(file_name)
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let yaml = base.ends_with(".yml") || base.ends_with(".yaml");
    if base.starts_with("procfile") {
        return Some(ImportFormat::Procfile);
    }
    if base.starts_with("process-compose") && yaml {
        return Some(ImportFormat::ProcessCompose);
    }
    if (base.starts_with("docker-compose") || base.starts_with("compose")) && yaml {
        return Some(ImportFormat::Compose);
    }
    if base.starts_with("ecosystem") || base.ends_with(".config.js") || base.ends_with(".cjs") {
        return Some(ImportFormat::Pm2);
    }
    if base == "supervisord.conf" || base.ends_with(".ini") && content.contains("[program:") {
        return Some(ImportFormat::Supervisord);
    }
    detect_content(content)
}

fn detect_content(content: &str) -> Option<ImportFormat> {
    if content
        .lines()
        .any(|l| l.trim_start().starts_with("[program:"))
    {
        return Some(ImportFormat::Supervisord);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(content) {
        return (v.get("apps").is_some() || v.is_array()).then_some(ImportFormat::Pm2);
    }
    if let Ok(serde_json::Value::Object(top)) = yaml_serde::from_str::<serde_json::Value>(content) {
        if top.get("processes").is_some_and(|p| p.is_object()) {
            return Some(ImportFormat::ProcessCompose);
        }
        if top.get("supervisor").is_some_and(|s| s.is_object()) {
            return Some(ImportFormat::Magictunnel);
        }
        if top.get("services").is_some_and(|s| s.is_object()) {
            return Some(ImportFormat::Compose);
        }
    }
    let mut lines = content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    (lines.peek().is_some() && lines.all(|l| procfile::entry(l).is_some()))
        .then_some(ImportFormat::Procfile)
}

/// Converts `input` as `format`.
pub fn convert(format: ImportFormat, input: &Input<'_>) -> Result<Converted, ImportError> {
    let mut w = Warnings::default();
    let services = match format {
        ImportFormat::Magictunnel => magictunnel::convert(input, &mut w)?,
        ImportFormat::Supervisord => supervisord::convert(input, &mut w)?,
        ImportFormat::Pm2 => pm2::convert(input, &mut w)?,
        ImportFormat::ProcessCompose => process_compose::convert(input, &mut w)?,
        ImportFormat::Procfile => procfile::convert(input, &mut w)?,
        ImportFormat::Compose => compose::convert(input, &mut w)?,
    };
    let services = finish(services, &mut w)?;
    Ok(Converted {
        services,
        warnings: w.into_vec(),
    })
}

/// A service as a converter made it, with the object of the file it came from (for messages).
pub(crate) struct Draft {
    pub object: String,
    pub spec: ServiceSpec,
}

/// Names made valid (dependencies follow), no two alike, `healthy` only on a dependency with a
/// health check, dependencies first.
fn finish(drafts: Vec<Draft>, w: &mut Warnings) -> Result<Vec<ServiceSpec>, ImportError> {
    let mut renames = BTreeMap::new();
    for d in &drafts {
        let name = tend_name(&d.spec.name);
        if name != d.spec.name {
            w.add(
                &d.object,
                "name",
                format!(
                    "{:?} is not a tend name (a-z, 0-9, '_', '-'): imported as {name:?}",
                    d.spec.name
                ),
            );
        }
        renames.insert(d.spec.name.clone(), name);
    }
    let mut specs = Vec::with_capacity(drafts.len());
    let mut objects = BTreeMap::new();
    for Draft { object, mut spec } in drafts {
        spec.name = renames[&spec.name].clone();
        let deps = std::mem::take(&mut spec.depends_on.0);
        spec.depends_on.0 = deps
            .into_iter()
            .map(|(n, d)| (renames.get(&n).cloned().unwrap_or(n), d))
            .collect();
        if let Some(first) = objects.insert(spec.name.clone(), object.clone()) {
            return Err(ImportError::at(
                &object,
                format!(
                    "imported as {:?}, a name {first} has too: rename one of them",
                    spec.name
                ),
            ));
        }
        specs.push(spec);
    }
    let checked: BTreeSet<String> = specs
        .iter()
        .filter(|s| s.effective_health().is_some())
        .map(|s| s.name.clone())
        .collect();
    let names: BTreeSet<String> = specs.iter().map(|s| s.name.clone()).collect();
    for spec in &mut specs {
        for (dep, d) in spec.depends_on.0.iter_mut() {
            if d.condition == DependencyCondition::Healthy
                && names.contains(dep)
                && !checked.contains(dep)
            {
                d.condition = DependencyCondition::Started;
                w.add(
                    &objects[&spec.name],
                    "depends_on",
                    format!(
                        "{dep} has no health check tend can run, so it can never be healthy: \
                         the condition is imported as started"
                    ),
                );
            }
        }
    }
    order(specs, &objects)
}

/// Dependencies before dependents (file order otherwise); a cycle within the file is an error.
fn order(
    specs: Vec<ServiceSpec>,
    objects: &BTreeMap<String, String>,
) -> Result<Vec<ServiceSpec>, ImportError> {
    let names: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::with_capacity(specs.len());
    let mut rest: Vec<&ServiceSpec> = specs.iter().collect();
    while !rest.is_empty() {
        let before = rest.len();
        let mut i = 0;
        while i < rest.len() {
            let ready = rest[i]
                .depends_on
                .names()
                .all(|d| !names.contains(d) || done.contains(d));
            if ready {
                let s = rest.remove(i);
                done.insert(s.name.clone());
                out.push(s.clone());
            } else {
                i += 1;
            }
        }
        if rest.len() == before {
            let cycle = find_cycle(&rest);
            let first = cycle.first().cloned().unwrap_or_default();
            return Err(ImportError::at(
                objects.get(&first).cloned().unwrap_or(first),
                format!("depends_on: a cycle: {}", cycle.join(" -> ")),
            ));
        }
    }
    Ok(out)
}

/// A cycle among services none of which could be ordered: follow dependencies until one repeats.
fn find_cycle(stuck: &[&ServiceSpec]) -> Vec<String> {
    let by_name: BTreeMap<&str, &ServiceSpec> =
        stuck.iter().map(|s| (s.name.as_str(), *s)).collect();
    let mut path: Vec<String> = Vec::new();
    let mut at = stuck[0];
    loop {
        if let Some(pos) = path.iter().position(|n| *n == at.name) {
            let mut cycle = path[pos..].to_vec();
            cycle.push(at.name.clone());
            return cycle;
        }
        path.push(at.name.clone());
        match at.depends_on.names().find_map(|d| by_name.get(d)) {
            Some(next) => at = next,
            None => return path,
        }
    }
}

/// A valid tend name for `name`: lower case, anything else than a-z, 0-9, '_', '-' as '-'.
fn tend_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['-', '_']) {
        out.remove(0);
    }
    out.truncate(63);
    if out.is_empty() {
        out = "service".into();
    }
    out
}
