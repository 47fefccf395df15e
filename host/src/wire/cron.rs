//! Cron jobs (`/api/cron/...`): the spec users register, executions, the job view, the overview and
//! schedule validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::service::yes;
use super::{CommandLine, Source};

/// What a job does when it fires while an earlier execution of it is still running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Missed fire times are dropped.
    #[default]
    None,
    /// The latest missed fire time runs once at boot (trigger `catch_up`).
    Latest,
}

/// Names no cron job may have: the fixed routes `/api/cron/tick`, `/api/cron/status` and
/// `/api/cron/validate` take the place of `/api/cron/{name}` for them, so a job so named could not be
/// read, edited or deleted over REST.
pub const RESERVED_CRON_NAMES: [&str; 3] = ["tick", "status", "validate"];

/// A cron job as users register it (REST body, `[cron.<name>]` in `tend.toml`). Unknown fields are
/// rejected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct CronJobSpec {
    #[schema(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    pub name: String,
    pub command: CommandLine,
    /// 5 fields, 6 with seconds first, 7 with a year last, or a macro (`@hourly`, `@daily`, ...).
    pub schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub working_dir: Option<PathBuf>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Seconds an execution may run before its whole process tree is stopped.
    #[serde(default = "default_cron_timeout")]
    pub timeout: u64,
    /// dotenv file read at each execution (relative paths are taken from `working_dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
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
    /// This job's auto-fix mode, over the daemon's `[autofix]` modes; none: the daemon's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autofix: Option<super::FixMode>,
    /// What a Kubernetes export needs that tend does not (`tend export k8s`); the daemon ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s: Option<super::K8sSettings>,
}

pub fn default_cron_timeout() -> u64 {
    300
}
pub fn default_retry_delay() -> u64 {
    10
}

/// Why an execution was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
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
    #[schema(value_type = Option<String>)]
    pub log_file: Option<PathBuf>,
    /// Peak resident memory of the process tree, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rss_bytes: Option<u64>,
    /// CPU time (user + system) of the process tree, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_time_ms: Option<u64>,
    /// The highest CPU use of the process tree over one sampling interval, % of one core; absent
    /// when the run was too short for two samples (`--monitor-interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_cpu_percent: Option<f64>,
    /// Why it was skipped, stopped or could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The latest execution of a job, in brief.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct CronJobState {
    /// The schedule in plain English ("At 09:00, on Monday through Friday"), as
    /// `GET /api/cron/validate` describes it.
    #[serde(default)]
    pub schedule_description: String,
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
    "schedule_description",
    "effective_timezone",
    "next_run_at",
    "running",
    "queued",
    "last_run",
];

/// `GET /api/cron/{name}` and list entries.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct CronJobView {
    #[serde(flatten)]
    pub spec: CronJobSpec,
    pub source: Source,
    #[serde(flatten)]
    pub state: CronJobState,
}

/// One job in `GET /api/cron/status`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct CronJobStatus {
    pub enabled: bool,
    pub schedule: String,
    #[serde(flatten)]
    pub state: CronJobState,
}

/// `GET /api/cron/status`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
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
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ExecutionsPage {
    pub executions: Vec<Execution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before_id: Option<i64>,
}

/// `POST /api/cron/tick`: the executions it created (at most one per job and fire time).
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct TickResponse {
    pub fired: Vec<Execution>,
}

/// `POST /api/cron/{name}/stop` and `DELETE /api/cron/{name}`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct CronActionResponse {
    pub name: String,
    pub action: String,
    /// Executions stopped (or cancelled while queued), by id.
    pub executions: Vec<i64>,
}

/// `GET /api/cron/validate?schedule=...&timezone=...`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ValidateResponse {
    pub schedule: String,
    /// The 6- or 7-field form (seconds first; day-of-week 0 or 7 = Sunday).
    pub normalized: String,
    pub timezone: String,
    pub description: String,
    /// The next fire times, RFC 3339 in `timezone`.
    pub next: Vec<String>,
}

/// The query of `GET /api/cron/{name}/executions`: page size (default 20, at most 500) and the
/// `next_before_id` of the previous page.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct ExecutionParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_id: Option<i64>,
}

/// The query of `GET /api/cron/validate`: a schedule (required), its zone, how many fire times
/// (default 5, at most 100).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct ValidateParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}
