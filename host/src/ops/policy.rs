//! The command policy: the audit trail (newest first, filtered, paged) and the dry run (the decision
//! for a command, audited, nothing run). Behaviour is `policy::Policy`'s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Error, Ops, Result};
use crate::policy::Ask;
use crate::store::AuditQuery;
use crate::wire::{
    AuditPage, AuditParams, Decision, Origin, PolicyCheckRequest, PolicyCheckResponse,
};
use crate::workflow::command_argv;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Longest audit search text (`q`).
const MAX_TEXT: usize = 1024;
/// Longest command of a dry run: a workflow step's limit (`workflow/plan.rs`), as every run is asked.
const MAX_COMMAND_BYTES: usize = 8 * 1024;
/// Longest `cwd` (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;

impl Ops {
    pub async fn audit(&self, p: &AuditParams) -> Result<AuditPage> {
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if p.q
            .as_ref()
            .is_some_and(|q| q.is_empty() || q.len() > MAX_TEXT)
        {
            return Err(Error::invalid(
                "q",
                format!("a search text of 1 to {MAX_TEXT} bytes"),
            ));
        }
        let entries = self
            .store
            .list_audit(&AuditQuery {
                service: p.service.clone(),
                decision: p.decision,
                origin: p.origin.map(|o| o.as_str().to_string()),
                text: p.q.clone(),
                before_id: p.before_id,
                limit,
            })
            .await?;
        let next_before_id = (entries.len() == limit as usize)
            .then(|| entries.last().map(|e| e.id))
            .flatten();
        Ok(AuditPage {
            entries,
            next_before_id,
        })
    }

    /// The decision for a command, as a workflow step of `service` would get it (its working dir and
    /// environment), without running anything. Audited with `origin`.
    pub async fn evaluate_policy(
        &self,
        req: PolicyCheckRequest,
        origin: Origin,
    ) -> Result<PolicyCheckResponse> {
        // Audited as given: the same bounds as a workflow step's command and a path.
        if req.command.command.len() > MAX_COMMAND_BYTES {
            return Err(Error::invalid(
                "command.command",
                format!("at most {MAX_COMMAND_BYTES} bytes"),
            ));
        }
        if let Some(cwd) = &req.cwd
            && cwd.as_os_str().len() > MAX_PATH_BYTES
        {
            return Err(Error::invalid(
                "cwd",
                format!("at most {MAX_PATH_BYTES} bytes"),
            ));
        }
        let argv = command_argv(&req.command).map_err(|m| Error::invalid("command.command", m))?;
        if let Some(cwd) = &req.cwd
            && !cwd.is_absolute()
        {
            return Err(Error::invalid("cwd", "must be an absolute path"));
        }
        let (vars, service_dir) = match &req.service {
            None => (BTreeMap::new(), None),
            Some(name) => {
                crate::spec::validate_name(name)
                    .map_err(|e| Error::invalid("service", e.message))?;
                let view = self
                    .sup
                    .get(name)
                    .map_err(|e| Error::from(e).with_field("service"))?;
                let vars = crate::spec::service_env(&view.spec).map_err(|e| {
                    Error::invalid(
                        "service",
                        format!("the service's {} is invalid: {}", e.field, e.message),
                    )
                })?;
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
        let detailed = self
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
        Ok(PolicyCheckResponse {
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
        })
    }
}
