//! Tests of the Node, Rust, Go, Ruby and static-site detectors: each over an in-memory project
//! (`Mem`) for the edge cases, and over the fixture projects of `tests/fixtures/onboard/` read from
//! disk (`Disk`). Both implement `Project` like the host does for what the detectors use: listings
//! (one level for `Mem`, any depth for `Disk`, which `plan`'s walk also reads), reads, and `grep` of
//! a file or a directory with the patterns the detectors pass (alternatives of literals).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Detected, Detector, Dir, entries};
use crate::model::*;

mod fixtures;
mod node;
mod others;

/// What `detector` finds in the directory `path` of `project`.
fn run(detector: Detector, project: &dyn Project, path: &str) -> Detected {
    let dir = Dir {
        project,
        path: path.to_string(),
        entries: entries(project, path),
    };
    detector(&dir)
}

/// The detectors' grep patterns are alternatives of literals with regex escapes (`a|b\.c`); the
/// fakes match them as such.
fn matches(pattern: &str, line: &str) -> bool {
    pattern
        .split('|')
        .map(|alt| alt.replace('\\', ""))
        .any(|alt| line.contains(&alt))
}

fn file(path: &str, content: &str) -> File {
    File {
        path: path.into(),
        content: content.into(),
        sha256: String::new(),
        size: content.len() as u64,
        truncated: false,
        redacted: false,
        binary: false,
        executable: false,
    }
}

fn grep_in<'a>(
    files: impl Iterator<Item = (String, &'a str)>,
    pattern: &str,
    under: &str,
    max: u32,
) -> Vec<GrepMatch> {
    let mut out = vec![];
    for (path, content) in files {
        let inside = under.is_empty()
            || path == under
            || path.strip_prefix(under).is_some_and(|r| r.starts_with('/'));
        if !inside {
            continue;
        }
        for (i, line) in content.lines().enumerate() {
            if out.len() < max as usize && matches(pattern, line) {
                out.push(GrepMatch {
                    path: path.clone(),
                    line: i as u32 + 1,
                    text: line.into(),
                });
            }
        }
    }
    out
}

/// A project of in-memory files; directories are implied by the files' paths.
#[derive(Default)]
pub struct Mem {
    files: BTreeMap<String, String>,
}

impl Mem {
    pub fn new(files: &[(&str, &str)]) -> Self {
        Mem {
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
        }
    }

    fn is_dir(&self, dir: &str) -> bool {
        dir.is_empty()
            || self
                .files
                .keys()
                .any(|p| p.strip_prefix(dir).is_some_and(|r| r.starts_with('/')))
    }
}

impl Project for Mem {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, ProjectError> {
        assert_eq!(depth, 1, "the detectors list one level");
        if !self.is_dir(dir) {
            return Err(ProjectError::NotFound(dir.into()));
        }
        let mut out: BTreeMap<String, Entry> = BTreeMap::new();
        for p in self.files.keys() {
            let rest = if dir.is_empty() {
                p.as_str()
            } else {
                match p.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
                    Some(r) => r,
                    None => continue,
                }
            };
            let (first, kind) = match rest.split_once('/') {
                Some((d, _)) => (d, EntryKind::Directory),
                None => (rest, EntryKind::File),
            };
            let path = if dir.is_empty() {
                first.to_string()
            } else {
                format!("{dir}/{first}")
            };
            out.entry(path.clone()).or_insert(Entry {
                path,
                kind,
                size: 0,
                executable: false,
            });
        }
        Ok(out.into_values().collect())
    }

    fn read_file(&self, path: &str, _max: u32) -> Result<File, ProjectError> {
        match self.files.get(path) {
            Some(c) => Ok(file(path, c)),
            None if self.is_dir(path) => {
                Err(ProjectError::Invalid(format!("{path} is a directory")))
            }
            None => Err(ProjectError::NotFound(path.into())),
        }
    }

    fn grep(&self, pattern: &str, path: &str, max: u32) -> Result<Vec<GrepMatch>, ProjectError> {
        Ok(grep_in(
            self.files.iter().map(|(p, c)| (p.clone(), c.as_str())),
            pattern,
            path,
            max,
        ))
    }
}

/// A fixture project of `tests/fixtures/onboard/`, read from disk.
pub struct Disk {
    root: PathBuf,
}

impl Disk {
    pub fn fixture(name: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/onboard")
            .join(name);
        assert!(root.is_dir(), "no fixture {}", root.display());
        Disk { root }
    }

    fn all_files(&self, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                self.all_files(&e.path(), out);
            } else if let Ok(text) = std::fs::read_to_string(e.path()) {
                let rel = e.path().strip_prefix(&self.root).unwrap().to_owned();
                out.push((rel.to_string_lossy().into_owned(), text));
            }
        }
    }
}

impl Project for Disk {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, ProjectError> {
        let rd = std::fs::read_dir(self.root.join(dir))
            .map_err(|e| ProjectError::NotFound(format!("{dir}: {e}")))?;
        let mut out = vec![];
        for e in rd {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata().unwrap();
            let path = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            if meta.is_dir() && depth > 1 {
                out.extend(self.list_dir(&path, depth - 1)?);
            }
            out.push(Entry {
                path,
                kind: if meta.is_dir() {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                size: meta.len(),
                executable: false,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn read_file(&self, path: &str, _max: u32) -> Result<File, ProjectError> {
        let full = self.root.join(path);
        if full.is_dir() {
            return Err(ProjectError::Invalid(format!("{path} is a directory")));
        }
        std::fs::read_to_string(&full)
            .map(|c| file(path, &c))
            .map_err(|e| ProjectError::NotFound(format!("{path}: {e}")))
    }

    fn grep(&self, pattern: &str, path: &str, max: u32) -> Result<Vec<GrepMatch>, ProjectError> {
        let mut files = vec![];
        self.all_files(&self.root, &mut files);
        files.sort();
        Ok(grep_in(
            files.iter().map(|(p, c)| (p.clone(), c.as_str())),
            pattern,
            path,
            max,
        ))
    }
}

/// `argv` from string slices, `{port}` included.
fn argv(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// The setup commands, in order.
fn commands(d: &Detected) -> Vec<&str> {
    d.setup.iter().map(|s| s.command.as_str()).collect()
}

/// Every evidence path of the service `i`.
fn paths(d: &Detected, i: usize) -> Vec<&str> {
    d.services[i]
        .evidence
        .iter()
        .map(|e| e.path.as_str())
        .collect()
}

/// Whether some note contains `part`.
fn noted(d: &Detected, part: &str) -> bool {
    d.notes.iter().any(|n| n.contains(part))
}
