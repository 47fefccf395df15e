//! `/api/plugins`: list, inspect and reload plugins. Adapters over `ops::Ops` (`ops/plugins.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::Id;
use crate::ops::Error;
use crate::wire::{PluginInfo, ReloadReport};

pub async fn list(State(app): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(app.ops.plugins())
}

pub async fn get(State(app): State<AppState>, Id(name): Id) -> Result<Json<PluginInfo>, Error> {
    Ok(Json(app.ops.plugin(&name)?))
}

pub async fn reload(State(app): State<AppState>) -> Json<ReloadReport> {
    Json(app.ops.reload_plugins().await)
}
