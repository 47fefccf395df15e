//! The Caddy JSON: `route` (the group tend owns), `server` (created by the host only when no server
//! of the running Caddy listens on the port) and, for `tls = internal`, `tls_policy`. Keys come out
//! sorted (serde_json's map), so equal inputs render byte-equal.

use serde_json::{Map, Value, json};

use crate::plan::{Config, Route, Target, Tls, hosts};

/// The `@id` of the route group; the host sets it too, so a generator cannot get it wrong.
const GROUP_ID: &str = "tend-routes";

pub fn render(routes: &[Route], config: &Config) -> Value {
    let mut out = Map::new();
    out.insert("route".into(), group(routes));
    out.insert("server".into(), server(config));
    let hosts = hosts(routes);
    if config.tls == Tls::Internal && !hosts.is_empty() {
        out.insert(
            "tls_policy".into(),
            json!({"subjects": hosts, "issuers": [{"module": "internal"}]}),
        );
    }
    Value::Object(out)
}

/// One route holding a `subroute` with every service's route. Its own matchers (the hosts, and the
/// paths of host-less routes) let Caddy's automatic HTTPS see tend's hosts, which it does not look for
/// inside subroutes; requests none of the inner routes takes fall through to the routes after it.
fn group(routes: &[Route]) -> Value {
    let mut group = Map::new();
    group.insert("@id".into(), GROUP_ID.into());
    let mut sets = Vec::new();
    let hosts = hosts(routes);
    if !hosts.is_empty() {
        sets.push(json!({"host": hosts}));
    }
    let anywhere: Vec<String> = routes
        .iter()
        .filter(|r| r.host.is_none())
        .filter_map(|r| r.path.as_ref())
        .flat_map(|p| [p.clone(), format!("{p}/*")])
        .collect();
    if !anywhere.is_empty() {
        sets.push(json!({"path": anywhere}));
    }
    if !sets.is_empty() {
        group.insert("match".into(), Value::Array(sets));
    }
    let inner: Vec<Value> = routes.iter().map(route).collect();
    group.insert(
        "handle".into(),
        json!([{"handler": "subroute", "routes": inner}]),
    );
    Value::Object(group)
}

fn route(r: &Route) -> Value {
    let mut matcher = Map::new();
    if let Some(h) = &r.host {
        matcher.insert("host".into(), json!([h]));
    }
    if let Some(p) = &r.path {
        matcher.insert("path".into(), json!([p, format!("{p}/*")]));
    }
    let mut handle = Vec::new();
    match &r.target {
        Target::Maintenance(text) => handle.push(json!({
            "handler": "static_response",
            "status_code": 503,
            "headers": {
                "Content-Type": ["text/plain; charset=utf-8"],
                "Retry-After": ["30"],
                "X-Tend-Maintenance": [r.service],
            },
            "body": text,
        })),
        Target::Upstream { dial, headers } => {
            if let Some(p) = &r.path {
                handle.push(json!({"handler": "rewrite", "strip_path_prefix": p}));
            }
            let mut proxy = Map::new();
            proxy.insert("handler".into(), "reverse_proxy".into());
            proxy.insert("upstreams".into(), json!([{"dial": dial}]));
            if !headers.is_empty() {
                let set: Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), json!([v])))
                    .collect();
                proxy.insert("headers".into(), json!({"request": {"set": set}}));
            }
            handle.push(Value::Object(proxy));
        }
    }
    let mut out = Map::new();
    if !matcher.is_empty() {
        out.insert("match".into(), json!([matcher]));
    }
    out.insert("handle".into(), Value::Array(handle));
    out.insert("terminal".into(), true.into());
    Value::Object(out)
}

fn server(config: &Config) -> Value {
    let listen = match config.bind.as_deref().map(str::trim) {
        Some(b) if b.contains(':') && !b.starts_with('[') => format!("[{b}]:{}", config.port),
        Some(b) if !b.is_empty() => format!("{b}:{}", config.port),
        _ => format!(":{}", config.port),
    };
    let mut server = Map::new();
    server.insert("listen".into(), json!([listen]));
    server.insert("routes".into(), json!([]));
    if config.tls == Tls::Off {
        server.insert("automatic_https".into(), json!({"disable": true}));
    }
    Value::Object(server)
}
