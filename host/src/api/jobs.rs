//! Handlers for custom restarts and background jobs: `POST /api/services/{name}/custom-restart`,
//! `GET /api/jobs`, `GET /api/jobs/{id}`, `POST /api/jobs/{id}/cancel`. Behaviour lives in
//! `crate::workflow::Workflows`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Name, Origin, Query, typed};
use crate::store::JobQuery;
use crate::wire::{CustomRestartRequest, JobStatus, JobView, JobsPage};
use crate::workflow::{Cancelled, WorkflowError};

/// Jobs listed when no `limit` is given, and the most one page may hold.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1000;

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> ApiError {
        match e {
            WorkflowError::NotFound(_) | WorkflowError::JobNotFound(_) => {
                ApiError::not_found(e.to_string())
            }
            WorkflowError::Invalid { field, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("{field}: {message}"),
            )
            .field(field),
            WorkflowError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            WorkflowError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                e.to_string(),
            ),
            WorkflowError::Store(e) => {
                tracing::error!(error = %e, "store error");
                ApiError::internal()
            }
        }
    }
}

/// 202 with the queued job and `Location: /api/jobs/{id}`.
pub async fn custom_restart(
    State(app): State<AppState>,
    Name(name): Name,
    Origin(origin): Origin,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: CustomRestartRequest = typed(body)?;
    let job = app.workflows.start(&name, request, origin).await?;
    let location = HeaderValue::from_str(&format!("/api/jobs/{}", job.id))
        .map_err(|_| ApiError::internal())?;
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(job)).into_response())
}

pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    app.workflows
        .get(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no job with id {id:?}")))
}

/// 200 with the job once it ended `cancelled`; 202 with it while it is still stopping (a restart in
/// progress runs to its end); 409 when it had already ended.
pub async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(match app.workflows.cancel(&id).await? {
        Cancelled::Ended(job) => (StatusCode::OK, Json(job)).into_response(),
        Cancelled::Stopping(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    service: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

pub async fn list(
    State(app): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<JobsPage>, ApiError> {
    let status = match p.status.as_deref() {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            let all: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!("status: one of {}", all.join(", "))).field("status")
        })?),
    };
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(
            ApiError::bad_request(format!("limit: must be 1..={MAX_LIMIT}")).field("limit"),
        );
    }
    let jobs = app
        .workflows
        .list(&JobQuery {
            service: p.service,
            status,
            limit,
        })
        .await?;
    Ok(Json(JobsPage { jobs }))
}
