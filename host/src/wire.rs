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
    // Stored and echoed now; their features arrive with later issues.
    #[serde(default)]
    pub expose_caddy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caddy_subdomain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caddy_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_url: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
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
}

/// `GET /api/services/{name}` and list entries: the spec plus its runtime state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServiceView {
    #[serde(flatten)]
    pub spec: ServiceSpec,
    pub source: Source,
    #[serde(flatten)]
    pub state: ServiceState,
}

/// One lifecycle transition, as stored in the events table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
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
    pub reason: String,
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
