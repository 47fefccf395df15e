//! `/api/plugins`: list, inspect and reload plugins. Adapters over `ops::Ops` (`ops/plugins.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::Id;
use crate::ops::Error;
use crate::wire::{PluginInfo, ReloadReport};

#[utoipa::path(
    get,
    path = "/plugins",
    responses((status = 200, description = "OK", body = Vec<PluginInfo>)),
)]
pub async fn list(State(app): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(app.ops.plugins())
}

#[utoipa::path(
    get,
    path = "/plugins/{name}",
    params(("name" = String, Path, description = "Plugin name")),
    responses((status = 200, description = "OK", body = PluginInfo)),
)]
pub async fn get(State(app): State<AppState>, Id(name): Id) -> Result<Json<PluginInfo>, Error> {
    Ok(Json(app.ops.plugin(&name)?))
}

#[utoipa::path(
    post,
    path = "/plugins/reload",
    responses((status = 200, description = "OK", body = ReloadReport)),
)]
pub async fn reload(State(app): State<AppState>) -> Json<ReloadReport> {
    Json(app.ops.reload_plugins().await)
}
