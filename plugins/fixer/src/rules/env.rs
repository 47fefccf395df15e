//! `missing-env-var`: the program stops because a variable is not set (`KeyError: 'X'`,
//! `environment variable X is not set`, `X must be set`), the service runs without it, and the
//! project's `.env.example` (or `.env.sample`, `env.example`, ...) gives `X=value`: add that line to
//! the service's `env_file` (created when absent). A service without an `env_file` inside the
//! project gets no fix: its environment is tend's configuration, not a file of the project.
//!
//! Example files are expected unredacted (the host exempts `*.example`/`*.sample`-style names from
//! redaction); a value that still comes back as `<redacted>` is not copied.

use super::{Finding, lines, proposal};
use crate::model::{Edit, Incident, Project, ProjectError};
use crate::text::{env_name, quoted, relative};

pub const NAME: &str = "missing-env-var";

const EXAMPLES: &[&str] = &[
    ".env.example",
    ".env.sample",
    "env.example",
    ".env.dist",
    ".env.template",
];
const REDACTED: &str = "<redacted>";

/// Phrases that say a variable is missing (lower case).
const MARKERS: &[&str] = &[
    "environment variable",
    "env var",
    "must be set",
    "is not set",
    "not set",
    "is required",
    "is missing",
    "missing required",
    "undefined",
];

/// The variables the log says are missing, newest first.
fn named(incident: &Incident) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        if env_name(s) && s.len() >= 2 && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    for line in lines(incident).rev() {
        if let Some(at) = line.find("KeyError") {
            for q in quoted(&line[at..]) {
                push(&q);
            }
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if MARKERS.iter().any(|m| lower.contains(m)) {
            for q in quoted(line) {
                push(&q);
            }
            for w in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                push(w);
            }
        }
    }
    out
}

/// `NAME=value` from an env file's line (`export ` allowed), the value as written.
fn assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
    let (name, value) = line.split_once('=')?;
    env_name(name.trim_end()).then_some((name.trim_end(), value))
}

pub fn check(incident: &Incident, project: &dyn Project) -> Option<Finding> {
    let candidates: Vec<String> = named(incident)
        .into_iter()
        .filter(|n| !incident.env_names.contains(n))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let examples: Vec<(String, String)> = EXAMPLES
        .iter()
        .filter_map(|p| {
            let f = project.read_file(p, 64 * 1024).ok()?;
            Some((p.to_string(), f.content))
        })
        .collect();
    let (var, value, example) = candidates.iter().find_map(|var| {
        examples.iter().find_map(|(path, content)| {
            content
                .lines()
                .filter_map(assignment)
                .find(|(n, _)| n == var)
                .map(|(_, v)| (var.clone(), v.trim().to_string(), path.clone()))
        })
    })?;
    if value.is_empty() || value.contains(REDACTED) {
        return Some(Finding::Note(format!(
            "{NAME}: `{var}` is not set; `{example}` names it but gives no usable value"
        )));
    }
    let line = format!("{var}={value}");
    let env_file = incident
        .env_file
        .as_deref()
        .and_then(|p| relative(incident, p));
    let Some(env_file) = env_file else {
        return Some(Finding::Note(format!(
            "{NAME}: `{var}` is not set and `{example}` gives `{line}`, but service `{}` has no env_file inside the project to put it in (add `env_file = \".env\"` to it, or set `{var}` in its env)",
            incident.name
        )));
    };
    let diagnosis = format!(
        "`{var}` is not set; `{example}` gives `{line}`, added to the env file `{env_file}`"
    );
    let edit = match project.read_file(&env_file, 256 * 1024) {
        Err(ProjectError::NotFound(_)) => Edit::Create {
            path: env_file.clone(),
            content: format!("{line}\n"),
            executable: false,
        },
        Err(e) => {
            return Some(Finding::Note(format!(
                "{NAME}: `{var}` is not set, but the env file `{env_file}` cannot be read ({e})"
            )));
        }
        Ok(file) => {
            if file
                .content
                .lines()
                .filter_map(assignment)
                .any(|(n, _)| n == var)
            {
                return Some(Finding::Note(format!(
                    "{NAME}: `{var}` is not set although `{env_file}` assigns it: the service may not read that file"
                )));
            }
            match append(&file.content, file.redacted || file.truncated, &line) {
                Some((old, new)) => Edit::Replace {
                    path: env_file.clone(),
                    base_sha256: file.sha256,
                    old,
                    new,
                },
                None => {
                    return Some(Finding::Note(format!(
                        "{NAME}: `{var}` is not set, but no unique place to add it to `{env_file}` was found"
                    )));
                }
            }
        }
    };
    Some(proposal(NAME, diagnosis, 0.75, vec![edit], Vec::new()))
}

/// An exact-and-unique replacement adding `line` to an env file: after its last line when the
/// content is whole and unredacted, else before the last `NAME=` whose prefix occurs once (the
/// names of a redacted file are exact, its values are not).
fn append(content: &str, partial: bool, line: &str) -> Option<(String, String)> {
    let unique = |s: &str| !s.is_empty() && content.matches(s).count() == 1;
    if !partial {
        let body = content.trim_end();
        let start = body.rfind('\n').map_or(0, |i| i + 1);
        let tail = &content[start..];
        if !body.is_empty() && unique(tail) {
            let sep = if tail.ends_with('\n') { "" } else { "\n" };
            return Some((tail.to_string(), format!("{tail}{sep}{line}\n")));
        }
    }
    let lines: Vec<&str> = content.split('\n').collect();
    for (i, l) in lines.iter().enumerate().rev() {
        let Some((name, _)) = assignment(l) else {
            continue;
        };
        let prefix = &l[..l.find(name)? + name.len()];
        let prefix = &l[..prefix.len() + l[prefix.len()..].find('=')? + 1];
        let anchor = if i == 0 {
            prefix.to_string()
        } else {
            format!("\n{prefix}")
        };
        let ok = if i == 0 {
            content.starts_with(prefix) && unique(prefix)
        } else {
            unique(&anchor)
        };
        if ok {
            let new = if i == 0 {
                format!("{line}\n{prefix}")
            } else {
                format!("\n{line}\n{prefix}")
            };
            return Some((anchor, new));
        }
    }
    None
}
