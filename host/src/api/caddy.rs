//! `/api/caddy/config` (what would be applied, and what was) and `/api/caddy/reload` (apply now).
//! Adapters over `ops::Ops` (`ops/plugins.rs`): a failed apply is 502 `unavailable`, a disabled
//! integration 409 `conflict`.

use axum::Json;
use axum::extract::State;

use super::AppState;
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{CaddyConfigView, CaddyReloadReport};

#[utoipa::path(
    get,
    path = "/caddy/config",
    responses((status = 200, description = "OK", body = CaddyConfigView)),
)]
pub async fn config(State(app): State<AppState>) -> Json<CaddyConfigView> {
    Json(app.ops.caddy_config().await)
}

#[utoipa::path(
    post,
    path = "/caddy/reload",
    responses(
        (status = 200, description = "OK", body = CaddyReloadReport),
        (status = 409, description = "The Caddy integration is disabled", body = ErrorBody),
        (status = 502, description = "Caddy refused or did not answer", body = ErrorBody),
    ),
)]
pub async fn reload(State(app): State<AppState>) -> Result<Json<CaddyReloadReport>, Error> {
    Ok(Json(app.ops.caddy_reload().await?))
}
