//! The export's input as this plugin reads it: services and cron jobs as the API shows their specs
//! (with tend's defaults for what is left out), the routes, and the options. Every spec key is in
//! `SERVICE_FIELDS` / `CRON_FIELDS`; a key missing there (a field added to tend later) is not
//! ignored: it becomes an "unknown field" warning, so nothing is dropped silently.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Every key of a `ServiceSpec` this exporter maps or warns about.
pub const SERVICE_FIELDS: &[&str] = &[
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

/// Every key of a `CronJobSpec` this exporter maps or warns about.
pub const CRON_FIELDS: &[&str] = &[
    "name",
    "command",
    "schedule",
    "working_dir",
    "enabled",
    "timeout",
    "env_file",
    "env_vars",
    "timezone",
    "overlap",
    "catch_up",
    "jitter_s",
    "retries",
    "retry_delay_s",
    "autofix",
    "k8s",
];

/// tend's defaults, as `host/src/wire/service.rs` and `cron.rs` define them (a value equal to its
/// default that Kubernetes cannot express is a documented difference, not a warning).
pub const DEFAULT_MAX_RESTARTS: u32 = 10;
pub const DEFAULT_RETRY_DELAY_S: u64 = 10;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Argv(Vec<String>),
}

impl Command {
    /// The container's `command`: an argv as is, a shell string through `sh -c` (as tend runs it).
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            Command::Argv(v) => v.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    #[default]
    Always,
    OnFailure,
    Never,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct Backoff {
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    pub multiplier: f64,
    pub jitter: f64,
    pub reset_after_s: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_delay_ms: 1000,
            max_delay_ms: 60_000,
            multiplier: 2.0,
            jitter: 0.1,
            reset_after_s: 60,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Health {
    pub probe: String,
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    #[serde(default = "ten")]
    pub interval_s: u64,
    #[serde(default = "five")]
    pub timeout_s: u64,
    #[serde(default = "three")]
    pub retries: u32,
    #[serde(default)]
    pub start_period_s: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    #[default]
    Started,
    Healthy,
    Completed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Dependency {
    #[serde(default)]
    pub condition: Condition,
    #[serde(default)]
    pub restart: bool,
}

/// `depends_on`: the API answers the map; a list of names is read too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Dependencies {
    #[default]
    None,
    Map(BTreeMap<String, Dependency>),
    List(Vec<String>),
}

impl Dependencies {
    pub fn entries(&self) -> Vec<(String, Dependency)> {
        match self {
            Dependencies::None => Vec::new(),
            Dependencies::Map(m) => m.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            Dependencies::List(l) => l
                .iter()
                .map(|k| (k.clone(), Dependency::default()))
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct K8s {
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Service {
    pub name: String,
    pub command: Command,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub env_file: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub restart: Restart,
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    #[serde(default)]
    pub backoff: Backoff,
    #[serde(default = "sigterm")]
    pub stop_signal: String,
    #[serde(default = "ten")]
    pub stop_timeout_s: u64,
    #[serde(default)]
    pub watch_dirs: Vec<String>,
    #[serde(default)]
    pub max_memory_mb: Option<u64>,
    #[serde(default)]
    pub expose_caddy: bool,
    #[serde(default)]
    pub caddy_subdomain: Option<String>,
    #[serde(default)]
    pub caddy_path: Option<String>,
    #[serde(default)]
    pub caddy_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub health: Option<Health>,
    #[serde(default)]
    pub health_check_url: Option<String>,
    #[serde(default)]
    pub depends_on: Dependencies,
    #[serde(default = "sixty")]
    pub depends_timeout_s: u64,
    #[serde(default)]
    pub autofix: Option<Value>,
    #[serde(default)]
    pub k8s: Option<K8s>,
}

impl Service {
    /// The health check in force: `health`, else the `health_check_url` shorthand (an `http` probe).
    pub fn effective_health(&self) -> Option<Health> {
        if let Some(h) = &self.health {
            return Some(h.clone());
        }
        self.health_check_url.as_ref().map(|url| Health {
            probe: "http".into(),
            config: BTreeMap::from([("url".to_string(), Value::String(url.clone()))]),
            interval_s: ten(),
            timeout_s: five(),
            retries: three(),
            start_period_s: 0,
        })
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    #[default]
    Skip,
    Queue,
    Allow,
    Replace,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    #[default]
    None,
    Latest,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct CronJob {
    pub name: String,
    pub command: Command,
    pub schedule: String,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "three_hundred")]
    pub timeout: u64,
    #[serde(default)]
    pub env_file: Option<String>,
    #[serde(default)]
    pub env_vars: BTreeMap<String, String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub overlap: Overlap,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default)]
    pub jitter_s: u64,
    #[serde(default)]
    pub retries: u32,
    #[serde(default = "default_retry_delay")]
    pub retry_delay_s: u64,
    #[serde(default)]
    pub autofix: Option<Value>,
    #[serde(default)]
    pub k8s: Option<K8s>,
}

/// One exposed service's route, as `GET /api/caddy/config` shows it (`subdomain` already resolved:
/// absent only for a path route without a subdomain).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Route {
    pub name: String,
    #[serde(default)]
    pub subdomain: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct RouteSettings {
    #[serde(default)]
    pub base_domain: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Routes {
    #[serde(default)]
    pub settings: RouteSettings,
    #[serde(default)]
    pub services: Vec<Route>,
}

/// `options.gateway`: `true` (attach HTTPRoutes to the Gateway named `tend`) or a Gateway's name.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Gateway {
    Enabled(bool),
    Named(String),
}

impl Gateway {
    pub fn parent(&self) -> Option<String> {
        match self {
            Gateway::Enabled(true) => Some("tend".into()),
            Gateway::Enabled(false) => None,
            Gateway::Named(n) if n.is_empty() => None,
            Gateway::Named(n) => Some(n.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Agent {
    pub config_path: String,
    pub listen_port: u16,
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            config_path: "/etc/tend/tend.toml".into(),
            listen_port: 9902,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Options {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub gateway: Option<Gateway>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub kube_version: Option<String>,
    #[serde(default)]
    pub agent: Agent,
}

/// Parses a JSON array of objects, keeping each object's keys (to find the unknown ones).
pub fn parse_list<T: for<'de> Deserialize<'de>>(
    what: &str,
    json: &str,
) -> Result<Vec<(T, Vec<String>)>, String> {
    if json.trim().is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Value> =
        serde_json::from_str(json).map_err(|e| format!("{what}: not a JSON array: {e}"))?;
    values
        .into_iter()
        .map(|v| {
            let keys = match &v {
                Value::Object(m) => m.keys().cloned().collect(),
                _ => Vec::new(),
            };
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let item = serde_json::from_value(v)
                .map_err(|e| format!("{what}: {name} is not understood: {e}"))?;
            Ok((item, keys))
        })
        .collect()
}

/// Parses an optional JSON object (`""` and `null` give the default).
pub fn parse_object<T: for<'de> Deserialize<'de> + Default>(
    what: &str,
    json: &str,
) -> Result<T, String> {
    if json.trim().is_empty() || json.trim() == "null" {
        return Ok(T::default());
    }
    serde_json::from_str(json).map_err(|e| format!("{what}: not understood: {e}"))
}

fn yes() -> bool {
    true
}
fn three() -> u32 {
    3
}
fn five() -> u64 {
    5
}
fn ten() -> u64 {
    10
}
fn sixty() -> u64 {
    60
}
fn three_hundred() -> u64 {
    300
}
fn default_max_restarts() -> u32 {
    DEFAULT_MAX_RESTARTS
}
fn default_retry_delay() -> u64 {
    DEFAULT_RETRY_DELAY_S
}
fn sigterm() -> String {
    "SIGTERM".into()
}
