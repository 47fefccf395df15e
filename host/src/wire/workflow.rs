//! Custom-restart workflows and background jobs (`POST /api/services/{name}/custom-restart`,
//! `GET /api/jobs/{id}`, `POST /api/jobs/{id}/cancel`, the TCP verb `custom-restart`,
//! `tend custom-restart`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::Origin;

/// How a workflow command is run: `shell` as `sh -c <command>`, `make` as `make <args...>`, `exec` as
/// the argv split from `command` with shell-like quoting (no shell).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandType {
    Shell,
    Make,
    Exec,
}

impl CommandType {
    pub fn as_str(self) -> &'static str {
        match self {
            CommandType::Shell => "shell",
            CommandType::Make => "make",
            CommandType::Exec => "exec",
        }
    }
}

/// One pre- or post-command (the seed format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct WorkflowCommand {
    pub command_type: CommandType,
    pub command: String,
    /// Declared by the caller; `false` is denied unless `[policy] allow_unsafe`.
    #[serde(default)]
    pub is_safe: bool,
    /// Declared by the caller; required when the daemon's environment is `production`.
    #[serde(default)]
    pub allowed_in_production: bool,
    /// Seconds before the command's tree is killed and the step fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
}

/// The body of a custom restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomRestartRequest {
    #[serde(default)]
    pub pre_commands: Vec<WorkflowCommand>,
    #[serde(default)]
    pub post_commands: Vec<WorkflowCommand>,
    /// Appended to the service's command for the next run only.
    #[serde(default)]
    pub args: Vec<String>,
}

/// Where a background job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// The daemon stopped (or died) while the job was queued or running.
    Interrupted,
    /// Cancelled on request (`POST /api/jobs/{id}/cancel`): the running command's tree was stopped,
    /// the steps after it skipped.
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Interrupted,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Interrupted => "interrupted",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Succeeded, failed, interrupted or cancelled: nothing will change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// The part of a custom restart a step belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepPhase {
    Pre,
    Restart,
    Post,
}

impl StepPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            StepPhase::Pre => "pre",
            StepPhase::Restart => "restart",
            StepPhase::Post => "post",
        }
    }
}

/// The command policy's answer for a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// How a step went. `pending` and `running` change; the others are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Ok,
    Failed,
    /// The policy said no: the command never started.
    Denied,
    /// Killed (with its whole tree) at its timeout.
    TimedOut,
    /// Not run because an earlier step failed or the job was cancelled.
    Skipped,
    /// Stopped (with its whole tree) because the job was cancelled.
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Ok => "ok",
            StepStatus::Failed => "failed",
            StepStatus::Denied => "denied",
            StepStatus::TimedOut => "timed_out",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, StepStatus::Pending | StepStatus::Running)
    }
}

/// One step of a job: a pre- or post-command, or the restart itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct JobStep {
    pub phase: StepPhase,
    /// Position within its phase (0 for the restart).
    pub index: u32,
    /// The command as given (for the restart: the service's command with the extra args).
    pub command: String,
    /// Absent for the restart step.
    pub command_type: Option<CommandType>,
    /// What is (or was) executed.
    pub argv: Vec<String>,
    /// The policy's decision; absent for the restart and for steps that never got that far.
    pub decision: Option<Decision>,
    /// Why the policy denied the command.
    pub reason: Option<String>,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    /// The command's pid, or the service's new pid after the restart.
    pub pid: Option<u32>,
    pub started_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// The last lines of stdout and stderr, merged in arrival order (at most 64 lines, 8 KiB).
    pub output_tail: String,
    /// A one-line summary of how the step ended (`exited with code 3`, `timed out after 2 s`, ...).
    pub message: Option<String>,
}

/// A background job (`GET /api/jobs/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct JobView {
    pub id: String,
    /// `custom-restart`.
    pub kind: String,
    pub service: String,
    /// Who asked.
    pub origin: Origin,
    pub status: JobStatus,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub request: CustomRestartRequest,
    pub steps: Vec<JobStep>,
    /// Why the job failed, was interrupted or was cancelled.
    pub error: Option<String>,
}

/// `GET /api/jobs`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct JobsPage {
    pub jobs: Vec<JobView>,
}

/// Header by which the `tend` CLI identifies itself (`x-tend-client: cli`), so jobs it starts are
/// recorded with origin `cli` rather than `rest`.
pub const CLIENT_HEADER: &str = "x-tend-client";

/// The query of `GET /api/jobs`: by service, by status (a `JobStatus` name), how many (default 50,
/// at most 1000).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct JobParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
