//! `GET /api/services/{name}/metrics` (stored history, aggregated per step) and `GET /metrics`
//! (Prometheus text format; needs the bearer token unless `[metrics] public = true`). Thin: the
//! figures are `Metrics`'.

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::extract::{Name, Query};
use super::{ApiError, AppState};
use crate::metrics::{HistoryQuery, Kind, MetricsHistory, PROMETHEUS_CONTENT_TYPE};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// RFC 3339 time or a duration back from now (`15m`, `24h`, `7d`); default `1h`.
    since: Option<String>,
    /// Width of each point (`60`, `5m`, `1h`); default: the sampling interval, widened to at most
    /// 1000 points.
    step: Option<String>,
}

pub async fn history(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<HistoryParams>,
) -> Result<Json<MetricsHistory>, ApiError> {
    app.sup.get(&name)?;
    let q = HistoryQuery::parse(
        p.since.as_deref(),
        p.step.as_deref(),
        chrono::Utc::now(),
        app.metrics.settings().interval_s,
    )
    .map_err(|e| ApiError::bad_request(e.message).field(e.field))?;
    let history = app
        .metrics
        .history(Kind::Service, &name, q)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "metrics history query failed");
            ApiError::internal()
        })?;
    Ok(Json(history))
}

pub async fn prometheus(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.metrics.settings().public {
        let given = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(app.token.as_bytes())) {
            return ApiError::unauthorized().into_response();
        }
    }
    let body = app.metrics.prometheus();
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}
