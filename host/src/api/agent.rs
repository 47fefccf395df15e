//! `tend agent`'s one HTTP route, `GET /healthz/NAME`, on its own listener (`--listen`): 200 with the
//! check as JSON when it passes, 503 when it fails or the service is not running, the API's JSON 404
//! for another name. Unauthenticated and read-only (a probe carries no token), so not part of the
//! daemon's router nor of its OpenAPI document. What a check is and means is `agent::Healthz`'s.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::agent::Healthz;
use crate::ops::Error;

/// Serves `/healthz/{name}` on `listener` until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, healthz: Healthz) {
    let app = Router::new()
        .route("/healthz/{name}", get(check))
        .with_state(healthz);
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("tend agent: error: the /healthz server stopped: {e}");
    }
}

async fn check(State(healthz): State<Healthz>, Path(name): Path<String>) -> Response {
    match healthz.answer(&name).await {
        Some(answer) => {
            let status = if answer.check.passed {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(answer)).into_response()
        }
        None => Error::not_found(format!(
            "this agent runs {:?}, not {name:?}",
            healthz.service()
        ))
        .into_response(),
    }
}
