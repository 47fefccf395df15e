//! process-compose's YAML: the top-level `environment` (given to every process) and `processes`,
//! each with `command` (run through the shell, as process-compose does), `working_dir`,
//! `environment` (a `KEY=value` list), `availability` (`restart`, `max_restarts`, `backoff_seconds`
//! as a fixed delay), `depends_on` (`process_started`, `process_healthy`,
//! `process_completed_successfully`), `liveness_probe`/`readiness_probe` (`http_get` -> the `http`
//! probe; an `exec` that fetches a URL too; other `exec` checks are warned), `shutdown` (`signal`,
//! `timeout_seconds`) and `disabled`.

use serde_json::{Map, Value};

use super::common::{
    Warnings, bool_of, fetched_url, http_health, key_value, object, resolve, signal_name, spec,
    str_of, u64_of, words, yaml,
};
use super::{Draft, ImportError, Input};
use crate::wire::{
    Backoff, CommandLine, Dependency, DependencyCondition, HealthSpec, RestartPolicy,
};

pub fn convert(input: &Input<'_>, w: &mut Warnings) -> Result<Vec<Draft>, ImportError> {
    let doc = yaml(input.content)?;
    let top = object(&doc, "the file")?;
    let mut global = Vec::new();
    let mut processes = None;
    for (key, v) in top {
        match key.as_str() {
            "processes" => processes = Some(object(v, "processes")?),
            "environment" => global = environment(v, "environment", input.file_name, w)?,
            "version" => {}
            _ => w.add(
                input.file_name,
                key,
                "process-compose's own settings: not imported",
            ),
        }
    }
    let processes = processes.ok_or_else(|| ImportError::at("processes", "no `processes:`"))?;
    processes
        .iter()
        .map(|(name, v)| process(name, v, &global, input, w))
        .collect()
}

fn environment(
    v: &Value,
    place: &str,
    object: &str,
    w: &mut Warnings,
) -> Result<Vec<(String, String)>, ImportError> {
    let mut out = Vec::new();
    let items = match v {
        Value::Null => return Ok(out),
        Value::Array(items) => items,
        _ => return Err(super::common::wrong(place, "a list of KEY=value")),
    };
    for item in items {
        match key_value(&str_of(item, place)?) {
            (k, Some(v)) => out.push((k, v)),
            (k, None) => w.add(
                object,
                "environment",
                format!(
                    "{k} has no value (it came from process-compose's environment): not imported"
                ),
            ),
        }
    }
    Ok(out)
}

fn process(
    name: &str,
    v: &Value,
    global: &[(String, String)],
    input: &Input<'_>,
    w: &mut Warnings,
) -> Result<Draft, ImportError> {
    let place = format!("processes.{name}");
    let fields = object(v, &place)?;
    let command = str_of(
        fields
            .get("command")
            .ok_or_else(|| ImportError::at(&place, "no `command`"))?,
        &format!("{place}.command"),
    )?;
    let mut s = spec(name, CommandLine::Shell(command), input.base_dir);
    s.env.extend(global.iter().cloned());
    // process-compose's default: never restart.
    s.restart = RestartPolicy::Never;
    let mut liveness = None;
    let mut readiness = None;
    for (key, v) in fields {
        let at = format!("{place}.{key}");
        match key.as_str() {
            "command" => {}
            "working_dir" => s.working_dir = Some(resolve(input.base_dir, &str_of(v, &at)?)),
            "environment" => s.env.extend(environment(v, &at, &place, w)?),
            "availability" => availability(v, &at, &mut s, &place, w)?,
            "depends_on" => {
                for (dep, d) in object(v, &at)? {
                    let at = format!("{at}.{dep}");
                    let mut edge = Dependency::default();
                    for (k, val) in object(d, &at)? {
                        match k.as_str() {
                            "condition" => {
                                edge.condition = condition(&str_of(val, &at)?, &place, dep, w)?
                            }
                            _ => w.unknown(&place, &format!("depends_on.{dep}.{k}")),
                        }
                    }
                    s.depends_on.0.insert(dep.clone(), edge);
                }
            }
            "liveness_probe" => liveness = probe(v, &at, &place, key, w)?,
            "readiness_probe" => readiness = probe(v, &at, &place, key, w)?,
            "shutdown" => {
                for (k, val) in object(v, &at)? {
                    let at = format!("{at}.{k}");
                    match k.as_str() {
                        "signal" => {
                            s.stop_signal = signal_name(val)
                                .ok_or_else(|| ImportError::at(&at, "not a signal"))?
                        }
                        "timeout_seconds" => s.stop_timeout_s = u64_of(val, &at)?.max(1),
                        "command" => w.add(
                            &place,
                            "shutdown.command",
                            "tend stops a service with its stop_signal, then SIGKILL: a stop \
                             command is not imported",
                        ),
                        _ => w.unknown(&place, &format!("shutdown.{k}")),
                    }
                }
            }
            "disabled" => s.enabled = !bool_of(v, &at)?,
            "log_location" | "log_configuration" => w.add(
                &place,
                key,
                "tend captures and rotates the output itself (`tend logs NAME`): not imported",
            ),
            _ => w.unknown(&place, key),
        }
    }
    // tend has one health check: it gates `healthy` and restarts after its failures, as a liveness
    // probe does; a readiness probe is used when there is no liveness probe.
    s.health = match (liveness, readiness) {
        (Some(l), Some(r)) => {
            if l != r {
                w.add(
                    &place,
                    "readiness_probe",
                    "tend has one health check, the liveness probe's: not imported",
                );
            }
            Some(l)
        }
        (l, r) => l.or(r),
    };
    Ok(Draft {
        object: place,
        spec: s,
    })
}

fn availability(
    v: &Value,
    place: &str,
    s: &mut crate::wire::ServiceSpec,
    object_name: &str,
    w: &mut Warnings,
) -> Result<(), ImportError> {
    for (k, val) in object(v, place)? {
        let at = format!("{place}.{k}");
        match k.as_str() {
            "restart" => {
                s.restart = match str_of(val, &at)?.as_str() {
                    "always" => RestartPolicy::Always,
                    "on_failure" => RestartPolicy::OnFailure,
                    "no" => RestartPolicy::Never,
                    "exit_on_failure" => {
                        w.add(
                            object_name,
                            "availability.restart",
                            "exit_on_failure stops process-compose as a whole: tend keeps the \
                             other services running; imported as never",
                        );
                        RestartPolicy::Never
                    }
                    other => {
                        return Err(ImportError::at(
                            at,
                            format!(
                                "{other:?}: expected always, on_failure, exit_on_failure or no"
                            ),
                        ));
                    }
                }
            }
            "max_restarts" => s.max_restarts = u64_of(val, &at)?.min(u32::MAX as u64) as u32,
            "backoff_seconds" => {
                let ms = u64_of(val, &at)? * 1000;
                s.backoff = Backoff {
                    initial_delay_ms: ms,
                    max_delay_ms: ms,
                    multiplier: 1.0,
                    ..Backoff::default()
                };
            }
            _ => w.unknown(object_name, &format!("availability.{k}")),
        }
    }
    Ok(())
}

fn condition(
    c: &str,
    object_name: &str,
    dep: &str,
    w: &mut Warnings,
) -> Result<DependencyCondition, ImportError> {
    Ok(match c {
        "process_started" => DependencyCondition::Started,
        "process_healthy" => DependencyCondition::Healthy,
        "process_completed_successfully" => DependencyCondition::Completed,
        "process_completed" => {
            w.add(
                object_name,
                &format!("depends_on.{dep}.condition"),
                "process_completed (whatever the exit code) has no equivalent: imported as \
                 completed (exit 0)",
            );
            DependencyCondition::Completed
        }
        "process_log_ready" => {
            w.add(
                object_name,
                &format!("depends_on.{dep}.condition"),
                "process_log_ready has no equivalent (give the dependency a health check and use \
                 healthy): imported as started",
            );
            DependencyCondition::Started
        }
        other => {
            return Err(ImportError::at(
                format!("{object_name}.depends_on.{dep}.condition"),
                format!(
                    "{other:?}: expected process_started, process_healthy or \
                     process_completed_successfully"
                ),
            ));
        }
    })
}

/// A probe as tend's health check: `http_get`, or an `exec` that fetches a URL.
fn probe(
    v: &Value,
    place: &str,
    object_name: &str,
    which: &str,
    w: &mut Warnings,
) -> Result<Option<HealthSpec>, ImportError> {
    let fields: &Map<String, Value> = object(v, place)?;
    let mut url = None;
    let mut h = http_health("", 10, 1, 3);
    for (k, val) in fields {
        let at = format!("{place}.{k}");
        match k.as_str() {
            "http_get" => {
                let get = object(val, &at)?;
                let field = |f: &str| get.get(f).and_then(super::common::text);
                let scheme = field("scheme").unwrap_or_else(|| "http".into());
                let host = field("host").unwrap_or_else(|| "127.0.0.1".into());
                let path = field("path").unwrap_or_else(|| "/".into());
                let Some(port) = field("port") else {
                    return Err(ImportError::at(at, "no `port`"));
                };
                url = Some(format!("{scheme}://{host}:{port}{path}"));
            }
            "exec" => {
                let command = object(val, &at)?
                    .get("command")
                    .ok_or_else(|| ImportError::at(&at, "no `command`"))?;
                let argv = words(command, &format!("{at}.command"))?;
                match fetched_url(&argv) {
                    Some(u) => url = Some(u),
                    None => w.add(
                        object_name,
                        &format!("{which}.exec"),
                        "tend's health checks are probe plugins (http, tcp), not commands: not \
                         imported",
                    ),
                }
            }
            "period_seconds" => h.interval_s = u64_of(val, &at)?.max(1),
            "timeout_seconds" => h.timeout_s = u64_of(val, &at)?.max(1),
            "failure_threshold" => h.retries = u64_of(val, &at)?.clamp(1, 1000) as u32,
            "initial_delay_seconds" => h.start_period_s = u64_of(val, &at)?,
            "success_threshold" => {
                if u64_of(val, &at)? > 1 {
                    w.add(
                        object_name,
                        &format!("{which}.{k}"),
                        "one passing check counts in tend: not imported",
                    );
                }
            }
            _ => w.unknown(object_name, &format!("{which}.{k}")),
        }
    }
    Ok(url.map(|url| {
        h.config = serde_json::json!({ "url": url });
        h
    }))
}
