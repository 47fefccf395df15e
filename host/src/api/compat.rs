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
use crate::wire::{
    ErrorBody, JobView, SystemActionResponse, SystemCustomRestartRequest, SystemRestartRequest,
    SystemStatus,
};

#[utoipa::path(
    get,
    path = "/system/status",
    responses((status = 200, description = "The supervisor and every service in the replaced dashboard's metrics shape", body = SystemStatus)),
)]
pub async fn status(State(app): State<AppState>) -> Json<SystemStatus> {
    Json(app.ops.system_status())
}

#[utoipa::path(
    post,
    path = "/system/restart",
    request_body = SystemRestartRequest,
    responses(
        (status = 200, description = "Restarted", body = SystemActionResponse),
        (status = 404, description = "No service of that name", body = ErrorBody),
        (status = 409, description = "The service cannot be restarted now", body = ErrorBody),
    ),
)]
pub async fn restart(
    State(app): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<Json<SystemActionResponse>, Error> {
    Ok(Json(app.ops.system_restart(body).await?))
}

#[utoipa::path(
    post,
    path = "/system/custom-restart",
    request_body = SystemCustomRestartRequest,
    responses(
        (status = 202, description = "The custom restart's job (`Location: /api/jobs/{id}`)", body = JobView),
        (status = 404, description = "No service of that name (`service`, or `[compat] default_service`)", body = ErrorBody),
        (status = 409, description = "A custom restart of the service is already running", body = ErrorBody),
    ),
)]
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
