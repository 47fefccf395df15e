//! Auto-fix operations: manual triggers, the fix records, approve / reject / restore. Behaviour is
//! `fix::Fixer`'s; here the request is checked (naming the field) and the answers shaped.

use super::{Error, Ops, Result};
use crate::fix::{Started, Trigger};
use crate::wire::{FixRequest, FixView, FixesPage, IncidentKind, Origin, TargetKind};

/// Fix records a listing answers.
const LIST_LIMIT: u32 = 100;

impl Ops {
    /// `POST /api/services/{name}/fix`, `POST /api/cron/{name}/fix`: a new fix (running in the
    /// background) or the target's running one.
    pub async fn fix(
        &self,
        target: TargetKind,
        name: &str,
        request: FixRequest,
        origin: Origin,
    ) -> Result<Started> {
        if let Some(m) = &request.model
            && (m.trim().is_empty() || m.len() > 64 || m.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "model",
                "a model name of [llm.models]: 1 to 64 characters, no control characters",
            ));
        }
        Ok(self
            .fixer
            .trigger(Trigger {
                kind: IncidentKind::Manual,
                target,
                name: name.to_string(),
                origin,
                model: request.model,
                health_message: None,
            })
            .await?)
    }

    /// A target's fixes, newest first.
    pub async fn fixes(&self, target: TargetKind, name: &str) -> Result<FixesPage> {
        Ok(FixesPage {
            fixes: self.fixer.list(target, name, LIST_LIMIT).await?,
        })
    }

    pub async fn fix_record(&self, id: &str) -> Result<FixView> {
        Ok(self.fixer.get(id).await?)
    }

    pub async fn approve_fix(&self, id: &str, origin: Origin) -> Result<FixView> {
        Ok(self.fixer.approve(id, origin).await?)
    }

    pub async fn reject_fix(&self, id: &str, origin: Origin) -> Result<FixView> {
        Ok(self.fixer.reject(id, origin).await?)
    }

    pub async fn restore_fix(&self, id: &str, origin: Origin) -> Result<FixView> {
        Ok(self.fixer.restore(id, origin).await?)
    }
}
