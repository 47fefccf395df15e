//! Auto-fix: the host side. A trigger (a service gone `fatal` or restarting too often, failed health,
//! a failed cron execution, or a person asking) becomes a fix: an incident is built (`incident.rs`),
//! the `[autofix] plugin` (a `fixer`) proposes, and depending on the mode (`off`, `propose`,
//! `approve`, `auto`; rules and models have their own, a service its override) the proposal is
//! recorded, waits for a person, or is applied: checked in memory (`apply.rs`), its commands judged by
//! the command policy with origin `agent` before any write, every touched file backed up
//! (`backup.rs`), written, the commands run (`run.rs`), the target restarted and verified
//! (`verify.rs`), and restored byte-exact when verification fails, then retried with that history up
//! to the limit (`restore.rs`, which also restores by hand). Records, jobs and events: `record.rs`;
//! automatic triggers: `watch.rs`; the fixer call: `propose.rs`.
//!
//! One fix at a time per target: a trigger while one runs answers that one (coalescing). Cooldown and
//! attempts per window limit automatic triggers (recorded as `skipped`) and refuse manual ones. Each
//! fix is a background job (`/api/jobs`, kind `fix`) and every state change an `agent` event. The
//! fixer plugin never writes or runs anything: only this module does, and knows no HTTP.

pub mod apply;
mod backup;
mod incident;
mod propose;
mod record;
mod restore;
mod run;
mod settings;
mod verify;
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
use crate::store::{Store, now_rfc3339};
use crate::supervisor::Supervisor;
use crate::wire::{FixKind, FixMode, FixStatus, FixView, IncidentKind, Origin, TargetKind, Usage};

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

    fn has_project(&self, kind: TargetKind, name: &str) -> bool {
        match kind {
            TargetKind::Service => self
                .inner
                .sup
                .get(name)
                .is_ok_and(|v| v.spec.working_dir.is_some()),
            TargetKind::CronJob => self
                .inner
                .cron
                .get(name)
                .is_ok_and(|v| v.spec.working_dir.is_some()),
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
        // Without a working dir there is no project to read or fix: refused before anything is
        // recorded (an automatic trigger of such a service is only logged by `watch`).
        if !self.has_project(t.target, &t.name) {
            return Err(Failure::Conflict(format!(
                "{} {:?} has no working_dir: there is no project to fix",
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
            // One `skipped` record per stretch of refusals: the newest record of the target is
            // brought up to date instead of a new one per trigger (a crash loop or a flapping check
            // during a cooldown would otherwise bury the real fixes).
            if let Some(mut last) = inner.store.list_fixes(t.target, &t.name, 1).await?.pop()
                && last.status == FixStatus::Skipped
            {
                last.reason = Some(format!("skipped: {why}"));
                inner.save(&mut last).await;
                return Ok(Started::Running(last));
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
        let id = first.id.clone();
        spawn_bounded(me.clone(), key, id, run::diagnose(me, first, t));
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
        let id = fix.id.clone();
        spawn_bounded(me.clone(), key, id, run::apply_and_verify(me, fix));
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
        let done = restore::restore_by_hand(inner.clone(), fix, origin).await;
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

/// Runs a fix's task (`run::diagnose` or `run::apply_and_verify`, answering the attempt whose hold on
/// the target's slot it must give up) in the background under `[autofix] timeout_s`. A task cut short
/// by the timeout or a panic ends its fix `failed` (restoring what it wrote) and frees the target.
fn spawn_bounded(
    me: Arc<Inner>,
    key: Key,
    id: String,
    task: impl std::future::Future<Output = Option<String>> + Send + 'static,
) {
    tokio::spawn(async move {
        let timeout = Duration::from_secs(me.settings.timeout_s);
        let why = match crate::panics::catch(tokio::time::timeout(timeout, task)).await {
            Ok(Ok(held)) => {
                if let Some(last) = held {
                    // Usually given up already (see `run::end`); never an approval's or a newer
                    // fix's.
                    me.finish_if(&key, &last);
                }
                return;
            }
            Ok(Err(_)) => format!(
                "timed out after {} s (autofix.timeout_s / AUTOFIX_TIMEOUT)",
                timeout.as_secs()
            ),
            Err(panic) => format!("internal error: the fix's task panicked ({panic})"),
        };
        me.fail_running(&key, &id, &why).await;
        me.finish(&key);
    });
}
