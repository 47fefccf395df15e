//! `GET /api/services/{name}/metrics` (stored history, aggregated per step; an adapter over
//! `ops::Ops::metrics_history`) and `GET /metrics` (Prometheus text format; needs the bearer token
//! unless `[metrics] public = true`).

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::extract::{Name, NamePath, Query};
use crate::metrics::PROMETHEUS_CONTENT_TYPE;
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{HistoryParams, MetricsHistory};

#[utoipa::path(
    get,
    path = "/services/{name}/metrics",
    params(
        NamePath,
        HistoryParams,
    ),
    responses((status = 200, description = "OK", body = MetricsHistory)),
)]
pub async fn history(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<HistoryParams>,
) -> Result<Json<MetricsHistory>, Error> {
    Ok(Json(app.ops.metrics_history(&name, &p).await?))
}

#[utoipa::path(
    get,
    path = "/metrics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 401, description = "No or a wrong bearer token (unless `[metrics] public = true`)", body = ErrorBody),
    ),
)]
pub async fn prometheus(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.ops.metrics_public() {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(app.token.as_bytes())) {
            return Error::unauthorized().into_response();
        }
    }
    let body = app.ops.prometheus();
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}
