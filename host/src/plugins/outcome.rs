//! What a plugin call can come to (`Outcome`), the probe's answer (`Health`) and question
//! (`ProbeTarget`), and the classification of a finished call's raw result into an `Outcome`.
//!
//! Classification rules, in order, for a call that did not return normally:
//! the memory limit refused growth -> `OutOfMemory`; the epoch deadline or the wall clock ran out ->
//! `Timeout`; the sandbox refused a capability during the call -> `Denied` (the trap most likely
//! followed from it); anything else -> `Trap` (guest panics are traps). A call that returned keeps
//! its answer (`Ok`) even if something was denied on the way: the plugin handled the refusal, and
//! the denial is counted in the plugin's statistics instead.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::bindings::host::tend::plugin::types as wit;

/// The result of calling a plugin.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<T> {
    Ok(T),
    /// The plugin returned an error of its world (worlds whose export returns a `result`).
    PluginError(String),
    /// The guest trapped (panics included).
    Trap(String),
    /// The call ran out of time (CPU through the epoch deadline, or wall clock).
    Timeout,
    /// The guest hit its memory limit and trapped.
    OutOfMemory,
    /// The guest trapped after the sandbox refused it a capability (the first refusal).
    Denied(String),
    /// The plugin trapped too often in a row; no call is made until then.
    Suspended {
        until: SystemTime,
    },
    /// No plugin with that name is loaded.
    NotFound,
    /// The plugin implements another world than the call needs.
    WrongWorld(String),
}

impl<T> Outcome<T> {
    /// Stable snake_case name, as used in statistics, the API and health-check records.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::PluginError(_) => "plugin_error",
            Outcome::Trap(_) => "trap",
            Outcome::Timeout => "timeout",
            Outcome::OutOfMemory => "out_of_memory",
            Outcome::Denied(_) => "denied",
            Outcome::Suspended { .. } => "suspended",
            Outcome::NotFound => "not_found",
            Outcome::WrongWorld(_) => "wrong_world",
        }
    }

    /// Traps of any cause: these count towards suspension.
    pub fn is_trap(&self) -> bool {
        matches!(
            self,
            Outcome::Trap(_) | Outcome::Timeout | Outcome::OutOfMemory | Outcome::Denied(_)
        )
    }
}

impl<T> fmt::Display for Outcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(_) => f.write_str("ok"),
            Outcome::PluginError(m) => write!(f, "plugin error: {m}"),
            Outcome::Trap(m) => write!(f, "plugin trapped: {m}"),
            Outcome::Timeout => f.write_str("plugin timed out"),
            Outcome::OutOfMemory => f.write_str("plugin ran out of memory (limits.memory_mb)"),
            Outcome::Denied(m) => write!(f, "plugin failed after being denied: {m}"),
            Outcome::Suspended { until } => {
                let until = chrono::DateTime::<chrono::Utc>::from(*until);
                write!(
                    f,
                    "plugin suspended after repeated traps until {}",
                    crate::store::fmt_time(until)
                )
            }
            Outcome::NotFound => f.write_str("no such plugin is loaded"),
            Outcome::WrongWorld(m) => write!(f, "wrong world: {m}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// Whether a health check with this answer passes: degraded still serves, so it does.
    pub fn passes(self) -> bool {
        !matches!(self, HealthStatus::Unhealthy)
    }
}

/// A probe's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub message: String,
    pub latency_ms: u32,
}

impl From<wit::Health> for Health {
    fn from(h: wit::Health) -> Health {
        let status = match h.status {
            wit::HealthStatus::Healthy => HealthStatus::Healthy,
            wit::HealthStatus::Degraded => HealthStatus::Degraded,
            wit::HealthStatus::Unhealthy => HealthStatus::Unhealthy,
        };
        Health {
            status,
            message: h.message,
            latency_ms: h.latency_ms,
        }
    }
}

/// What a probe is asked to check.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeTarget {
    pub service: String,
    pub host: String,
    pub port: Option<u16>,
    /// The service's probe config (a JSON object), merged over the manifest's `[config]`.
    pub config: serde_json::Value,
    /// Budget for this check; the plugin's `limits.timeout_ms` caps it.
    pub timeout: Duration,
}

/// How a call that did not return normally ended, as the sandbox saw it.
#[derive(Debug, Default)]
pub struct Failure {
    pub error: String,
    pub interrupted: bool,
    pub memory_refused: bool,
    pub first_denial: Option<String>,
}

pub fn classify<T>(failure: Failure) -> Outcome<T> {
    if failure.memory_refused {
        Outcome::OutOfMemory
    } else if failure.interrupted {
        Outcome::Timeout
    } else if let Some(d) = failure.first_denial {
        Outcome::Denied(d)
    } else {
        Outcome::Trap(failure.error)
    }
}

/// `over` merged onto `base`: objects key by key (recursively), anything else replaced.
pub fn merge_config(base: &serde_json::Value, over: &serde_json::Value) -> serde_json::Value {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            let mut merged = b.clone();
            for (k, v) in o {
                let m = match b.get(k) {
                    Some(bv) => merge_config(bv, v),
                    None => v.clone(),
                };
                merged.insert(k.clone(), m);
            }
            serde_json::Value::Object(merged)
        }
        (_, serde_json::Value::Null) => base.clone(),
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_prefers_the_most_specific_cause() {
        let f = |interrupted, memory_refused, denial: Option<&str>| Failure {
            error: "unreachable".into(),
            interrupted,
            memory_refused,
            first_denial: denial.map(String::from),
        };
        assert_eq!(
            classify::<()>(f(false, false, None)),
            Outcome::Trap("unreachable".into())
        );
        assert_eq!(classify::<()>(f(true, false, None)), Outcome::Timeout);
        assert_eq!(classify::<()>(f(true, true, None)), Outcome::OutOfMemory);
        assert_eq!(
            classify::<()>(f(false, false, Some("http x"))),
            Outcome::Denied("http x".into())
        );
        assert_eq!(
            classify::<()>(f(true, false, Some("http x"))),
            Outcome::Timeout
        );
    }

    #[test]
    fn kinds_and_trap_family() {
        let all: Vec<Outcome<()>> = vec![
            Outcome::Ok(()),
            Outcome::PluginError("e".into()),
            Outcome::Trap("t".into()),
            Outcome::Timeout,
            Outcome::OutOfMemory,
            Outcome::Denied("d".into()),
            Outcome::Suspended {
                until: SystemTime::UNIX_EPOCH,
            },
            Outcome::NotFound,
            Outcome::WrongWorld("w".into()),
        ];
        let kinds: Vec<&str> = all.iter().map(|o| o.kind()).collect();
        assert_eq!(
            kinds,
            [
                "ok",
                "plugin_error",
                "trap",
                "timeout",
                "out_of_memory",
                "denied",
                "suspended",
                "not_found",
                "wrong_world"
            ]
        );
        let traps: Vec<&str> = all
            .iter()
            .filter(|o| o.is_trap())
            .map(|o| o.kind())
            .collect();
        assert_eq!(traps, ["trap", "timeout", "out_of_memory", "denied"]);
        assert_eq!(all[7].to_string(), "no such plugin is loaded");
        assert!(all[6].to_string().contains("1970-01-01T00:00:00"));
    }

    #[test]
    fn service_config_is_merged_over_manifest_defaults() {
        let base =
            serde_json::json!({ "path": "/health", "expect": { "status": 200, "body": "ok" } });
        let over = serde_json::json!({ "expect": { "status": 204 }, "extra": true });
        assert_eq!(
            merge_config(&base, &over),
            serde_json::json!({ "path": "/health", "expect": { "status": 204, "body": "ok" }, "extra": true })
        );
        assert_eq!(merge_config(&base, &serde_json::Value::Null), base);
    }

    #[test]
    fn health_serializes_snake_case() {
        let h = Health {
            status: HealthStatus::Degraded,
            message: "m".into(),
            latency_ms: 3,
        };
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            serde_json::json!({ "status": "degraded", "message": "m", "latency_ms": 3 })
        );
    }
}
