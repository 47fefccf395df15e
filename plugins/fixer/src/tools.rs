//! The agent's tools: their JSON schemas, serving `list_dir`, `read_file` and `grep` from the
//! `project` interface (answers truncated to what a context window can take), and checking a
//! `submit_fix` before it becomes a proposal. Every mistake of the model is answered with an error
//! text it can act on.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::model::{
    CommandType, Edit, EntryKind, FixCommand, Project, ProjectError, Tool, ToolCall,
};

/// Caps on what one tool answer may hold.
const READ_BYTES: u32 = 16 * 1024;
const READ_BYTES_MAX: u32 = 128 * 1024;
const REPLY_CHARS: usize = 20_000;
const LIST_ENTRIES: usize = 400;
const GREP_MATCHES: u32 = 100;
const MAX_EDITS: usize = 20;
const MAX_COMMANDS: usize = 5;
const REDACTED: &str = "<redacted>";

/// What the loop remembers between tool calls: the files read, by path.
#[derive(Default)]
pub struct Session {
    pub reads: BTreeMap<String, Read>,
}

pub struct Read {
    pub sha256: String,
    /// The whole file was shown, unredacted: `old` can be checked here.
    pub content: Option<String>,
}

/// A checked `submit_fix`.
#[derive(Debug)]
pub struct Submission {
    pub diagnosis: String,
    pub confidence: f32,
    pub edits: Vec<Edit>,
    pub commands: Vec<FixCommand>,
    pub restart: bool,
}

pub enum Outcome {
    /// The tool's answer, for a `tool` message.
    Reply(String),
    Submit(Submission),
    GiveUp(String),
}

pub fn definitions() -> Vec<Tool> {
    let tool = |name: &str, description: &str, parameters: Value| Tool {
        name: name.into(),
        description: description.into(),
        parameters: parameters.to_string(),
    };
    vec![
        tool(
            "list_dir",
            "List the entries under a directory of the project (\"\" is the root).",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "directory relative to the project root"},
                "depth": {"type": "integer", "minimum": 1, "maximum": 4, "description": "levels to list (default 2)"}
            }, "required": ["path"]}),
        ),
        tool(
            "read_file",
            "Read a file of the project. The answer gives its sha256, which an edit of the file must name.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "max_bytes": {"type": "integer", "minimum": 1, "maximum": READ_BYTES_MAX}
            }, "required": ["path"]}),
        ),
        tool(
            "grep",
            "Find lines matching a regular expression in the project's text files.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string", "description": "Rust regex syntax"},
                "path": {"type": "string", "description": "file or directory to search (default: the root)"}
            }, "required": ["pattern"]}),
        ),
        tool(
            "submit_fix",
            "Propose the fix. Edits are applied in order, then the commands run, then the service restarts.",
            json!({"type": "object", "properties": {
                "diagnosis": {"type": "string", "description": "what is wrong, in a sentence or two"},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "edits": {"type": "array", "items": {"type": "object", "properties": {
                    "type": {"type": "string", "enum": ["replace", "create", "create_dir", "set_executable"]},
                    "path": {"type": "string"},
                    "base_sha256": {"type": "string", "description": "replace, set_executable: the sha256 read_file gave"},
                    "old": {"type": "string", "description": "replace: text occurring exactly once"},
                    "new": {"type": "string", "description": "replace: its replacement"},
                    "content": {"type": "string", "description": "create: the new file"},
                    "executable": {"type": "boolean"}
                }, "required": ["type", "path"]}},
                "commands": {"type": "array", "items": {"type": "object", "properties": {
                    "type": {"type": "string", "enum": ["exec", "make", "shell"]},
                    "command": {"type": "string"},
                    "is_safe": {"type": "boolean", "description": "false for anything destructive or irreversible"},
                    "allowed_in_production": {"type": "boolean"},
                    "timeout_s": {"type": "integer", "minimum": 1, "maximum": 600},
                    "reason": {"type": "string"}
                }, "required": ["type", "command", "is_safe", "reason"]}},
                "restart": {"type": "boolean", "description": "restart the service afterwards (default true)"}
            }, "required": ["diagnosis", "confidence"]}),
        ),
        tool(
            "give_up",
            "Say that there is no safe fix, and why.",
            json!({"type": "object", "properties": {
                "reason": {"type": "string"}
            }, "required": ["reason"]}),
        ),
    ]
}

/// Serves one tool call.
pub fn call(call: &ToolCall, project: &dyn Project, session: &mut Session) -> Outcome {
    let args = match arguments(&call.arguments) {
        Ok(a) => a,
        Err(e) => return Outcome::Reply(format!("error: {e}")),
    };
    let result = match call.name.as_str() {
        "list_dir" => list_dir(&args, project),
        "read_file" => read_file(&args, project, session),
        "grep" => grep(&args, project),
        "submit_fix" => match submission(&args, session) {
            Ok(s) => return Outcome::Submit(s),
            Err(e) => Err(format!("{e}; nothing was submitted, call submit_fix again")),
        },
        "give_up" => match text(&args, "reason") {
            Ok(reason) => return Outcome::GiveUp(reason),
            Err(e) => Err(e),
        },
        other => Err(format!(
            "unknown tool `{other}` (tools: list_dir, read_file, grep, submit_fix, give_up)"
        )),
    };
    Outcome::Reply(result.unwrap_or_else(|e| format!("error: {e}")))
}

/// The arguments as a JSON object; an empty string is an empty object (some models send that for
/// calls without arguments).
fn arguments(raw: &str) -> Result<Map<String, Value>, String> {
    if raw.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the arguments must be a JSON object".into()),
        Err(e) => Err(format!("the arguments are not valid JSON ({e})")),
    }
}

fn text(args: &Map<String, Value>, key: &str) -> Result<String, String> {
    match args.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(format!("`{key}` is empty")),
        Some(_) => Err(format!("`{key}` must be a string")),
        None => Err(format!("`{key}` is missing")),
    }
}

fn opt_text(args: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

fn opt_bool(args: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("`{key}` must be true or false")),
    }
}

fn opt_uint(args: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be a non-negative integer")),
    }
}

/// A project path as the model gave it, checked: relative, no `..`.
fn path(args: &Map<String, Value>, key: &str, root_ok: bool) -> Result<String, String> {
    let raw = opt_text(args, key)?.unwrap_or_default();
    let p = raw.trim().trim_start_matches("./");
    if p.starts_with('/') {
        return Err(format!(
            "`{key}` must be relative to the project root, not absolute"
        ));
    }
    if p.split('/').any(|c| c == "..") || p.contains('\\') || p.contains('\0') {
        return Err(format!("`{key}` must stay inside the project (no `..`)"));
    }
    let p = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/");
    if p.is_empty() && !root_ok {
        return Err(format!("`{key}` is missing or empty"));
    }
    Ok(p)
}

fn project_error(e: ProjectError) -> String {
    e.to_string()
}

fn list_dir(args: &Map<String, Value>, project: &dyn Project) -> Result<String, String> {
    let dir = path(args, "path", true)?;
    let depth = opt_uint(args, "depth")?.unwrap_or(2).clamp(1, 4) as u32;
    let entries = project.list_dir(&dir, depth).map_err(project_error)?;
    let mut out = String::new();
    for e in entries.iter().take(LIST_ENTRIES) {
        match e.kind {
            EntryKind::Directory => out.push_str(&format!("{}/\n", e.path)),
            EntryKind::Symlink => out.push_str(&format!("{} (symlink)\n", e.path)),
            EntryKind::Other => out.push_str(&format!("{} (special)\n", e.path)),
            EntryKind::File => out.push_str(&format!(
                "{} ({} bytes{})\n",
                e.path,
                e.size,
                if e.executable { ", executable" } else { "" }
            )),
        }
    }
    if entries.len() > LIST_ENTRIES {
        out.push_str(&format!(
            "[{} more entries not shown; list a subdirectory]\n",
            entries.len() - LIST_ENTRIES
        ));
    }
    if out.is_empty() {
        out.push_str("(empty)\n");
    }
    Ok(out)
}

fn read_file(
    args: &Map<String, Value>,
    project: &dyn Project,
    session: &mut Session,
) -> Result<String, String> {
    let p = path(args, "path", false)?;
    let max = opt_uint(args, "max_bytes")?
        .unwrap_or(u64::from(READ_BYTES))
        .clamp(1, u64::from(READ_BYTES_MAX)) as u32;
    let f = project.read_file(&p, max).map_err(project_error)?;
    let shown = clip(&f.content, REPLY_CHARS, false);
    let whole = !f.truncated && !f.redacted && !f.binary && shown.len() == f.content.len();
    session.reads.insert(
        p.clone(),
        Read {
            sha256: f.sha256.clone(),
            content: whole.then(|| f.content.clone()),
        },
    );
    let mut flags = Vec::new();
    if f.executable {
        flags.push("executable".to_string());
    }
    if f.truncated || shown.len() < f.content.len() {
        flags.push("truncated: only the start is shown".to_string());
    }
    if f.redacted {
        flags.push("secrets redacted: do not copy <redacted> into edits".to_string());
    }
    if f.binary {
        flags.push("not valid UTF-8".to_string());
    }
    Ok(format!(
        "path: {}\nsha256: {}\nsize: {} bytes{}\n---\n{}",
        f.path,
        f.sha256,
        f.size,
        if flags.is_empty() {
            String::new()
        } else {
            format!("\n{}", flags.join("\n"))
        },
        shown
    ))
}

fn grep(args: &Map<String, Value>, project: &dyn Project) -> Result<String, String> {
    let pattern = text(args, "pattern")?;
    let p = path(args, "path", true)?;
    let matches = project
        .grep(&pattern, &p, GREP_MATCHES)
        .map_err(project_error)?;
    if matches.is_empty() {
        return Ok("no matches\n".into());
    }
    let mut out = String::new();
    for m in &matches {
        out.push_str(&format!("{}:{}: {}\n", m.path, m.line, m.text));
    }
    if matches.len() as u32 >= GREP_MATCHES {
        out.push_str(&format!(
            "[stopped at {GREP_MATCHES} matches; narrow the pattern or the path]\n"
        ));
    }
    Ok(clip(&out, REPLY_CHARS, false))
}

/// Checks a `submit_fix` call: every field typed, every path inside the project, every edit based
/// on a file this session read (its sha256), `old` unique in what was read.
pub fn submission(args: &Map<String, Value>, session: &Session) -> Result<Submission, String> {
    let diagnosis = text(args, "diagnosis")?;
    let confidence = match args.get("confidence") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0).clamp(0.0, 1.0) as f32,
        None => return Err("`confidence` is missing (a number from 0 to 1)".into()),
        Some(_) => return Err("`confidence` must be a number from 0 to 1".into()),
    };
    let restart = opt_bool(args, "restart")?.unwrap_or(true);
    let list = |key: &str| -> Result<Vec<Map<String, Value>>, String> {
        match args.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Object(m) => Ok(m.clone()),
                    _ => Err(format!("`{key}[{i}]` must be an object")),
                })
                .collect(),
            Some(_) => Err(format!("`{key}` must be an array")),
        }
    };
    let raw_edits = list("edits")?;
    let raw_commands = list("commands")?;
    if raw_edits.len() > MAX_EDITS || raw_commands.len() > MAX_COMMANDS {
        return Err(format!(
            "at most {MAX_EDITS} edits and {MAX_COMMANDS} commands; keep the fix small"
        ));
    }
    let edits = raw_edits
        .iter()
        .enumerate()
        .map(|(i, e)| edit(e, session).map_err(|m| format!("edits[{i}]: {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    let commands = raw_commands
        .iter()
        .enumerate()
        .map(|(i, c)| command(c).map_err(|m| format!("commands[{i}]: {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    if edits.is_empty() && commands.is_empty() && !restart {
        return Err(
            "the fix changes nothing: give edits, commands or restart: true (or call give_up)"
                .into(),
        );
    }
    Ok(Submission {
        diagnosis,
        confidence,
        edits,
        commands,
        restart,
    })
}

/// The sha256 an edit of `path` is based on: given, and the one `read_file` answered.
fn base(e: &Map<String, Value>, p: &str, session: &Session) -> Result<String, String> {
    let Some(read) = session.reads.get(p) else {
        return Err(format!(
            "`{p}` was not read: call read_file on it first and use the sha256 it gives as base_sha256"
        ));
    };
    let given = opt_text(e, "base_sha256")?.unwrap_or_default();
    if given.trim().is_empty() {
        return Err(format!(
            "`base_sha256` is missing: use the sha256 read_file gave for `{p}`"
        ));
    }
    if !given.trim().eq_ignore_ascii_case(&read.sha256) {
        return Err(format!(
            "`base_sha256` of `{p}` is not the sha256 read_file gave ({}); read it again",
            read.sha256
        ));
    }
    Ok(read.sha256.clone())
}

fn edit(e: &Map<String, Value>, session: &Session) -> Result<Edit, String> {
    let kind = text(e, "type")?;
    let p = path(e, "path", false)?;
    match kind.as_str() {
        "replace" => {
            let base_sha256 = base(e, &p, session)?;
            let old = opt_text(e, "old")?.unwrap_or_default();
            let new = opt_text(e, "new")?.ok_or("`new` is missing")?;
            if old.is_empty() {
                return Err("`old` is missing or empty".into());
            }
            if old == new {
                return Err("`old` and `new` are the same".into());
            }
            if old.contains(REDACTED) || new.contains(REDACTED) {
                return Err(
                    "`<redacted>` stands for a hidden secret and cannot be part of an edit".into(),
                );
            }
            if let Some(content) = session.reads.get(&p).and_then(|r| r.content.as_ref()) {
                match content.matches(old.as_str()).count() {
                    1 => {}
                    0 => return Err(format!("`old` does not occur in `{p}`")),
                    n => {
                        return Err(format!(
                            "`old` occurs {n} times in `{p}`; include more context so it occurs once"
                        ));
                    }
                }
            }
            Ok(Edit::Replace {
                path: p,
                base_sha256,
                old,
                new,
            })
        }
        "create" => {
            let content = opt_text(e, "content")?.ok_or("`content` is missing")?;
            if content.contains(REDACTED) {
                return Err(
                    "`<redacted>` stands for a hidden secret and cannot be part of an edit".into(),
                );
            }
            Ok(Edit::Create {
                path: p,
                content,
                executable: opt_bool(e, "executable")?.unwrap_or(false),
            })
        }
        "create_dir" => Ok(Edit::CreateDir(p)),
        "set_executable" => Ok(Edit::SetExecutable {
            base_sha256: base(e, &p, session)?,
            path: p,
            executable: opt_bool(e, "executable")?.unwrap_or(true),
        }),
        other => Err(format!(
            "unknown edit type `{other}` (replace, create, create_dir, set_executable)"
        )),
    }
}

fn command(c: &Map<String, Value>) -> Result<FixCommand, String> {
    let command_type = match text(c, "type")?.as_str() {
        "exec" => CommandType::Exec,
        "make" => CommandType::Make,
        "shell" => CommandType::Shell,
        other => {
            return Err(format!(
                "unknown command type `{other}` (exec, make, shell)"
            ));
        }
    };
    let Some(is_safe) = opt_bool(c, "is_safe")? else {
        return Err("`is_safe` is missing: declare whether the command is safe".into());
    };
    let timeout_s = match opt_uint(c, "timeout_s")? {
        Some(t) if (1..=600).contains(&t) => Some(t as u32),
        Some(_) => return Err("`timeout_s` must be from 1 to 600".into()),
        None => None,
    };
    Ok(FixCommand {
        command_type,
        command: text(c, "command")?,
        is_safe,
        allowed_in_production: opt_bool(c, "allowed_in_production")?.unwrap_or(false),
        timeout_s,
        reason: text(c, "reason")?,
    })
}

/// At most `max` bytes of `s` (on a character boundary), saying how much was cut; `tail` keeps the
/// end (logs) instead of the start (files).
pub fn clip(s: &str, max: usize, tail: bool) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let cut = s.len() - max;
    if tail {
        let mut at = cut;
        while !s.is_char_boundary(at) {
            at += 1;
        }
        format!("[... {at} bytes before this not shown]\n{}", &s[at..])
    } else {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        format!("{}\n[... {} more bytes not shown]", &s[..at], s.len() - at)
    }
}
