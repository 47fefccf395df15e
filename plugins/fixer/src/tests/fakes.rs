//! In-memory stand-ins for the host: a project of files (redacting `.env` values like the host), a
//! model answering from a script and recording every request, and a log that keeps its lines.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::model::*;

pub const ROOT: &str = "/srv/app";

#[derive(Default)]
pub struct FakeProject {
    pub files: BTreeMap<String, (String, bool)>,
    pub dirs: BTreeSet<String>,
}

impl FakeProject {
    pub fn new() -> Self {
        FakeProject::default()
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.insert(path.into(), (content.into(), false));
        self.add_parents(path);
        self
    }

    pub fn script(mut self, path: &str, content: &str, executable: bool) -> Self {
        self.files.insert(path.into(), (content.into(), executable));
        self.add_parents(path);
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        self.dirs.insert(path.into());
        self.add_parents(path);
        self
    }

    fn add_parents(&mut self, path: &str) {
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            self.dirs.insert(parent.into());
            p = parent;
        }
    }

    pub fn sha(content: &str) -> String {
        // Not SHA-256; the fixer only passes the host's value along.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in content.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}").repeat(4)
    }

    fn redacts(path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        (name == ".env" || name.starts_with(".env.") || name.ends_with(".env"))
            && !name.contains("example")
            && !name.contains("sample")
    }
}

fn depth_of(path: &str, dir: &str) -> Option<usize> {
    let rest = if dir.is_empty() {
        path
    } else {
        path.strip_prefix(dir)?.strip_prefix('/')?
    };
    (!rest.is_empty()).then(|| rest.split('/').count())
}

impl Project for FakeProject {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, ProjectError> {
        let dir = dir.trim_matches('/');
        let dir = if dir == "." { "" } else { dir };
        if dir.starts_with('/') || dir.split('/').any(|c| c == "..") {
            return Err(ProjectError::Denied(dir.into()));
        }
        if !dir.is_empty() && !self.dirs.contains(dir) {
            return Err(if self.files.contains_key(dir) {
                ProjectError::Invalid(format!("{dir} is not a directory"))
            } else {
                ProjectError::NotFound(dir.into())
            });
        }
        let mut out = Vec::new();
        for d in &self.dirs {
            if depth_of(d, dir).is_some_and(|n| n <= depth as usize) {
                out.push(Entry {
                    path: d.clone(),
                    kind: EntryKind::Directory,
                    size: 0,
                    executable: true,
                });
            }
        }
        for (p, (content, x)) in &self.files {
            if depth_of(p, dir).is_some_and(|n| n <= depth as usize) {
                out.push(Entry {
                    path: p.clone(),
                    kind: EntryKind::File,
                    size: content.len() as u64,
                    executable: *x,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn read_file(&self, path: &str, max_bytes: u32) -> Result<File, ProjectError> {
        if path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(ProjectError::Denied(path.into()));
        }
        let Some((content, executable)) = self.files.get(path) else {
            return Err(ProjectError::NotFound(path.into()));
        };
        let mut shown = content.clone();
        let mut redacted = false;
        if Self::redacts(path) {
            shown = content
                .split('\n')
                .map(|l| match l.split_once('=') {
                    Some((k, v)) if !v.is_empty() && !l.trim_start().starts_with('#') => {
                        redacted = true;
                        format!("{k}=<redacted>")
                    }
                    _ => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        let truncated = shown.len() > max_bytes as usize;
        if truncated {
            let mut at = max_bytes as usize;
            while !shown.is_char_boundary(at) {
                at -= 1;
            }
            shown.truncate(at);
        }
        Ok(File {
            path: path.into(),
            content: shown,
            sha256: Self::sha(content),
            size: content.len() as u64,
            truncated,
            redacted,
            binary: false,
            executable: *executable,
        })
    }

    fn grep(
        &self,
        pattern: &str,
        path: &str,
        max_matches: u32,
    ) -> Result<Vec<GrepMatch>, ProjectError> {
        let mut out = Vec::new();
        for (p, (content, _)) in &self.files {
            if !path.is_empty() && p != path && !p.starts_with(&format!("{path}/")) {
                continue;
            }
            for (i, line) in content.lines().enumerate() {
                if line.contains(pattern) && out.len() < max_matches as usize {
                    out.push(GrepMatch {
                        path: p.clone(),
                        line: i as u32 + 1,
                        text: line.into(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A model that answers from a script, in order, and records what it was asked.
#[derive(Default)]
pub struct ScriptedLlm {
    pub replies: VecDeque<Result<Response, LlmError>>,
    pub requests: Vec<Request>,
}

impl ScriptedLlm {
    pub fn new(replies: Vec<Result<Response, LlmError>>) -> Self {
        ScriptedLlm {
            replies: replies.into(),
            requests: Vec::new(),
        }
    }
}

impl Llm for ScriptedLlm {
    fn complete(&mut self, request: &Request) -> Result<Response, LlmError> {
        self.requests.push(request.clone());
        self.replies
            .pop_front()
            .unwrap_or_else(|| Err(LlmError::Provider("script exhausted".into())))
    }
}

/// The host with no `[llm]` configured.
pub struct NoLlm;

impl Llm for NoLlm {
    fn complete(&mut self, _: &Request) -> Result<Response, LlmError> {
        Err(LlmError::NotConfigured("no [llm] models".into()))
    }
}

/// A model that must not be asked.
pub struct Unreachable;

impl Llm for Unreachable {
    fn complete(&mut self, _: &Request) -> Result<Response, LlmError> {
        panic!("the model was asked although a rule decided")
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

/// A model answer calling tools `(name, arguments)`.
pub fn calls(tools: &[(&str, &str)]) -> Result<Response, LlmError> {
    Ok(Response {
        message: Message {
            role: Role::Assistant,
            content: String::new(),
            tool_calls: tools
                .iter()
                .enumerate()
                .map(|(i, (name, args))| ToolCall {
                    id: format!("call_{i}_{name}"),
                    name: (*name).into(),
                    arguments: (*args).into(),
                })
                .collect(),
            tool_call_id: None,
        },
        finish_reason: FinishReason::ToolCalls,
        usage: Usage {
            input_tokens: 100,
            output_tokens: 20,
        },
        model: "scripted".into(),
    })
}

/// A model answer in prose.
pub fn prose(text: &str) -> Result<Response, LlmError> {
    Ok(Response {
        message: Message::new(Role::Assistant, text),
        finish_reason: FinishReason::Stop,
        usage: Usage::default(),
        model: "scripted".into(),
    })
}

pub fn incident(log: &[&str]) -> Incident {
    Incident {
        name: "web".into(),
        command: "python3 app.py".into(),
        argv: vec!["python3".into(), "app.py".into()],
        working_dir: ROOT.into(),
        exit_code: Some(1),
        restarts: 3,
        log_tail: log.iter().map(|l| l.to_string()).collect(),
        env_names: vec!["PATH".into(), "HOME".into()],
        port: Some(8000),
        ..Incident::default()
    }
}
