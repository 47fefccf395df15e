//! A service's route (Caddy's `expose_caddy`, `caddy_subdomain`, `caddy_path`, `caddy_headers`) as an
//! Ingress, or with `options.gateway` a Gateway API HTTPRoute (which can also set the request headers
//! and strip the path prefix as Caddy does).

use serde_json::{Value, json};

use crate::common::{self, Lost};
use crate::model::{Route, Service};
use crate::service::Context;

/// The route object of an exposed service (none when it is not exposed or has no port).
pub fn render(s: &Service, name: &str, ctx: &Context, lost: &mut Lost) -> Option<Value> {
    if !s.expose_caddy {
        let set = [
            ("caddy_subdomain", s.caddy_subdomain.is_some()),
            ("caddy_path", s.caddy_path.is_some()),
            ("caddy_headers", !s.caddy_headers.is_empty()),
        ];
        for (field, _) in set.iter().filter(|(_, set)| *set) {
            lost.warn(
                *field,
                "set without expose_caddy: no route (tend does not route it either)",
            );
        }
        return None;
    }
    let Some(port) = s.port else {
        lost.warn(
            "expose_caddy",
            "the service has no port: there is nothing to route to",
        );
        return None;
    };
    // The host's routes (subdomain resolved as Caddy gets it); a service missing there gets the
    // same rule from its own fields.
    let route = ctx
        .routes
        .services
        .iter()
        .find(|r| r.name == s.name)
        .cloned()
        .unwrap_or_else(|| Route {
            name: s.name.clone(),
            subdomain: match (&s.caddy_subdomain, &s.caddy_path) {
                (Some(sub), _) => Some(sub.clone()),
                (None, Some(_)) => None,
                (None, None) => Some(s.name.clone()),
            },
            path: s.caddy_path.clone(),
            headers: s.caddy_headers.clone().into_iter().collect(),
        });
    let settings = &ctx.routes.settings;
    let base = settings
        .base_domain
        .as_deref()
        .unwrap_or("localhost")
        .trim_matches('.')
        .to_ascii_lowercase();
    let host = match (&route.subdomain, &route.path) {
        (Some(sub), _) => Some(format!("{}.{base}", sub.to_ascii_lowercase())),
        (None, _) => settings
            .domain
            .as_deref()
            .map(|d| {
                d.rsplit_once(':')
                    .map_or(d, |(h, _)| h)
                    .to_ascii_lowercase()
            })
            .filter(|d| !d.is_empty()),
    };
    let ns = ctx.options.namespace.as_deref();
    match ctx.options.gateway.as_ref().and_then(|g| g.parent()) {
        Some(gateway) => Some(http_route(name, ns, &gateway, host, &route, port)),
        None => Some(ingress(name, ns, host, &route, port, lost)),
    }
}

fn ingress(
    name: &str,
    ns: Option<&str>,
    host: Option<String>,
    route: &Route,
    port: u16,
    lost: &mut Lost,
) -> Value {
    if !route.headers.is_empty() {
        lost.warn(
            "caddy_headers",
            "an Ingress cannot set request headers (controller-specific annotations can): \
             export with --gateway for an HTTPRoute that does",
        );
    }
    if route.path.is_some() {
        lost.warn(
            "caddy_path",
            "an Ingress passes the path prefix on (Caddy strips it): export with --gateway for \
             an HTTPRoute that strips it",
        );
    }
    let mut rule = json!({"http": {"paths": [{
        "path": route.path.as_deref().unwrap_or("/"),
        "pathType": "Prefix",
        "backend": {"service": {"name": name, "port": {"number": port}}},
    }]}});
    if let Some(h) = host {
        rule["host"] = json!(h);
    }
    let mut o = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"});
    o["metadata"] = Value::Object(common::metadata(name, name, ns));
    o["spec"] = json!({"rules": [rule]});
    o
}

fn http_route(
    name: &str,
    ns: Option<&str>,
    gateway: &str,
    host: Option<String>,
    route: &Route,
    port: u16,
) -> Value {
    let mut filters = Vec::new();
    if !route.headers.is_empty() {
        let set: Vec<Value> = route
            .headers
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        filters
            .push(json!({"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": set}}));
    }
    if route.path.is_some() {
        filters.push(json!({"type": "URLRewrite", "urlRewrite": {"path": {
            "type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}));
    }
    let mut rule = json!({
        "matches": [{"path": {"type": "PathPrefix", "value": route.path.as_deref().unwrap_or("/")}}],
        "backendRefs": [{"name": name, "port": port}],
    });
    if !filters.is_empty() {
        rule["filters"] = json!(filters);
    }
    let mut spec = json!({"parentRefs": [{"name": gateway}], "rules": [rule]});
    if let Some(h) = host {
        spec["hostnames"] = json!([h]);
    }
    let mut o = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"});
    o["metadata"] = Value::Object(common::metadata(name, name, ns));
    o["spec"] = spec;
    o
}
