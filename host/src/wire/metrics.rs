//! Stored metrics of a service (`GET /api/services/{name}/metrics`). The Prometheus text of
//! `GET /metrics` is not JSON and is not here (`metrics/export.rs`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

/// The query of `GET /api/services/{name}/metrics`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// RFC 3339 time or a duration back from now (`15m`, `24h`, `7d`); default `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Width of each point (`60`, `5m`, `1h`); default: the sampling interval, widened to at most
    /// 1000 points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// `GET /api/services/{name}/metrics`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct MetricsHistory {
    /// `service` or `job`.
    pub kind: String,
    pub name: String,
    /// RFC 3339, UTC: the range read.
    pub since: String,
    pub until: String,
    /// Width of each point, seconds.
    pub step_s: u64,
    /// The sampling interval of raw data, seconds.
    pub interval_s: u64,
    /// Oldest first; steps without samples are left out.
    pub points: Vec<MetricPoint>,
}

/// One step: averages over its samples, unless named `_max`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct MetricPoint {
    /// Start of the step, RFC 3339, UTC.
    pub time: String,
    /// Raw samples behind this point.
    pub samples: u64,
    /// % of one core.
    pub cpu_percent: f64,
    pub cpu_percent_max: f64,
    /// Resident memory of the whole process tree, MiB.
    pub memory_mb: f64,
    pub memory_mb_max: f64,
    pub processes: f64,
    pub threads: f64,
    pub open_fds: f64,
    /// Storage I/O, bytes per second.
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    /// Disk usage of the watch_dirs (largest in the step), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<u64>,
    /// True when a disk walk behind `disk_bytes` hit its deadline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[ts(optional = nullable)]
    pub disk_partial: bool,
}
