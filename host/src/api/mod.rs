//! The REST API. **Only this module knows HTTP.** Routes (`/api/...`, and the replaced dashboard's
//! `/dashboard/api/system/*` in `compat.rs`), auth (bearer token or session cookie, CSRF,
//! the `Host` guard and the browser security headers: `auth.rs`), body limits and the mapping of error
//! codes to status codes (`error.rs`); every handler is an adapter that extracts its input, calls one
//! `ops::Ops` method and answers its `wire` type as JSON. `serve.rs` runs the router over TCP under the
//! `[api]` limits (`settings.rs`): connection cap, header, idle and body timeouts.

mod assets;
mod audit;
mod auth;
mod caddy;
mod chat;
mod compat;
mod cron;
mod error;
mod extract;
mod fixes;
mod graph;
mod jobs;
mod llm;
mod metrics;
mod onboard;
mod overview;
mod plugins;
mod serve;
mod services;
mod sessions;
pub mod settings;
mod sse;

pub use auth::HostPolicy;
pub use serve::{Limits, serve};
pub use settings::ApiSettings;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use tokio::sync::watch;

use extract::Query;

use crate::ops::{Error, Ops};
use crate::wire::{Code, ShutdownResponse, StatusResponse, SupervisorLogs, TailParams};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1 << 20;

/// What the handlers share: the operations, plus what only HTTP needs.
#[derive(Clone)]
pub struct AppState {
    pub ops: Ops,
    pub token: Arc<str>,
    /// Becomes true when the daemon is closing: live streams end.
    pub closing: watch::Receiver<bool>,
    /// How long a request body may take to arrive (`[api] body_timeout_s`).
    pub body_timeout: std::time::Duration,
    /// The `Host` names served (`[api] allowed_hosts`, the listen address, loopback).
    pub hosts: Arc<HostPolicy>,
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
        .route(
            "/services/{name}/logs/download",
            get(services::download_logs),
        )
        .route("/services/{name}/events", get(services::events))
        .route("/services/{name}/health", get(services::health))
        .route("/services/{name}/metrics", get(metrics::history))
        .route(
            "/services/{name}/custom-restart",
            post(jobs::custom_restart),
        )
        .route("/services/{name}/fix", post(fixes::fix_service))
        .route("/services/{name}/fixes", get(fixes::service_fixes))
        .route("/fixes/{id}", get(fixes::get))
        .route("/fixes/{id}/approve", post(fixes::approve))
        .route("/fixes/{id}/reject", post(fixes::reject))
        .route("/fixes/{id}/restore", post(fixes::restore))
        .route("/onboard", post(onboard::start))
        .route("/onboard/preview", get(onboard::preview))
        .route("/onboard/jobs", get(onboard::jobs))
        .route("/onboard/jobs/{id}", get(onboard::job))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/cron", get(cron::list).post(cron::create))
        // Each fixed route under `/cron/` is a name in `wire::RESERVED_CRON_NAMES`.
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
        .route("/cron/{name}/fix", post(fixes::fix_cron))
        .route("/cron/{name}/fixes", get(fixes::cron_fixes))
        .route("/cron/{name}/executions/{id}", get(cron::execution))
        .route("/plugins", get(plugins::list))
        .route("/plugins/reload", post(plugins::reload))
        .route("/plugins/{name}", get(plugins::get))
        .route("/events", get(sse::events))
        .route("/status", get(status))
        .route("/overview", get(overview::get))
        .route("/graph", get(graph::get))
        .route("/caddy/config", get(caddy::config))
        .route("/caddy/reload", post(caddy::reload))
        .route("/llm", get(llm::status))
        .route("/llm/complete", post(llm::complete))
        .route("/chat", post(chat::chat))
        .route("/chat/conversations", get(chat::list))
        .route(
            "/chat/conversations/{id}",
            get(chat::get).delete(chat::delete),
        )
        .route("/audit", get(audit::list))
        .route("/policy/evaluate", post(audit::evaluate))
        .route("/supervisor/logs", get(supervisor_logs))
        .route("/supervisor/shutdown", post(shutdown))
        .route("/sessions", get(sessions::list))
        .route("/sessions/code", post(sessions::code))
        .route("/sessions/{id}", delete(sessions::revoke))
        .route("/logout", post(sessions::logout))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // The replaced dashboard's calls (README, "Coming from ..."), authenticated as `/api` is; other
    // paths under `/dashboard/api` are the JSON 404, not the `/dashboard` redirect below.
    let compat = Router::new()
        .route("/system/status", get(compat::status))
        .route("/system/restart", post(compat::restart))
        .route("/system/custom-restart", post(compat::custom_restart))
        // A route, not only the fallback: `/dashboard/{*rest}` below would otherwise take these paths.
        .route("/{*rest}", any(not_found))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // Signing in needs no credentials (it is how a browser gets them).
    let sign_in = Router::new().route("/login", post(sessions::login).fallback(method_not_allowed));
    // The last two layers wrap everything routed here, the fallback included: a foreign `Host` is
    // refused before any handler runs, and every answer (refusals too) carries the security headers.
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::prometheus))
        .nest("/api", sign_in.merge(api))
        .nest("/dashboard/api", compat)
        .route("/dashboard", get(assets::to_root))
        .route("/dashboard/", get(assets::to_root))
        .route("/dashboard/{*rest}", get(assets::to_root))
        // The dashboard (`/`, its client routes and files), else the JSON 404.
        .fallback(assets::serve)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::guard_host,
        ))
        .layer(middleware::map_response(auth::security_headers))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> Error {
    Error::not_found("no such route; see the API table in the README")
}

async fn method_not_allowed() -> Error {
    Error::new(Code::MethodNotAllowed, "method not allowed on this route")
}

async fn status(State(app): State<AppState>) -> Json<StatusResponse> {
    Json(app.ops.status())
}

async fn supervisor_logs(
    State(app): State<AppState>,
    Query(p): Query<TailParams>,
) -> Result<Json<SupervisorLogs>, Error> {
    Ok(Json(app.ops.supervisor_logs(&p).await?))
}

async fn shutdown(State(app): State<AppState>) -> (StatusCode, Json<ShutdownResponse>) {
    app.ops.shutdown();
    let status = "shutting_down".into();
    (StatusCode::ACCEPTED, Json(ShutdownResponse { status }))
}
