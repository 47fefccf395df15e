//! Handlers for onboarding: `GET /api/onboard/preview`, `POST /api/onboard`,
//! `GET /api/onboard/jobs`, `GET /api/onboard/jobs/{id}`. Adapters over `ops::Ops`
//! (`ops/onboard.rs`); what is HTTP here: 202 + `Location` for a new job.

use axum::Json;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::{Body, Id, IdPath, Origin, Query};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{
    OnboardJob, OnboardJobParams, OnboardJobsPage, OnboardRequest, Plan, PreviewParams,
};

#[utoipa::path(
    get,
    path = "/onboard/preview",
    params(PreviewParams),
    responses(
        (status = 200, description = "OK", body = Plan),
        (status = 404, description = "No such project directory", body = ErrorBody),
        (status = 409, description = "A model was named but no LLM is configured", body = ErrorBody),
        (status = 429, description = "The model's token budget is used up", body = ErrorBody),
        (status = 502, description = "The model failed", body = ErrorBody),
        (status = 504, description = "The model did not answer in time", body = ErrorBody),
    ),
)]
pub async fn preview(
    State(app): State<AppState>,
    Query(p): Query<PreviewParams>,
) -> Result<Json<Plan>, Error> {
    Ok(Json(app.ops.onboard_preview(p).await?))
}

/// 202 with the queued job and `Location: /api/onboard/jobs/{id}`.
#[utoipa::path(
    post,
    path = "/onboard",
    request_body = OnboardRequest,
    responses(
        (status = 202, description = "Queued", body = OnboardJob, headers(("Location" = String, description = "/api/onboard/jobs/{id}"))),
        (status = 404, description = "No such project directory", body = ErrorBody),
        (status = 409, description = "Not possible now, or a model was named but no LLM is configured", body = ErrorBody),
        (status = 502, description = "The model failed", body = ErrorBody),
    ),
)]
pub async fn start(
    State(app): State<AppState>,
    Origin(origin): Origin,
    Body(request): Body<OnboardRequest>,
) -> Result<Response, Error> {
    let job = app.ops.onboard(request, origin).await?;
    let location =
        HeaderValue::from_str(&format!("/api/onboard/jobs/{}", job.id)).map_err(Error::internal)?;
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(job)).into_response())
}

#[utoipa::path(
    get,
    path = "/onboard/jobs",
    params(OnboardJobParams),
    responses((status = 200, description = "OK", body = OnboardJobsPage)),
)]
pub async fn jobs(
    State(app): State<AppState>,
    Query(p): Query<OnboardJobParams>,
) -> Result<Json<OnboardJobsPage>, Error> {
    Ok(Json(app.ops.onboard_jobs(&p).await?))
}

#[utoipa::path(
    get,
    path = "/onboard/jobs/{id}",
    params(IdPath),
    responses((status = 200, description = "OK", body = OnboardJob)),
)]
pub async fn job(State(app): State<AppState>, Id(id): Id) -> Result<Json<OnboardJob>, Error> {
    Ok(Json(app.ops.onboard_job(&id).await?))
}
