//! Handlers for `/api/services/...`: registration, actions, logs, events, health of one service.
//! Adapters over `ops::Ops` (`ops/services.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::extract::{Body, JsonBody, Name, Query};
use crate::ops::Error;
use crate::wire::{
    Action, ActionResponse, EventParams, EventsPage, HealthReport, LogParams, LogsPage,
    ServiceSpec, ServiceView,
};

type Answer<T> = Result<Json<T>, Error>;

pub async fn list(State(app): State<AppState>) -> Json<Vec<ServiceView>> {
    Json(app.ops.services())
}

pub async fn create(
    State(app): State<AppState>,
    Body(spec): Body<ServiceSpec>,
) -> Result<(StatusCode, Json<ServiceView>), Error> {
    Ok((
        StatusCode::CREATED,
        Json(app.ops.create_service(spec).await?),
    ))
}

pub async fn get(State(app): State<AppState>, Name(name): Name) -> Answer<ServiceView> {
    Ok(Json(app.ops.service(&name)?))
}

pub async fn replace(
    State(app): State<AppState>,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Answer<ServiceView> {
    Ok(Json(app.ops.replace_service(&name, body).await?))
}

pub async fn delete(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.remove_service(&name).await?))
}

pub async fn start(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.act(&name, Action::Start).await?))
}

pub async fn stop(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.act(&name, Action::Stop).await?))
}

pub async fn restart(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.act(&name, Action::Restart).await?))
}

pub async fn logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<LogParams>,
) -> Answer<LogsPage> {
    Ok(Json(app.ops.logs(&name, &p).await?))
}

pub async fn events(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<EventParams>,
) -> Answer<EventsPage> {
    Ok(Json(app.ops.events(&name, &p).await?))
}

pub async fn health(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<EventParams>,
) -> Answer<HealthReport> {
    Ok(Json(app.ops.health(&name, &p).await?))
}
