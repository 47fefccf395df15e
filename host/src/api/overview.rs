//! `GET /api/overview`: the dashboard overview's figures for every service in one answer. An adapter
//! over `Ops::overview` (`ops/overview.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use crate::ops::Error;
use crate::wire::Overview;

#[utoipa::path(
    get,
    path = "/overview",
    responses((status = 200, description = "OK", body = Overview)),
)]
pub async fn get(State(app): State<AppState>) -> Result<Json<Overview>, Error> {
    Ok(Json(app.ops.overview().await?))
}
