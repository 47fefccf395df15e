//! Handlers for the command policy: `GET /api/audit` (the decisions, newest first, filtered and
//! paged) and `POST /api/policy/evaluate` (a dry run: the decision for a command, audited with
//! origin `rest`, nothing run). Behaviour lives in `crate::policy::Policy`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::extract::{JsonBody, Origin, Query, typed};
use crate::policy::Ask;
use crate::store::AuditQuery;
use crate::wire::{AuditPage, Decision, PolicyCheckRequest, PolicyCheckResponse};
use crate::workflow::command_argv;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub service: Option<String>,
    pub decision: Option<Decision>,
    pub origin: Option<String>,
    pub limit: Option<u32>,
    pub before_id: Option<i64>,
}

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub async fn list(
    State(app): State<AppState>,
    Query(p): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(
            ApiError::bad_request(format!("limit: must be between 1 and {MAX_LIMIT}"))
                .field("limit"),
        );
    }
    let entries = app
        .store
        .list_audit(&AuditQuery {
            service: p.service,
            decision: p.decision,
            origin: p.origin,
            before_id: p.before_id,
            limit,
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot read the policy audit");
            ApiError::internal()
        })?;
    let next_before_id = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before_id,
    }))
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        format!("{field}: {message}"),
    )
    .field(field)
}

/// The decision for a command, as a workflow step of `service` would get it (its working dir and
/// environment), without running anything.
pub async fn evaluate(
    State(app): State<AppState>,
    Origin(origin): Origin,
    JsonBody(body): JsonBody,
) -> Result<Json<PolicyCheckResponse>, ApiError> {
    let req: PolicyCheckRequest = typed(body)?;
    let argv = command_argv(&req.command).map_err(|m| invalid("command.command", m))?;
    if let Some(cwd) = &req.cwd
        && !cwd.is_absolute()
    {
        return Err(invalid("cwd", "must be an absolute path"));
    }
    let (vars, service_dir) = match &req.service {
        None => (BTreeMap::new(), None),
        Some(name) => {
            crate::spec::validate_name(name).map_err(|e| {
                ApiError::bad_request(format!("service: {}", e.message)).field("service")
            })?;
            let view = app
                .sup
                .get(name)
                .map_err(|e| ApiError::from(e).field("service"))?;
            let vars = crate::spec::service_env(&view.spec)
                .map_err(|e| invalid("service", format!("{}: {}", e.field, e.message)))?;
            (vars, view.spec.working_dir.clone())
        }
    };
    // As the workflow runner does: the service's working dir, else the daemon's own.
    let cwd = req
        .cwd
        .clone()
        .or(service_dir)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"));
    let detailed = app
        .policy
        .evaluate_detailed(
            Ask {
                command: &req.command,
                argv: &argv,
                cwd: &cwd,
                service: req.service.as_deref().unwrap_or(""),
                vars: &vars,
                origin,
            },
            req.service.as_deref(),
        )
        .await;
    let v = detailed.verdict;
    Ok(Json(PolicyCheckResponse {
        allowed: v.allowed,
        decision: if v.allowed {
            Decision::Allow
        } else {
            Decision::Deny
        },
        reason: v.reason,
        plugin: detailed.plugin,
        plugin_version: detailed.plugin_version,
        audit_id: v.audit_id,
        argv,
        cwd: cwd.to_string_lossy().into_owned(),
    }))
}
