//! Stand-ins for the host: an in-memory project and one over a real directory (both redacting
//! `.env` values and grepping with regular expressions like the host), a model answering from a
//! script and recording its requests, and a log keeping its lines.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::model::*;

/// Values of `.env`-like files replaced the way the host does (templates kept).
fn redact(path: &str, content: &str) -> (String, bool) {
    let name = path.rsplit('/').next().unwrap_or(path);
    let templates = [".env.example", ".env.sample", ".env.template", ".env.dist"];
    let env_like = (name == ".env" || name.starts_with(".env.") || name.ends_with(".env"))
        && !templates.contains(&name);
    if !env_like {
        return (content.to_string(), false);
    }
    let mut redacted = false;
    let out = content
        .lines()
        .map(|l| match l.split_once('=') {
            Some((k, v)) if !v.trim().is_empty() && !l.trim_start().starts_with('#') => {
                redacted = true;
                format!("{k}=<redacted>")
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    (out, redacted)
}

fn file(path: &str, content: &str, size: u64, executable: bool, max: u32) -> File {
    let (mut shown, redacted) = redact(path, content);
    let truncated = shown.len() > max as usize;
    if truncated {
        let mut at = max as usize;
        while !shown.is_char_boundary(at) {
            at -= 1;
        }
        shown.truncate(at);
    }
    File {
        path: path.into(),
        content: shown,
        sha256: String::new(),
        size,
        truncated,
        redacted,
        binary: false,
        executable,
    }
}

fn grep_in(
    files: &mut dyn Iterator<Item = (String, String)>,
    pattern: &str,
    max: u32,
) -> Result<Vec<GrepMatch>, ProjectError> {
    let re = regex::Regex::new(pattern).map_err(|e| ProjectError::Invalid(e.to_string()))?;
    let mut out = Vec::new();
    for (path, content) in files {
        let (content, _) = redact(&path, &content);
        for (i, line) in content.lines().enumerate() {
            if re.is_match(line) && out.len() < max as usize {
                out.push(GrepMatch {
                    path: path.clone(),
                    line: i as u32 + 1,
                    text: line.into(),
                });
            }
        }
    }
    Ok(out)
}

fn denied(path: &str) -> Result<(), ProjectError> {
    if path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err(ProjectError::Denied(path.into()));
    }
    Ok(())
}

/// Directories the host lists but does not enter.
const OPAQUE: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
];

fn inside(path: &str, dir: &str) -> Option<usize> {
    let rest = if dir.is_empty() {
        path
    } else {
        path.strip_prefix(dir)?.strip_prefix('/')?
    };
    (!rest.is_empty()).then(|| rest.split('/').count())
}

fn under_opaque(path: &str, dir: &str) -> bool {
    let rest = if dir.is_empty() {
        path
    } else {
        &path[dir.len() + 1..]
    };
    let parts: Vec<&str> = rest.split('/').collect();
    parts[..parts.len() - 1].iter().any(|p| OPAQUE.contains(p))
}

/// An in-memory project: files (path -> content), directories implied by them or added.
#[derive(Default)]
pub struct FakeProject {
    pub files: BTreeMap<String, String>,
    pub dirs: std::collections::BTreeSet<String>,
    /// Every call, `list_dir dir depth` / `read path` / `grep path`, to count them.
    pub calls: RefCell<Vec<String>>,
}

impl FakeProject {
    pub fn new() -> Self {
        FakeProject::default()
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.insert(path.into(), content.into());
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            self.dirs.insert(parent.into());
            p = parent;
        }
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        self.dirs.insert(path.into());
        self
    }
}

impl Project for FakeProject {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, ProjectError> {
        self.calls
            .borrow_mut()
            .push(format!("list_dir {dir} {depth}"));
        denied(dir)?;
        if !dir.is_empty() && !self.dirs.contains(dir) {
            return Err(ProjectError::NotFound(dir.into()));
        }
        let mut out = Vec::new();
        let depth = depth.max(1) as usize;
        for d in &self.dirs {
            if inside(d, dir).is_some_and(|n| n <= depth) && !under_opaque(d, dir) {
                out.push(Entry {
                    path: d.clone(),
                    kind: EntryKind::Directory,
                    size: 0,
                    executable: false,
                });
            }
        }
        for (p, c) in &self.files {
            if inside(p, dir).is_some_and(|n| n <= depth) && !under_opaque(p, dir) {
                out.push(Entry {
                    path: p.clone(),
                    kind: EntryKind::File,
                    size: c.len() as u64,
                    executable: false,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        if out.len() > 2000 {
            return Err(ProjectError::TooLarge(format!(
                "{dir}: more than 2000 entries"
            )));
        }
        Ok(out)
    }

    fn read_file(&self, path: &str, max_bytes: u32) -> Result<File, ProjectError> {
        self.calls.borrow_mut().push(format!("read {path}"));
        denied(path)?;
        let c = self
            .files
            .get(path)
            .ok_or_else(|| ProjectError::NotFound(path.into()))?;
        Ok(file(path, c, c.len() as u64, false, max_bytes))
    }

    fn grep(&self, pattern: &str, path: &str, max: u32) -> Result<Vec<GrepMatch>, ProjectError> {
        self.calls.borrow_mut().push(format!("grep {path}"));
        denied(path)?;
        let mut it = self
            .files
            .iter()
            .filter(|(p, _)| inside(p, path).is_some() && !under_opaque(p, path))
            .map(|(p, c)| (p.clone(), c.clone()));
        grep_in(&mut it, pattern, max)
    }
}

/// A project over a real directory, walked like the host walks it.
pub struct FsProject {
    pub root: PathBuf,
}

impl FsProject {
    fn walk(&self, rel: &str, depth: usize, out: &mut Vec<Entry>) {
        let real = self.root.join(rel);
        let Ok(rd) = std::fs::read_dir(&real) else {
            return;
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(meta) = std::fs::symlink_metadata(self.root.join(&path)) else {
                continue;
            };
            let kind = if meta.is_dir() {
                EntryKind::Directory
            } else {
                EntryKind::File
            };
            out.push(Entry {
                path: path.clone(),
                kind,
                size: if meta.is_file() { meta.len() } else { 0 },
                executable: false,
            });
            if kind == EntryKind::Directory && depth > 1 && !OPAQUE.contains(&name.as_str()) {
                self.walk(&path, depth - 1, out);
            }
        }
    }
}

impl Project for FsProject {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, ProjectError> {
        denied(dir)?;
        if !self.root.join(dir).is_dir() {
            return Err(ProjectError::NotFound(dir.into()));
        }
        let mut out = Vec::new();
        self.walk(dir, depth.max(1) as usize, &mut out);
        Ok(out)
    }

    fn read_file(&self, path: &str, max_bytes: u32) -> Result<File, ProjectError> {
        denied(path)?;
        let real: &Path = &self.root.join(path);
        let c = std::fs::read_to_string(real)
            .map_err(|e| ProjectError::NotFound(format!("{path}: {e}")))?;
        Ok(file(path, &c, c.len() as u64, false, max_bytes))
    }

    fn grep(&self, pattern: &str, path: &str, max: u32) -> Result<Vec<GrepMatch>, ProjectError> {
        denied(path)?;
        let mut entries = Vec::new();
        self.walk(path, 32, &mut entries);
        let mut it = entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::File)
            .filter_map(|e| {
                std::fs::read_to_string(self.root.join(&e.path))
                    .ok()
                    .map(|c| (e.path, c))
            });
        grep_in(&mut it, pattern, max)
    }
}

/// A model answering from a script, in order, recording every request.
#[derive(Default)]
pub struct ScriptedLlm {
    pub replies: VecDeque<Result<String, String>>,
    pub requests: Vec<Request>,
}

impl ScriptedLlm {
    pub fn new(replies: Vec<Result<String, String>>) -> Self {
        ScriptedLlm {
            replies: replies.into(),
            requests: Vec::new(),
        }
    }
}

impl Llm for ScriptedLlm {
    fn complete(&mut self, request: &Request) -> Result<Response, String> {
        self.requests.push(request.clone());
        self.replies
            .pop_front()
            .unwrap_or_else(|| Err("script exhausted".into()))
            .map(|content| Response {
                content,
                tool_calls: Vec::new(),
            })
    }
}

/// A model that must not be asked.
pub struct Unreachable;

impl Llm for Unreachable {
    fn complete(&mut self, _: &Request) -> Result<Response, String> {
        panic!("the model was asked although no model was named")
    }
}

#[derive(Default)]
pub struct Lines(pub RefCell<Vec<String>>);

impl Log for Lines {
    fn info(&self, message: &str) {
        self.0.borrow_mut().push(format!("info: {message}"));
    }
    fn warn(&self, message: &str) {
        self.0.borrow_mut().push(format!("warn: {message}"));
    }
}
