//! `POST /api/import`: an adapter over `ops::Ops::import` (`ops/import.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::Body;
use crate::ops::Error;
use crate::wire::{ImportRequest, ImportResult};

pub async fn import(
    State(app): State<AppState>,
    Body(request): Body<ImportRequest>,
) -> Result<Json<ImportResult>, Error> {
    Ok(Json(app.ops.import(request).await?))
}
