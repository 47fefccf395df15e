//! Handlers for `/api/cron/...`: job registration, runs and stops, execution history, the compat tick,
//! the overview and schedule validation. Behaviour lives in `crate::cron::Scheduler`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Name, Query, typed};
use crate::cron::CronError;
use crate::wire::{
    CronActionResponse, CronJobSpec, CronJobView, CronStatus, Execution, ExecutionsPage,
    TickResponse, ValidateResponse,
};

impl From<CronError> for ApiError {
    fn from(e: CronError) -> ApiError {
        match e {
            CronError::NotFound(_) => ApiError::not_found(e.to_string()),
            CronError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            CronError::Invalid(f) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", f.message).field(f.field)
            }
            CronError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                e.to_string(),
            ),
            CronError::Store(e) => {
                tracing::error!(error = %e, "store error");
                ApiError::internal()
            }
        }
    }
}

pub async fn list(State(app): State<AppState>) -> Json<Vec<CronJobView>> {
    Json(app.cron.list())
}

pub async fn create(
    State(app): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<CronJobView>), ApiError> {
    let spec: CronJobSpec = typed(body)?;
    Ok((StatusCode::CREATED, Json(app.cron.create(spec).await?)))
}

pub async fn get(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<CronJobView>, ApiError> {
    Ok(Json(app.cron.get(&name)?))
}

pub async fn replace(
    State(app): State<AppState>,
    Name(name): Name,
    JsonBody(mut body): JsonBody,
) -> Result<Json<CronJobView>, ApiError> {
    // Ownership first (404, or 409 for a job from the config file), whatever the body.
    app.cron.check_editable(&name)?;
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    // The view's read-only fields are accepted and ignored, so GET, edit, PUT works.
    for field in crate::wire::CRON_VIEW_ONLY_FIELDS {
        obj.remove(*field);
    }
    match obj.get("name") {
        None => {
            obj.insert("name".into(), name.clone().into());
        }
        Some(serde_json::Value::String(n)) if *n == name => {}
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "name: must be {name:?}, as in the path (cron jobs cannot be renamed)"
            ))
            .field("name"));
        }
    }
    let spec: CronJobSpec = typed(body)?;
    Ok(Json(app.cron.update(spec).await?))
}

pub async fn delete(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<CronActionResponse>, ApiError> {
    Ok(Json(app.cron.remove(&name).await?))
}

/// `202 Accepted` with the execution: running, queued, or skipped under the overlap policy.
pub async fn run(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<(StatusCode, Json<Execution>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(app.cron.run(&name).await?)))
}

/// Answers once every stopped execution's process tree is gone.
pub async fn stop(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<CronActionResponse>, ApiError> {
    Ok(Json(app.cron.stop(&name).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionParams {
    pub limit: Option<u32>,
    pub before_id: Option<i64>,
}

const DEFAULT_EXECUTIONS: u32 = 20;
const MAX_EXECUTIONS: u32 = 500;

pub async fn executions(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<ExecutionParams>,
) -> Result<Json<ExecutionsPage>, ApiError> {
    let limit = p.limit.unwrap_or(DEFAULT_EXECUTIONS);
    if limit == 0 || limit > MAX_EXECUTIONS {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {MAX_EXECUTIONS}"
        ))
        .field("limit"));
    }
    Ok(Json(app.cron.executions(&name, p.before_id, limit).await?))
}

pub async fn tick(State(app): State<AppState>) -> Result<Json<TickResponse>, ApiError> {
    Ok(Json(TickResponse {
        fired: app.cron.tick().await?,
    }))
}

pub async fn status(State(app): State<AppState>) -> Json<CronStatus> {
    Json(app.cron.status())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateParams {
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub count: Option<usize>,
}

const MAX_COUNT: usize = 100;

/// `400` naming `schedule` or `timezone` when either is wrong.
pub async fn validate(
    State(app): State<AppState>,
    Query(p): Query<ValidateParams>,
) -> Result<Json<ValidateResponse>, ApiError> {
    let Some(schedule) = p.schedule else {
        return Err(ApiError::bad_request("schedule: required").field("schedule"));
    };
    let count = p.count.unwrap_or(5);
    if count == 0 || count > MAX_COUNT {
        return Err(
            ApiError::bad_request(format!("count: must be between 1 and {MAX_COUNT}"))
                .field("count"),
        );
    }
    app.cron
        .validate(&schedule, p.timezone.as_deref(), count)
        .map(Json)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.message)).field(e.field))
}
