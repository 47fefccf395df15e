//! The command-safety policy's decisions and their audit trail (`GET /api/audit`), and the dry run
//! `POST /api/policy/evaluate` ("would this command be allowed?").

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::{CommandType, Decision, Origin, WorkflowCommand};

/// One decision of the command policy, as recorded before the answer was used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339, UTC.
    pub time: String,
    /// Who asked.
    pub origin: Origin,
    /// The service the command was for (none for a dry run without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub command_type: CommandType,
    /// The command as given.
    pub command: String,
    /// What it would execute.
    pub argv: Vec<String>,
    pub cwd: String,
    /// The daemon's environment at the time (`[policy] environment`).
    pub environment: String,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub decision: Decision,
    /// Why it was denied (empty when allowed).
    pub reason: String,
    /// The policy plugin asked.
    pub plugin: String,
    /// Its manifest version; absent when no plugin of that name was loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
}

/// `GET /api/audit`: newest first; `next_before_id` pages on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before_id: Option<i64>,
}

/// `POST /api/policy/evaluate`: asks the policy about a command without running it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct PolicyCheckRequest {
    /// A registered service: its working dir and environment are used, as for its workflow steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub command: WorkflowCommand,
    /// Overrides the working dir (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub cwd: Option<PathBuf>,
}

/// The dry run's answer (already audited, with the caller's origin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct PolicyCheckResponse {
    pub allowed: bool,
    pub decision: Decision,
    /// Why it was denied (empty when allowed).
    pub reason: String,
    pub plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_version: Option<String>,
    /// The audit record of this decision.
    pub audit_id: i64,
    /// What would run, and where.
    pub argv: Vec<String>,
    pub cwd: String,
}

/// The query of `GET /api/audit`: filters (`q`: text in the command, argv, reason or service, ASCII
/// case-insensitive), page size (default 100, at most 1000) and the `next_before_id` of the previous
/// page.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub origin: Option<Origin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_id: Option<i64>,
}
