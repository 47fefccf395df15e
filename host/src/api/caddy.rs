//! `/api/caddy/config` (what would be applied, and what was) and `/api/caddy/reload` (apply now).
//! Adapters over `ops::Ops` (`ops/plugins.rs`): a failed apply is 502 `unavailable`, a disabled
//! integration 409 `conflict`.

use axum::Json;
use axum::extract::State;

use super::AppState;
use crate::ops::Error;
use crate::wire::{CaddyConfigView, CaddyReloadReport};

pub async fn config(State(app): State<AppState>) -> Json<CaddyConfigView> {
    Json(app.ops.caddy_config().await)
}

pub async fn reload(State(app): State<AppState>) -> Result<Json<CaddyReloadReport>, Error> {
    Ok(Json(app.ops.caddy_reload().await?))
}
