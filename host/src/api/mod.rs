//! The REST API. **Only this module knows HTTP.** Routes (`/api/...`, and the replaced dashboard's
//! `/dashboard/api/system/*` in `compat.rs`), auth (bearer token or session cookie, CSRF,
//! the `Host` guard and the browser security headers: `auth.rs`), body limits and the mapping of error
//! codes to status codes (`error.rs`); every handler is an adapter that extracts its input, calls one
//! `ops::Ops` method and answers its `wire` type as JSON. `serve.rs` runs the router over TCP under the
//! `[api]` limits (`settings.rs`): connection cap, header, idle and body timeouts. Every route of
//! the API (`/api`, `/healthz`, `/metrics`) is registered with its `#[utoipa::path]` description
//! (`utoipa_axum::routes!`), from which `openapi.rs` builds the document served at
//! `GET /api/openapi.json`.

mod assets;
mod audit;
mod auth;
mod caddy;
mod chat;
mod compat;
mod cron;
mod error;
mod export;
mod extract;
mod fixes;
mod graph;
mod import;
mod jobs;
mod llm;
mod metrics;
mod onboard;
mod openapi;
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
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use tokio::sync::watch;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    // Every `/api` route is registered with `routes!`, which takes the handler's `#[utoipa::path]`
    // too: a route cannot be served without being in `GET /api/openapi.json`. To add one: annotate
    // the handler (`openapi.rs` adds the common errors and security) and list it here.
    let (api, api_doc) = OpenApiRouter::new()
        .routes(routes!(services::list, services::create))
        .routes(routes!(services::get, services::replace, services::delete))
        .routes(routes!(services::start))
        .routes(routes!(services::stop))
        .routes(routes!(services::restart))
        .routes(routes!(services::logs))
        .routes(routes!(sse::follow_logs))
        .routes(routes!(services::download_logs))
        .routes(routes!(services::events))
        .routes(routes!(services::health))
        .routes(routes!(metrics::history))
        .routes(routes!(jobs::custom_restart))
        .routes(routes!(fixes::fix_service))
        .routes(routes!(fixes::service_fixes))
        .routes(routes!(fixes::get))
        .routes(routes!(fixes::approve))
        .routes(routes!(fixes::reject))
        .routes(routes!(fixes::restore))
        .routes(routes!(onboard::start))
        .routes(routes!(onboard::preview))
        .routes(routes!(onboard::jobs))
        .routes(routes!(onboard::job))
        .routes(routes!(import::import))
        .routes(routes!(export::export))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::cancel))
        .routes(routes!(cron::list, cron::create))
        // Each fixed route under `/cron/` is a name in `wire::RESERVED_CRON_NAMES`.
        .routes(routes!(cron::tick))
        .routes(routes!(cron::status))
        .routes(routes!(cron::validate))
        .routes(routes!(cron::get, cron::replace, cron::delete))
        .routes(routes!(cron::run))
        .routes(routes!(cron::stop))
        .routes(routes!(cron::executions))
        .routes(routes!(fixes::fix_cron))
        .routes(routes!(fixes::cron_fixes))
        .routes(routes!(cron::execution))
        .routes(routes!(plugins::list))
        .routes(routes!(plugins::reload))
        .routes(routes!(plugins::get))
        .routes(routes!(sse::events))
        .routes(routes!(status))
        .routes(routes!(overview::get))
        .routes(routes!(graph::get))
        .routes(routes!(caddy::config))
        .routes(routes!(caddy::reload))
        .routes(routes!(llm::status))
        .routes(routes!(llm::complete))
        .routes(routes!(chat::chat))
        .routes(routes!(chat::list))
        .routes(routes!(chat::get, chat::delete))
        .routes(routes!(audit::list))
        .routes(routes!(audit::evaluate))
        .routes(routes!(supervisor_logs))
        .routes(routes!(shutdown))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::code))
        .routes(routes!(sessions::revoke))
        .routes(routes!(sessions::logout))
        .split_for_parts();
    let api = api
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // Signing in needs no credentials (it is how a browser gets them), nor does the API's description.
    let (public, public_doc) = OpenApiRouter::new()
        .routes(routes!(sessions::login))
        .routes(routes!(openapi::json))
        .split_for_parts();
    let (root, root_doc) = OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics::prometheus))
        .split_for_parts();
    // The replaced dashboard's calls (README, "Coming from ..."), authenticated as `/api` is; other
    // paths under `/dashboard/api` are the JSON 404, not the `/dashboard` redirect below.
    let (compat, compat_doc) = OpenApiRouter::new()
        .routes(routes!(compat::status))
        .routes(routes!(compat::restart))
        .routes(routes!(compat::custom_restart))
        .split_for_parts();
    let compat = compat
        // A route, not only the fallback: `/dashboard/{*rest}` below would otherwise take these paths.
        .route("/{*rest}", any(not_found))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let root_doc = root_doc.nest("/dashboard/api", compat_doc);
    let document = openapi::document(root_doc, public_doc.merge_from(api_doc));
    let public = public
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(openapi::Document(document.to_string().into())));
    // The last two layers wrap everything routed here, the fallback included: a foreign `Host` is
    // refused before any handler runs, and every answer (refusals too) carries the security headers.
    root.nest("/api", public.merge(api))
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

/// `GET /healthz`'s answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Health {
    /// Always `ok`.
    status: String,
}

/// The daemon answers (no credentials needed).
#[utoipa::path(
    get,
    path = "/healthz",
    security(()),
    responses((status = 200, description = "The daemon answers", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

async fn not_found() -> Error {
    Error::not_found("no such route; see the API table in the README")
}

async fn method_not_allowed() -> Error {
    Error::new(Code::MethodNotAllowed, "method not allowed on this route")
}

#[utoipa::path(
    get,
    path = "/status",
    responses((status = 200, description = "OK", body = StatusResponse)),
)]
async fn status(State(app): State<AppState>) -> Json<StatusResponse> {
    Json(app.ops.status())
}

#[utoipa::path(
    get,
    path = "/supervisor/logs",
    params(TailParams),
    responses((status = 200, description = "OK", body = SupervisorLogs)),
)]
async fn supervisor_logs(
    State(app): State<AppState>,
    Query(p): Query<TailParams>,
) -> Result<Json<SupervisorLogs>, Error> {
    Ok(Json(app.ops.supervisor_logs(&p).await?))
}

#[utoipa::path(
    post,
    path = "/supervisor/shutdown",
    responses(
        (status = 202, description = "The daemon stops its services and exits", body = ShutdownResponse),
    ),
)]
async fn shutdown(State(app): State<AppState>) -> (StatusCode, Json<ShutdownResponse>) {
    app.ops.shutdown();
    let status = "shutting_down".into();
    (StatusCode::ACCEPTED, Json(ShutdownResponse { status }))
}
