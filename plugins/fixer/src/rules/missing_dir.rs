//! `missing-directory`: the service failed to open or create a file because a directory on its way
//! is missing (`No such file or directory`, `ENOENT`, `Directory nonexistent`). Proposes
//! `create-dir` for the missing directory when it lies inside the project, and only when every
//! existing part of the way is a directory; a path outside the root is never considered.

use super::{Finding, lines, proposal};
use crate::model::{Edit, Incident, Project};
use crate::text::{Found, field_before, is_dir, lookup, parent, quoted, relative};

pub const NAME: &str = "missing-directory";

const MARKERS: &[&str] = &[
    "No such file or directory",
    "no such file or directory",
    "ENOENT",
    "Directory nonexistent",
];

/// Calls whose path argument is itself the directory (`os.listdir('uploads')`, `cd: logs: ...`).
const DIR_CALLS: &[&str] = &["listdir", "scandir", "chdir", "opendir", "cd:", "os.walk"];

pub fn check(incident: &Incident, project: &dyn Project) -> Option<Finding> {
    let mut seen = Vec::new();
    for line in lines(incident).rev() {
        let Some(marker) = MARKERS.iter().find(|m| line.contains(*m)) else {
            continue;
        };
        let mut candidates = quoted(line);
        // Go: `open data/x.json: no such file or directory`; sh: `cannot create logs/a: ...`.
        for verb in ["open ", "create ", "stat ", "mkdir "] {
            if let Some(at) = line.find(verb) {
                let rest = &line[at + verb.len()..];
                if let Some(p) = rest.split(':').next() {
                    candidates.push(p.trim().trim_matches(['\'', '"', '`']).to_string());
                }
            }
        }
        if let Some(f) = field_before(line, marker) {
            candidates.push(f);
        }
        let dir_call = DIR_CALLS.iter().any(|c| line.contains(c));
        for candidate in candidates {
            let Some(path) = relative(incident, &candidate) else {
                continue;
            };
            if seen.contains(&path) {
                continue;
            }
            seen.push(path.clone());
            // The program itself is missing (`can't open file 'src/main.py'`): an empty
            // directory would not bring it back.
            if runs(incident, &path) {
                continue;
            }
            let wanted = if dir_call || candidate.ends_with('/') {
                path.as_str()
            } else {
                parent(&path)
            };
            if wanted.is_empty() {
                continue;
            }
            if let Some(dir) = missing(project, wanted) {
                return Some(proposal(
                    NAME,
                    format!(
                        "the directory `{dir}` does not exist, so `{path}` cannot be opened or created"
                    ),
                    0.85,
                    vec![Edit::CreateDir(wanted.to_string())],
                    Vec::new(),
                ));
            }
        }
    }
    None
}

/// The first missing directory on the way to `dir` when `dir` is missing and every part of the way
/// that exists is a directory; `None` when `dir` exists, a part is a file, or the project would
/// not say.
fn missing(project: &dyn Project, dir: &str) -> Option<String> {
    let mut prefix = String::new();
    for part in dir.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        match lookup(project, &prefix) {
            Found::Missing => return Some(prefix),
            found if is_dir(&found) => {}
            _ => return None,
        }
    }
    None
}

/// Whether the command runs `path` (as a program or an argument naming it).
fn runs(incident: &Incident, path: &str) -> bool {
    incident
        .argv
        .iter()
        .map(String::as_str)
        .chain(incident.command.split_whitespace())
        .any(|w| relative(incident, w).is_some_and(|p| p == path))
}
