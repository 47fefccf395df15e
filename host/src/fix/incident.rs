//! What a fixer is told about a failure: built from the target's spec and runtime state, its last log
//! lines (a service's from the logs store, a cron job's from its last execution), the NAMES of its
//! environment (never values), who holds its port when the log says the address is in use, and the
//! target's earlier fixes.

use std::path::{Path, PathBuf};

use super::{Inner, Trigger};
use crate::failure::Failure;
use crate::store::LogQuery;
use crate::wire::{Attempt, CommandLine, FixKind, FixStatus, FixView, Incident, TargetKind};

/// Log lines a fixer gets.
pub const LOG_TAIL: u32 = 50;

fn command_text(c: &CommandLine) -> (String, Vec<String>) {
    let argv = crate::spec::argv_with_args(c, &[]);
    let text = match c {
        CommandLine::Shell(s) => s.clone(),
        CommandLine::Argv(a) => a.join(" "),
    };
    (text, argv)
}

/// `env_file` relative to the root when it lies inside it.
fn env_file_rel(root: &Path, file: &Path) -> String {
    let abs = if file.is_absolute() {
        file.to_path_buf()
    } else {
        root.join(file)
    };
    abs.strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| abs.to_string_lossy().into_owned())
}

/// A fix's outcome as an earlier attempt.
pub fn attempt_of(f: &FixView) -> Attempt {
    let outcome = match f.status {
        FixStatus::Verified => "verified",
        FixStatus::Restored => "verify-failed",
        FixStatus::Rejected => "rejected",
        FixStatus::Failed
            if f.decisions
                .iter()
                .any(|d| d.decision == crate::wire::Decision::Deny) =>
        {
            "denied"
        }
        FixStatus::Failed
            if f.apply_result
                .as_deref()
                .is_some_and(|r| r.starts_with("invalid")) =>
        {
            "invalid"
        }
        _ => "failed",
    };
    Attempt {
        diagnosis: f
            .proposal
            .as_ref()
            .map(|p| p.diagnosis.clone())
            .unwrap_or_default(),
        outcome: outcome.into(),
        detail: f
            .reason
            .clone()
            .or_else(|| f.verify_result.clone())
            .unwrap_or_default(),
    }
}

/// Earlier fixes of the target that got as far as a proposal, oldest first (at most 10).
async fn previous(inner: &Inner, kind: TargetKind, name: &str) -> Vec<Attempt> {
    let fixes = inner
        .store
        .list_fixes(kind, name, 10)
        .await
        .unwrap_or_default();
    fixes
        .iter()
        .rev()
        .filter(|f| f.kind == FixKind::Fix && f.proposal.is_some() && f.status.is_final())
        .map(attempt_of)
        .collect()
}

/// A target's project root: its working dir, absolute. Without one there is nothing to fix.
fn project_root(working_dir: Option<PathBuf>, what: &str, name: &str) -> Result<PathBuf, Failure> {
    let root = working_dir.ok_or_else(|| {
        Failure::Conflict(format!(
            "{what} {name:?} has no working_dir: there is no project to fix"
        ))
    })?;
    Ok(std::path::absolute(&root).unwrap_or(root))
}

/// Builds the incident and answers the project root (the working dir).
pub async fn build(inner: &Inner, t: &Trigger) -> Result<(Incident, PathBuf), Failure> {
    let previous = previous(inner, t.target, &t.name).await;
    match t.target {
        TargetKind::Service => {
            let view = inner
                .sup
                .get(&t.name)
                .map_err(|_| Failure::not_found("service", &t.name))?;
            let spec = &view.spec;
            let root = project_root(spec.working_dir.clone(), "service", &t.name)?;
            let (command, argv) = command_text(&spec.command);
            // The lines read so far are stored before the tail is taken (the crash's last words).
            inner.hub.flush().await;
            let mut q = LogQuery::new(t.name.clone());
            q.tail = Some(LOG_TAIL);
            let log_tail: Vec<String> = inner
                .store
                .query_logs(&q)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.line)
                .collect();
            let env_names = crate::spec::service_env(spec)
                .map(|e| e.into_keys().collect())
                .unwrap_or_else(|_| spec.env.keys().cloned().collect());
            let in_use = log_tail.iter().any(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("address already in use") || l.contains("eaddrinuse")
            });
            let port_holder = match (in_use, spec.port) {
                (true, Some(port)) => {
                    let name = t.name.clone();
                    let node = inner.sup.node().to_string();
                    tokio::task::spawn_blocking(move || {
                        crate::process::port_holder(port, &node, &name)
                    })
                    .await
                    .ok()
                    .flatten()
                    .map(|h| crate::wire::PortHolder {
                        pid: h.pid,
                        command: h.command,
                        leftover: h.leftover,
                    })
                }
                _ => None,
            };
            let last = view.state.last_exit.as_ref();
            Ok((
                Incident {
                    kind: t.kind,
                    target: t.target,
                    name: t.name.clone(),
                    command,
                    argv,
                    working_dir: root.to_string_lossy().into_owned(),
                    exit_code: last.and_then(|e| e.code),
                    signal: last.and_then(|e| e.signal.clone()),
                    restarts: view.state.restart_count,
                    log_tail,
                    env_names,
                    env_file: spec.env_file.as_deref().map(|f| env_file_rel(&root, f)),
                    port: spec.port,
                    port_holder,
                    health_message: t.health_message.clone(),
                    previous,
                    model: t.model.clone(),
                },
                root,
            ))
        }
        TargetKind::CronJob => {
            let view = inner
                .cron
                .get(&t.name)
                .map_err(|_| Failure::not_found("cron job", &t.name))?;
            let spec = &view.spec;
            let root = project_root(spec.working_dir.clone(), "cron job", &t.name)?;
            let (command, argv) = command_text(&spec.command);
            let last = inner
                .cron
                .executions(&t.name, None, 1)
                .await
                .ok()
                .and_then(|p| p.executions.into_iter().next());
            let mut log_tail = Vec::new();
            if let Some(e) = &last {
                for out in [&e.stdout, &e.stderr] {
                    let text = if out.tail.is_empty() {
                        &out.text
                    } else {
                        &out.tail
                    };
                    log_tail.extend(text.lines().map(str::to_string));
                }
            }
            let skip = log_tail.len().saturating_sub(LOG_TAIL as usize);
            log_tail.drain(..skip);
            Ok((
                Incident {
                    kind: t.kind,
                    target: t.target,
                    name: t.name.clone(),
                    command,
                    argv,
                    working_dir: root.to_string_lossy().into_owned(),
                    exit_code: last.as_ref().and_then(|e| e.exit_code),
                    signal: last.as_ref().and_then(|e| e.signal.clone()),
                    restarts: 0,
                    log_tail,
                    env_names: spec.env_vars.keys().cloned().collect(),
                    env_file: spec.env_file.as_deref().map(|f| env_file_rel(&root, f)),
                    port: None,
                    port_holder: None,
                    health_message: None,
                    previous,
                    model: t.model.clone(),
                },
                root,
            ))
        }
    }
}
