//! Handlers of the replaced dashboard's calls, `/dashboard/api/system/{status,restart,custom-restart}`
//! (README, "Coming from ..."), under the same authentication as `/api` (see `router`). Adapters over
//! `ops/compat.rs`; what is HTTP here: 202 + `Location` for the custom restart's job, as on
//! `POST /api/services/{name}/custom-restart`.

use axum::Json;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::{JsonBody, Origin};
use crate::ops::Error;
use crate::wire::{SystemActionResponse, SystemStatus};

pub async fn status(State(app): State<AppState>) -> Json<SystemStatus> {
    Json(app.ops.system_status())
}

pub async fn restart(
    State(app): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Json<SystemActionResponse>, Error> {
    Ok(Json(app.ops.system_restart(body).await?))
}

pub async fn custom_restart(
    State(app): State<AppState>,
    Origin(origin): Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, Error> {
    let job = app.ops.system_custom_restart(body, origin).await?;
    let location =
        HeaderValue::from_str(&format!("/api/jobs/{}", job.id)).map_err(Error::internal)?;
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(job)).into_response())
}
