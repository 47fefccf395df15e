//! Auto-fix: the host side. A trigger (a service gone `fatal` or restarting too often, failed health,
//! a failed cron execution, or a person asking) becomes a fix: an incident is built (`incident.rs`),
//! the `[autofix] plugin` (a `fixer`) proposes, and depending on the mode (`off`, `propose`,
//! `approve`, `auto`; rules and models have their own, a service its override) the proposal is
//! recorded, waits for a person, or is applied: checked in memory (`apply.rs`), its commands judged by
//! the command policy with origin `agent` before any write, every touched file backed up
//! (`backup.rs`), written, the commands run, the target restarted and verified, and restored
//! byte-exact when verification fails, then retried with that history up to the limit (`run.rs`).
//!
//! One fix at a time per target: a trigger while one runs answers that one (coalescing). Cooldown and
//! attempts per window limit automatic triggers (recorded as `skipped`) and refuse manual ones. Each
//! fix is a background job (`/api/jobs`, kind `fix`) and every state change an `agent` event. The
//! fixer plugin never writes or runs anything: only this module does, and knows no HTTP.

pub mod apply;
mod backup;
mod incident;
mod propose;
mod run;
mod settings;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use settings::AutofixSettings;

use crate::cron::Scheduler;
use crate::events::Bus;
use crate::failure::Failure;
use crate::plugins::PluginHost;
use crate::policy::Policy;
use crate::store::{NewJob, Store, now_rfc3339};
use crate::supervisor::Supervisor;
use crate::wire::{
    AgentEvent, CustomRestartRequest, FixKind, FixMode, FixStatus, FixView, IncidentKind, Origin,
    Payload, TargetKind, Usage,
};

/// The kind of the background jobs fixes run as.
pub const JOB_KIND: &str = "fix";

/// What asks for a fix.
#[derive(Clone, Debug)]
pub struct Trigger {
    pub kind: IncidentKind,
    pub target: TargetKind,
    pub name: String,
    pub origin: Origin,
    pub model: Option<String>,
    pub health_message: Option<String>,
}

/// What a trigger led to.
#[derive(Debug)]
pub enum Started {
    /// A new fix, running in the background.
    New(FixView),
    /// A fix of the target was already running: this one (coalesced).
    Running(FixView),
}

type Key = (TargetKind, String);

pub(crate) struct Inner {
    settings: AutofixSettings,
    sup: Supervisor,
    cron: Scheduler,
    store: Store,
    bus: Bus,
    policy: Policy,
    plugins: PluginHost,
    /// Flushed before an incident reads a service's last lines.
    hub: crate::logs::LogHub,
    /// `<data_dir>/backups`.
    backups: PathBuf,
    /// Target -> the id of its fix in progress.
    active: Mutex<HashMap<Key, String>>,
    /// Target -> when its last fix ended (the cooldown).
    ended: Mutex<HashMap<Key, Instant>>,
    closing: AtomicBool,
}

#[derive(Clone)]
pub struct Fixer {
    inner: Arc<Inner>,
}

fn what(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Service => "service",
        TargetKind::CronJob => "cron job",
    }
}

impl Fixer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: AutofixSettings,
        sup: Supervisor,
        cron: Scheduler,
        store: Store,
        bus: Bus,
        policy: Policy,
        plugins: PluginHost,
        hub: crate::logs::LogHub,
        data_dir: &std::path::Path,
    ) -> Fixer {
        Fixer {
            inner: Arc::new(Inner {
                settings,
                sup,
                cron,
                store,
                bus,
                policy,
                plugins,
                hub,
                backups: data_dir.join("backups"),
                active: Mutex::new(HashMap::new()),
                ended: Mutex::new(HashMap::new()),
                closing: AtomicBool::new(false),
            }),
        }
    }

    pub fn settings(&self) -> &AutofixSettings {
        &self.inner.settings
    }

    /// At boot: fixes a previous daemon left running end `failed` (their backups stay restorable).
    pub async fn recover(&self) {
        let Ok(fixes) = self.inner.store.unfinished_fixes().await else {
            return;
        };
        for mut fix in fixes {
            fix.status = FixStatus::Failed;
            fix.reason = Some("the daemon stopped while the fix was running".into());
            fix.updated_at = now_rfc3339();
            let _ = self.inner.store.save_fix(&fix).await;
        }
    }

    /// Starts watching the event bus for automatic triggers (`watch.rs`).
    pub fn watch(&self) {
        if self.inner.settings.enabled {
            tokio::spawn(watch::run(self.clone()));
        }
    }

    pub fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
    }

    /// The target's own mode override, and whether it exists.
    fn target_mode(&self, kind: TargetKind, name: &str) -> Result<Option<FixMode>, Failure> {
        match kind {
            TargetKind::Service => self
                .inner
                .sup
                .get(name)
                .map(|v| v.spec.autofix)
                .map_err(|_| Failure::not_found("service", name)),
            TargetKind::CronJob => self
                .inner
                .cron
                .get(name)
                .map(|v| v.spec.autofix)
                .map_err(|_| Failure::not_found("cron job", name)),
        }
    }

    /// A trigger: coalesced into the target's running fix, refused (manual) or recorded `skipped`
    /// (automatic) when off, cooling down or over the attempts, else a new fix in the background.
    pub async fn trigger(&self, t: Trigger) -> Result<Started, Failure> {
        let inner = &self.inner;
        let manual = t.kind == IncidentKind::Manual;
        if inner.closing.load(Ordering::SeqCst) {
            return Err(Failure::ShuttingDown);
        }
        let over = self.target_mode(t.target, &t.name)?;
        if !inner.settings.enabled {
            return Err(Failure::Conflict(
                "auto-fix is disabled (AUTOFIX_ENABLED=false or [autofix] enabled = false)".into(),
            ));
        }
        if over == Some(FixMode::Off) {
            return Err(Failure::Conflict(format!(
                "auto-fix is off for {} {:?} (its `autofix` setting)",
                what(t.target),
                t.name
            )));
        }
        let key: Key = (t.target, t.name.clone());
        let running = inner.active().get(&key).cloned();
        if let Some(id) = running
            && let Some(fix) = inner.store.get_fix(&id).await?
        {
            return Ok(Started::Running(fix));
        }
        // Limits: a person asking is told why; an automatic trigger leaves a `skipped` record.
        let limit = self.limit(&key).await?;
        if let Some(why) = limit {
            if manual {
                return Err(Failure::Conflict(why));
            }
            let mut fix = new_record(&t, FixStatus::Skipped, 1);
            fix.reason = Some(format!("skipped: {why}"));
            fix.id = inner.store.insert_fix(&fix).await?;
            inner.event(&fix);
            return Ok(Started::New(fix));
        }
        let fix = {
            // Taken before the first await that could let a second trigger in.
            let mut active = inner.active();
            if active.contains_key(&key) {
                None
            } else {
                active.insert(key.clone(), String::new());
                Some(())
            }
        };
        if fix.is_none() {
            // Lost a race with another trigger: answer its fix once it is recorded.
            for _ in 0..50 {
                let id = inner.active().get(&key).cloned().unwrap_or_default();
                if !id.is_empty()
                    && let Some(fix) = inner.store.get_fix(&id).await?
                {
                    return Ok(Started::Running(fix));
                }
                tokio::task::yield_now().await;
            }
            return Err(Failure::Conflict(format!(
                "a fix of {} {:?} is starting",
                what(t.target),
                t.name
            )));
        }
        let started = self.start(&t, key.clone()).await;
        if started.is_err() {
            inner.active().remove(&key);
        }
        started.map(Started::New)
    }

    /// Why the target may not be fixed now (cooldown, attempts), if so.
    async fn limit(&self, key: &Key) -> Result<Option<String>, Failure> {
        let s = &self.inner.settings;
        if let Some(at) = self.inner.ended().get(key)
            && at.elapsed() < Duration::from_secs(s.cooldown_s)
        {
            let left = Duration::from_secs(s.cooldown_s).saturating_sub(at.elapsed());
            return Ok(Some(format!(
                "cooldown: the last fix ended less than {} s ago (autofix.cooldown_s); try again in {} s",
                s.cooldown_s,
                left.as_secs() + 1
            )));
        }
        let since = crate::store::fmt_time(
            chrono::Utc::now() - chrono::Duration::seconds(s.window_s.min(i64::MAX as u64) as i64),
        );
        let recent = self
            .inner
            .store
            .list_fixes(key.0, &key.1, 1000)
            .await?
            .into_iter()
            .filter(|f| {
                f.kind == FixKind::Fix && f.status != FixStatus::Skipped && f.created_at >= since
            })
            .count();
        if recent >= s.max_attempts as usize {
            return Ok(Some(format!(
                "too many attempts: {recent} fixes in the last {} s (autofix.max_attempts = {})",
                s.window_s, s.max_attempts
            )));
        }
        Ok(None)
    }

    /// Records the fix and its job, and runs it in the background.
    async fn start(&self, t: &Trigger, key: Key) -> Result<FixView, Failure> {
        let inner = &self.inner;
        let mut fix = new_record(t, FixStatus::Diagnosing, 1);
        fix.id = inner.store.insert_fix(&fix).await?;
        fix.job_id = Some(inner.new_job(&fix).await?);
        inner.save(&mut fix).await;
        inner.active().insert(key.clone(), fix.id.clone());
        inner.event(&fix);
        let me = self.inner.clone();
        let first = fix.clone();
        let t = t.clone();
        tokio::spawn(async move {
            let timeout = Duration::from_secs(me.settings.timeout_s);
            let id = first.id.clone();
            let ran = crate::panics::catch(tokio::time::timeout(
                timeout,
                run::diagnose(me.clone(), first, t),
            ))
            .await;
            let (held, why) = match ran {
                Ok(Ok(last)) => (last, None),
                Ok(Err(_)) => (
                    None,
                    Some(format!(
                        "timed out after {} s (autofix.timeout_s / AUTOFIX_TIMEOUT)",
                        timeout.as_secs()
                    )),
                ),
                Err(panic) => (
                    None,
                    Some(format!("internal error: the fix's task panicked ({panic})")),
                ),
            };
            if let Some(why) = why {
                me.fail_running(&key, &id, &why).await;
                me.finish(&key);
            } else if let Some(last) = held {
                // Usually given up already (see `run::end`); never an approval's or a newer fix's.
                me.finish_if(&key, &last);
            }
        });
        Ok(fix)
    }

    pub async fn get(&self, id: &str) -> Result<FixView, Failure> {
        self.inner
            .store
            .get_fix(id)
            .await?
            .ok_or_else(|| Failure::NotFound(format!("no fix with id {id:?}")))
    }

    pub async fn list(
        &self,
        kind: TargetKind,
        name: &str,
        limit: u32,
    ) -> Result<Vec<FixView>, Failure> {
        self.target_mode(kind, name)?;
        Ok(self.inner.store.list_fixes(kind, name, limit).await?)
    }

    /// Applies a fix waiting for approval, in the background; answers it as `applying`.
    pub async fn approve(&self, id: &str, origin: Origin) -> Result<FixView, Failure> {
        let inner = &self.inner;
        let mut fix = self.get(id).await?;
        if fix.status != FixStatus::AwaitingApproval {
            return Err(Failure::Conflict(format!(
                "fix {id} is {}, not awaiting-approval",
                fix.status.as_str()
            )));
        }
        let key: Key = (fix.target, fix.name.clone());
        {
            let mut active = inner.active();
            if let Some(other) = active.get(&key) {
                return Err(Failure::Conflict(format!(
                    "fix {other} of {} {:?} is running; wait for it",
                    what(fix.target),
                    fix.name
                )));
            }
            active.insert(key.clone(), fix.id.clone());
        }
        fix.status = FixStatus::Applying;
        fix.reason = Some(format!("approved ({origin})"));
        match inner.new_job(&fix).await {
            Ok(job) => fix.job_id = Some(job),
            Err(e) => {
                inner.active().remove(&key);
                return Err(e);
            }
        }
        inner.save(&mut fix).await;
        inner.event(&fix);
        let me = inner.clone();
        let answer = fix.clone();
        tokio::spawn(async move {
            let timeout = Duration::from_secs(me.settings.timeout_s);
            let id = fix.id.clone();
            let ran = crate::panics::catch(tokio::time::timeout(
                timeout,
                run::apply_and_verify(me.clone(), fix),
            ))
            .await;
            let (held, why) = match ran {
                Ok(Ok(last)) => (last, None),
                Ok(Err(_)) => (
                    None,
                    Some(format!("timed out after {} s", timeout.as_secs())),
                ),
                Err(panic) => (
                    None,
                    Some(format!("internal error: the fix's task panicked ({panic})")),
                ),
            };
            if let Some(why) = why {
                me.fail_running(&key, &id, &why).await;
                me.finish(&key);
            } else if let Some(last) = held {
                // Usually given up already (see `run::end`); never an approval's or a newer fix's.
                me.finish_if(&key, &last);
            }
        });
        Ok(answer)
    }

    /// Rejects a fix waiting for approval: nothing is changed.
    pub async fn reject(&self, id: &str, origin: Origin) -> Result<FixView, Failure> {
        let mut fix = self.get(id).await?;
        if fix.status != FixStatus::AwaitingApproval {
            return Err(Failure::Conflict(format!(
                "fix {id} is {}, not awaiting-approval",
                fix.status.as_str()
            )));
        }
        fix.status = FixStatus::Rejected;
        fix.reason = Some(format!("rejected ({origin}); nothing was changed"));
        self.inner.save(&mut fix).await;
        self.inner.event(&fix);
        Ok(fix)
    }

    /// Undoes what fix `id` changed (from its backup), backing up the current state first as a new
    /// `restore` record (itself restorable), and restarts the target. Answers the restore record.
    pub async fn restore(&self, id: &str, origin: Origin) -> Result<FixView, Failure> {
        let inner = &self.inner;
        let fix = self.get(id).await?;
        if fix.backup.is_none() {
            return Err(Failure::Conflict(format!(
                "fix {id} changed nothing (status {}); there is nothing to restore",
                fix.status.as_str()
            )));
        }
        if fix.restored_by.is_some() || fix.status == FixStatus::Restored {
            return Err(Failure::Conflict(format!(
                "fix {id} was already restored{}",
                fix.restored_by
                    .as_ref()
                    .map_or(String::new(), |r| format!(" (by {r})"))
            )));
        }
        let key: Key = (fix.target, fix.name.clone());
        {
            let mut active = inner.active();
            if let Some(other) = active.get(&key) {
                return Err(Failure::Conflict(format!(
                    "fix {other} of {} {:?} is running; wait for it",
                    what(fix.target),
                    fix.name
                )));
            }
            active.insert(key.clone(), String::new());
        }
        let done = run::restore_by_hand(inner.clone(), fix, origin).await;
        inner.active().remove(&key);
        done
    }
}

/// A fix record as it starts.
fn new_record(t: &Trigger, status: FixStatus, attempt: u32) -> FixView {
    let now = now_rfc3339();
    FixView {
        id: String::new(),
        kind: FixKind::Fix,
        target: t.target,
        name: t.name.clone(),
        status,
        trigger: t.kind,
        origin: t.origin,
        mode: FixMode::Off,
        created_at: now.clone(),
        updated_at: now,
        job_id: None,
        attempt,
        incident: None,
        proposal: None,
        proposal_hash: None,
        diffs: Vec::new(),
        decisions: Vec::new(),
        apply_result: None,
        commands: Vec::new(),
        verify_result: None,
        reason: None,
        backup: None,
        restores: None,
        restored_by: None,
        llm_calls: 0,
        usage: Usage::default(),
        duration_ms: 0,
    }
}

impl Inner {
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<Key, String>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ended(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The target is free again; its cooldown starts.
    fn finish(&self, key: &Key) {
        self.active().remove(key);
        self.ended().insert(key.clone(), Instant::now());
    }

    /// [`Inner::finish`] when fix `id` still holds the target's slot.
    fn finish_if(&self, key: &Key, id: &str) {
        let mut active = self.active();
        if active.get(key).is_some_and(|a| a == id) {
            active.remove(key);
            drop(active);
            self.ended().insert(key.clone(), Instant::now());
        }
    }

    /// Records a background job for the fix (kind `fix`, no steps: the fix record has the detail).
    async fn new_job(&self, fix: &FixView) -> Result<String, Failure> {
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
    async fn save(&self, fix: &mut FixView) {
        fix.updated_at = now_rfc3339();
        if let Err(e) = self.store.save_fix(fix).await {
            tracing::error!(fix = %fix.id, error = %e, "cannot record a fix's progress");
        }
        let waiting = matches!(
            fix.status,
            FixStatus::Diagnosing | FixStatus::Applying | FixStatus::Verifying
        );
        if waiting {
            return;
        }
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
    fn event(&self, fix: &FixView) {
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
    async fn fail_running(&self, key: &Key, id: &str, why: &str) {
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
        if let Ok(Some(mut fix)) = self.store.get_fix(&current).await
            && !fix.status.is_final()
        {
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
