//! One tend service -> its objects: ConfigMaps, a Deployment (`restart = always`) or a Job (one-shots),
//! a Service for its `port`, an Ingress or HTTPRoute for its route. Probes from `http`/`tcp` health
//! checks; any other (WebAssembly) probe runs inside the container under `tend agent`, the probes
//! asking its `/healthz/NAME`. Dependencies with a port become init containers waiting for it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::common::{self, Lost, STOP_SIGNAL_SINCE, Version, WAIT_IMAGE};
use crate::model::{Condition, DEFAULT_MAX_RESTARTS, Health, Options, Restart, Service};
use crate::probe;
use crate::route;

/// What a service needs to know about the others and the export.
pub struct Context<'a> {
    pub options: &'a Options,
    pub version: Version,
    /// The exported services' ports (dependencies are waited for on them).
    pub ports: BTreeMap<String, Option<u16>>,
    pub routes: &'a crate::model::Routes,
}

/// The objects of one service (workload first, with its annotation), and the image it runs.
pub fn render(s: &Service, image: &str, ctx: &Context, lost: &mut Lost) -> Vec<Value> {
    let name = common::object_name(&s.name, lost);
    let ns = ctx.options.namespace.as_deref();
    let env = common::env(&name, &name, ns, &s.env, s.env_file.as_deref(), lost);
    let mut objects = env.config_maps.clone();
    let mut c = common::container(
        &name,
        image,
        &s.command,
        s.working_dir.as_deref(),
        &env.env_from,
    );
    let mut pod = json!({"terminationGracePeriodSeconds": s.stop_timeout_s});
    let mut ports = Vec::new();
    if let Some(port) = s.port {
        ports.push(json!({"name": "main", "containerPort": port}));
    }
    if let Some(mb) = s.max_memory_mb {
        c["resources"] = json!({"limits": {"memory": format!("{mb}Mi")}});
    }
    stop_signal(s, ctx.version, &mut c, &mut pod, lost);
    if let Some(health) = s.effective_health() {
        health_checks(
            s,
            &health,
            &name,
            ctx,
            &mut c,
            &mut pod,
            &mut ports,
            &mut objects,
            lost,
        );
    }
    if !ports.is_empty() {
        c["ports"] = json!(ports);
    }
    let init = init_containers(s, ctx, lost);
    if !init.is_empty() {
        pod["initContainers"] = json!(init);
    }
    restart_warnings(s, lost);
    if !s.watch_dirs.is_empty() {
        lost.warn(
            "watch_dirs",
            "Kubernetes does not restart a container when files change: roll out a new image instead",
        );
    }
    if s.autofix.as_ref().is_some_and(|m| m != "off") {
        lost.warn(
            "autofix",
            "auto-fix is tend's own (the daemon's fixer runs commands on the host); nothing in the cluster does it",
        );
    }
    pod["containers"] = json!([c]);
    let workload = workload(s, &name, ns, pod);
    let workload_at = objects.len();
    objects.push(workload);
    if let Some(port) = s.port {
        let mut svc = json!({"apiVersion": "v1", "kind": "Service"});
        svc["metadata"] = Value::Object(common::metadata(&name, &name, ns));
        svc["spec"] = json!({
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "main", "port": port, "targetPort": port}],
        });
        objects.push(svc);
    }
    if let Some(r) = route::render(s, &name, ctx, lost) {
        objects.push(r);
    }
    common::annotate(&mut objects[workload_at], lost);
    objects
}

/// A Deployment for `restart = always` (replicas 0 when disabled), a Job for the one-shots.
fn workload(s: &Service, name: &str, ns: Option<&str>, mut pod: Value) -> Value {
    let template = |pod: Value| json!({"metadata": {"labels": common::labels(name)}, "spec": pod});
    let mut o;
    match s.restart {
        Restart::Always => {
            o = json!({"apiVersion": "apps/v1", "kind": "Deployment"});
            o["metadata"] = Value::Object(common::metadata(name, name, ns));
            // tend runs one instance and stops it before starting the next.
            o["spec"] = json!({
                "replicas": if s.enabled { 1 } else { 0 },
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "strategy": {"type": "Recreate"},
                "template": template(pod),
            });
        }
        Restart::OnFailure | Restart::Never => {
            let (policy, limit) = match s.restart {
                Restart::OnFailure => ("OnFailure", s.max_restarts),
                _ => ("Never", 0),
            };
            pod["restartPolicy"] = json!(policy);
            o = json!({"apiVersion": "batch/v1", "kind": "Job"});
            o["metadata"] = Value::Object(common::metadata(name, name, ns));
            o["spec"] = json!({"backoffLimit": limit, "template": template(pod)});
            if !s.enabled {
                o["spec"]["suspend"] = json!(true);
            }
        }
    }
    o
}

/// `stop_signal` as `lifecycle.stopSignal` (with `spec.os.name: linux`, which it requires) where the
/// target version has it; SIGTERM is Kubernetes' own default and needs nothing.
fn stop_signal(s: &Service, version: Version, c: &mut Value, pod: &mut Value, lost: &mut Lost) {
    let sig = s.stop_signal.trim().to_ascii_uppercase();
    let sig = if sig.starts_with("SIG") {
        sig
    } else {
        format!("SIG{sig}")
    };
    if sig == "SIGTERM" {
        return;
    }
    if version >= STOP_SIGNAL_SINCE {
        c["lifecycle"] = json!({"stopSignal": sig});
        pod["os"] = json!({"name": "linux"});
    } else {
        lost.warn(
            "stop_signal",
            format!(
                "lifecycle.stopSignal needs Kubernetes 1.33 (the target is {}.{}): the container \
                 gets the image's STOPSIGNAL, SIGTERM by default, instead of {sig}",
                version.0, version.1
            ),
        );
    }
}

/// Liveness, readiness (a Service sends traffic to ready pods only, so a dependency waiting for
/// the port waits for health) and, with `start_period_s`, startup probes.
#[allow(clippy::too_many_arguments)]
fn health_checks(
    s: &Service,
    health: &Health,
    name: &str,
    ctx: &Context,
    c: &mut Value,
    pod: &mut Value,
    ports: &mut Vec<Value>,
    objects: &mut Vec<Value>,
    lost: &mut Lost,
) {
    let field = if s.health.is_some() {
        "health"
    } else {
        "health_check_url"
    };
    // The agent runs the check itself within `timeout_s`: the probe gives it a second more.
    let mut timeout = probe::timeout_seconds(health);
    let handler = match health.probe.as_str() {
        "http" => probe::http(health, s.port, field, lost),
        "tcp" => probe::tcp(health, s.port, field, lost),
        _ => {
            timeout = health.timeout_s.max(1) + 1;
            let agent = &ctx.options.agent;
            let (command, config_map, volume, mount) =
                probe::agent(s, name, agent, ctx.options.namespace.as_deref());
            c["command"] = json!(command);
            c["volumeMounts"] = json!([mount]);
            pod["volumes"] = json!([volume]);
            ports.push(json!({"name": "tend-agent", "containerPort": agent.listen_port}));
            objects.push(config_map);
            lost.warn(
                "health.probe",
                format!(
                    "the WebAssembly probe {:?} has no Kubernetes equivalent: the container runs \
                     the service under `tend agent` (the image must contain `tend` and the probe \
                     plugin), and the probes ask GET /healthz/{} on port {}",
                    health.probe, s.name, agent.listen_port
                ),
            );
            Some(
                json!({"httpGet": {"path": format!("/healthz/{}", s.name), "port": agent.listen_port}}),
            )
        }
    };
    let Some(handler) = handler else { return };
    let probe = |failure_threshold: u64| {
        let mut p = handler.clone();
        p["periodSeconds"] = json!(health.interval_s.max(1));
        p["timeoutSeconds"] = json!(timeout);
        p["failureThreshold"] = json!(failure_threshold.max(1));
        p
    };
    let retries = u64::from(health.retries);
    c["livenessProbe"] = probe(retries);
    c["readinessProbe"] = probe(retries);
    if health.start_period_s > 0 {
        // Failures during the start period do not count in tend; the startup probe allows them,
        // then the usual number of retries.
        let interval = health.interval_s.max(1);
        c["startupProbe"] = probe(health.start_period_s.div_ceil(interval) + retries);
    }
}

/// Each dependency with a port becomes an init container that waits (at most `depends_timeout_s`)
/// until the dependency's Service answers on it; the others are warnings.
fn init_containers(s: &Service, ctx: &Context, lost: &mut Lost) -> Vec<Value> {
    let mut out = Vec::new();
    for (dep, d) in s.depends_on.entries() {
        let field = format!("depends_on.{dep}");
        if d.restart {
            lost.warn(
                format!("{field}.restart"),
                format!("Kubernetes does not restart this pod when {dep} restarts"),
            );
        }
        if d.condition == Condition::Completed {
            lost.warn(
                field,
                format!(
                    "Kubernetes cannot make a pod wait for another workload to complete: {dep} \
                     runs alongside (make the container wait for it, or run {dep} first)"
                ),
            );
            continue;
        }
        let port = match ctx.ports.get(&dep) {
            Some(Some(port)) => *port,
            Some(None) => {
                lost.warn(
                    field,
                    format!("{dep} has no port to wait for: the pod does not wait for it"),
                );
                continue;
            }
            None => {
                lost.warn(
                    field,
                    format!("{dep} is not part of this export: the pod does not wait for it"),
                );
                continue;
            }
        };
        let host = common::k8s_name(&dep);
        let wait = format!(
            "until nc -z -w 2 {host} {port}; do echo waiting for {host}:{port}; sleep 1; done"
        );
        out.push(json!({
            // A container name is an RFC 1123 label: at most 63 characters.
            "name": format!("wait-{host}").chars().take(63).collect::<String>().trim_end_matches('-'),
            "image": WAIT_IMAGE,
            "command": ["timeout", s.depends_timeout_s.to_string(), "sh", "-c", wait],
        }));
    }
    out
}

/// Restart settings Kubernetes has no knob for (its crash-loop backoff is fixed: 10 s doubling to
/// 5 minutes, reset after 10 minutes of running).
fn restart_warnings(s: &Service, lost: &mut Lost) {
    if s.restart == Restart::Never {
        return;
    }
    if s.restart == Restart::Always && s.max_restarts != DEFAULT_MAX_RESTARTS {
        lost.warn(
            "max_restarts",
            "a Deployment restarts its container without limit (CrashLoopBackOff), it never gives up",
        );
    }
    let b = &s.backoff;
    let d = crate::model::Backoff::default();
    if (b.initial_delay_ms, b.max_delay_ms) != (d.initial_delay_ms, d.max_delay_ms)
        || b.multiplier != d.multiplier
    {
        lost.warn(
            "backoff",
            "Kubernetes' restart backoff is fixed (10 s doubling to 5 minutes), not this shape",
        );
    }
    if b.jitter != d.jitter {
        lost.warn(
            "backoff.jitter",
            "Kubernetes' restart backoff has no jitter setting",
        );
    }
    if b.reset_after_s != d.reset_after_s {
        lost.warn(
            "backoff.reset_after_s",
            "Kubernetes resets its restart backoff after 10 minutes of running, not this",
        );
    }
}
