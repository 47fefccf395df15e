//! `GET /api/graph`: the services' dependency graph (nodes with their state, edges with their
//! condition and whether it holds, the start order). An adapter over `Ops::graph`
//! (`ops/services.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use crate::wire::Graph;

#[utoipa::path(
    get,
    path = "/graph",
    responses((status = 200, description = "The dependency graph: nodes with their state, edges with their condition, the start order in groups", body = Graph)),
)]
pub async fn get(State(app): State<AppState>) -> Json<Graph> {
    Json(app.ops.graph())
}
