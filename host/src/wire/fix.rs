//! Auto-fix: what a fixer plugin is told about a failure (`Incident`) and what it proposes
//! (`Proposal`), as plain data. Mirrors the WIT interface `tend:plugin/fixing` field for field; the
//! fix records and their API answers (`/api/services/{name}/fixes`, `/api/fixes/{id}`) join them here.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use super::{CommandType, Decision, Origin, Usage};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentKind {
    /// A service went `fatal` or restarted too often in a window.
    CrashLoop,
    /// A service's health check keeps failing.
    HealthFailure,
    /// A cron job's execution failed.
    CronFailure,
    /// Someone asked (`POST /api/services/{name}/fix`, `tend fix NAME`).
    Manual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Service,
    CronJob,
}

/// A process listening on the service's port when it failed to bind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct PortHolder {
    pub pid: u32,
    pub command: String,
    /// A process of one of this service's earlier runs (true), or a stranger (false).
    pub leftover: bool,
}

/// An earlier fix of the same target and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Attempt {
    pub diagnosis: String,
    /// `verified`, `verify-failed`, `rejected`, `denied`, `invalid`, `failed`.
    pub outcome: String,
    pub detail: String,
}

/// What a fixer is told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Incident {
    pub kind: IncidentKind,
    pub target: TargetKind,
    pub name: String,
    /// The command as configured (a shell string, or the argv joined by spaces).
    pub command: String,
    pub argv: Vec<String>,
    /// Absolute: the `project` interface's root.
    pub working_dir: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub restarts: u32,
    /// Oldest first.
    pub log_tail: Vec<String>,
    /// Names only, never values.
    pub env_names: Vec<String>,
    /// Relative to the root when inside it.
    pub env_file: Option<String>,
    pub port: Option<u16>,
    pub port_holder: Option<PortHolder>,
    pub health_message: Option<String>,
    /// Earlier fixes of this target, oldest first.
    pub previous: Vec<Attempt>,
    /// The model the person asking named; `None`: the configured default.
    pub model: Option<String>,
}

/// One change to the project. Paths are relative to the root, `/`-separated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    /// Replace the one occurrence of `old` (exactly one must exist) by `new`, in the file whose
    /// bytes hash to `base_sha256`.
    Replace {
        path: String,
        base_sha256: String,
        old: String,
        new: String,
    },
    /// Create a file that does not exist (missing parents inside the root too).
    Create {
        path: String,
        content: String,
        executable: bool,
    },
    /// Create a directory (and missing parents) inside the root.
    CreateDir { path: String },
    /// Set or clear the execute bits (where the read bits are set).
    SetExecutable {
        path: String,
        base_sha256: String,
        executable: bool,
    },
}

impl Edit {
    pub fn path(&self) -> &str {
        match self {
            Edit::Replace { path, .. }
            | Edit::Create { path, .. }
            | Edit::CreateDir { path }
            | Edit::SetExecutable { path, .. } => path,
        }
    }
}

/// A command the host runs in the working directory after the edits, judged by the command policy
/// with origin `agent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct FixCommand {
    pub command_type: CommandType,
    pub command: String,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u32>,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// A deterministic rule.
    Rule,
    /// Written by a model (or by a plugin that called `llm` while making it).
    Model,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Proposal {
    pub diagnosis: String,
    /// 0.0 to 1.0.
    pub confidence: f32,
    pub edits: Vec<Edit>,
    pub commands: Vec<FixCommand>,
    /// Restart the service (or run the job again) afterwards.
    pub restart: bool,
    pub author: Author,
    /// The rule's name or the model's.
    pub source: String,
}

/// A fixer's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum FixAnswer {
    Fix { proposal: Proposal },
    NoSafeFix { reason: String },
}

/// How far the host goes with a proposal: `off` (no fixer is asked), `propose` (recorded, nothing
/// changed), `approve` (waits for a person), `auto` (applied, verified, restored on failure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FixMode {
    Off,
    Propose,
    Approve,
    Auto,
}

impl FixMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FixMode::Off => "off",
            FixMode::Propose => "propose",
            FixMode::Approve => "approve",
            FixMode::Auto => "auto",
        }
    }
}

/// Where a fix is. `awaiting-approval` waits for a person; `proposed`, `rejected`, `verified`,
/// `restored`, `failed`, `no-fix` and `skipped` are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FixStatus {
    /// Asking the fixer.
    Diagnosing,
    /// Recorded in `propose` mode: nothing was changed.
    Proposed,
    AwaitingApproval,
    Rejected,
    Applying,
    Verifying,
    Verified,
    /// Its changes were undone (after a failed verification, or on request).
    Restored,
    Failed,
    /// The fixer found nothing safe to do.
    NoFix,
    /// Not attempted (cooldown, too many attempts, the same proposal again).
    Skipped,
}

impl FixStatus {
    pub const ALL: [FixStatus; 11] = [
        FixStatus::Diagnosing,
        FixStatus::Proposed,
        FixStatus::AwaitingApproval,
        FixStatus::Rejected,
        FixStatus::Applying,
        FixStatus::Verifying,
        FixStatus::Verified,
        FixStatus::Restored,
        FixStatus::Failed,
        FixStatus::NoFix,
        FixStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FixStatus::Diagnosing => "diagnosing",
            FixStatus::Proposed => "proposed",
            FixStatus::AwaitingApproval => "awaiting-approval",
            FixStatus::Rejected => "rejected",
            FixStatus::Applying => "applying",
            FixStatus::Verifying => "verifying",
            FixStatus::Verified => "verified",
            FixStatus::Restored => "restored",
            FixStatus::Failed => "failed",
            FixStatus::NoFix => "no-fix",
            FixStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<FixStatus> {
        FixStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Nothing more happens to it (a `verified` or `proposed` fix may still be restored or approved
    /// by hand; that is a new state change, not a running one).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            FixStatus::Diagnosing
                | FixStatus::AwaitingApproval
                | FixStatus::Applying
                | FixStatus::Verifying
        )
    }
}

/// A fix record: a fix proper, or the restore of one (itself restorable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FixKind {
    Fix,
    Restore,
}

/// The body of `POST /api/services/{name}/fix` and `POST /api/cron/{name}/fix` (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct FixRequest {
    /// A model of `[llm.models]` for this fix; default: the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// One edited file's change, as a unified diff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct FileDiff {
    pub path: String,
    pub diff: String,
}

/// The command policy's answer about one of the proposal's commands (in the audit trail too).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct FixDecision {
    pub command: String,
    pub decision: Decision,
    pub reason: String,
    pub audit_id: i64,
}

/// How one of the proposal's commands ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct FixCommandRun {
    pub command: String,
    /// `ok`, `failed`, `timed_out`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub message: String,
    pub output_tail: String,
}

/// A fix as `GET /api/fixes/{id}` answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct FixView {
    pub id: String,
    pub kind: FixKind,
    pub target: TargetKind,
    /// The service's or cron job's name.
    pub name: String,
    pub status: FixStatus,
    /// What started it.
    pub trigger: IncidentKind,
    pub origin: Origin,
    /// The mode that applied to it.
    pub mode: FixMode,
    pub created_at: String,
    pub updated_at: String,
    /// The background job (`/api/jobs/{id}`) that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Which try of this incident (1 first; a retry after a failed verification adds one).
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<Proposal>,
    /// A hash of the proposal's edits and commands: the same proposal again after it failed stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_hash: Option<String>,
    pub diffs: Vec<FileDiff>,
    pub decisions: Vec<FixDecision>,
    /// What applying did (or why it did not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_result: Option<String>,
    pub commands: Vec<FixCommandRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_result: Option<String>,
    /// Why it ended as it did (skipped, failed, rejected, restored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The backup directory of what it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// For a `restore`: the fix it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
    /// The restore record that undid this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_by: Option<String>,
    pub llm_calls: u32,
    pub usage: Usage,
    pub duration_ms: u64,
}

/// `GET /api/services/{name}/fixes`, `GET /api/cron/{name}/fixes`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct FixesPage {
    pub fixes: Vec<FixView>,
}
