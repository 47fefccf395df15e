//! Reading log lines and project paths: quoted strings, paths made relative to the project root
//! (never anything outside it), and whether a path exists, asked of the `project` interface.

use crate::model::{Entry, EntryKind, Incident, Project, ProjectError};

/// The strings between matching `'` or `"` quotes in `line`, in order.
pub fn quoted(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(['\'', '"']) {
        let q = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        match after.find(q) {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// The text before the first occurrence of `marker` in `line`, from the last `": "`-separated field
/// (`bash: line 3: logs/out.log: No such file or directory` -> `logs/out.log`).
pub fn field_before(line: &str, marker: &str) -> Option<String> {
    let at = line.find(marker)?;
    let head = line[..at].trim_end().trim_end_matches(':').trim_end();
    let field = head.rsplit(": ").next().unwrap_or(head).trim();
    (!field.is_empty()).then(|| field.to_string())
}

/// `path` relative to the project root and normalised (`a/./b` -> `a/b`), or `None` when it is
/// empty, leaves the root (`..`) or is absolute outside `working_dir`.
pub fn relative(incident: &Incident, path: &str) -> Option<String> {
    let path = path.trim();
    let rest = if path.starts_with('/') {
        let root = incident.working_dir.trim_end_matches('/');
        if root.is_empty() {
            return None;
        }
        path.strip_prefix(root)?.strip_prefix('/')?
    } else {
        path
    };
    let mut parts = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            // Quotes, blanks and control characters: a piece of a log line, not a path.
            p if p
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "'\"`\\".contains(c)) =>
            {
                return None;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The directory holding `path` (`""` for the root).
pub fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// What is at a relative path, as far as the project says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Entry(Entry),
    Missing,
    /// The project would not say (denied, too large, an I/O error).
    Unknown,
}

/// Looks `path` up in its parent's listing; a missing parent makes it `Missing`.
pub fn lookup(project: &dyn Project, path: &str) -> Found {
    let dir = parent(path);
    match project.list_dir(dir, 1) {
        Ok(entries) => entries
            .into_iter()
            .find(|e| e.path.trim_start_matches("./") == path)
            .map_or(Found::Missing, Found::Entry),
        Err(ProjectError::NotFound(_)) => Found::Missing,
        Err(_) => Found::Unknown,
    }
}

pub fn is_dir(found: &Found) -> bool {
    matches!(found, Found::Entry(e) if e.kind == EntryKind::Directory)
}

/// Whether `name` looks like an environment variable's name (`[A-Z_][A-Z0-9_]*`, upper case).
pub fn env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 128
}

/// Shell-quotes a word for an `exec` command line when it needs it.
pub fn word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
