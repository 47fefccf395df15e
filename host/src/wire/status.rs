//! The daemon as a whole: `GET /api/status`, `GET /api/supervisor/logs`, and the constants a client
//! needs to reach the REST API.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::{CaddyStatus, ServiceState};

/// `GET /api/status`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct StatusResponse {
    pub supervisor: SupervisorStatus,
    pub services: BTreeMap<String, ServiceState>,
}

#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct SupervisorStatus {
    pub status: String,
    pub version: String,
    pub pid: u32,
    pub uptime_s: f64,
    pub started_at: String,
    #[schema(value_type = String)]
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
    /// How the daemon keeps a run's processes together (and stops all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containment: Option<Box<ContainmentStatus>>,
}

/// `supervisor.containment` of `GET /api/status`: `{"kind": "cgroup2", "root": "<dir>"}` (every run in
/// a cgroup of its own under `root`) or `{"kind": "process-group+marker+subreaper"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ContainmentStatus {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub root: Option<PathBuf>,
}

/// `GET /api/supervisor/logs`: lines of the daemon's own `tend.log` (JSON objects from `tracing`).
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct SupervisorLogs {
    pub lines: Vec<serde_json::Value>,
}

/// Header carrying the bearer token.
pub const AUTH_HEADER: &str = "authorization";
/// Default REST port.
pub const DEFAULT_PORT: u16 = 9900;

/// The query of `GET /api/supervisor/logs`: the last `tail` records (default 200, at most 10000).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct TailParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<usize>,
}

/// `POST /api/supervisor/shutdown`: `{"status": "shutting_down"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ShutdownResponse {
    pub status: String,
}
