//! Auto-fix: what a fixer plugin is told about a failure (`Incident`) and what it proposes
//! (`Proposal`), as plain data. Mirrors the WIT interface `tend:plugin/fixing` field for field; the
//! fix records and their API answers (`/api/services/{name}/fixes`, `/api/fixes/{id}`) join them here.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::CommandType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Service,
    CronJob,
}

/// A process listening on the service's port when it failed to bind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PortHolder {
    pub pid: u32,
    pub command: String,
    /// A process of one of this service's earlier runs (true), or a stranger (false).
    pub leftover: bool,
}

/// An earlier fix of the same target and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Attempt {
    pub diagnosis: String,
    /// `verified`, `verify-failed`, `rejected`, `denied`, `invalid`, `failed`.
    pub outcome: String,
    pub detail: String,
}

/// What a fixer is told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// A deterministic rule.
    Rule,
    /// Written by a model (or by a plugin that called `llm` while making it).
    Model,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum FixAnswer {
    Fix { proposal: Proposal },
    NoSafeFix { reason: String },
}
