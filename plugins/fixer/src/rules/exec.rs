//! `not-executable`: the service's script could not be run because it lacks its exec bit
//! (`Permission denied`, exit code 126). Only a file inside the project that exists, is a script
//! (`#!`) or an ELF binary, and is not executable gets `set-executable`, based on the sha256 read.

use super::{Finding, lines, proposal};
use crate::model::{Edit, EntryKind, Incident, Project};
use crate::text::{Found, field_before, lookup, quoted, relative};

pub const NAME: &str = "not-executable";

pub fn check(incident: &Incident, project: &dyn Project) -> Option<Finding> {
    let denied: Vec<&str> = lines(incident)
        .filter(|l| l.contains("Permission denied") || l.contains("EACCES"))
        .collect();
    if denied.is_empty() && incident.exit_code != Some(126) {
        return None;
    }
    let mut candidates = Vec::new();
    for line in &denied {
        candidates.extend(quoted(line));
        if let Some(f) = field_before(line, "Permission denied") {
            candidates.push(f);
        }
    }
    // The program itself (tend executes it directly, or `sh -c ./start.sh` names it first).
    if let Some(first) = incident.argv.first() {
        candidates.push(first.clone());
    }
    if let Some(first) = incident.command.split_whitespace().next() {
        candidates.push(first.to_string());
    }
    let mut seen = Vec::new();
    for candidate in candidates {
        // Only paths: a bare program name is looked up in PATH, not in the project.
        if !candidate.contains('/') {
            continue;
        }
        let Some(path) = relative(incident, &candidate) else {
            continue;
        };
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        let Found::Entry(entry) = lookup(project, &path) else {
            continue;
        };
        if entry.kind != EntryKind::File || entry.executable {
            continue;
        }
        let Ok(file) = project.read_file(&path, 256) else {
            continue;
        };
        let runnable = file.content.starts_with("#!") || file.content.starts_with("\u{7f}ELF");
        if !runnable || file.executable || file.sha256.is_empty() {
            continue;
        }
        return Some(proposal(
            NAME,
            format!("`{path}` cannot be executed (Permission denied): it lacks its exec bit"),
            0.9,
            vec![Edit::SetExecutable {
                path,
                base_sha256: file.sha256,
                executable: true,
            }],
            Vec::new(),
        ));
    }
    None
}
