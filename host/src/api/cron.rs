//! Handlers for `/api/cron/...`: job registration, runs and stops, execution history, the compat tick,
//! the overview and schedule validation. Adapters over `ops::Ops` (`ops/cron.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::extract::{Body, ExecutionId, JsonBody, Name, Query};
use crate::ops::Error;
use crate::wire::{
    CronActionResponse, CronJobSpec, CronJobView, CronStatus, Execution, ExecutionParams,
    ExecutionsPage, TickResponse, ValidateParams, ValidateResponse,
};

type Answer<T> = Result<Json<T>, Error>;

pub async fn list(State(app): State<AppState>) -> Json<Vec<CronJobView>> {
    Json(app.ops.cron_jobs())
}

pub async fn create(
    State(app): State<AppState>,
    Body(spec): Body<CronJobSpec>,
) -> Result<(StatusCode, Json<CronJobView>), Error> {
    Ok((
        StatusCode::CREATED,
        Json(app.ops.create_cron_job(spec).await?),
    ))
}

pub async fn get(State(app): State<AppState>, Name(name): Name) -> Answer<CronJobView> {
    Ok(Json(app.ops.cron_job(&name)?))
}

pub async fn replace(
    State(app): State<AppState>,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Answer<CronJobView> {
    Ok(Json(app.ops.replace_cron_job(&name, body).await?))
}

pub async fn delete(State(app): State<AppState>, Name(name): Name) -> Answer<CronActionResponse> {
    Ok(Json(app.ops.remove_cron_job(&name).await?))
}

/// `202 Accepted` with the execution: running, queued, or skipped under the overlap policy.
pub async fn run(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<(StatusCode, Json<Execution>), Error> {
    Ok((
        StatusCode::ACCEPTED,
        Json(app.ops.run_cron_job(&name).await?),
    ))
}

/// Answers once every stopped execution's process tree is gone.
pub async fn stop(State(app): State<AppState>, Name(name): Name) -> Answer<CronActionResponse> {
    Ok(Json(app.ops.stop_cron_job(&name).await?))
}

pub async fn executions(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<ExecutionParams>,
) -> Answer<ExecutionsPage> {
    Ok(Json(app.ops.cron_executions(&name, &p).await?))
}

/// One execution; while it runs, with its output so far.
pub async fn execution(
    State(app): State<AppState>,
    Name(name): Name,
    ExecutionId(id): ExecutionId,
) -> Answer<Execution> {
    Ok(Json(app.ops.cron_execution(&name, id).await?))
}

pub async fn tick(State(app): State<AppState>) -> Answer<TickResponse> {
    Ok(Json(app.ops.cron_tick().await?))
}

pub async fn status(State(app): State<AppState>) -> Json<CronStatus> {
    Json(app.ops.cron_status())
}

/// 422 `invalid` naming `schedule`, `timezone` or `count` when one is wrong.
pub async fn validate(
    State(app): State<AppState>,
    Query(p): Query<ValidateParams>,
) -> Answer<ValidateResponse> {
    Ok(Json(app.ops.validate_schedule(&p)?))
}
