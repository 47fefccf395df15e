//! The event bus on the wire (`GET /api/events`): topics, the envelope every subscriber gets, and the
//! payload of each topic. Service events (`lifecycle`, `health`, `caddy` and `job` about one service)
//! keep the shape of `GET /api/services/{name}/events` (`Event`); every other payload carries `id`,
//! `topic` and `time` of its own.

use std::fmt;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::{Decision, Event, EventKind, ExecutionStatus, Origin, Trigger};

/// What an event is about. The SSE event name is `as_str()`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A service's lifecycle transition (`from` -> `to`).
    Lifecycle,
    /// A service's health changed.
    Health,
    /// The current figures of a service's process tree, at every sample (live only, never stored).
    Metrics,
    /// A cron execution was queued, started, skipped or finished.
    Cron,
    /// A custom-restart job of a service started, finished a step or ended.
    Job,
    /// Applying the proxy config to Caddy succeeded or failed (daemon-wide and per exposed service).
    Caddy,
    /// A plugin was loaded, reloaded, rejected, removed or suspended.
    Plugin,
    /// The command policy decided about a command (already in the audit trail).
    Policy,
    /// What an agent did (reserved for the LLM agents).
    Agent,
}

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::Lifecycle,
        Topic::Health,
        Topic::Metrics,
        Topic::Cron,
        Topic::Job,
        Topic::Caddy,
        Topic::Plugin,
        Topic::Policy,
        Topic::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Lifecycle => "lifecycle",
            Topic::Health => "health",
            Topic::Metrics => "metrics",
            Topic::Cron => "cron",
            Topic::Job => "job",
            Topic::Caddy => "caddy",
            Topic::Plugin => "plugin",
            Topic::Policy => "policy",
            Topic::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// History is stored (with an id, so a subscriber can resume); samples are not.
    pub fn persisted(self) -> bool {
        self != Topic::Metrics
    }

    /// The topics a subscriber gets when it names none: all but the high-rate `metrics` samples.
    pub fn default_set() -> Vec<Topic> {
        Topic::ALL
            .into_iter()
            .filter(|t| *t != Topic::Metrics)
            .collect()
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<EventKind> for Topic {
    fn from(k: EventKind) -> Topic {
        match k {
            EventKind::Lifecycle => Topic::Lifecycle,
            EventKind::Health => Topic::Health,
            EventKind::Caddy => Topic::Caddy,
            EventKind::Job => Topic::Job,
        }
    }
}

/// One event on the bus. `id` is 0 for topics that are not stored (`metrics`): such events carry no
/// SSE `id:` and cannot be resumed from.
#[derive(Clone, Debug, PartialEq)]
pub struct BusEvent {
    pub id: i64,
    pub payload: Payload,
}

impl BusEvent {
    pub fn topic(&self) -> Topic {
        self.payload.topic()
    }

    /// The service the event is about, if it is about one.
    pub fn service(&self) -> Option<&str> {
        self.payload.service()
    }

    /// The SSE `data:` of the event: the payload with its id.
    pub fn data(&self) -> serde_json::Value {
        let mut v = match &self.payload {
            Payload::Service(e) => serde_json::to_value(e),
            Payload::Cron(e) => serde_json::to_value(e),
            Payload::Caddy(e) => serde_json::to_value(e),
            Payload::Plugin(e) => serde_json::to_value(e),
            Payload::Policy(e) => serde_json::to_value(e),
            Payload::Metrics(e) => serde_json::to_value(e),
            Payload::Agent(e) => serde_json::to_value(e),
        }
        .unwrap_or_default();
        if let Some(obj) = v.as_object_mut() {
            if !matches!(self.payload, Payload::Service(_)) {
                obj.insert("topic".into(), self.topic().as_str().into());
            }
            if self.id > 0 {
                obj.insert("id".into(), self.id.into());
            } else {
                obj.remove("id");
            }
        }
        v
    }
}

/// What happened, by topic.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// `lifecycle`, `health`, `caddy` or `job` event of one service (its `kind` says which).
    Service(Event),
    Cron(CronEvent),
    /// A daemon-wide Caddy apply result (per-service failures are `Service` events of kind `caddy`).
    Caddy(CaddyEvent),
    Plugin(PluginEvent),
    Policy(PolicyEvent),
    Metrics(MetricsEvent),
    Agent(AgentEvent),
}

impl Payload {
    pub fn topic(&self) -> Topic {
        match self {
            Payload::Service(e) => e.kind.into(),
            Payload::Cron(_) => Topic::Cron,
            Payload::Caddy(_) => Topic::Caddy,
            Payload::Plugin(_) => Topic::Plugin,
            Payload::Policy(_) => Topic::Policy,
            Payload::Metrics(_) => Topic::Metrics,
            Payload::Agent(_) => Topic::Agent,
        }
    }

    pub fn service(&self) -> Option<&str> {
        match self {
            Payload::Service(e) => Some(&e.service),
            Payload::Policy(e) => e.service.as_deref(),
            Payload::Metrics(e) => (e.kind == "service").then_some(e.name.as_str()),
            Payload::Agent(e) => e.service.as_deref(),
            Payload::Cron(_) | Payload::Caddy(_) | Payload::Plugin(_) => None,
        }
    }

    pub fn time(&self) -> &str {
        match self {
            Payload::Service(e) => &e.time,
            Payload::Cron(e) => &e.time,
            Payload::Caddy(e) => &e.time,
            Payload::Plugin(e) => &e.time,
            Payload::Policy(e) => &e.time,
            Payload::Metrics(e) => &e.time,
            Payload::Agent(e) => &e.time,
        }
    }
}

/// Where a cron execution is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CronPhase {
    /// Waiting behind a running execution (overlap `queue`).
    Queued,
    Started,
    /// Not run (overlap `skip`, the job was removed, the daemon was closing).
    Skipped,
    /// Ended: `status` says how.
    Finished,
}

/// `cron` topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct CronEvent {
    pub time: String,
    pub job: String,
    /// The execution (`GET /api/cron/{job}/executions`).
    pub execution: i64,
    pub phase: CronPhase,
    pub trigger: Trigger,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// The execution's status after this phase.
    pub status: ExecutionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `caddy` topic, daemon-wide: one attempt to bring Caddy in step with the exposed services.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct CaddyEvent {
    pub time: String,
    /// `applied` or `failed`.
    pub result: String,
    /// The exposed services the config routes.
    pub services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What happened to a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginAction {
    /// Loaded (at start, or a new or changed file on reload).
    Loaded,
    /// A file was refused; a previous version, if any, stays in force.
    Rejected,
    /// Its file is gone.
    Removed,
    /// Trapped too often in a row: calls are refused until `until`.
    Suspended,
}

/// `plugin` topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct PluginEvent {
    pub time: String,
    pub plugin: String,
    pub action: PluginAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it was rejected, until when it is suspended.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[ts(optional = nullable)]
    pub message: String,
}

/// `policy` topic: a decision, as audited (`GET /api/audit` has the full row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct PolicyEvent {
    pub time: String,
    pub audit_id: i64,
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub command: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[ts(optional = nullable)]
    pub reason: String,
}

/// `metrics` topic: a process tree's current figures (live only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct MetricsEvent {
    pub time: String,
    /// `service` or `job` (a cron execution's tree).
    pub kind: String,
    pub name: String,
    pub memory_mb: f64,
    pub cpu_percent: f64,
}

/// `agent` topic: room for what the LLM agents report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct AgentEvent {
    pub time: String,
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub message: String,
}

/// Query of `GET /api/events`.
#[derive(Debug, Default, Deserialize, TS, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct EventStreamParams {
    /// Comma-separated topics; default: all but `metrics`.
    pub topics: Option<String>,
    /// Only events about this service.
    pub service: Option<String>,
    /// Replay stored events with a greater id first (`Last-Event-ID` wins when both are given).
    pub after: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip_and_metrics_is_live_only() {
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json, t.as_str());
        }
        assert!(!Topic::Metrics.persisted());
        assert!(!Topic::default_set().contains(&Topic::Metrics));
        assert_eq!(Topic::parse("transition"), None);
    }

    #[test]
    fn data_carries_the_bus_id_and_topic() {
        let e = BusEvent {
            id: 7,
            payload: Payload::Plugin(PluginEvent {
                time: "t".into(),
                plugin: "http".into(),
                action: PluginAction::Loaded,
                version: Some("1.0.0".into()),
                message: String::new(),
            }),
        };
        let d = e.data();
        assert_eq!(d["id"], 7);
        assert_eq!(d["topic"], "plugin");
        assert_eq!(d["action"], "loaded");
        let live = BusEvent { id: 0, ..e };
        assert!(live.data().get("id").is_none());
    }
}
