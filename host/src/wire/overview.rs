//! `GET /api/overview`: what the dashboard's overview draws beside the service list and the status, in
//! one answer for every service (recent health results, the last hour of CPU and memory) and the cron
//! jobs due soon. States, pids and supervisor figures stay in `GET /api/services` and `GET /api/status`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// `GET /api/overview`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Overview {
    /// When this was read, RFC 3339, UTC.
    pub time: String,
    /// Every registered service, by name.
    pub services: Vec<ServiceOverview>,
    /// Enabled cron jobs whose next fire time is within `CRON_DUE_HOURS`, soonest first.
    pub cron_due: Vec<CronDue>,
}

/// One service's recent figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ServiceOverview {
    pub name: String,
    /// The last `OVERVIEW_HEALTH` check results, oldest first (empty without a check).
    pub health: Vec<HealthPoint>,
    /// The last hour in one-minute steps, oldest first; steps without samples are left out.
    pub resources: Vec<ResourcePoint>,
}

/// One health check result, in brief (`GET /api/services/{name}/health` has the rest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct HealthPoint {
    pub time: String,
    pub passed: bool,
    pub latency_ms: u32,
}

/// One step of resource usage, in brief (`GET /api/services/{name}/metrics` has the rest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct ResourcePoint {
    /// Start of the step, RFC 3339, UTC.
    pub time: String,
    /// Average % of one core over the step.
    pub cpu_percent: f64,
    /// Average resident memory of the whole process tree, MiB.
    pub memory_mb: f64,
}

/// A cron job due soon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CronDue {
    pub name: String,
    /// RFC 3339, UTC (as the job's `next_run_at`).
    pub next_run_at: String,
}

/// Health results per service in the overview.
pub const OVERVIEW_HEALTH: u32 = 30;
/// How far ahead `cron_due` looks.
pub const CRON_DUE_HOURS: i64 = 24;
