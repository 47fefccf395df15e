//! Services: registration (create, replace, remove), actions, what a service has recorded (events,
//! health, metrics history; its logs are `ops/logs.rs`), and the dependency graph. Behaviour is
//! `Supervisor`'s; this checks the request and reads the store.

use serde_json::Value;

use super::{Error, Ops, Result, replace_body};
use crate::metrics::{HistoryQuery, Kind};
use crate::supervisor;
use crate::wire::{
    Action, ActionResponse, EventParams, EventsPage, Graph, HealthReport, HistoryParams,
    MAX_LOG_LINES, MetricsHistory, ServiceSpec, ServiceView, VIEW_ONLY_FIELDS,
};

/// Entries `events` and `health` return without a `limit`.
const DEFAULT_EVENTS: u32 = 100;

impl Ops {
    pub fn services(&self) -> Vec<ServiceView> {
        self.sup.list()
    }

    pub fn service(&self, name: &str) -> Result<ServiceView> {
        Ok(self.sup.get(name)?)
    }

    /// `GET /api/graph`: every service and `depends_on` edge with its current state, and the start
    /// order.
    pub fn graph(&self) -> Graph {
        self.sup.graph()
    }

    /// Registers a service; started at once if `enabled`.
    pub async fn create_service(&self, spec: ServiceSpec) -> Result<ServiceView> {
        Ok(self.sup.create(spec).await?)
    }

    /// Replaces a service's spec with `body` (a spec or an edited view; see `replace_body`). A
    /// service from the config file cannot be replaced, whatever the body.
    pub async fn replace_service(&self, name: &str, body: Value) -> Result<ServiceView> {
        self.sup.check_editable(name)?;
        let spec: ServiceSpec = replace_body(name, body, VIEW_ONLY_FIELDS, "services")?;
        Ok(self.sup.update(spec).await?)
    }

    /// Stops the service and removes its definition (its logs and events stay).
    pub async fn remove_service(&self, name: &str) -> Result<ActionResponse> {
        let state = self.sup.remove(name).await?;
        Ok(ActionResponse {
            name: name.into(),
            action: "delete".into(),
            state,
        })
    }

    /// Starts, stops or restarts a service; answers once done (a stop: once the whole tree is gone).
    pub async fn act(&self, name: &str, action: Action) -> Result<ActionResponse> {
        let how = match action {
            Action::Start => supervisor::Action::Start,
            Action::Stop => supervisor::Action::Stop,
            Action::Restart => supervisor::Action::Restart,
        };
        let state = self.sup.act(name, how).await?;
        Ok(ActionResponse {
            name: name.into(),
            action: action.as_str().into(),
            state,
        })
    }

    pub async fn events(&self, name: &str, p: &EventParams) -> Result<EventsPage> {
        self.sup.get(name)?;
        let limit = event_limit(p)?;
        Ok(EventsPage {
            events: self.sup.events(Some(name), limit).await?,
        })
    }

    pub async fn health(&self, name: &str, p: &EventParams) -> Result<HealthReport> {
        let limit = event_limit(p)?;
        Ok(self.sup.health(name, limit).await?)
    }

    /// Stored resource figures of a service, aggregated per step.
    pub async fn metrics_history(&self, name: &str, p: &HistoryParams) -> Result<MetricsHistory> {
        self.sup.get(name)?;
        let q = HistoryQuery::parse(
            p.since.as_deref(),
            p.step.as_deref(),
            chrono::Utc::now(),
            self.metrics.settings().interval_s,
        )
        .map_err(|e| Error::invalid(e.field, e.message))?;
        Ok(self.metrics.history(Kind::Service, name, q).await?)
    }
}

/// `limit` of an events or health page: at most `MAX_LOG_LINES` (a larger one is `invalid`, not cut).
fn event_limit(p: &EventParams) -> Result<u32> {
    let limit = p.limit.unwrap_or(DEFAULT_EVENTS);
    if limit > MAX_LOG_LINES {
        return Err(Error::invalid("limit", format!("at most {MAX_LOG_LINES}")));
    }
    Ok(limit)
}

impl Ops {
    /// `GET /metrics` without a token (`[metrics] public`).
    pub fn metrics_public(&self) -> bool {
        self.metrics.settings().public
    }

    /// Every figure in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut text = self.metrics.prometheus();
        text.push_str(&self.llm.prometheus());
        text
    }
}
