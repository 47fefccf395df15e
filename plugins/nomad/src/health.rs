//! The health check: `http` and `tcp` probes become Nomad checks on the service registration
//! (`Provider: "nomad"`, Nomad's own service discovery, so no Consul is needed), with
//! `CheckRestart` from `retries` / `start_period_s`. Any other probe is a WebAssembly one: the task
//! then runs the service through `tend agent`, and the check asks the agent's `/healthz/<name>`.

use serde_json::{Value, json};

use crate::common::{NS_PER_MS, NS_PER_S, Report, str_at, u64_at};
use crate::service::{AGENT_PORT, MAIN_PORT};

/// The label of a static port the check needs when it probes another port than the service's.
pub const HEALTH_PORT: &str = "health";

pub enum Check {
    None,
    /// `tend agent` runs the service; the check (on the agent's port) is given.
    Agent(Value),
    /// An http or tcp check; `extra_port` when it probes a port that is not `port`.
    Native {
        check: Value,
        extra_port: Option<u16>,
    },
}

impl Check {
    pub fn extra_port(&self) -> Option<u16> {
        match self {
            Check::Native { extra_port, .. } => *extra_port,
            _ => None,
        }
    }
}

/// The task's `Services` entry: the service registration (when there is a port or a check).
pub fn registration(name: &str, port: Option<u16>, check: &Check) -> Option<Value> {
    let (label, checks) = match check {
        Check::None => (port.map(|_| MAIN_PORT)?, None),
        Check::Agent(c) => (
            if port.is_some() {
                MAIN_PORT
            } else {
                AGENT_PORT
            },
            Some(c),
        ),
        Check::Native { check, extra_port } => (
            if port.is_some() {
                MAIN_PORT
            } else if extra_port.is_some() {
                HEALTH_PORT
            } else {
                MAIN_PORT
            },
            Some(check),
        ),
    };
    let mut service =
        json!({"Name": name.replace('_', "-"), "PortLabel": label, "Provider": "nomad"});
    if let Some(c) = checks {
        service["Checks"] = json!([c]);
    }
    Some(service)
}

/// The service's effective health check (`health`, else `health_check_url` as an http probe),
/// mapped.
pub fn check(spec: &Value, port: Option<u16>, report: &mut Report) -> Check {
    let name = str_at(spec, "name").unwrap_or("service");
    let health = match (spec.get("health"), str_at(spec, "health_check_url")) {
        (Some(h), _) if !h.is_null() => {
            if spec.get("health_check_url").is_some_and(|u| !u.is_null()) {
                report.mapped("health_check_url");
            }
            h.clone()
        }
        (_, Some(url)) => {
            report.mapped("health_check_url");
            json!({"probe": "http", "config": {"url": url}, "interval_s": 10, "timeout_s": 5, "retries": 3, "start_period_s": 0})
        }
        _ => {
            report.mapped("health");
            report.mapped("health_check_url");
            return Check::None;
        }
    };
    for key in [
        "health",
        "health.probe",
        "health.config",
        "health.interval_s",
        "health.timeout_s",
        "health.start_period_s",
    ] {
        report.mapped(key);
    }
    let probe = str_at(&health, "probe").unwrap_or("");
    let config = health.get("config").cloned().unwrap_or(json!({}));
    let interval = u64_at(&health, "interval_s").unwrap_or(10) * NS_PER_S;
    let mut timeout = u64_at(&health, "timeout_s").unwrap_or(5) * NS_PER_S;
    if let Some(ms) = u64_at(&config, "timeout_ms") {
        timeout = timeout.min(ms * NS_PER_MS);
    }
    let retries = u64_at(&health, "retries").unwrap_or(3);
    report.warn(
        "health.retries",
        format!(
            "Nomad restarts the task after {retries} failed checks in a row (check_restart); tend \
             only marks the service unhealthy"
        ),
    );
    let check_restart = json!({
        "Limit": retries,
        "Grace": u64_at(&health, "start_period_s").unwrap_or(0) * NS_PER_S,
        "IgnoreWarnings": false
    });
    let check_name = format!("{}-health", name.replace('_', "-"));
    match probe {
        "http" | "tcp" => {
            let target = match probe {
                "http" => http_target(&config, port, report),
                _ => u64_at(&config, "port")
                    .and_then(|p| u16::try_from(p).ok())
                    .or(port)
                    .map(|p| Target {
                        port: p,
                        path: None,
                        https: false,
                    }),
            };
            let Some(target) = target else {
                report.warn(
                    "health",
                    "the probe has no port (no `port` on the service or in its config), so Nomad \
                     has nothing to check",
                );
                return Check::None;
            };
            let (label, extra_port) = if Some(target.port) == port {
                (MAIN_PORT, None)
            } else {
                (HEALTH_PORT, Some(target.port))
            };
            let mut check = json!({
                "Name": check_name,
                "Type": probe,
                "PortLabel": label,
                "Interval": interval,
                "Timeout": timeout,
                "CheckRestart": check_restart,
            });
            if let Some(path) = target.path {
                check["Path"] = json!(path);
                check["Method"] = json!("GET");
                check["Protocol"] = json!(if target.https { "https" } else { "http" });
            }
            Check::Native { check, extra_port }
        }
        custom => {
            report.warn(
                "health.probe",
                format!(
                    "the WebAssembly probe `{custom}` cannot run in Nomad: the task runs the \
                     service through `tend agent` (tend and the probe plugin must be installed on \
                     every client, and the config file is read on the client host) and Nomad \
                     checks the agent's http /healthz/{name}"
                ),
            );
            Check::Agent(json!({
                "Name": check_name,
                "Type": "http",
                "PortLabel": AGENT_PORT,
                "Path": format!("/healthz/{name}"),
                "Method": "GET",
                "Protocol": "http",
                "Interval": interval,
                "Timeout": timeout,
                "CheckRestart": check_restart,
            }))
        }
    }
}

struct Target {
    port: u16,
    path: Option<String>,
    https: bool,
}

/// What the http probe asks (its config: `url`, or `port` + `path`), and a warning for what a
/// Nomad http check cannot ask the same way.
fn http_target(config: &Value, service_port: Option<u16>, report: &mut Report) -> Option<Target> {
    let (lo, hi) = match config.get("expect_status").and_then(Value::as_array) {
        Some(pair) if pair.len() == 2 => (
            pair[0].as_u64().unwrap_or(200),
            pair[1].as_u64().unwrap_or(399),
        ),
        _ => (200, 399),
    };
    if (lo, hi) != (200, 299) {
        report.warn(
            "health.config.expect_status",
            format!("Nomad's http check passes on 2xx only, not on {lo} to {hi}"),
        );
    }
    if config.get("body_contains").is_some_and(|b| !b.is_null()) {
        report.warn(
            "health.config.body_contains",
            "Nomad's http check looks at the status only",
        );
    }
    let mut https = false;
    let mut path = str_at(config, "path").map(str::to_string);
    let mut port = u64_at(config, "port").and_then(|p| u16::try_from(p).ok());
    if let Some(url) = str_at(config, "url") {
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        https = scheme.eq_ignore_ascii_case("https");
        let (authority, url_path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, url_port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                (h, p.parse::<u16>().ok())
            }
            _ => (authority, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !matches!(host, "127.0.0.1" | "localhost" | "0.0.0.0" | "::1" | "") {
            report.warn(
                "health.config.url",
                format!("probes host {host}; a Nomad check probes the task's own address"),
            );
        }
        path = path.or(Some(url_path.to_string()));
        // A URL without a port means the scheme's own, as the probe reads it.
        port = port.or(url_port).or(Some(if https { 443 } else { 80 }));
    }
    let port = port.or(service_port)?;
    Some(Target {
        port,
        path: Some(path.unwrap_or_else(|| "/".into())),
        https,
    })
}
