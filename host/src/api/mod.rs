//! The REST API. **Only this module knows HTTP.** Routes, bearer-token auth, body limits and the
//! mapping of errors to status codes; all behaviour is delegated to `Supervisor`, `Store` and `LogHub`.

mod audit;
mod caddy;
mod cron;
mod error;
mod extract;
mod jobs;
mod metrics;
mod plugins;
mod services;
mod sse;

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, watch};

pub use error::ApiError;
use extract::Query;

use crate::logs::LogHub;
use crate::metrics::Metrics;
use crate::plugins::PluginHost;
use crate::store::Store;
use crate::supervisor::Supervisor;
use crate::wire::{StatusResponse, SupervisorLogs};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1 << 20;

#[derive(Clone)]
pub struct AppState {
    pub sup: Supervisor,
    pub store: Store,
    pub hub: LogHub,
    pub plugins: PluginHost,
    pub cron: crate::cron::Scheduler,
    pub metrics: Metrics,
    pub policy: crate::policy::Policy,
    pub workflows: crate::workflow::Workflows,
    pub caddy: crate::caddy::Caddy,
    pub bus: crate::events::Bus,
    pub token: Arc<str>,
    pub data_dir: PathBuf,
    /// Asks the daemon to shut down (`POST /api/supervisor/shutdown`).
    pub shutdown: mpsc::Sender<()>,
    /// Becomes true when the daemon is closing: live streams end.
    pub closing: watch::Receiver<bool>,
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/services", get(services::list).post(services::create))
        .route(
            "/services/{name}",
            get(services::get)
                .put(services::replace)
                .delete(services::delete),
        )
        .route("/services/{name}/start", post(services::start))
        .route("/services/{name}/stop", post(services::stop))
        .route("/services/{name}/restart", post(services::restart))
        .route("/services/{name}/logs", get(services::logs))
        .route("/services/{name}/logs/follow", get(sse::follow_logs))
        .route("/services/{name}/events", get(services::events))
        .route("/services/{name}/health", get(services::health))
        .route("/services/{name}/metrics", get(metrics::history))
        .route(
            "/services/{name}/custom-restart",
            post(jobs::custom_restart),
        )
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/cron", get(cron::list).post(cron::create))
        .route("/cron/tick", post(cron::tick))
        .route("/cron/status", get(cron::status))
        .route("/cron/validate", get(cron::validate))
        .route(
            "/cron/{name}",
            get(cron::get).put(cron::replace).delete(cron::delete),
        )
        .route("/cron/{name}/run", post(cron::run))
        .route("/cron/{name}/stop", post(cron::stop))
        .route("/cron/{name}/executions", get(cron::executions))
        .route("/plugins", get(plugins::list))
        .route("/plugins/reload", post(plugins::reload))
        .route("/plugins/{name}", get(plugins::get))
        .route("/events", get(sse::events))
        .route("/status", get(status))
        .route("/caddy/config", get(caddy::config))
        .route("/caddy/reload", post(caddy::reload))
        .route("/audit", get(audit::list))
        .route("/policy/evaluate", post(audit::evaluate))
        .route("/supervisor/logs", get(supervisor_logs))
        .route("/supervisor/shutdown", post(shutdown))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::prometheus))
        .nest("/api", api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn require_token(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(given.as_bytes().ct_eq(app.token.as_bytes())) {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::unauthorized())
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see the API table in the README")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

async fn status(State(app): State<AppState>) -> Json<StatusResponse> {
    let mut status = app.sup.status();
    if let Some((memory_mb, cpu_percent)) = app.metrics.own_usage() {
        status.supervisor.memory_mb = Some(memory_mb);
        status.supervisor.cpu_percent = Some(cpu_percent);
    }
    status.supervisor.caddy = Some(app.caddy.status());
    Json(status)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TailParams {
    tail: Option<usize>,
}

async fn supervisor_logs(
    State(app): State<AppState>,
    Query(p): Query<TailParams>,
) -> Result<Json<SupervisorLogs>, ApiError> {
    let tail = p.tail.unwrap_or(200).min(10_000);
    let dir = app.data_dir.clone();
    let lines = tokio::task::spawn_blocking(move || crate::logs::read_daemon_log(&dir, tail))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read tend.log");
            ApiError::internal()
        })?;
    Ok(Json(SupervisorLogs { lines }))
}

async fn shutdown(State(app): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let _ = app.shutdown.try_send(());
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "shutting_down" })),
    )
}
