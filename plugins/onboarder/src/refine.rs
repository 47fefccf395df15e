//! Refinement by a model: one request showing the project's listing (two levels, at most
//! `MAX_FILES` paths), the deterministic plan and the free ports, answered with a JSON plan
//! (`SCHEMA`) that is validated here before it replaces anything. A failed call or an invalid
//! answer leaves the deterministic plan as it was, with a note saying why: nothing is lost.
//! Only runs when the caller named a model; never shows file contents, only paths and the plan
//! (which holds no value read from an env file).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::model::{
    CommandType, Cron, EntryKind, Evidence, Llm, Message, Plan, Project, ProjectError, Request,
    Role, Service, Setup,
};

/// Most paths of the listing shown to the model.
pub const MAX_FILES: usize = 300;

/// What a redacted env value looks like; a plan must never carry one.
const REDACTED: &str = "<redacted>";

const INSTRUCTIONS: &str = "You refine how tend (a service supervisor) runs a project. You get \
the project's file listing (directories end with `/`), the plan tend's rules detected, and the \
free ports. Answer with the whole corrected plan as one JSON object matching the schema: every \
service (name of lowercase letters, digits, `_` and `-`, starting with a letter or digit, at most 63 bytes, unique; argv without a shell unless needed; \
working_dir relative to the project root, an existing directory, `\"\"` for the root; port one of \
the free ports or null; env values never secrets; health_path an HTTP path answering 2xx or \
null), cron jobs (5-field schedules), setup steps (install, build, migrate; command_type shell, \
make or exec) and notes for the user. Keep what the rules got right and keep their names; give \
a short reason for each entry.";

/// The JSON schema of the model's answer.
pub fn schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["services", "cron_jobs", "setup", "notes"],
        "properties": {
            "services": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "argv", "working_dir", "port", "env", "health_path", "reason"],
                "properties": {
                    "name": string,
                    "argv": {"type": "array", "items": string},
                    "working_dir": string,
                    "port": {"type": ["integer", "null"]},
                    "env": {"type": "object", "additionalProperties": string},
                    "health_path": {"type": ["string", "null"]},
                    "reason": string,
                },
            }},
            "cron_jobs": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "schedule", "argv", "working_dir", "reason"],
                "properties": {
                    "name": string,
                    "schedule": string,
                    "argv": {"type": "array", "items": string},
                    "working_dir": string,
                    "reason": string,
                },
            }},
            "setup": {"type": "array", "items": {
                "type": "object",
                "additionalProperties": false,
                "required": ["command_type", "command", "working_dir", "reason"],
                "properties": {
                    "command_type": {"type": "string", "enum": ["shell", "make", "exec"]},
                    "command": string,
                    "working_dir": string,
                    "reason": string,
                },
            }},
            "notes": {"type": "array", "items": string},
        },
    })
}

/// The project's listing: paths (directories with a trailing `/`) and the set of directories.
fn listing(project: &dyn Project) -> (Vec<String>, BTreeSet<String>) {
    let entries = match project.list_dir("", 2) {
        Err(ProjectError::TooLarge(_)) => project.list_dir("", 1).unwrap_or_default(),
        other => other.unwrap_or_default(),
    };
    let dirs = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Directory)
        .map(|e| e.path.clone())
        .collect();
    // The first level whole before the second, so a wide tree still shows its shape.
    let mut paths: Vec<&crate::model::Entry> = entries.iter().collect();
    paths.sort_by_key(|e| (e.path.contains('/'), e.path.clone()));
    let files = paths
        .into_iter()
        .take(MAX_FILES)
        .map(|e| match e.kind {
            EntryKind::Directory => format!("{}/", e.path),
            _ => e.path.clone(),
        })
        .collect();
    (files, dirs)
}

/// The plan as the model sees it.
fn shown_plan(plan: &Plan) -> Value {
    json!({
        "services": plan.services.iter().map(|s| json!({
            "name": s.name,
            "argv": s.argv,
            "working_dir": s.working_dir,
            "port": s.port,
            "env": s.env,
            "health_path": s.health_path,
        })).collect::<Vec<_>>(),
        "cron_jobs": plan.cron_jobs.iter().map(|c| json!({
            "name": c.name,
            "schedule": c.schedule,
            "argv": c.argv,
            "working_dir": c.working_dir,
        })).collect::<Vec<_>>(),
        "setup": plan.setup.iter().map(|s| json!({
            "command_type": match s.command_type {
                CommandType::Shell => "shell",
                CommandType::Make => "make",
                CommandType::Exec => "exec",
            },
            "command": s.command,
            "working_dir": s.working_dir,
        })).collect::<Vec<_>>(),
    })
}

/// The request `refine` sends (one per analysis), showing `files` (the listing).
pub fn request(
    name: &str,
    files: &[String],
    plan: &Plan,
    free_ports: &[u16],
    model: &str,
) -> Request {
    let user = json!({
        "project": name,
        "files": files,
        "plan": shown_plan(plan),
        "free_ports": free_ports,
    });
    let message = |role, content: String| Message {
        role,
        content,
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    Request {
        model: Some(model.to_string()),
        messages: vec![
            message(Role::System, INSTRUCTIONS.to_string()),
            message(Role::User, user.to_string()),
        ],
        response_schema: Some(schema().to_string()),
        max_tokens: Some(4096),
    }
}

/// The deterministic `detected` plan (or why there is none) refined by `model`.
pub fn refine(
    project: &dyn Project,
    name: &str,
    free_ports: &[u16],
    model: &str,
    llm: &mut dyn Llm,
    detected: Result<Plan, String>,
) -> Result<Plan, String> {
    let base = detected.clone().unwrap_or_default();
    let (files, dirs) = listing(project);
    let request = request(name, &files, &base, free_ports, model);
    let answer = llm
        .complete(&request)
        .map_err(|e| format!("the model call failed: {e}"))
        .and_then(|r| validate(&r.content, free_ports, &dirs, &base, detected.is_err()));
    match (answer, detected) {
        (Ok(answer), _) => Ok(refined(answer, &base, model)),
        (Err(why), Ok(mut plan)) => {
            plan.notes
                .push(format!("the model's plan was rejected: {why}"));
            Ok(plan)
        }
        (Err(why), Err(nothing)) => Err(format!("{nothing}; the model's plan was rejected: {why}")),
    }
}

/// A valid answer, read.
#[derive(Debug)]
pub struct Answer {
    services: Vec<(Service, String)>,
    cron_jobs: Vec<(Cron, String)>,
    setup: Vec<Setup>,
    notes: Vec<String>,
}

fn field<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a Value, String> {
    v.get(key)
        .ok_or_else(|| format!("{at}: `{key}` is missing"))
}

fn string(v: &Value, key: &str, at: &str) -> Result<String, String> {
    field(v, key, at)?
        .as_str()
        .map(String::from)
        .ok_or_else(|| format!("{at}: `{key}` is not a string"))
}

fn array<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a Vec<Value>, String> {
    field(v, key, at)?
        .as_array()
        .ok_or_else(|| format!("{at}: `{key}` is not an array"))
}

/// A name tend registers: `^[a-z0-9][a-z0-9_-]{0,62}$` (what `POST /api/services` takes; the
/// WIT's `[A-Za-z0-9_.-]{1,64}` is wider, and a name the host refuses would sink the whole plan).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= crate::detect::MAX_NAME
        && name.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'_' || b == b'-'))
        })
}

fn argv(v: &Value, at: &str) -> Result<Vec<String>, String> {
    let argv: Vec<String> = array(v, "argv", at)?
        .iter()
        .map(|a| a.as_str().map(String::from))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{at}: `argv` holds a non-string"))?;
    if argv.first().is_none_or(|a| a.trim().is_empty()) {
        return Err(format!("{at}: `argv` is empty"));
    }
    if argv.iter().any(|a| a.contains(REDACTED)) {
        return Err(format!("{at}: `argv` holds a redacted value"));
    }
    Ok(argv)
}

fn working_dir(v: &Value, at: &str, dirs: &BTreeSet<String>) -> Result<String, String> {
    let wd = string(v, "working_dir", at)?;
    let wd = wd.trim_end_matches('/');
    let wd = if wd == "." { "" } else { wd };
    if wd.starts_with('/') || wd.split('/').any(|c| c == "..") {
        return Err(format!("{at}: working_dir `{wd}` leaves the project"));
    }
    if !wd.is_empty() && !dirs.contains(wd) {
        return Err(format!(
            "{at}: working_dir `{wd}` is not a directory of the project"
        ));
    }
    Ok(wd.to_string())
}

/// The model's `content` checked against every rule the host's registration would check, and a
/// few it could not (ports only from `free_ports`, no redacted value, existing directories).
pub fn validate(
    content: &str,
    free_ports: &[u16],
    dirs: &BTreeSet<String>,
    base: &Plan,
    nothing_detected: bool,
) -> Result<Answer, String> {
    let v: Value =
        serde_json::from_str(content).map_err(|e| format!("the answer is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("the answer is not a JSON object".into());
    }
    let mut dirs = dirs.clone();
    dirs.extend(base.services.iter().map(|s| s.working_dir.clone()));
    dirs.extend(base.cron_jobs.iter().map(|c| c.working_dir.clone()));
    let mut names = BTreeSet::new();
    let mut ports = BTreeSet::new();
    let mut services = Vec::new();
    for (i, s) in array(&v, "services", "the answer")?.iter().enumerate() {
        let at = format!("services[{i}]");
        let name = string(s, "name", &at)?;
        if !valid_name(&name) {
            return Err(format!(
                "{at}: name `{name}` is not a name tend takes ([a-z0-9_-], starting with a letter or digit, at most 63 bytes)"
            ));
        }
        if !names.insert(name.clone()) {
            return Err(format!("{at}: name `{name}` is used twice"));
        }
        let argv = argv(s, &at)?;
        let working_dir = working_dir(s, &at, &dirs)?;
        let port = match field(s, "port", &at)? {
            Value::Null => None,
            p => {
                let p = p
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| format!("{at}: port `{p}` is not a port number"))?;
                if !free_ports.contains(&p) {
                    return Err(format!(
                        "{at}: port {p} is not one of the free ports {free_ports:?}"
                    ));
                }
                if !ports.insert(p) {
                    return Err(format!("{at}: port {p} is given twice"));
                }
                Some(p)
            }
        };
        let mut env = BTreeMap::new();
        let obj = field(s, "env", &at)?
            .as_object()
            .ok_or_else(|| format!("{at}: `env` is not an object"))?;
        for (k, val) in obj {
            let val = val
                .as_str()
                .ok_or_else(|| format!("{at}: env {k} is not a string"))?;
            if !crate::detect::text::is_env_name(k) {
                return Err(format!("{at}: env name `{k}` is not a variable name"));
            }
            if val.contains(REDACTED) {
                return Err(format!("{at}: env {k} holds a redacted value"));
            }
            env.insert(k.clone(), val.to_string());
        }
        if let Some(p) = port {
            env.insert("PORT".into(), p.to_string());
        }
        let health_path = match field(s, "health_path", &at)? {
            Value::Null => None,
            Value::String(h) if h.starts_with('/') => Some(h.clone()),
            h => {
                return Err(format!(
                    "{at}: health_path `{h}` is not a path starting with `/`"
                ));
            }
        };
        let reason = s
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string();
        services.push((
            Service {
                name,
                argv,
                working_dir,
                port,
                env,
                health_path,
                ..Service::default()
            },
            reason,
        ));
    }
    let mut cron_names = BTreeSet::new();
    let mut cron_jobs = Vec::new();
    for (i, c) in array(&v, "cron_jobs", "the answer")?.iter().enumerate() {
        let at = format!("cron_jobs[{i}]");
        let name = string(c, "name", &at)?;
        if !valid_name(&name) {
            return Err(format!(
                "{at}: name `{name}` is not a name tend takes ([a-z0-9_-], starting with a letter or digit, at most 63 bytes)"
            ));
        }
        if !cron_names.insert(name.clone()) {
            return Err(format!("{at}: name `{name}` is used twice"));
        }
        let schedule = string(c, "schedule", &at)?;
        let fields = schedule.split_whitespace().count();
        if fields != 5 && fields != 6 {
            return Err(format!(
                "{at}: schedule `{schedule}` has {fields} fields, not 5 or 6"
            ));
        }
        let argv = argv(c, &at)?;
        let working_dir = working_dir(c, &at, &dirs)?;
        let reason = c
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string();
        cron_jobs.push((
            Cron {
                name,
                schedule,
                argv,
                working_dir,
                ..Cron::default()
            },
            reason,
        ));
    }
    let mut setup = Vec::new();
    for (i, s) in array(&v, "setup", "the answer")?.iter().enumerate() {
        let at = format!("setup[{i}]");
        let command_type = match string(s, "command_type", &at)?.as_str() {
            "shell" => CommandType::Shell,
            "make" => CommandType::Make,
            "exec" => CommandType::Exec,
            other => {
                return Err(format!(
                    "{at}: command_type `{other}` is not shell, make or exec"
                ));
            }
        };
        let command = string(s, "command", &at)?;
        if command.trim().is_empty() {
            return Err(format!("{at}: `command` is empty"));
        }
        if command.contains(REDACTED) {
            return Err(format!("{at}: `command` holds a redacted value"));
        }
        let working_dir = working_dir(s, &at, &dirs)?;
        let reason = s
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string();
        setup.push(Setup {
            command_type,
            command,
            // The model's steps are judged by the host's policy, never assumed safe here.
            is_safe: false,
            allowed_in_production: false,
            timeout_s: Some(900),
            reason: if reason.is_empty() {
                "proposed by the model".into()
            } else {
                reason
            },
            working_dir,
        });
    }
    let notes = match v.get("notes") {
        None | Some(Value::Null) => Vec::new(),
        Some(n) => n
            .as_array()
            .ok_or("`notes` is not an array")?
            .iter()
            .map(|n| {
                n.as_str()
                    .map(String::from)
                    .ok_or("`notes` holds a non-string")
            })
            .collect::<Result<_, _>>()?,
    };
    if services.is_empty() && cron_jobs.is_empty() {
        return Err(if nothing_detected {
            "it proposes no service and no cron job either".into()
        } else {
            "it proposes no service and no cron job".into()
        });
    }
    Ok(Answer {
        services,
        cron_jobs,
        setup,
        notes,
    })
}

fn reason_evidence(dir: &str, reason: &str) -> Evidence {
    Evidence::new(
        if dir.is_empty() { "." } else { dir },
        if reason.is_empty() {
            "proposed by the model".to_string()
        } else {
            format!("proposed by the model: {reason}")
        },
    )
}

/// The plan the valid `answer` describes, keeping what detection knew about the entries the model
/// kept (evidence, confidence, env file, data dir).
fn refined(answer: Answer, base: &Plan, model: &str) -> Plan {
    let env_file_of = |dir: &str| {
        base.services
            .iter()
            .filter(|s| s.working_dir == dir)
            .find_map(|s| s.env_file.clone())
            .or_else(|| {
                base.cron_jobs
                    .iter()
                    .filter(|c| c.working_dir == dir)
                    .find_map(|c| c.env_file.clone())
            })
    };
    let mut services: Vec<Service> = answer
        .services
        .into_iter()
        .map(|(mut s, reason)| {
            match base.services.iter().find(|b| b.name == s.name) {
                Some(b) => {
                    s.evidence = b.evidence.clone();
                    s.confidence = b.confidence;
                    s.data_dir = b.data_dir;
                    s.env_file = b
                        .env_file
                        .clone()
                        .filter(|_| b.working_dir == s.working_dir);
                }
                None => {
                    s.evidence = vec![reason_evidence(&s.working_dir, &reason)];
                    s.confidence = 0.6;
                }
            }
            if s.env_file.is_none() {
                s.env_file = env_file_of(&s.working_dir);
            }
            s
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut cron_jobs: Vec<Cron> = answer
        .cron_jobs
        .into_iter()
        .map(|(mut c, reason)| {
            c.evidence = match base.cron_jobs.iter().find(|b| b.name == c.name) {
                Some(b) => b.evidence.clone(),
                None => vec![reason_evidence(&c.working_dir, &reason)],
            };
            c.env_file = env_file_of(&c.working_dir);
            c
        })
        .collect();
    cron_jobs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut notes = answer.notes;
    notes.push(format!(
        "refined by the model {model} (detected by: {})",
        if base.source.is_empty() {
            "nothing"
        } else {
            &base.source
        }
    ));
    let confidence = services
        .iter()
        .map(|s| s.confidence)
        .reduce(f32::min)
        .unwrap_or(0.5);
    Plan {
        services,
        cron_jobs,
        setup: answer.setup,
        confidence,
        evidence: base.evidence.clone(),
        notes,
        author: crate::model::Author::Model,
        source: format!("model:{model}"),
    }
}
