//! `/api/caddy/config` (what would be applied, and what was) and `/api/caddy/reload` (apply now).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{ApiError, AppState};
use crate::caddy::ReloadError;
use crate::wire::{CaddyConfigView, CaddyReloadReport};

pub async fn config(State(app): State<AppState>) -> Json<CaddyConfigView> {
    Json(app.caddy.view().await)
}

/// Applies now, even when nothing changed. A failure answers 502 with the reason (the last good
/// configuration stays in force and the retry schedule continues); a disabled integration, 409.
pub async fn reload(State(app): State<AppState>) -> Result<Json<CaddyReloadReport>, ApiError> {
    match app.caddy.reload().await {
        Ok(action) => Ok(Json(CaddyReloadReport {
            action,
            status: app.caddy.status(),
        })),
        Err(e @ ReloadError::Disabled) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "caddy_disabled",
            e.to_string(),
        )),
        Err(ReloadError::Failed(message)) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "caddy_failed",
            message,
        )),
    }
}
