//! Handlers for auto-fix: `POST /api/services/{name}/fix`, `POST /api/cron/{name}/fix`,
//! `GET /api/services/{name}/fixes`, `GET /api/cron/{name}/fixes`, `GET /api/fixes/{id}`,
//! `POST /api/fixes/{id}/approve|reject|restore`. Adapters over `ops::Ops` (`ops/fixes.rs`); what is
//! HTTP here: an optional body, 202 + `Location` for a new fix, 200 for the running one it joined.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::{Id, IdPath, Name, NamePath, Origin};
use crate::fix::Started;
use crate::ops::{self, Error};
use crate::wire::ErrorBody;
use crate::wire::{Code, FixRequest, FixView, FixesPage, TargetKind};

/// The body is optional: empty means the defaults; otherwise it is JSON like every other body.
fn request(headers: &HeaderMap, body: &Bytes) -> Result<FixRequest, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(FixRequest::default());
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Error::new(
            Code::UnsupportedMediaType,
            "expected a body with Content-Type: application/json (or no body)",
        ));
    }
    ops::typed(ops::json(body)?)
}

fn started(s: Started) -> Result<Response, Error> {
    Ok(match s {
        Started::New(fix) => {
            let location = HeaderValue::from_str(&format!("/api/fixes/{}", fix.id))
                .map_err(Error::internal)?;
            (StatusCode::ACCEPTED, [(LOCATION, location)], Json(fix)).into_response()
        }
        Started::Running(fix) => (StatusCode::OK, Json(fix)).into_response(),
    })
}

#[utoipa::path(
    post,
    path = "/services/{name}/fix",
    params(NamePath),
    request_body(content = Option<FixRequest>, description = "Optional; empty means the defaults"),
    responses(
        (status = 202, description = "A new fix", body = FixView, headers(("Location" = String, description = "/api/fixes/{id}"))),
        (status = 200, description = "The running fix it joined", body = FixView),
        (status = 409, description = "Auto-fix is off or not possible now", body = ErrorBody),
    ),
)]
pub async fn fix_service(
    State(app): State<AppState>,
    Name(name): Name,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let req = request(&headers, &body)?;
    started(app.ops.fix(TargetKind::Service, &name, req, origin).await?)
}

#[utoipa::path(
    post,
    path = "/cron/{name}/fix",
    params(NamePath),
    request_body(content = Option<FixRequest>, description = "Optional; empty means the defaults"),
    responses(
        (status = 202, description = "A new fix", body = FixView, headers(("Location" = String, description = "/api/fixes/{id}"))),
        (status = 200, description = "The running fix it joined", body = FixView),
        (status = 409, description = "Auto-fix is off or not possible now", body = ErrorBody),
    ),
)]
pub async fn fix_cron(
    State(app): State<AppState>,
    Name(name): Name,
    Origin(origin): Origin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let req = request(&headers, &body)?;
    started(app.ops.fix(TargetKind::CronJob, &name, req, origin).await?)
}

#[utoipa::path(
    get,
    path = "/services/{name}/fixes",
    params(NamePath),
    responses((status = 200, description = "OK", body = FixesPage)),
)]
pub async fn service_fixes(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<FixesPage>, Error> {
    Ok(Json(app.ops.fixes(TargetKind::Service, &name).await?))
}

#[utoipa::path(
    get,
    path = "/cron/{name}/fixes",
    params(NamePath),
    responses((status = 200, description = "OK", body = FixesPage)),
)]
pub async fn cron_fixes(
    State(app): State<AppState>,
    Name(name): Name,
) -> Result<Json<FixesPage>, Error> {
    Ok(Json(app.ops.fixes(TargetKind::CronJob, &name).await?))
}

#[utoipa::path(
    get,
    path = "/fixes/{id}",
    params(IdPath),
    responses((status = 200, description = "OK", body = FixView)),
)]
pub async fn get(State(app): State<AppState>, Id(id): Id) -> Result<Json<FixView>, Error> {
    Ok(Json(app.ops.fix_record(&id).await?))
}

/// 202: the approved fix is applied in the background.
#[utoipa::path(
    post,
    path = "/fixes/{id}/approve",
    params(IdPath),
    responses(
        (status = 202, description = "Approved; applied in the background", body = FixView),
        (status = 409, description = "Not awaiting approval", body = ErrorBody),
    ),
)]
pub async fn approve(
    State(app): State<AppState>,
    Id(id): Id,
    Origin(origin): Origin,
) -> Result<Response, Error> {
    let fix = app.ops.approve_fix(&id, origin).await?;
    Ok((StatusCode::ACCEPTED, Json(fix)).into_response())
}

#[utoipa::path(
    post,
    path = "/fixes/{id}/reject",
    params(IdPath),
    responses(
        (status = 200, description = "OK", body = FixView),
        (status = 409, description = "Not awaiting approval", body = ErrorBody),
    ),
)]
pub async fn reject(
    State(app): State<AppState>,
    Id(id): Id,
    Origin(origin): Origin,
) -> Result<Json<FixView>, Error> {
    Ok(Json(app.ops.reject_fix(&id, origin).await?))
}

/// 200 with the restore record (itself restorable).
#[utoipa::path(
    post,
    path = "/fixes/{id}/restore",
    params(IdPath),
    responses(
        (status = 200, description = "The restore record", body = FixView),
        (status = 409, description = "Nothing to restore", body = ErrorBody),
    ),
)]
pub async fn restore(
    State(app): State<AppState>,
    Id(id): Id,
    Origin(origin): Origin,
) -> Result<Json<FixView>, Error> {
    Ok(Json(app.ops.restore_fix(&id, origin).await?))
}
