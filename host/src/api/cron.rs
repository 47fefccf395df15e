//! Handlers for `/api/cron/...`: job registration, runs and stops, execution history, the compat tick,
//! the overview and schedule validation. Adapters over `ops::Ops` (`ops/cron.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::extract::{Body, ExecutionId, JsonBody, Name, NamePath, Query};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{
    CronActionResponse, CronJobSpec, CronJobView, CronStatus, Execution, ExecutionParams,
    ExecutionsPage, TickResponse, ValidateParams, ValidateResponse,
};

type Answer<T> = Result<Json<T>, Error>;

#[utoipa::path(
    get,
    path = "/cron",
    responses((status = 200, description = "OK", body = Vec<CronJobView>)),
)]
pub async fn list(State(app): State<AppState>) -> Json<Vec<CronJobView>> {
    Json(app.ops.cron_jobs())
}

#[utoipa::path(
    post,
    path = "/cron",
    request_body = CronJobSpec,
    responses(
        (status = 201, description = "Registered", body = CronJobView),
        (status = 409, description = "A job of that name exists", body = ErrorBody),
    ),
)]
pub async fn create(
    State(app): State<AppState>,
    Body(spec): Body<CronJobSpec>,
) -> Result<(StatusCode, Json<CronJobView>), Error> {
    Ok((
        StatusCode::CREATED,
        Json(app.ops.create_cron_job(spec).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/cron/{name}",
    params(NamePath),
    responses((status = 200, description = "OK", body = CronJobView)),
)]
pub async fn get(State(app): State<AppState>, Name(name): Name) -> Answer<CronJobView> {
    Ok(Json(app.ops.cron_job(&name)?))
}

#[utoipa::path(
    put,
    path = "/cron/{name}",
    params(NamePath),
    request_body = CronJobSpec,
    responses(
        (status = 200, description = "OK", body = CronJobView),
        (status = 409, description = "Owned by tend.toml", body = ErrorBody),
    ),
)]
pub async fn replace(
    State(app): State<AppState>,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Answer<CronJobView> {
    Ok(Json(app.ops.replace_cron_job(&name, body).await?))
}

#[utoipa::path(
    delete,
    path = "/cron/{name}",
    params(NamePath),
    responses(
        (status = 200, description = "OK", body = CronActionResponse),
        (status = 409, description = "Owned by tend.toml", body = ErrorBody),
    ),
)]
pub async fn delete(State(app): State<AppState>, Name(name): Name) -> Answer<CronActionResponse> {
    Ok(Json(app.ops.remove_cron_job(&name).await?))
}

/// `202 Accepted` with the execution: running, queued, or skipped under the overlap policy.
#[utoipa::path(
    post,
    path = "/cron/{name}/run",
    params(NamePath),
    responses(
        (status = 202, description = "Running, queued or skipped under the overlap policy", body = Execution),
        (status = 409, description = "Not possible now", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/cron/{name}/stop",
    params(NamePath),
    responses((status = 200, description = "OK", body = CronActionResponse)),
)]
pub async fn stop(State(app): State<AppState>, Name(name): Name) -> Answer<CronActionResponse> {
    Ok(Json(app.ops.stop_cron_job(&name).await?))
}

#[utoipa::path(
    get,
    path = "/cron/{name}/executions",
    params(
        NamePath,
        ExecutionParams,
    ),
    responses((status = 200, description = "OK", body = ExecutionsPage)),
)]
pub async fn executions(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<ExecutionParams>,
) -> Answer<ExecutionsPage> {
    Ok(Json(app.ops.cron_executions(&name, &p).await?))
}

/// One execution; while it runs, with its output so far.
#[utoipa::path(
    get,
    path = "/cron/{name}/executions/{id}",
    params(
        NamePath,
        ("id" = i64, Path, description = "Execution id"),
    ),
    responses((status = 200, description = "OK", body = Execution)),
)]
pub async fn execution(
    State(app): State<AppState>,
    Name(name): Name,
    ExecutionId(id): ExecutionId,
) -> Answer<Execution> {
    Ok(Json(app.ops.cron_execution(&name, id).await?))
}

#[utoipa::path(
    post,
    path = "/cron/tick",
    responses((status = 200, description = "OK", body = TickResponse)),
)]
pub async fn tick(State(app): State<AppState>) -> Answer<TickResponse> {
    Ok(Json(app.ops.cron_tick().await?))
}

#[utoipa::path(
    get,
    path = "/cron/status",
    responses((status = 200, description = "OK", body = CronStatus)),
)]
pub async fn status(State(app): State<AppState>) -> Json<CronStatus> {
    Json(app.ops.cron_status())
}

/// 422 `invalid` naming `schedule`, `timezone` or `count` when one is wrong.
#[utoipa::path(
    get,
    path = "/cron/validate",
    params(ValidateParams),
    responses((status = 200, description = "OK", body = ValidateResponse)),
)]
pub async fn validate(
    State(app): State<AppState>,
    Query(p): Query<ValidateParams>,
) -> Answer<ValidateResponse> {
    Ok(Json(app.ops.validate_schedule(&p)?))
}
