//! The replaced dashboard's calls (`/dashboard/api/system/*`, README "Coming from ..."): the shapes
//! the MagicTunnel supervisor's web dashboard reads and sends, kept field for field. Plain serde: tend's
//! own dashboard does not use them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CustomRestartRequest;

/// `GET /dashboard/api/system/status`: the seed's process metrics JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SystemStatus {
    pub supervisor: SystemSupervisor,
    /// By service name.
    pub services: BTreeMap<String, SystemService>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SystemSupervisor {
    /// `running` (`stopping` once shutdown began).
    pub status: String,
    /// Whole seconds since the daemon started.
    pub uptime: u64,
    pub managed_services: usize,
}

/// One service as the seed reported it. Every field is always present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SystemService {
    /// The seed's status names: `running`, `starting`, `stopping`, `stopped`, `restarting`, `failed`
    /// (see `ops/compat.rs` for the mapping of tend's statuses).
    pub status: String,
    /// `null` when no process runs.
    pub pid: Option<u32>,
    /// Whole seconds the current process has run, 0 when none runs.
    pub uptime: u64,
    /// Resident memory of the process tree at the last sample, MiB (0 before the first sample).
    pub memory_mb: f64,
    /// CPU use of the process tree over the last sample interval, % of one core (0 before it).
    pub cpu_percent: f64,
    pub restart_count: u32,
}

/// The body of `POST /dashboard/api/system/restart`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemRestartRequest {
    pub service: String,
}

/// The answer of `POST /dashboard/api/system/restart`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SystemActionResponse {
    pub success: bool,
    pub service: String,
    pub action: String,
    /// The service's status after the action, in the seed's names (as in [`SystemService`]).
    pub status: String,
    pub pid: Option<u32>,
    pub message: String,
}

/// The body of `POST /dashboard/api/system/custom-restart` as the API document describes it: the
/// seed's custom-restart body plus the service it applies to (default: `[compat] default_service`).
/// `ops/compat.rs` reads it in two steps (the `service` field, then the rest as
/// `CustomRestartRequest`, whose unknown fields are refused), so this type is the schema only.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SystemCustomRestartRequest {
    pub service: Option<String>,
    #[serde(flatten)]
    pub request: CustomRestartRequest,
}
