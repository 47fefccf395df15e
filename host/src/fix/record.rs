//! The fix engine's bookkeeping: the targets busy with a fix and their cooldowns, the fix records
//! (rewritten at every step) and their background jobs (kind `fix`), the `agent` events, and the end
//! of a fix whose task was cut short (timeout, panic: what it wrote is restored).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use super::{Inner, JOB_KIND, Key, backup, what};
use crate::failure::Failure;
use crate::store::{NewJob, now_rfc3339};
use crate::wire::{
    AgentEvent, CustomRestartRequest, FixKind, FixStatus, FixView, Payload, TargetKind,
};

impl Inner {
    pub(super) fn active(&self) -> std::sync::MutexGuard<'_, HashMap<Key, String>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn ended(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The target is free again; its cooldown starts.
    pub(super) fn finish(&self, key: &Key) {
        self.active().remove(key);
        self.ended().insert(key.clone(), Instant::now());
    }

    /// [`Inner::finish`] when fix `id` still holds the target's slot.
    pub(super) fn finish_if(&self, key: &Key, id: &str) {
        let mut active = self.active();
        if active.get(key).is_some_and(|a| a == id) {
            active.remove(key);
            drop(active);
            self.ended().insert(key.clone(), Instant::now());
        }
    }

    /// Records a background job for the fix (kind `fix`, no steps: the fix record has the detail).
    pub(super) async fn new_job(&self, fix: &FixView) -> Result<String, Failure> {
        let now = now_rfc3339();
        let id = self
            .store
            .insert_job(&NewJob {
                kind: JOB_KIND,
                service: &fix.name,
                origin: fix.origin.as_str(),
                created_at: &now,
                request: &CustomRestartRequest::default(),
                steps: &[],
            })
            .await?;
        if let Ok(Some(mut job)) = self.store.get_job(&id).await {
            job.status = crate::wire::JobStatus::Running;
            job.started_at = Some(now);
            let _ = self.store.save_job(&job).await;
        }
        Ok(id)
    }

    /// Writes the fix (and ends its job when the fix no longer runs); a failed write is logged.
    pub(super) async fn save(&self, fix: &mut FixView) {
        fix.updated_at = now_rfc3339();
        if let Err(e) = self.store.save_fix(fix).await {
            tracing::error!(fix = %fix.id, error = %e, "cannot record a fix's progress");
        }
        // An attempt restored after a failed verification may be followed by a retry in the same
        // job: the job ends with the last attempt, which the fix's task ends (`end_job`) when no
        // retry follows. A restore by hand (`restored_by`) concerns a job long over.
        let waiting = matches!(
            fix.status,
            FixStatus::Diagnosing | FixStatus::Applying | FixStatus::Verifying
        ) || (fix.status == FixStatus::Restored && fix.restored_by.is_none());
        if waiting {
            return;
        }
        self.end_job(fix).await;
    }

    /// Ends the fix's job, succeeded or failed by the fix's status, unless it is over already.
    pub(super) async fn end_job(&self, fix: &FixView) {
        let Some(job_id) = &fix.job_id else { return };
        if let Ok(Some(mut job)) = self.store.get_job(job_id).await
            && job.finished_at.is_none()
        {
            let ok = matches!(
                fix.status,
                FixStatus::Verified
                    | FixStatus::Proposed
                    | FixStatus::AwaitingApproval
                    | FixStatus::NoFix
            );
            job.status = if ok {
                crate::wire::JobStatus::Succeeded
            } else {
                crate::wire::JobStatus::Failed
            };
            job.finished_at = Some(now_rfc3339());
            job.error = (!ok).then(|| {
                format!(
                    "fix {} {}: {}",
                    fix.id,
                    fix.status.as_str(),
                    fix.reason.clone().unwrap_or_default()
                )
            });
            let _ = self.store.save_job(&job).await;
        }
    }

    /// An `agent` event saying where the fix is.
    pub(super) fn event(&self, fix: &FixView) {
        let mut message = format!(
            "{} {} of {} {:?}: {}",
            match fix.kind {
                FixKind::Fix => "fix",
                FixKind::Restore => "restore",
            },
            fix.id,
            what(fix.target),
            fix.name,
            fix.status.as_str()
        );
        if let Some(r) = &fix.reason {
            message.push_str(&format!(" ({r})"));
        }
        self.bus.publish(Payload::Agent(AgentEvent {
            time: now_rfc3339(),
            agent: "fixer".into(),
            service: (fix.target == TargetKind::Service).then(|| fix.name.clone()),
            message,
        }));
    }

    /// A fix whose task ended without a final record (timeout, panic) ends `failed`.
    pub(super) async fn fail_running(&self, key: &Key, id: &str, why: &str) {
        let id = if id.is_empty() {
            self.active().get(key).cloned().unwrap_or_default()
        } else {
            id.to_string()
        };
        // The task may have moved on to a retry: the target's active fix is the one to end.
        let current = self
            .active()
            .get(key)
            .cloned()
            .filter(|s| !s.is_empty())
            .unwrap_or(id);
        let Ok(Some(mut fix)) = self.store.get_fix(&current).await else {
            return;
        };
        if fix.status.is_final() {
            // Cut short between a restored attempt and its retry: that attempt ends the job.
            self.end_job(&fix).await;
        } else {
            let mut why = why.to_string();
            // Cut short after writing: what it wrote is undone.
            if let Some(dir) = fix.backup.clone().map(PathBuf::from) {
                let restored = tokio::task::spawn_blocking(move || {
                    let m = backup::load(&dir)?;
                    backup::restore(&dir, &m)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                why.push_str(&match restored {
                    Ok(()) => "; the files were restored from the backup".to_string(),
                    Err(e) => format!("; restoring the backup FAILED: {e}"),
                });
            }
            fix.status = FixStatus::Failed;
            fix.reason = Some(why);
            self.save(&mut fix).await;
            self.event(&fix);
        }
    }
}
