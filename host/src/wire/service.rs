//! Services: the spec users register (REST body, `tend.toml` entry), lifecycle and health states,
//! the runtime view, health reports and action answers (`/api/services/...`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// How a service's program is given: an argv array runs directly, a string runs through `/bin/sh -c`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(untagged)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

impl CommandLine {
    /// The argv that is actually executed.
    pub fn argv(&self) -> Vec<String> {
        match self {
            CommandLine::Shell(s) => vec!["/bin/sh".into(), "-c".into(), s.clone()],
            CommandLine::Argv(v) => v.clone(),
        }
    }

    /// A one-line rendering for tables and logs.
    pub fn display(&self) -> String {
        match self {
            CommandLine::Shell(s) => s.clone(),
            CommandLine::Argv(v) => v.join(" "),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Always,
    OnFailure,
    Never,
}

/// Exponential backoff between restarts: `initial_delay_ms * multiplier^(attempt-1)`, capped at
/// `max_delay_ms`, spread by +/- `jitter` (a fraction), and forgotten once the service has stayed up
/// for `reset_after_s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Backoff {
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    pub multiplier: f64,
    pub jitter: f64,
    pub reset_after_s: u64,
}

impl Default for Backoff {
    /// The initial delay is the daemon's default (see [`set_spec_defaults`]); the cap is at least it.
    fn default() -> Self {
        let initial_delay_ms = DEFAULT_INITIAL_DELAY_MS.load(Ordering::Relaxed);
        Backoff {
            initial_delay_ms,
            max_delay_ms: initial_delay_ms.max(60_000),
            multiplier: 2.0,
            jitter: 0.1,
            reset_after_s: 60,
        }
    }
}

/// A service as users register it (REST body, `tend.toml` entry). Unknown fields are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[schema(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    pub name: String,
    pub command: CommandLine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub working_dir: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub env_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub restart: RestartPolicy,
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    #[serde(default)]
    pub backoff: Backoff,
    #[serde(default = "default_stop_signal")]
    pub stop_signal: String,
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout_s: u64,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub watch_dirs: Vec<PathBuf>,
    /// Restart the service when its process tree's RSS stays above this many MiB (see metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<u64>,
    /// Route to this service through Caddy (needs `port`; see `caddy` and README, "Caddy reverse proxy").
    #[serde(default)]
    pub expose_caddy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caddy_subdomain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caddy_path: Option<String>,
    /// Request headers Caddy sets on the way to the service (`expose_caddy`; see README, "Caddy").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[ts(optional = nullable)]
    pub caddy_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_url: Option<String>,
    /// Services this one needs, with when each counts as ready (see `Dependencies`; README,
    /// "Dependencies"). Starting this service starts them first.
    #[serde(default)]
    pub depends_on: Dependencies,
    /// How long a start waits for its dependencies' conditions before it fails, seconds.
    #[serde(default = "default_depends_timeout")]
    pub depends_timeout_s: u64,
    /// This service's auto-fix mode, over the daemon's `[autofix]` modes; none: the daemon's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autofix: Option<super::FixMode>,
    /// What a Kubernetes export needs that tend does not (`tend export k8s`); the daemon ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<super::K8sSettings>,
}

/// A service's health check: a probe plugin called every `interval_s`; `retries` consecutive failures
/// after the first `start_period_s` restart the service under its restart policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    pub probe: String,
    /// Probe-specific settings (JSON object), merged over the plugin manifest's `[config]`.
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    #[serde(default = "default_interval")]
    pub interval_s: u64,
    #[serde(default = "default_health_timeout")]
    pub timeout_s: u64,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub start_period_s: u64,
}

impl ServiceSpec {
    /// The health check in force: `health`, else the seed-compatible `health_check_url` shorthand.
    pub fn effective_health(&self) -> Option<HealthSpec> {
        if let Some(h) = &self.health {
            return Some(h.clone());
        }
        self.health_check_url.as_ref().map(|url| HealthSpec {
            probe: "http".into(),
            config: serde_json::json!({ "url": url }),
            interval_s: default_interval(),
            timeout_s: default_health_timeout(),
            retries: default_retries(),
            start_period_s: 0,
        })
    }
}

/// When a dependency counts as ready. Compose's long names (`service_started`, `service_healthy`,
/// `service_completed_successfully`) are accepted too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    /// Its process is running (the default).
    #[default]
    Started,
    /// Its health check passed (a service without a health check never is: rejected at validation).
    Healthy,
    /// It exited with status 0: a one-shot setup service, `restart = "never"`.
    Completed,
}

impl<'de> Deserialize<'de> for DependencyCondition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DependencyCondition::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown condition {s:?}: expected started, healthy or completed"
            ))
        })
    }
}

impl DependencyCondition {
    /// Also compose's names.
    pub fn parse(s: &str) -> Option<DependencyCondition> {
        Some(match s {
            "started" | "service_started" => DependencyCondition::Started,
            "healthy" | "service_healthy" => DependencyCondition::Healthy,
            "completed" | "service_completed_successfully" => DependencyCondition::Completed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DependencyCondition::Started => "started",
            DependencyCondition::Healthy => "healthy",
            DependencyCondition::Completed => "completed",
        }
    }
}

/// One edge of `depends_on`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    #[serde(default)]
    pub condition: DependencyCondition,
    /// Restart this service after the dependency restarted and is ready again.
    #[serde(default)]
    pub restart: bool,
}

/// `depends_on`, as compose writes it: a list of names (`["db"]`, each `started`), or a map from name
/// to `{condition, restart}`. Always answered as the map.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, TS)]
#[ts(type = "Record<string, Dependency>")]
pub struct Dependencies(pub BTreeMap<String, Dependency>);

impl Dependencies {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Dependency)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, name: &str) -> Option<&Dependency> {
        self.0.get(name)
    }
}

/// Described as compose writes it: `oneOf` a list of names or the map (answers are always the map).
impl utoipa::PartialSchema for Dependencies {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
        let list = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .unique_items(true)
            .description(Some(
                "Names of services this one needs, each with condition `started`.",
            ));
        let map = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("Dependency")))
            .description(Some("Service name -> when it counts as ready."));
        OneOfBuilder::new().item(list).item(map).into()
    }
}

impl ToSchema for Dependencies {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((
            "Dependency".into(),
            <Dependency as utoipa::PartialSchema>::schema(),
        ));
        <Dependency as ToSchema>::schemas(schemas);
    }
}

impl<'de> Deserialize<'de> for Dependencies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(Vec<String>),
            Map(BTreeMap<String, Dependency>),
        }
        let form = Form::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a list of service names or a map of name to {condition, restart} \
                 (condition: started, healthy or completed)",
            )
        })?;
        Ok(Dependencies(match form {
            Form::Map(m) => m,
            Form::List(names) => {
                let mut map = BTreeMap::new();
                for name in names {
                    if map.insert(name.clone(), Dependency::default()).is_some() {
                        return Err(serde::de::Error::custom(format!(
                            "{name:?} is listed twice"
                        )));
                    }
                }
                map
            }
        }))
    }
}

fn default_depends_timeout() -> u64 {
    60
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}
fn default_interval() -> u64 {
    10
}
fn default_health_timeout() -> u64 {
    5
}
fn default_retries() -> u32 {
    3
}

pub(super) fn yes() -> bool {
    true
}
/// The daemon's default (see [`set_spec_defaults`]); 10 unless configured.
pub fn default_max_restarts() -> u32 {
    DEFAULT_MAX_RESTARTS.load(Ordering::Relaxed)
}

/// `max_restarts` of a spec that does not set it, unless the daemon configured another.
pub const BUILTIN_MAX_RESTARTS: u32 = 10;
/// `backoff.initial_delay_ms` of a spec that does not set it, unless the daemon configured another.
pub const BUILTIN_INITIAL_DELAY_MS: u64 = 1000;

// serde's default functions take no context, so the daemon's configured defaults (`[supervisor]
// max_restarts` / `MAX_RESTART_ATTEMPTS`, `[supervisor] initial_delay_ms` / `RESTART_DELAY`) live
// here, set once at boot before the API parses any spec. They are resolved into a spec when it is
// registered (REST, `tend.toml`, onboarding), so what is stored is always explicit.
static DEFAULT_MAX_RESTARTS: AtomicU32 = AtomicU32::new(BUILTIN_MAX_RESTARTS);
static DEFAULT_INITIAL_DELAY_MS: AtomicU64 = AtomicU64::new(BUILTIN_INITIAL_DELAY_MS);

/// Sets the defaults a spec gets for `max_restarts` and `backoff.initial_delay_ms` when it leaves
/// them out (the daemon, at boot; never changes what a spec sets explicitly).
pub fn set_spec_defaults(max_restarts: u32, initial_delay_ms: u64) {
    DEFAULT_MAX_RESTARTS.store(max_restarts, Ordering::Relaxed);
    DEFAULT_INITIAL_DELAY_MS.store(initial_delay_ms, Ordering::Relaxed);
}
pub fn default_stop_signal() -> String {
    "SIGTERM".into()
}
pub fn default_stop_timeout() -> u64 {
    10
}

/// Lifecycle states (see `lifecycle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Stopped,
    /// Started, but some dependency's condition does not hold yet (`waiting_for` says which).
    Waiting,
    Starting,
    Running,
    Backoff,
    Stopping,
    Exited,
    Fatal,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stopped => "stopped",
            Status::Waiting => "waiting",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Backoff => "backoff",
            Status::Stopping => "stopping",
            Status::Exited => "exited",
            Status::Fatal => "fatal",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "stopped" => Status::Stopped,
            "waiting" => Status::Waiting,
            "starting" => Status::Starting,
            "running" => Status::Running,
            "backoff" => Status::Backoff,
            "stopping" => Status::Stopping,
            "exited" => Status::Exited,
            "fatal" => Status::Fatal,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Unknown,
    Healthy,
    Unhealthy,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }

    pub fn parse(s: &str) -> Option<HealthState> {
        Some(match s {
            "unknown" => HealthState::Unknown,
            "healthy" => HealthState::Healthy,
            "unhealthy" => HealthState::Unhealthy,
            _ => return None,
        })
    }
}

/// How a process ended: an exit code, or the signal that killed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ExitInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// RFC 3339 time of the exit.
    pub at: String,
}

/// Where a service definition came from. `config` services are owned by `tend.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Api,
    Config,
}

/// Runtime view of one service.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ServiceState {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Seconds since the current process started, when running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<f64>,
    pub restart_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<ExitInfo>,
    /// When in `backoff`: RFC 3339 time of the next start attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_start_at: Option<String>,
    /// Health of the current run, for services with a health check. (`health_status` on the wire: in a
    /// service view, `health` is the check's configuration.)
    #[serde(
        rename = "health_status",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub health: Option<HealthState>,
    /// Resident memory of the whole process tree at the last sample, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<f64>,
    /// CPU use of the whole process tree over the last sample interval, % of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// When `waiting`: the dependencies whose condition does not hold yet, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional = nullable)]
    pub waiting_for: Vec<WaitingFor>,
}

/// One unmet dependency of a `waiting` service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct WaitingFor {
    pub service: String,
    pub condition: DependencyCondition,
    /// What holds it up, e.g. "db is starting", "db is fatal: gave up after 10 restarts": a
    /// dependency that failed for good blocks its dependents (they stay waiting, without a timeout)
    /// until it is started again.
    pub reason: String,
    /// The dependency failed for good (fatal, or a `completed` one exited non-zero).
    pub blocked: bool,
}

/// `GET /api/graph`: services as nodes, `depends_on` edges, and the start order.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct Graph {
    /// Every service, by name.
    pub nodes: Vec<GraphNode>,
    /// Every `depends_on` edge, sorted by service then dependency.
    pub edges: Vec<GraphEdge>,
    /// Start order in groups: each group's services depend only on earlier groups' and start in
    /// parallel; stop runs the groups in reverse.
    pub order: Vec<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct GraphNode {
    pub name: String,
    pub status: Status,
    #[serde(
        rename = "health_status",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub health: Option<HealthState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional = nullable)]
    pub waiting_for: Vec<WaitingFor>,
}

/// `service` depends on `dependency`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct GraphEdge {
    pub service: String,
    pub dependency: String,
    pub condition: DependencyCondition,
    pub restart: bool,
    /// The condition holds now.
    pub satisfied: bool,
}

/// Fields a `ServiceView` adds to its spec. They are read-only: a `PUT` body may carry them (so a GET,
/// edit, PUT round trip works) and they are ignored.
pub const VIEW_ONLY_FIELDS: &[&str] = &[
    "source",
    "status",
    "pid",
    "uptime_s",
    "restart_count",
    "last_exit",
    "next_start_at",
    "health_status",
    "memory_mb",
    "cpu_percent",
    "waiting_for",
];

/// `GET /api/services/{name}` and list entries: the spec plus its runtime state.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ServiceView {
    #[serde(flatten)]
    pub spec: ServiceSpec,
    pub source: Source,
    #[serde(flatten)]
    pub state: ServiceState,
}

/// One health check result (`GET /api/services/{name}/health`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct HealthCheck {
    pub time: String,
    /// `healthy`, `degraded` or `unhealthy` as the probe said, or the failure kind of the call
    /// (`timeout`, `trap`, `denied`, ...).
    pub result: String,
    pub passed: bool,
    pub message: String,
    pub latency_ms: u32,
}

/// `GET /api/services/{name}/health`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct HealthReport {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<HealthSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<HealthState>,
    pub consecutive_failures: u32,
    /// Newest last.
    pub history: Vec<HealthCheck>,
}

/// `POST /api/services/{name}/{start,stop,restart}` and `DELETE` answer with the resulting state.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ActionResponse {
    pub name: String,
    pub action: String,
    #[serde(flatten)]
    pub state: ServiceState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_only_fields_are_exactly_what_a_view_adds() {
        let state = ServiceState {
            status: Status::Running,
            pid: Some(1),
            uptime_s: Some(1.0),
            restart_count: 0,
            last_exit: Some(ExitInfo {
                code: Some(0),
                signal: None,
                at: String::new(),
            }),
            next_start_at: Some(String::new()),
            health: Some(HealthState::Healthy),
            memory_mb: Some(1.0),
            cpu_percent: Some(1.0),
            waiting_for: vec![WaitingFor {
                service: "db".into(),
                condition: DependencyCondition::Healthy,
                reason: String::new(),
                blocked: false,
            }],
        };
        let mut fields: Vec<String> = match serde_json::to_value(&state).unwrap() {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            _ => unreachable!(),
        };
        fields.push("source".into());
        fields.sort();
        let mut expected: Vec<String> = VIEW_ONLY_FIELDS.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(fields, expected);
    }
}

/// What `POST /api/services/{name}/{action}` (and the control port's verbs of the same names) ask of
/// a running service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
        }
    }
}
