//! `POST /api/import`: an adapter over `ops::Ops::import` (`ops/import.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::Body;
use crate::ops::Error;
use crate::wire::{ErrorBody, ImportRequest, ImportResult};

#[utoipa::path(
    post,
    path = "/import",
    request_body = ImportRequest,
    responses(
        (status = 200, description = "The services registered (or, with `dry_run`, that would be), dependencies first, and every field not carried over", body = ImportResult),
        (status = 409, description = "A service of the file has the name of a registered one; nothing was registered", body = ErrorBody),
    ),
)]
pub async fn import(
    State(app): State<AppState>,
    Body(request): Body<ImportRequest>,
) -> Result<Json<ImportResult>, Error> {
    Ok(Json(app.ops.import(request).await?))
}
