//! Probe handlers: the built-in `http` and `tcp` probes' configs as `httpGet` / `tcpSocket`, and the
//! `tend agent` pattern that keeps any other (WebAssembly) probe alive inside the container.

use serde_json::{Map, Value, json};

use crate::common::{self, Lost};
use crate::model::{Agent, Health, Service};

/// `timeoutSeconds`: the check's timeout, or its `timeout_ms` when shorter (at least 1 s).
pub fn timeout_seconds(h: &Health) -> u64 {
    let ms = h.config.get("timeout_ms").and_then(Value::as_u64);
    let s = match ms {
        Some(ms) => ms.div_ceil(1000).min(h.timeout_s),
        None => h.timeout_s,
    };
    s.max(1)
}

/// The `http` probe: `url`, or `port` (default: the service's) and `path` (default `/`).
pub fn http(h: &Health, port: Option<u16>, field: &str, lost: &mut Lost) -> Option<Value> {
    let mut get = Map::new();
    let mut port = h
        .config
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .or(port);
    let mut path = h
        .config
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_string();
    if let Some(url) = h.config.get("url").and_then(Value::as_str) {
        let config_field = if field == "health" {
            "health.config.url"
        } else {
            field
        };
        match parse_url(url) {
            Some(u) => {
                if u.https {
                    get.insert("scheme".into(), json!("HTTPS"));
                }
                if !matches!(
                    u.host.as_str(),
                    "localhost" | "127.0.0.1" | "0.0.0.0" | "[::1]"
                ) {
                    lost.warn(
                        config_field,
                        format!(
                            "Kubernetes probes the pod itself, not the host {} of this URL",
                            u.host
                        ),
                    );
                }
                port = Some(u.port);
                path = u.path;
            }
            None => {
                lost.warn(
                    config_field,
                    format!("{url:?} is not an http(s) URL: no probe"),
                );
                return None;
            }
        }
    }
    let Some(port) = port else {
        lost.warn(
            field,
            "the http probe has no port (neither in its config nor the service's): no probe",
        );
        return None;
    };
    get.insert("path".into(), json!(path));
    get.insert("port".into(), json!(port));
    if let Some(range) = h.config.get("expect_status")
        && range != &json!([200, 399])
    {
        lost.warn(
            "health.config.expect_status",
            format!("Kubernetes counts every status in 200-399 as healthy, not only {range}"),
        );
    }
    if h.config.contains_key("body_contains") {
        lost.warn(
            "health.config.body_contains",
            "a Kubernetes httpGet probe does not look at the body",
        );
    }
    unknown_config(
        h,
        &[
            "url",
            "port",
            "path",
            "expect_status",
            "body_contains",
            "timeout_ms",
        ],
        lost,
    );
    Some(json!({ "httpGet": get }))
}

/// The `tcp` probe: `port` (default: the service's).
pub fn tcp(h: &Health, port: Option<u16>, field: &str, lost: &mut Lost) -> Option<Value> {
    let port = h
        .config
        .get("port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .or(port);
    unknown_config(h, &["port", "timeout_ms"], lost);
    match port {
        Some(port) => Some(json!({"tcpSocket": {"port": port}})),
        None => {
            lost.warn(field, "the tcp probe has no port: no probe");
            None
        }
    }
}

fn unknown_config(h: &Health, known: &[&str], lost: &mut Lost) {
    for key in h.config.keys().filter(|k| !known.contains(&k.as_str())) {
        lost.warn(
            format!("health.config.{key}"),
            format!(
                "the {} probe has no setting {key:?}: not carried over",
                h.probe
            ),
        );
    }
}

struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Option<Url> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !authority.ends_with(']') => (h.to_string(), p.parse().ok()?),
        _ => (authority.to_string(), if https { 443 } else { 80 }),
    };
    (!host.is_empty()).then_some(Url {
        https,
        host,
        port,
        path,
    })
}

/// The `tend agent` pattern: the container runs `tend agent` for this service (its `tend.toml`
/// table in a ConfigMap mounted at `config_path`), which answers `/healthz/NAME` from the
/// service's own WebAssembly probe. Returns the command, the ConfigMap, the volume and the mount.
pub fn agent(
    s: &Service,
    name: &str,
    agent: &Agent,
    namespace: Option<&str>,
) -> (Vec<String>, Value, Value, Value) {
    let command = vec![
        "tend".to_string(),
        "agent".into(),
        "--service".into(),
        s.name.clone(),
        "--config".into(),
        agent.config_path.clone(),
        "--listen".into(),
        format!("0.0.0.0:{}", agent.listen_port),
    ];
    let cm_name = format!("{name}-tend");
    let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    cm["metadata"] = Value::Object(common::metadata(&cm_name, name, namespace));
    cm["data"] = json!({"tend.toml": agent_toml(s)});
    let volume = json!({"name": "tend-config", "configMap": {"name": cm_name}});
    let mount = json!({
        "name": "tend-config",
        "mountPath": agent.config_path,
        "subPath": "tend.toml",
        "readOnly": true,
    });
    (command, cm, volume, mount)
}

/// The service's `[services.NAME]` table, as the agent reads it.
fn agent_toml(s: &Service) -> String {
    let mut table = toml::Table::new();
    for (k, v) in spec_json(s) {
        if let Some(v) = to_toml(v) {
            table.insert(k, v);
        }
    }
    let mut services = toml::Table::new();
    services.insert(s.name.clone(), toml::Value::Table(table));
    let mut root = toml::Table::new();
    root.insert("services".into(), toml::Value::Table(services));
    format!(
        "# The service `tend agent` runs in this container (exported by `tend export k8s`).\n{}",
        toml::to_string(&root).unwrap_or_default()
    )
}

/// What the agent needs of the spec: the program, its environment and stop, and the health check.
/// Left out: the export's own fields (`name`, `k8s`), a file the container may not have (`env_file`:
/// its variables come through `envFrom`), the dependencies (the agent runs one service; the init
/// containers wait for them), and what only the daemon uses (routes, restart: the engine restarts).
fn spec_json(s: &Service) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "command".into(),
        match &s.command {
            crate::model::Command::Shell(sh) => json!(sh),
            crate::model::Command::Argv(v) => json!(v),
        },
    );
    if let Some(d) = &s.working_dir {
        m.insert("working_dir".into(), json!(d));
    }
    if !s.env.is_empty() {
        m.insert("env".into(), json!(s.env));
    }
    if let Some(p) = s.port {
        m.insert("port".into(), json!(p));
    }
    m.insert("stop_signal".into(), json!(s.stop_signal));
    m.insert("stop_timeout_s".into(), json!(s.stop_timeout_s));
    if let Some(h) = &s.health {
        m.insert(
            "health".into(),
            json!({
                "probe": h.probe,
                "config": h.config,
                "interval_s": h.interval_s,
                "timeout_s": h.timeout_s,
                "retries": h.retries,
                "start_period_s": h.start_period_s,
            }),
        );
    }
    m
}

fn to_toml(v: Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s),
        Value::Array(a) => toml::Value::Array(a.into_iter().filter_map(to_toml).collect()),
        Value::Object(o) => toml::Value::Table(
            o.into_iter()
                .filter_map(|(k, v)| Some((k, to_toml(v)?)))
                .collect(),
        ),
    })
}
