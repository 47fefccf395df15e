//! Handlers for custom restarts and background jobs: `POST /api/services/{name}/custom-restart`,
//! `GET /api/jobs`, `GET /api/jobs/{id}`, `POST /api/jobs/{id}/cancel`. Adapters over `ops::Ops`
//! (`ops/jobs.rs`); what is HTTP here: 202 + `Location`, and 200/202 for an ended/stopping cancel.

use axum::Json;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::{Body, Id, IdPath, Name, NamePath, Origin, Query};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{CustomRestartRequest, JobParams, JobView, JobsPage};
use crate::workflow::Cancelled;

/// 202 with the queued job and `Location: /api/jobs/{id}`.
#[utoipa::path(
    post,
    path = "/services/{name}/custom-restart",
    params(NamePath),
    request_body = CustomRestartRequest,
    responses(
        (status = 202, description = "Queued", body = JobView, headers(("Location" = String, description = "/api/jobs/{id}"))),
        (status = 409, description = "Not possible now", body = ErrorBody),
    ),
)]
pub async fn custom_restart(
    State(app): State<AppState>,
    Name(name): Name,
    Origin(origin): Origin,
    Body(request): Body<CustomRestartRequest>,
) -> Result<Response, Error> {
    let job = app.ops.custom_restart(&name, request, origin).await?;
    let location =
        HeaderValue::from_str(&format!("/api/jobs/{}", job.id)).map_err(Error::internal)?;
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(job)).into_response())
}

#[utoipa::path(
    get,
    path = "/jobs/{id}",
    params(IdPath),
    responses((status = 200, description = "OK", body = JobView)),
)]
pub async fn get(State(app): State<AppState>, Id(id): Id) -> Result<Json<JobView>, Error> {
    Ok(Json(app.ops.job(&id).await?))
}

/// 200 with the job once it ended `cancelled`; 202 with it while it is still stopping (a restart in
/// progress runs to its end); 409 when it had already ended.
#[utoipa::path(
    post,
    path = "/jobs/{id}/cancel",
    params(IdPath),
    responses(
        (status = 200, description = "Ended cancelled", body = JobView),
        (status = 202, description = "Still stopping", body = JobView),
        (status = 409, description = "It had already ended", body = ErrorBody),
    ),
)]
pub async fn cancel(State(app): State<AppState>, Id(id): Id) -> Result<Response, Error> {
    Ok(match app.ops.cancel_job(&id).await? {
        Cancelled::Ended(job) => (StatusCode::OK, Json(job)).into_response(),
        Cancelled::Stopping(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
    })
}

#[utoipa::path(
    get,
    path = "/jobs",
    params(JobParams),
    responses((status = 200, description = "OK", body = JobsPage)),
)]
pub async fn list(
    State(app): State<AppState>,
    Query(p): Query<JobParams>,
) -> Result<Json<JobsPage>, Error> {
    Ok(Json(app.ops.jobs(&p).await?))
}
