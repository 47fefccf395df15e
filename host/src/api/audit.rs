//! Handlers for the command policy: `GET /api/audit` (the decisions, newest first, filtered and
//! paged) and `POST /api/policy/evaluate` (a dry run: the decision for a command, audited with the
//! caller's origin, nothing run). Adapters over `ops::Ops` (`ops/policy.rs`).

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::{Body, Origin, Query};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{AuditPage, AuditParams, PolicyCheckRequest, PolicyCheckResponse};

#[utoipa::path(
    get,
    path = "/audit",
    params(AuditParams),
    responses((status = 200, description = "OK", body = AuditPage)),
)]
pub async fn list(
    State(app): State<AppState>,
    Query(p): Query<AuditParams>,
) -> Result<Json<AuditPage>, Error> {
    Ok(Json(app.ops.audit(&p).await?))
}

#[utoipa::path(
    post,
    path = "/policy/evaluate",
    request_body = PolicyCheckRequest,
    responses(
        (status = 200, description = "The decision (nothing is run)", body = PolicyCheckResponse),
        (status = 404, description = "No such service", body = ErrorBody),
    ),
)]
pub async fn evaluate(
    State(app): State<AppState>,
    Origin(origin): Origin,
    Body(req): Body<PolicyCheckRequest>,
) -> Result<Json<PolicyCheckResponse>, Error> {
    Ok(Json(app.ops.evaluate_policy(req, origin).await?))
}
