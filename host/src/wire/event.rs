//! Stored service events (`GET /api/services/{name}/events`, the `/api/events` stream).

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::{HealthState, Status};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A lifecycle transition (`from` -> `to`).
    #[default]
    Lifecycle,
    /// A health change; `from` = `to` = the lifecycle status at the time, `health` the new health.
    Health,
    /// The Caddy integration failed to apply, or recovered, for this exposed service's route;
    /// `from` = `to` = the lifecycle status at the time.
    Caddy,
    /// A custom-restart job of this service started, finished a step (`exit_code` of its command) or
    /// ended; `from` = `to` = the lifecycle status at the time.
    Job,
}

/// One lifecycle transition or health change, as stored in the events table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct Event {
    pub id: i64,
    #[serde(default)]
    pub kind: EventKind,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthState>,
    pub reason: String,
}

/// `GET /api/services/{name}/events`: oldest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct EventsPage {
    pub events: Vec<Event>,
}

/// The query of `GET /api/services/{name}/events` and `.../health`: how many entries (default 100,
/// at most 10000).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema, IntoParams,
)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
