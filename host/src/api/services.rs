//! Handlers for `/api/services/...`: registration, actions, logs (and their download), events, health
//! of one service. Adapters over `ops::Ops` (`ops/services.rs`, `ops/logs.rs`).

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::{Body, JsonBody, Name, NamePath, Query};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{
    Action, ActionResponse, DownloadParams, EventParams, EventsPage, HealthReport, LogParams,
    LogsPage, ServiceSpec, ServiceView,
};

type Answer<T> = Result<Json<T>, Error>;

#[utoipa::path(
    get,
    path = "/services",
    responses((status = 200, description = "Every service", body = Vec<ServiceView>)),
)]
pub async fn list(State(app): State<AppState>) -> Json<Vec<ServiceView>> {
    Json(app.ops.services())
}

#[utoipa::path(
    post,
    path = "/services",
    request_body = ServiceSpec,
    responses(
        (status = 201, description = "Registered (and started when enabled)", body = ServiceView),
        (status = 409, description = "A service of that name exists, or a dependency rule refuses it", body = ErrorBody),
    ),
)]
pub async fn create(
    State(app): State<AppState>,
    Body(spec): Body<ServiceSpec>,
) -> Result<(StatusCode, Json<ServiceView>), Error> {
    Ok((
        StatusCode::CREATED,
        Json(app.ops.create_service(spec).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/services/{name}",
    params(NamePath),
    responses((status = 200, description = "OK", body = ServiceView)),
)]
pub async fn get(State(app): State<AppState>, Name(name): Name) -> Answer<ServiceView> {
    Ok(Json(app.ops.service(&name)?))
}

#[utoipa::path(
    put,
    path = "/services/{name}",
    params(NamePath),
    request_body(content = ServiceSpec, description = "The new spec; a view's read-only fields may be present and are ignored"),
    responses(
        (status = 200, description = "Replaced (restarted when it was running)", body = ServiceView),
        (status = 409, description = "Owned by tend.toml, or a dependency rule refuses it", body = ErrorBody),
    ),
)]
pub async fn replace(
    State(app): State<AppState>,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Answer<ServiceView> {
    Ok(Json(app.ops.replace_service(&name, body).await?))
}

#[utoipa::path(
    delete,
    path = "/services/{name}",
    params(NamePath),
    responses(
        (status = 200, description = "Stopped and removed", body = ActionResponse),
        (status = 409, description = "Owned by tend.toml, or other services depend on it", body = ErrorBody),
    ),
)]
pub async fn delete(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.remove_service(&name).await?))
}

#[utoipa::path(
    post,
    path = "/services/{name}/start",
    params(NamePath),
    responses(
        (status = 200, description = "OK", body = ActionResponse),
        (status = 409, description = "Not possible in the current state", body = ErrorBody),
    ),
)]
pub async fn start(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.act(&name, Action::Start).await?))
}

#[utoipa::path(
    post,
    path = "/services/{name}/stop",
    params(NamePath),
    responses(
        (status = 200, description = "OK", body = ActionResponse),
        (status = 409, description = "Not possible in the current state", body = ErrorBody),
    ),
)]
pub async fn stop(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.act(&name, Action::Stop).await?))
}

#[utoipa::path(
    post,
    path = "/services/{name}/restart",
    params(NamePath),
    responses(
        (status = 200, description = "OK", body = ActionResponse),
        (status = 409, description = "Not possible in the current state", body = ErrorBody),
    ),
)]
pub async fn restart(State(app): State<AppState>, Name(name): Name) -> Answer<ActionResponse> {
    Ok(Json(app.ops.act(&name, Action::Restart).await?))
}

#[utoipa::path(
    get,
    path = "/services/{name}/logs",
    params(
        NamePath,
        LogParams,
    ),
    responses((status = 200, description = "OK", body = LogsPage)),
)]
pub async fn logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<LogParams>,
) -> Answer<LogsPage> {
    Ok(Json(app.ops.logs(&name, &p).await?))
}

/// `GET /api/services/{name}/logs/download`: every stored line as a `text/plain` attachment, streamed
/// from the store a page at a time. A store error part-way ends the body early (the status is already
/// sent), so the client sees a cut transfer rather than a complete-looking file; the daemon closing
/// ends it too.
#[utoipa::path(
    get,
    path = "/services/{name}/logs/download",
    params(
        NamePath,
        DownloadParams,
    ),
    responses(
        (status = 200, description = "Every stored line, as an attachment", content_type = "text/plain", body = String),
    ),
)]
pub async fn download_logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<DownloadParams>,
) -> Result<Response, Error> {
    let download = app.ops.download_logs(&name, &p)?;
    let closing = app.closing.clone();
    let chunks = futures_util::stream::unfold(download, move |mut d| {
        let closing = closing.clone();
        async move {
            if *closing.borrow() {
                return None;
            }
            match d.next_chunk().await? {
                Ok(text) => Some((Ok(bytes::Bytes::from(text)), d)),
                Err(e) => {
                    tracing::error!(error = %e, "log download cut short");
                    Some((Err(std::io::Error::other(e.message)), d))
                }
            }
        }
    });
    let disposition = format!("attachment; filename=\"{name}.log\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        HttpBody::from_stream(chunks),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/services/{name}/events",
    params(
        NamePath,
        EventParams,
    ),
    responses((status = 200, description = "OK", body = EventsPage)),
)]
pub async fn events(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<EventParams>,
) -> Answer<EventsPage> {
    Ok(Json(app.ops.events(&name, &p).await?))
}

#[utoipa::path(
    get,
    path = "/services/{name}/health",
    params(
        NamePath,
        EventParams,
    ),
    responses((status = 200, description = "OK", body = HealthReport)),
)]
pub async fn health(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<EventParams>,
) -> Answer<HealthReport> {
    Ok(Json(app.ops.health(&name, &p).await?))
}
