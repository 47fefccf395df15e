//! The wire contract: every type that crosses the REST API, shared by the daemon and the CLI client so
//! the two cannot drift. Only plain data lives here: no I/O, no validation beyond serde's shape checks
//! (semantic validation is `spec::validate`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How a service's program is given: an argv array runs directly, a string runs through `/bin/sh -c`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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

/// A service as users register it (REST body, `tend.toml` entry). Unknown fields are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    pub command: CommandLine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    pub caddy_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_url: Option<String>,
    /// Stored and echoed only, for now: its feature arrives with a later issue.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// A service's health check: a probe plugin called every `interval_s`; `retries` consecutive failures
/// after the first `start_period_s` restart the service under its restart policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

fn yes() -> bool {
    true
}
pub fn default_max_restarts() -> u32 {
    10
}
pub fn default_stop_signal() -> String {
    "SIGTERM".into()
}
pub fn default_stop_timeout() -> u64 {
    10
}

/// Lifecycle states (see `lifecycle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Stopped,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// RFC 3339 time of the exit.
    pub at: String,
}

/// Where a service definition came from. `config` services are owned by `tend.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Api,
    Config,
}

/// Runtime view of one service.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
];

/// `GET /api/services/{name}` and list entries: the spec plus its runtime state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceView {
    #[serde(flatten)]
    pub spec: ServiceSpec,
    pub source: Source,
    #[serde(flatten)]
    pub state: ServiceState,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A lifecycle transition (`from` -> `to`).
    #[default]
    Lifecycle,
    /// A health change; `from` = `to` = the lifecycle status at the time, `health` the new health.
    Health,
    /// The Caddy integration failed to apply, or recovered, for this exposed service's route;
    /// `from` = `to` = the lifecycle status at the time.
    Caddy,
    /// A custom-restart job of this service started, finished a step (`exit_code` of its command) or
    /// ended; `from` = `to` = the lifecycle status at the time.
    Job,
}

/// One lifecycle transition or health change, as stored in the events table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    #[serde(default)]
    pub kind: EventKind,
    pub service: String,
    /// RFC 3339 with milliseconds, UTC.
    pub time: String,
    pub from: Status,
    pub to: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
    pub reason: String,
}

/// One health check result (`GET /api/services/{name}/health`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One captured output line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub id: i64,
    pub service: String,
    pub stream: Stream,
    /// RFC 3339 with microseconds, UTC.
    pub time: String,
    pub line: String,
    /// True when this is a piece of an over-long line that continues in the next record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// `GET /api/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StatusResponse {
    pub supervisor: SupervisorStatus,
    pub services: BTreeMap<String, ServiceState>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SupervisorStatus {
    pub status: String,
    pub version: String,
    pub pid: u32,
    pub uptime_s: f64,
    pub started_at: String,
    pub data_dir: PathBuf,
    pub managed_services: usize,
    /// Number of services in each status.
    pub counts: BTreeMap<String, usize>,
    /// Resident memory of the daemon itself at the last metrics sample, MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<f64>,
    /// CPU use of the daemon itself over the last sample interval, % of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// The Caddy integration (see `CaddyStatus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caddy: Option<CaddyStatus>,
}

/// `POST /api/services/{name}/{start,stop,restart}` and `DELETE` answer with the resulting state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ActionResponse {
    pub name: String,
    pub action: String,
    #[serde(flatten)]
    pub state: ServiceState,
}

/// Every error answer: `{"error":{"code","message","field"}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /api/supervisor/logs`: lines of the daemon's own `tend.log` (JSON objects from `tracing`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SupervisorLogs {
    pub lines: Vec<serde_json::Value>,
}

/// Header carrying the bearer token.
pub const AUTH_HEADER: &str = "authorization";
/// Default REST port.
pub const DEFAULT_PORT: u16 = 9900;

// ---------------------------------------------------------------------------------------------
// Plugins (`GET /api/plugins`, `GET /api/plugins/{name}`, `POST /api/plugins/reload`)
// ---------------------------------------------------------------------------------------------

/// Where a plugin was loaded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginSource {
    /// Embedded in the `tend` binary.
    Builtin,
    /// `<data_dir>/plugins/NAME.wasm`.
    User,
    /// A user plugin with the name of a built-in, which it replaces.
    UserOverridesBuiltin,
}

impl PluginSource {
    /// How people read it (`tend plugin ls`).
    pub fn label(self) -> &'static str {
        match self {
            PluginSource::Builtin => "builtin",
            PluginSource::User => "user",
            PluginSource::UserOverridesBuiltin => "user (overrides built-in)",
        }
    }
}

/// What a plugin may reach: the manifest's grants narrowed to what the daemon allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginGrants {
    /// `host`, `host:port` or `$target` (the checked service's own host:port).
    pub hosts: Vec<String>,
    /// Directories preopened read-only (host path = guest path).
    pub paths: Vec<PathBuf>,
    /// Names of daemon environment variables passed through.
    pub env: Vec<String>,
}

/// Per-call limits in force for a plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginLimits {
    pub memory_mb: u64,
    pub timeout_ms: u64,
    pub max_response_bytes: u64,
}

/// Call latencies counted into fixed buckets: `counts[i]` calls took at most `bounds_us[i]`
/// (and more than the bound before); the last count is everything slower than the last bound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    pub bounds_us: Vec<u64>,
    pub counts: Vec<u64>,
}

/// One failed (or denied) call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginCallError {
    /// RFC 3339, UTC.
    pub time: String,
    /// The outcome kind: `trap`, `timeout`, `out_of_memory`, `denied`, `plugin_error`, ...
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginStats {
    /// Calls asked for, including those refused while suspended.
    pub calls: u64,
    pub ok: u64,
    /// Failed calls by outcome kind.
    pub failures: BTreeMap<String, u64>,
    /// Capability requests refused by the sandbox (a call may have several, and may still succeed).
    pub denials: u64,
    /// Traps (including timeouts and out-of-memory) since the last successful call.
    pub consecutive_traps: u32,
    pub latency: LatencyHistogram,
    /// Newest last.
    pub last_errors: Vec<PluginCallError>,
}

/// Why the last attempt to load a plugin's files failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRejection {
    /// RFC 3339, UTC.
    pub time: String,
    pub reason: String,
    /// sha256 of the rejected `.wasm`, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Whether a plugin can be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    Loaded,
    /// Loaded, but refusing calls until `suspended_until` after trapping repeatedly.
    Suspended,
    /// Never loaded: its files were rejected (see `rejected`).
    Rejected,
}

/// `GET /api/plugins/{name}` and list entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub state: PluginState,
    /// The world from the manifest (empty when a rejected plugin's manifest did not parse).
    pub world: String,
    pub version: String,
    pub description: String,
    pub source: PluginSource,
    /// The `.wasm` file; absent for built-ins, which are embedded in the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub sha256: String,
    /// Effective grants (manifest ∩ daemon settings).
    pub grants: PluginGrants,
    pub limits: PluginLimits,
    /// The manifest's `[config]`: defaults under each service's probe config.
    pub config: serde_json::Value,
    /// `true` when the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// RFC 3339, UTC; empty when never loaded.
    pub loaded_at: String,
    pub stats: PluginStats,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<String>,
    /// The last rejected version of this plugin's files, while they are still the current files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<PluginRejection>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadAction {
    /// A new or changed plugin is now in use.
    Loaded,
    Unchanged,
    /// The files were refused; the previous version (if any) stays loaded.
    Rejected,
    /// Its files are gone; the plugin was unloaded.
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadEntry {
    pub name: String,
    pub action: ReloadAction,
    pub source: PluginSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `rejected`: whether an earlier version is still loaded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub previous_kept: bool,
}

/// `POST /api/plugins/reload`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadReport {
    pub plugins: Vec<ReloadEntry>,
}

impl ReloadReport {
    pub fn rejected(&self) -> impl Iterator<Item = &ReloadEntry> {
        self.plugins
            .iter()
            .filter(|e| e.action == ReloadAction::Rejected)
    }
}

// ---------------------------------------------------------------------------------------------
// Cron jobs (`/api/cron/...`)
// ---------------------------------------------------------------------------------------------

/// What a job does when it fires while an earlier execution of it is still running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Record a `skipped` execution and do nothing.
    #[default]
    Skip,
    /// Run it after the running (and earlier queued) executions, one at a time.
    Queue,
    /// Run it alongside.
    Allow,
    /// Stop the running executions (their trees are gone first), then run it.
    Replace,
}

/// What a job does about fire times missed while the daemon was down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Missed fire times are dropped.
    #[default]
    None,
    /// The latest missed fire time runs once at boot (trigger `catch_up`).
    Latest,
}

/// A cron job as users register it (REST body, `[cron.<name>]` in `tend.toml`). Unknown fields are
/// rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJobSpec {
    pub name: String,
    pub command: CommandLine,
    /// 5 fields, 6 with seconds first, 7 with a year last, or a macro (`@hourly`, `@daily`, ...).
    pub schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds an execution may run before its whole process tree is stopped.
    #[serde(default = "default_cron_timeout")]
    pub timeout: u64,
    /// dotenv file read at each execution (relative paths are taken from `working_dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<PathBuf>,
    /// Variables on top of `env_file`.
    #[serde(default)]
    pub env_vars: BTreeMap<String, String>,
    /// IANA zone the schedule is read in; absent: the daemon's zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub overlap: Overlap,
    #[serde(default)]
    pub catch_up: CatchUp,
    /// Each fire is delayed by a random 0..=jitter_s seconds.
    #[serde(default)]
    pub jitter_s: u64,
    /// A failed or timed-out execution is run again up to this many times.
    #[serde(default)]
    pub retries: u32,
    #[serde(default = "default_retry_delay")]
    pub retry_delay_s: u64,
}

pub fn default_cron_timeout() -> u64 {
    300
}
pub fn default_retry_delay() -> u64 {
    10
}

/// Why an execution was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
    Tick,
    Retry,
    CatchUp,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Tick => "tick",
            Trigger::Retry => "retry",
            Trigger::CatchUp => "catch_up",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        [
            Trigger::Schedule,
            Trigger::Manual,
            Trigger::Tick,
            Trigger::Retry,
            Trigger::CatchUp,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// Waiting for an earlier execution (overlap `queue`).
    Queued,
    Running,
    /// Exit code 0.
    Succeeded,
    /// A non-zero exit, a signal, or the command could not be started.
    Failed,
    /// Ran past `timeout`; its tree was stopped.
    TimedOut,
    /// Stopped by `POST /api/cron/{name}/stop`, a `replace`, a removal or the daemon's shutdown.
    Stopped,
    /// Not run: an earlier execution was still running (overlap `skip`), or it was cancelled while queued.
    Skipped,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "queued",
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::TimedOut => "timed_out",
            ExecutionStatus::Stopped => "stopped",
            ExecutionStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<ExecutionStatus> {
        [
            ExecutionStatus::Queued,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Stopped,
            ExecutionStatus::Skipped,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// True once the execution can no longer change.
    pub fn is_final(self) -> bool {
        !matches!(self, ExecutionStatus::Queued | ExecutionStatus::Running)
    }
}

/// One output stream of an execution as stored: everything when it fits in 128 KiB, else the first
/// and the last 64 KiB (the whole stream is in the execution's log file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedOutput {
    /// The output (all of it unless `truncated`; then its first 64 KiB).
    pub text: String,
    /// When `truncated`: the last 64 KiB.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tail: String,
    /// Bytes written in total.
    pub bytes: u64,
    pub truncated: bool,
}

/// One run (or skipped run) of a cron job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    pub id: i64,
    pub job: String,
    pub trigger: Trigger,
    pub status: ExecutionStatus,
    /// 0 for a first attempt, n for the n-th retry.
    pub attempt: u32,
    /// The fire time this execution belongs to (absent for manual runs). RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// When the trigger happened.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    /// The whole output: `<data_dir>/logs/cron/<job>/<id>.log`, in the service log format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// Peak resident memory of the process tree, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_bytes: Option<u64>,
    /// CPU time (user + system) of the process tree, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    /// Why it was skipped, stopped or could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The latest execution of a job, in brief.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub id: i64,
    pub trigger: Trigger,
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

/// Runtime view of one job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronJobState {
    /// The zone the schedule is read in (`timezone`, else the daemon's).
    pub effective_timezone: String,
    /// The next fire time (RFC 3339, UTC), absent when disabled or never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run_at: Option<String>,
    /// Ids of the executions running now.
    pub running: Vec<i64>,
    /// Executions waiting (overlap `queue`).
    pub queued: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

/// Fields of a `CronJobView` that are not part of the spec: `PUT /api/cron/{name}` ignores them, so a
/// view can be edited and sent back.
pub const CRON_VIEW_ONLY_FIELDS: &[&str] = &[
    "source",
    "effective_timezone",
    "next_run_at",
    "running",
    "queued",
    "last_run",
];

/// `GET /api/cron/{name}` and list entries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CronJobView {
    #[serde(flatten)]
    pub spec: CronJobSpec,
    pub source: Source,
    #[serde(flatten)]
    pub state: CronJobState,
}

/// One job in `GET /api/cron/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CronJobStatus {
    pub enabled: bool,
    pub schedule: String,
    #[serde(flatten)]
    pub state: CronJobState,
}

/// `GET /api/cron/status`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CronStatus {
    /// The daemon's zone, used by jobs without `timezone`.
    pub timezone: String,
    /// The earliest next fire time of any job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fire_at: Option<String>,
    /// Executions running now, over all jobs.
    pub running: usize,
    pub jobs: BTreeMap<String, CronJobStatus>,
}

/// `GET /api/cron/{name}/executions`: newest first; pass `next_before_id` as `before_id` for the next page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExecutionsPage {
    pub executions: Vec<Execution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before_id: Option<i64>,
}

/// `POST /api/cron/tick`: the executions it created (at most one per job and fire time).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TickResponse {
    pub fired: Vec<Execution>,
}

/// `POST /api/cron/{name}/stop` and `DELETE /api/cron/{name}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CronActionResponse {
    pub name: String,
    pub action: String,
    /// Executions stopped (or cancelled while queued), by id.
    pub executions: Vec<i64>,
}

/// `GET /api/cron/validate?schedule=...&timezone=...`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ValidateResponse {
    pub schedule: String,
    /// The 6- or 7-field form (seconds first; day-of-week 0 or 7 = Sunday).
    pub normalized: String,
    pub timezone: String,
    pub description: String,
    /// The next fire times, RFC 3339 in `timezone`.
    pub next: Vec<String>,
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

// Later features keep their types in their own files.
mod bus;
mod caddy;
mod control;
mod policy;
mod workflow;
pub use bus::*;
pub use caddy::*;
pub use control::*;
pub use policy::*;
pub use workflow::*;
