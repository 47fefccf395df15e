//! `/api/plugins`: list, inspect and reload plugins. Thin: everything is `PluginHost`'s.

use axum::Json;
use axum::extract::{Path, State};

use super::{ApiError, AppState};
use crate::wire::{PluginInfo, ReloadReport};

pub async fn list(State(app): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(app.plugins.list())
}

pub async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    app.plugins
        .info(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no plugin named {name:?}")))
}

pub async fn reload(State(app): State<AppState>) -> Json<ReloadReport> {
    Json(app.plugins.reload().await)
}
