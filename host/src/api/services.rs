//! Handlers for `/api/services/...`: registration, actions, logs and events of one service.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Name, Query, typed};
use crate::store::LogQuery;
use crate::supervisor::Action;
use crate::wire::{ActionResponse, Event, HealthReport, LogLine, ServiceSpec, ServiceView, Stream};

pub async fn list(State(app): State<AppState>) -> Json<Vec<ServiceView>> {
    Json(app.sup.list())
}

pub async fn create(
    State(app): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<ServiceView>), ApiError> {
    let spec: ServiceSpec = typed(body)?;
    Ok((StatusCode::CREATED, Json(app.sup.create(spec).await?)))
}

pub async fn get(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<ServiceView>, ApiError> {
    Ok(Json(app.sup.get(&name)?))
}

pub async fn replace(
    State(app): State<AppState>,
    Name(name): Name,
    JsonBody(mut body): JsonBody,
) -> Result<Json<ServiceView>, ApiError> {
    // Ownership first: a service defined in the config file cannot be changed here, whatever the body.
    app.sup.check_editable(&name)?;
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    // The view's read-only fields are accepted and ignored, so GET, edit, PUT works.
    for field in crate::wire::VIEW_ONLY_FIELDS {
        obj.remove(*field);
    }
    match obj.get("name") {
        None => {
            obj.insert("name".into(), name.clone().into());
        }
        Some(serde_json::Value::String(n)) if *n == name => {}
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "name: must be {name:?}, as in the path (services cannot be renamed)"
            ))
            .field("name"));
        }
    }
    let spec: ServiceSpec = typed(body)?;
    Ok(Json(app.sup.update(spec).await?))
}

pub async fn delete(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<ActionResponse>, ApiError> {
    let state = app.sup.remove(&name).await?;
    Ok(Json(ActionResponse {
        name,
        action: "delete".into(),
        state,
    }))
}

async fn act(
    app: AppState,
    name: String,
    action: Action,
    label: &str,
) -> Result<Json<ActionResponse>, ApiError> {
    let state = app.sup.act(&name, action).await?;
    Ok(Json(ActionResponse {
        name,
        action: label.into(),
        state,
    }))
}

pub async fn start(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<ActionResponse>, ApiError> {
    act(app, name, Action::Start, "start").await
}

pub async fn stop(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<ActionResponse>, ApiError> {
    act(app, name, Action::Stop, "stop").await
}

pub async fn restart(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<ActionResponse>, ApiError> {
    act(app, name, Action::Restart, "restart").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    pub tail: Option<u32>,
    pub after_id: Option<i64>,
    pub limit: Option<u32>,
    pub stream: Option<Stream>,
    pub since: Option<String>,
}

const MAX_LINES: u32 = 10_000;

pub fn log_query(name: &str, p: &LogParams, default_tail: u32) -> Result<LogQuery, ApiError> {
    if let Some(since) = &p.since {
        chrono::DateTime::parse_from_rfc3339(since).map_err(|e| {
            ApiError::bad_request(format!("since: not an RFC 3339 time: {e}")).field("since")
        })?;
    }
    for (field, v) in [("tail", p.tail), ("limit", p.limit)] {
        if v.is_some_and(|v| v > MAX_LINES) {
            return Err(
                ApiError::bad_request(format!("{field}: at most {MAX_LINES}")).field(field),
            );
        }
    }
    let since = p.since.as_deref().map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| crate::store::fmt_time(t.with_timezone(&chrono::Utc)))
            .unwrap_or_default()
    });
    let (tail, limit) = match (p.after_id, p.tail) {
        (Some(_), Some(_)) => {
            return Err(
                ApiError::bad_request("tail and after_id cannot be combined").field("tail"),
            );
        }
        (Some(_), None) => (None, p.limit.unwrap_or(MAX_LINES)),
        (None, tail) => (
            Some(tail.unwrap_or(default_tail)),
            p.limit.unwrap_or(MAX_LINES),
        ),
    };
    Ok(LogQuery {
        service: name.to_string(),
        stream: p.stream,
        since,
        after_id: p.after_id,
        tail,
        limit,
    })
}

#[derive(serde::Serialize)]
pub struct LogsResponse {
    lines: Vec<LogLine>,
}

pub async fn logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(params): Query<LogParams>,
) -> Result<Json<LogsResponse>, ApiError> {
    app.sup.get(&name)?;
    let q = log_query(&name, &params, 100)?;
    let lines = app.store.query_logs(&q).await.map_err(|e| {
        tracing::error!(error = %e, "log query failed");
        ApiError::internal()
    })?;
    Ok(Json(LogsResponse { lines }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    pub limit: Option<u32>,
}

#[derive(serde::Serialize)]
pub struct EventsResponse {
    events: Vec<Event>,
}

pub async fn events(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<EventParams>,
) -> Result<Json<EventsResponse>, ApiError> {
    app.sup.get(&name)?;
    let limit = p.limit.unwrap_or(100).min(MAX_LINES);
    Ok(Json(EventsResponse {
        events: app.sup.events(Some(&name), limit).await?,
    }))
}

pub async fn health(
    State(app): State<AppState>,
    Name(name): Name,
    Query(p): Query<EventParams>,
) -> Result<Json<HealthReport>, ApiError> {
    let limit = p.limit.unwrap_or(100).min(MAX_LINES);
    Ok(Json(app.sup.health(&name, limit).await?))
}
