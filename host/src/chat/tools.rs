//! The chat's tools: their JSON-schema definitions as the model sees them, and running one call
//! against the live operations (`Ops`), **read-only**: status, logs, events, metrics, cron jobs and
//! their history, plugin stats. `propose_action` changes nothing either: it checks the proposal and
//! hands it back for the person to decide. Every answer goes through the `Redactor` and is capped
//! (`MAX_ANSWER` for the model, `MAX_SHOWN` for the `tool` event and the store).

use serde_json::{Value, json};

use super::redact::Redactor;
use crate::ops::Ops;
use crate::wire::{
    ChatProposal, EventParams, ExecutionParams, HistoryParams, LogParams, Stream, Tool,
};

/// Longest tool answer given to the model, bytes.
pub const MAX_ANSWER: usize = 4096;
/// Longest tool answer in a `tool` event and in the store, characters (`ChatToolUse::result`).
pub const MAX_SHOWN: usize = 2000;
/// Most log lines `service_logs` reads.
const MAX_LOG_LINES: u32 = 200;
const DEFAULT_LOG_LINES: u32 = 50;
const MAX_EVENTS: u32 = 100;
const DEFAULT_EVENTS: u32 = 20;
const MAX_EXECUTIONS: u32 = 50;
const DEFAULT_EXECUTIONS: u32 = 10;
/// Actions `propose_action` accepts.
pub const ACTIONS: [&str; 5] = ["start", "stop", "restart", "fix", "edit"];
/// Only for models configured `tools = false`: through the gateway's JSON fallback every answer is
/// a tool call, so the final answer is one too.
pub const ANSWER: &str = "answer";

fn tool(name: &str, description: &str, parameters: Value) -> Tool {
    Tool {
        name: name.into(),
        description: description.into(),
        parameters,
    }
}

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

fn named(what: &str) -> Value {
    json!({"type": "object", "properties": {"name": {"type": "string", "description": what}}, "required": ["name"]})
}

/// The tools offered to the model; `fallback`: also `answer` (see `ANSWER`).
pub fn definitions(fallback: bool) -> Vec<Tool> {
    let mut tools = vec![
        tool(
            "list_services",
            "Every service tend supervises: name, status, pid, port, restarts, health.",
            no_args(),
        ),
        tool(
            "service_status",
            "One service's definition (environment variable names only) and its current state.",
            named("The service's name"),
        ),
        tool(
            "service_logs",
            "The last lines a service wrote (oldest first).",
            json!({"type": "object", "properties": {
                "name": {"type": "string"},
                "lines": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_LINES, "description": "How many (default 50)"},
                "stream": {"type": "string", "enum": ["stdout", "stderr"]},
            }, "required": ["name"]}),
        ),
        tool(
            "service_events",
            "A service's recent lifecycle events (starts, exits, restarts, health changes), newest first.",
            json!({"type": "object", "properties": {
                "name": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS},
            }, "required": ["name"]}),
        ),
        tool(
            "service_metrics",
            "A service's CPU, memory, processes and I/O over the last 15 minutes.",
            named("The service's name"),
        ),
        tool(
            "cron_jobs",
            "Every cron job: schedule, enabled, last and next run.",
            no_args(),
        ),
        tool(
            "cron_history",
            "A cron job's recent executions, newest first.",
            json!({"type": "object", "properties": {
                "job": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_EXECUTIONS},
            }, "required": ["job"]}),
        ),
        tool(
            "plugin_stats",
            "Every plugin: state, world, version and call statistics.",
            no_args(),
        ),
        tool(
            "propose_action",
            "Suggest an action on a service to the person. It is not carried out: the person decides.",
            json!({"type": "object", "properties": {
                "action": {"type": "string", "enum": ACTIONS},
                "service": {"type": "string"},
                "reason": {"type": "string"},
                "changes": {"type": "object", "description": "For edit: the fields of the service's definition to change, with their new values"},
            }, "required": ["action", "service", "reason"]}),
        ),
    ];
    if fallback {
        tools.push(tool(
            ANSWER,
            "Give the person your answer (plain text). Use it once you know enough.",
            json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        ));
    }
    tools
}

/// What one call produced.
pub struct Outcome {
    /// The answer for the model (redacted, at most `MAX_ANSWER` bytes).
    pub answer: String,
    /// Set when `propose_action` accepted a proposal.
    pub proposal: Option<ChatProposal>,
}

impl Outcome {
    fn text(answer: String) -> Outcome {
        Outcome {
            answer,
            proposal: None,
        }
    }
}

/// Whether the model may call `name` (`answer` aside).
pub fn known(name: &str) -> bool {
    definitions(false).iter().any(|t| t.name == name)
}

/// Runs one call; a bad call or a failed operation is answered as an error the model can read.
pub async fn run(ops: &Ops, name: &str, args: &Value, redact: &Redactor) -> Outcome {
    let outcome = match call(ops, name, args).await {
        Ok(o) => o,
        Err(m) => Outcome::text(format!("error: {m}")),
    };
    Outcome {
        answer: cap(&redact.scrub(&outcome.answer), MAX_ANSWER),
        proposal: outcome.proposal,
    }
}

fn str_arg<'a>(args: &'a Value, field: &str) -> Result<&'a str, String> {
    args.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{field}: required (a string)"))
}

fn int_arg(args: &Value, field: &str, default: u32, max: u32) -> Result<u32, String> {
    match args.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(max)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| format!("{field}: a whole number from 1 to {max}")),
    }
}

fn pretty(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

async fn call(ops: &Ops, name: &str, args: &Value) -> Result<Outcome, String> {
    let text = match name {
        "list_services" => {
            let list: Vec<Value> = ops
                .services()
                .iter()
                .map(|s| {
                    json!({
                        "name": s.spec.name, "status": s.state.status, "pid": s.state.pid,
                        "port": s.spec.port, "enabled": s.spec.enabled,
                        "restart_count": s.state.restart_count, "health": s.state.health,
                    })
                })
                .collect();
            pretty(&list)
        }
        "service_status" => {
            let view = ops.service(str_arg(args, "name")?).map_err(|e| e.message)?;
            pretty(&super::redact::service_view(&view))
        }
        "service_logs" => {
            let name = str_arg(args, "name")?;
            let lines = int_arg(args, "lines", DEFAULT_LOG_LINES, MAX_LOG_LINES)?;
            let stream = match args.get("stream").and_then(Value::as_str) {
                None => None,
                Some("stdout") => Some(Stream::Stdout),
                Some("stderr") => Some(Stream::Stderr),
                Some(_) => return Err("stream: stdout or stderr".into()),
            };
            let p = LogParams {
                tail: Some(lines),
                stream,
                ..LogParams::default()
            };
            let page = ops.logs(name, &p).await.map_err(|e| e.message)?;
            log_lines(&page.lines)
        }
        "service_events" => {
            let name = str_arg(args, "name")?;
            let limit = int_arg(args, "limit", DEFAULT_EVENTS, MAX_EVENTS)?;
            let page = ops
                .events(name, &EventParams { limit: Some(limit) })
                .await
                .map_err(|e| e.message)?;
            page.events
                .iter()
                .map(pretty)
                .collect::<Vec<_>>()
                .join("\n")
        }
        "service_metrics" => metrics(ops, str_arg(args, "name")?).await?,
        "cron_jobs" => {
            let list: Vec<Value> = ops
                .cron_jobs()
                .iter()
                .map(|j| {
                    let mut v = serde_json::to_value(j).unwrap_or(Value::Null);
                    super::redact::names_only(&mut v, "env_vars");
                    v
                })
                .collect();
            pretty(&list)
        }
        "cron_history" => {
            let job = str_arg(args, "job")?;
            let limit = int_arg(args, "limit", DEFAULT_EXECUTIONS, MAX_EXECUTIONS)?;
            let p = ExecutionParams {
                limit: Some(limit),
                ..ExecutionParams::default()
            };
            let page = ops.cron_executions(job, &p).await.map_err(|e| e.message)?;
            pretty(&page)
        }
        "plugin_stats" => {
            let list: Vec<Value> = ops
                .plugins()
                .iter()
                .map(|p| {
                    json!({
                        "name": p.name, "state": p.state, "world": p.world, "version": p.version,
                        "stats": p.stats, "suspended_until": p.suspended_until,
                    })
                })
                .collect();
            pretty(&list)
        }
        "propose_action" => return propose(ops, args),
        other => return Err(format!("there is no tool {other:?}")),
    };
    Ok(Outcome::text(text))
}

/// `time stream line`, one a line.
pub fn log_lines(lines: &[crate::wire::LogLine]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {} {}", l.time, l.stream.as_str(), l.line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last points (one a sampling interval) of the last 15 minutes.
pub async fn metrics(ops: &Ops, name: &str) -> Result<String, String> {
    let p = HistoryParams {
        since: Some("15m".into()),
        step: None,
    };
    let h = ops.metrics_history(name, &p).await.map_err(|e| e.message)?;
    if h.points.is_empty() {
        return Ok("no samples in the last 15 minutes".into());
    }
    let last: Vec<_> = h.points.iter().rev().take(5).rev().collect();
    Ok(pretty(&last))
}

fn propose(ops: &Ops, args: &Value) -> Result<Outcome, String> {
    let action = str_arg(args, "action")?;
    if !ACTIONS.contains(&action) {
        return Err(format!(
            "action: {action:?} is not one of {}",
            ACTIONS.join(", ")
        ));
    }
    let service = str_arg(args, "service")?;
    ops.service(service).map_err(|e| e.message)?;
    let reason = str_arg(args, "reason")?;
    let changes = match args.get("changes") {
        None | Some(Value::Null) => None,
        Some(c @ Value::Object(_)) if action == "edit" => Some(c.clone()),
        Some(Value::Object(_)) => return Err("changes: only an edit has changes".into()),
        Some(_) => return Err("changes: an object of the fields to change".into()),
    };
    if action == "edit" && changes.is_none() {
        return Err("changes: an edit says which fields to change".into());
    }
    Ok(Outcome {
        answer: "proposed; the person decides whether to do it (nothing was changed)".into(),
        proposal: Some(ChatProposal {
            action: action.into(),
            service: service.into(),
            reason: cap(reason, 1000),
            changes,
        }),
    })
}

/// `text` cut to at most `max` bytes on a character boundary, saying so.
pub fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const MORE: &str = "\n[... cut]";
    let mut end = max.saturating_sub(MORE.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &text[..end])
}

/// `text` cut to at most `max` characters.
pub fn cap_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => text[..end].to_string(),
    }
}
