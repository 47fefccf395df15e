//! One tend service -> one Nomad job (`<name>.nomad.json`): `Type: "service"` for `restart =
//! always`, `batch` for on-failure / never (a batch task that exits 0 is complete and not
//! restarted, which is tend's on-failure), one group (`Count` 0 when disabled) with the raw_exec
//! task, its static port, its service registration and check, and one prestart task per
//! dependency that can be waited for. Every other field is a warning.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::common::{
    NS_PER_MS, NS_PER_S, Options, Report, command_line, raw_exec_config, str_at, u64_at,
    warn_interpolation,
};
use crate::health;

/// The static port label of the service's own `port`, and of `tend agent`'s listener.
pub const MAIN_PORT: &str = "main";
pub const AGENT_PORT: &str = "agent";
/// Nomad's smallest restart `Interval` (nomad/structs: `RestartPolicyMinInterval`).
const MIN_RESTART_INTERVAL_NS: u64 = 5 * NS_PER_S;

/// Spec keys carried over by `render` as a whole or read by other keys' mappings.
const MAPPED_ALWAYS: &[&str] = &["name", "command", "enabled", "restart", "k8s"];

/// What the other services tell a dependent one: their port (a dependency with one can be waited
/// for through its service registration).
pub type Ports = BTreeMap<String, Option<u16>>;

pub fn render(
    spec: &Value,
    options: &Options,
    ports: &Ports,
    route: Option<&Value>,
) -> Result<(String, Value, Report), String> {
    let name = str_at(spec, "name")
        .ok_or("a service without a name")?
        .to_string();
    let mut report = Report::new(format!("service/{name}"));
    for key in MAPPED_ALWAYS {
        report.mapped(key);
    }
    let restart = str_at(spec, "restart").unwrap_or("always");
    let enabled = spec.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let port = u64_at(spec, "port").and_then(|p| u16::try_from(p).ok());

    let mut group = Map::new();
    group.insert("Name".into(), json!(name));
    group.insert("Count".into(), json!(if enabled { 1 } else { 0 }));
    group.insert(
        "RestartPolicy".into(),
        restart_policy(spec, restart, &mut report),
    );
    // tend never moves a service elsewhere: past `max_restarts` it is `fatal`. Nomad's default
    // would reschedule a failed allocation (job-specification/reschedule); explicit zeros keep
    // tend's behaviour (a lost node still gets its allocations replaced, which the reschedule
    // block does not govern).
    group.insert(
        "ReschedulePolicy".into(),
        json!({"Attempts": 0, "Unlimited": false}),
    );

    let mut reserved = Vec::new();
    if let Some(p) = port {
        reserved.push(json!({"Label": MAIN_PORT, "Value": p}));
        report.mapped("port");
    }

    let mut task = Map::new();
    task.insert("Name".into(), json!(name));
    task.insert("Driver".into(), json!("raw_exec"));
    let work_dir = str_at(spec, "working_dir");
    if work_dir.is_some() {
        report.mapped("working_dir");
    }

    let check = health::check(spec, port, &mut report);
    let (program, args) = match &check {
        health::Check::Agent(_) => {
            reserved.push(json!({"Label": AGENT_PORT, "Value": options.agent_port}));
            let args = vec![
                "agent".to_string(),
                "--service".into(),
                name.clone(),
                "--config".into(),
                options.agent_config.clone(),
                "--listen".into(),
                format!("${{NOMAD_ADDR_{AGENT_PORT}}}"),
            ];
            (
                "/usr/bin/env".to_string(),
                [vec!["tend".to_string()], args].concat(),
            )
        }
        _ => {
            let command = spec.get("command").ok_or("command is missing")?;
            let (program, args) = command_line(command)?;
            warn_interpolation(&mut report, "command", &args);
            (program, args)
        }
    };
    task.insert("Config".into(), raw_exec_config(program, args, work_dir));

    let env = spec.get("env").and_then(Value::as_object);
    if let Some(env) = env.filter(|e| !e.is_empty()) {
        task.insert("Env".into(), Value::Object(env.clone()));
    }
    report.mapped("env");

    // The agent stops the service with the service's own signal and timeout; Nomad stops the agent.
    let stop_signal = str_at(spec, "stop_signal").unwrap_or("SIGTERM");
    let stop_timeout_s = u64_at(spec, "stop_timeout_s").unwrap_or(10);
    let (kill_signal, kill_timeout_s) = match check {
        health::Check::Agent(_) => ("SIGTERM", stop_timeout_s + 5),
        _ => (stop_signal, stop_timeout_s),
    };
    task.insert("KillSignal".into(), json!(kill_signal));
    task.insert("KillTimeout".into(), json!(kill_timeout_s * NS_PER_S));
    report.mapped("stop_signal");
    report.mapped("stop_timeout_s");

    if let Some(mb) = u64_at(spec, "max_memory_mb") {
        task.insert("Resources".into(), json!({"CPU": 100, "MemoryMB": mb}));
        report.warn(
            "max_memory_mb",
            "mapped to Resources.MemoryMB, which Nomad reserves for placement and enforces (where \
             the client can) as a hard limit; tend restarts the service after consecutive samples \
             of its tree's RSS above it instead",
        );
    }

    if let Some(service) = health::registration(&name, port, &check) {
        task.insert("Services".into(), json!([service]));
    }
    if let Some(p) = check.extra_port() {
        reserved.push(json!({"Label": health::HEALTH_PORT, "Value": p}));
    }
    if !reserved.is_empty() {
        group.insert(
            "Networks".into(),
            json!([{"Mode": "host", "ReservedPorts": reserved}]),
        );
    }

    let mut tasks = dependency_tasks(spec, ports, &mut report);
    tasks.push(Value::Object(task));
    group.insert("Tasks".into(), Value::Array(tasks));

    unmapped_fields(spec, restart, route, &mut report);
    unknown_keys(spec, &mut report);

    let mut job = Map::new();
    job.insert("ID".into(), json!(name));
    job.insert("Name".into(), json!(name));
    job.insert(
        "Type".into(),
        json!(if restart == "always" {
            "service"
        } else {
            "batch"
        }),
    );
    if let Some(ns) = &options.namespace {
        job.insert("Namespace".into(), json!(ns));
    }
    job.insert("Datacenters".into(), options.datacenters());
    let mut meta = Map::new();
    meta.insert("tend.dev/source".into(), json!(report.object));
    if let Some(unmapped) = report.unmapped_meta() {
        meta.insert("tend.dev/unmapped".into(), json!(unmapped));
    }
    job.insert("Meta".into(), Value::Object(meta));
    job.insert("TaskGroups".into(), json!([Value::Object(group)]));
    Ok((format!("{name}.nomad.json"), Value::Object(job), report))
}

/// tend restarts up to `max_restarts` times in a row (the count forgotten after `reset_after_s`
/// up), waiting `initial_delay_ms * multiplier^n` capped at `max_delay_ms`, then marks the service
/// `fatal`. Nomad restarts `Attempts` times within `Interval` after a fixed `Delay` (plus up to 25%
/// jitter of its own), then `Mode: "fail"` gives up (job-specification/restart). The window is
/// sized so that `max_restarts` quick crashes (each up for less than `reset_after_s`) fit in it.
fn restart_policy(spec: &Value, restart: &str, report: &mut Report) -> Value {
    let backoff = spec.get("backoff").cloned().unwrap_or(json!({}));
    let initial_ms = u64_at(&backoff, "initial_delay_ms").unwrap_or(1000);
    let delay_ns = initial_ms * NS_PER_MS;
    report.mapped("backoff");
    report.mapped("backoff.initial_delay_ms");
    if restart == "never" {
        report.mapped("max_restarts");
        report.mapped("backoff.max_delay_ms");
        report.mapped("backoff.multiplier");
        report.mapped("backoff.jitter");
        report.mapped("backoff.reset_after_s");
        return json!({"Attempts": 0, "Interval": 3600 * NS_PER_S, "Delay": delay_ns, "Mode": "fail"});
    }
    let attempts = u64_at(spec, "max_restarts").unwrap_or(10);
    report.mapped("max_restarts");
    let reset_s = u64_at(&backoff, "reset_after_s").unwrap_or(60);
    let interval = (attempts.max(1) * (delay_ns + reset_s * NS_PER_S)).max(MIN_RESTART_INTERVAL_NS);
    let multiplier = backoff
        .get("multiplier")
        .and_then(Value::as_f64)
        .unwrap_or(2.0);
    if multiplier != 1.0 {
        report.warn(
            "backoff.multiplier",
            "Nomad's restart delay is fixed (Delay = initial_delay_ms); the growth is lost",
        );
        report.warn(
            "backoff.max_delay_ms",
            "Nomad's restart delay is fixed, so there is no cap to carry",
        );
    } else {
        report.mapped("backoff.multiplier");
        report.mapped("backoff.max_delay_ms");
    }
    let jitter = backoff.get("jitter").and_then(Value::as_f64).unwrap_or(0.1);
    if jitter != 0.0 {
        report.warn(
            "backoff.jitter",
            "Nomad adds its own random jitter of up to 25% to the restart delay; tend's spread is \
             not configurable there",
        );
    } else {
        report.mapped("backoff.jitter");
    }
    report.warn(
        "backoff.reset_after_s",
        "Nomad counts restarts in a fixed window (Interval, sized from max_restarts, the delay and \
         reset_after_s) instead of forgetting them after reset_after_s of uptime",
    );
    json!({"Attempts": attempts, "Interval": interval, "Delay": delay_ns, "Mode": "fail"})
}

/// A prestart task per dependency that registers a service in Nomad (it has a `port`): it waits,
/// at most `depends_timeout_s`, for the dependency's registration to appear in Nomad's service
/// catalog, which a template (`nomadService`) renders into the task's directory. Nomad has no
/// ordering between jobs, so the rest cannot be carried.
fn dependency_tasks(spec: &Value, ports: &Ports, report: &mut Report) -> Vec<Value> {
    let Some(deps) = spec.get("depends_on").and_then(Value::as_object) else {
        report.mapped("depends_on");
        report.mapped("depends_timeout_s");
        return Vec::new();
    };
    report.mapped("depends_on");
    let timeout = u64_at(spec, "depends_timeout_s").unwrap_or(60);
    let mut tasks = Vec::new();
    for (dep, edge) in deps {
        let condition = str_at(edge, "condition").unwrap_or("started");
        if edge.get("restart").and_then(Value::as_bool) == Some(true) {
            report.warn(
                format!("depends_on.{dep}.restart"),
                format!("Nomad does not restart a job when another one (`{dep}`) restarts"),
            );
        }
        if condition == "completed" {
            report.warn(
                format!("depends_on.{dep}.condition"),
                format!(
                    "Nomad has no ordering between jobs: nothing waits for `{dep}` to complete; \
                     run it first (or make it a prestart task of this group)"
                ),
            );
            continue;
        }
        let Some(port) = ports.get(dep).copied() else {
            report.warn(
                format!("depends_on.{dep}"),
                format!(
                    "`{dep}` is not in this export, so its port is unknown and nothing waits for \
                     it; Nomad has no ordering between jobs"
                ),
            );
            continue;
        };
        match (condition, port) {
            (_, None) => report.warn(
                format!("depends_on.{dep}"),
                format!(
                    "`{dep}` has no port and registers no Nomad service, so nothing can wait for \
                     it; Nomad has no ordering between jobs"
                ),
            ),
            (condition, Some(_)) => {
                if condition == "healthy" {
                    report.warn(
                        format!("depends_on.{dep}.condition"),
                        format!(
                            "waits until `{dep}` is registered in Nomad's service catalog, not \
                             until its check passes"
                        ),
                    );
                }
                tasks.push(wait_task(dep, timeout));
            }
        }
    }
    if tasks.is_empty() {
        if !deps.is_empty() {
            report.warn(
                "depends_timeout_s",
                "no dependency here can be waited for, so there is no wait to bound",
            );
        } else {
            report.mapped("depends_timeout_s");
        }
    } else {
        report.mapped("depends_timeout_s");
    }
    tasks
}

fn wait_task(dep: &str, timeout_s: u64) -> Value {
    // `$NOMAD_TASK_DIR` is the task's `local/` (runtime/environment); no `${` so that Nomad's own
    // interpolation leaves the script alone.
    let script = format!(
        "t=0; until [ -s \"$NOMAD_TASK_DIR/{dep}.addr\" ]; do \
         if [ \"$t\" -ge {timeout_s} ]; then echo \"tend: {dep} not registered after {timeout_s} s\" >&2; exit 1; fi; \
         sleep 1; t=$((t+1)); done"
    );
    json!({
        "Name": format!("wait-{dep}"),
        "Driver": "raw_exec",
        "Lifecycle": {"Hook": "prestart", "Sidecar": false},
        "Config": {"command": "/bin/sh", "args": ["-c", script]},
        "Templates": [{
            // The registration's name: Nomad service names allow no `_` (health::registration).
            "EmbeddedTmpl": format!(
                "{{{{ range nomadService \"{}\" }}}}{{{{ .Address }}}}:{{{{ .Port }}}}\n{{{{ end }}}}",
                dep.replace('_', "-")
            ),
            "DestPath": format!("local/{dep}.addr"),
            "ChangeMode": "noop"
        }],
        "Resources": {"CPU": 20, "MemoryMB": 16}
    })
}

/// The fields Nomad has no place for.
fn unmapped_fields(spec: &Value, restart: &str, route: Option<&Value>, report: &mut Report) {
    if let Some(file) = str_at(spec, "env_file") {
        report.warn(
            "env_file",
            format!(
                "Nomad reads a file into the environment only through a template, which may not \
                 read {file} outside the allocation by default; put its variables in env"
            ),
        );
    }
    match spec.get("watch_dirs").and_then(Value::as_array) {
        Some(dirs) if !dirs.is_empty() => report.warn(
            "watch_dirs",
            "Nomad does not restart a task when files change",
        ),
        _ => report.mapped("watch_dirs"),
    }
    if spec.get("expose_caddy").and_then(Value::as_bool) == Some(true) {
        let target = route
            .map(|r| {
                let host = str_at(r, "subdomain").map(|s| format!("subdomain {s}"));
                let path = str_at(r, "path").map(|p| format!("path {p}"));
                let upstream = str_at(r, "upstream").unwrap_or("?");
                let what = [host, path]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(" (the route {what} -> {upstream})")
            })
            .unwrap_or_default();
        report.warn(
            "expose_caddy",
            format!(
                "Nomad has no ingress{target}; tags for a Traefik or Fabio in front would be a \
                 guess, so the route is not carried"
            ),
        );
    } else {
        report.mapped("expose_caddy");
    }
    for key in ["caddy_subdomain", "caddy_path"] {
        if spec.get(key).is_some_and(|v| !v.is_null()) {
            report.warn(key, "part of the Caddy route, which Nomad has no place for");
        }
    }
    match spec.get("caddy_headers").and_then(Value::as_object) {
        Some(h) if !h.is_empty() => report.warn(
            "caddy_headers",
            "part of the Caddy route, which Nomad has no place for",
        ),
        _ => report.mapped("caddy_headers"),
    }
    if let Some(mode) = str_at(spec, "autofix") {
        report.warn(
            "autofix",
            format!("tend's fixer ({mode}) does not run under Nomad"),
        );
    }
    if restart == "never" {
        report.mapped("restart");
    }
}

/// Keys this version does not know: a warning each, so that a field added to `ServiceSpec` later
/// is never dropped silently.
fn unknown_keys(spec: &Value, report: &mut Report) {
    const KNOWN: &[&str] = &[
        "name",
        "command",
        "working_dir",
        "env",
        "env_file",
        "port",
        "enabled",
        "restart",
        "max_restarts",
        "backoff",
        "stop_signal",
        "stop_timeout_s",
        "watch_dirs",
        "max_memory_mb",
        "expose_caddy",
        "caddy_subdomain",
        "caddy_path",
        "caddy_headers",
        "health",
        "health_check_url",
        "depends_on",
        "depends_timeout_s",
        "autofix",
        "k8s",
    ];
    report.warn_unknown_keys(spec, KNOWN);
}
