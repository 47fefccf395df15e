//! The settings this generator reads and the routes it derives from the exposed services: which host
//! and path each one answers, where it goes (upstream or the maintenance response), in the order Caddy
//! must try them. Conflicts (two services on the same host and path) are errors, not silent shadowing.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ExposedService;

/// How Caddy serves TLS for tend's hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Caddy's automatic HTTPS (public ACME certificates, or its local CA for `localhost` names).
    Automatic,
    /// Certificates from Caddy's own local CA for every host tend routes.
    Internal,
    /// Plain HTTP on the port; automatic HTTPS disabled on the server tend creates.
    Off,
}

impl Tls {
    pub fn as_str(self) -> &'static str {
        match self {
            Tls::Automatic => "automatic",
            Tls::Internal => "internal",
            Tls::Off => "off",
        }
    }
}

/// The settings JSON of the `proxy-config` world (unknown keys are ignored, as the contract says).
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    pub base_domain: String,
    #[serde(default)]
    pub domain: Option<String>,
    pub port: u16,
    #[serde(default)]
    pub bind: Option<String>,
    pub tls: Tls,
    #[serde(default)]
    pub maintenance: Option<String>,
}

impl Config {
    pub fn parse(json: &str) -> Result<Config, String> {
        let c: Config =
            serde_json::from_str(json).map_err(|e| format!("settings are not understood: {e}"))?;
        if c.base_domain.trim().is_empty() {
            return Err("settings: base_domain is empty".into());
        }
        Ok(c)
    }

    /// The host of `domain` (a `:port` suffix, accepted for compatibility, is not part of a host).
    pub fn domain_host(&self) -> Option<&str> {
        let d = self.domain.as_deref()?.trim();
        let host = match d.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => d,
        };
        (!host.is_empty()).then_some(host)
    }
}

/// Where a route sends matching requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Upstream {
        dial: String,
        headers: Vec<(String, String)>,
    },
    /// The service is unhealthy and maintenance routing is on: answer 503 with this text.
    Maintenance(String),
}

/// One service's route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub service: String,
    /// `None`: any host.
    pub host: Option<String>,
    /// A path prefix without trailing `/`, stripped before proxying.
    pub path: Option<String>,
    pub target: Target,
}

/// Every exposed service's route, most specific first: routes for a host before host-less ones, with a
/// path before without, longer paths before shorter.
pub fn plan(services: &[ExposedService], config: &Config) -> Result<Vec<Route>, String> {
    let base = config
        .base_domain
        .trim()
        .trim_matches('.')
        .to_ascii_lowercase();
    let mut routes = Vec::with_capacity(services.len());
    for s in services {
        let path = match s.path.as_deref() {
            Some(p) => Some(check_path(&s.name, p)?),
            None => None,
        };
        let host = match (&s.subdomain, &path) {
            (Some(sub), _) => Some(format!("{}.{base}", sub.to_ascii_lowercase())),
            (None, Some(_)) => config.domain_host().map(str::to_ascii_lowercase),
            (None, None) => Some(format!("{}.{base}", s.name)),
        };
        let target = match (&config.maintenance, s.health.as_str()) {
            (Some(text), "unhealthy") => Target::Maintenance(text.clone()),
            _ => Target::Upstream {
                dial: format!("{}:{}", s.upstream_host, s.upstream_port),
                headers: s.headers.clone(),
            },
        };
        routes.push(Route {
            service: s.name.clone(),
            host,
            path,
            target,
        });
    }
    routes.sort_by(|a, b| {
        let key = |r: &Route| {
            (
                r.host.is_none(),
                r.host.clone(),
                r.path.is_none(),
                std::cmp::Reverse(r.path.as_ref().map_or(0, String::len)),
                r.path.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut claimed: BTreeMap<(Option<&str>, Option<&str>), &str> = BTreeMap::new();
    for r in &routes {
        if let Some(other) = claimed.insert((r.host.as_deref(), r.path.as_deref()), &r.service) {
            return Err(format!(
                "services {other} and {} both claim {}{}",
                r.service,
                r.host.as_deref().unwrap_or("(any host)"),
                r.path.as_deref().unwrap_or("")
            ));
        }
    }
    Ok(routes)
}

fn check_path(service: &str, p: &str) -> Result<String, String> {
    let ok = p.len() > 1
        && p.starts_with('/')
        && !p.ends_with('/')
        && !p.contains("//")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
    if ok {
        Ok(p.to_string())
    } else {
        Err(format!(
            "service {service}: path {p:?} is not a prefix like /app"
        ))
    }
}

/// Every host a route names, sorted and deduplicated.
pub fn hosts(routes: &[Route]) -> Vec<String> {
    let mut hosts: Vec<String> = routes.iter().filter_map(|r| r.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}
