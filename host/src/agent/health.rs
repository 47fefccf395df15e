//! What `GET /healthz/NAME` answers (the HTTP side is `api/agent.rs`): one check of the service
//! through its probe plugin per request, with the supervisor's call (`supervisor::check_once`: same
//! target, config and timeout). No retries, start period or interval here: the engine's probe has its
//! own (`failureThreshold`, `startupProbe`, `periodSeconds`), which the exports set from the same spec.
//!
//! - another name: not found (404);
//! - the service is not running (starting, in backoff, stopping, exited): fails (503);
//! - no health check: passes while the process runs (200), like a container without a probe;
//! - the plugin host is still loading, or could not start: fails (503), saying so.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{OnceCell, watch};

use crate::plugins::PluginHost;
use crate::store::now_rfc3339;
use crate::wire::{HealthCheck, HealthSpec, Status};

/// The JSON body of `/healthz/NAME`: the service, its status and one check's result.
#[derive(Clone, Debug, Serialize)]
pub struct HealthzAnswer {
    pub service: String,
    pub status: Status,
    #[serde(flatten)]
    pub check: HealthCheck,
}

/// What the endpoint needs; cheap to clone.
#[derive(Clone)]
pub struct Healthz {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    port: Option<u16>,
    health: Option<HealthSpec>,
    status: watch::Receiver<Status>,
    plugins: Arc<OnceCell<Result<PluginHost, String>>>,
}

impl Healthz {
    pub fn new(
        service: String,
        port: Option<u16>,
        health: Option<HealthSpec>,
        status: watch::Receiver<Status>,
        plugins: Arc<OnceCell<Result<PluginHost, String>>>,
    ) -> Healthz {
        Healthz {
            inner: Arc::new(Inner {
                service,
                port,
                health,
                status,
                plugins,
            }),
        }
    }

    /// The service this agent runs.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// Checks the service now; `None` when `name` is not the service this agent runs.
    pub async fn answer(&self, name: &str) -> Option<HealthzAnswer> {
        let inner = &self.inner;
        if name != inner.service {
            return None;
        }
        let status = *inner.status.borrow();
        let check = match (&inner.health, inner.plugins.get()) {
            _ if status != Status::Running => verdict(
                status.as_str(),
                false,
                format!("the service is not running ({})", status.as_str()),
            ),
            (None, _) => verdict(
                "running",
                true,
                "no health check: passes while the process runs".into(),
            ),
            (Some(spec), Some(Ok(plugins))) => {
                crate::supervisor::check_once(plugins, &inner.service, inner.port, spec).await
            }
            (Some(_), Some(Err(e))) => verdict(
                "unavailable",
                false,
                format!("the plugin host could not start: {e}"),
            ),
            (Some(spec), None) => verdict(
                "starting",
                false,
                format!("probe {}: the plugins are still loading", spec.probe),
            ),
        };
        Some(HealthzAnswer {
            service: inner.service.clone(),
            status,
            check,
        })
    }
}

fn verdict(result: &str, passed: bool, message: String) -> HealthCheck {
    HealthCheck {
        time: now_rfc3339(),
        result: result.into(),
        passed,
        message,
        latency_ms: 0,
    }
}
