//! From a fire to a record: claims fire times, applies the overlap policy, launches executions and
//! records their ends, then starts the next queued execution and arms retries (the engine fires them).
//! Every execution task is a chain: it supervises one execution, records it, and goes on with the one
//! dequeued after it, so nothing here spawns itself recursively.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::exec::{self, Launch, RunControl, Spawned};
use super::plan::{self, Decision, StopReason};
use super::{Inner, Job, PendingRetry, Queued, Result};
use crate::store::{ExecutionEnd, NewExecution, fmt_time, now_rfc3339};
use crate::wire::{CronEvent, CronJobSpec, CronPhase, ExecutionStatus, LastRun, Payload, Trigger};

/// Executions kept per job; older ones (and their log files) are pruned.
const KEEP_EXECUTIONS: u32 = 1000;
/// Pruning runs after every this many ended executions of a job.
const PRUNE_EVERY: u32 = 50;

/// A fire for fire time `slot` (schedule, tick or catch-up). `None`: the slot was claimed already.
pub(super) async fn fire_slot(
    inner: &Arc<Inner>,
    name: &str,
    slot: DateTime<Utc>,
    trigger: Trigger,
) -> Result<Option<i64>> {
    let slot = fmt_time(slot);
    let new = NewExecution {
        job: name.to_string(),
        trigger,
        attempt: 0,
        scheduled_at: Some(slot.clone()),
        status: ExecutionStatus::Queued,
        message: None,
    };
    let Some(id) = inner.store.claim_slot(&slot, &new).await? else {
        return Ok(None);
    };
    admit(inner, name, id, trigger, Some(slot), 0).await;
    Ok(Some(id))
}

/// A fire without a fire time of its own: manual, or a retry (which keeps its original one).
pub(super) async fn fire_now(
    inner: &Arc<Inner>,
    name: &str,
    trigger: Trigger,
    scheduled_at: Option<String>,
    attempt: u32,
) -> Result<i64> {
    let new = NewExecution {
        job: name.to_string(),
        trigger,
        attempt,
        scheduled_at: scheduled_at.clone(),
        status: ExecutionStatus::Queued,
        message: None,
    };
    let id = inner.store.insert_execution(&new).await?;
    admit(inner, name, id, trigger, scheduled_at, attempt).await;
    Ok(id)
}

/// `POST /api/cron/tick` at `now`: every enabled job's latest fire time of the last minute, if unclaimed.
pub(super) async fn tick(inner: &Arc<Inner>, now: DateTime<Utc>) -> Result<Vec<i64>> {
    let due: Vec<(String, DateTime<Utc>)> = inner
        .jobs()
        .iter()
        .filter(|(_, j)| j.spec.enabled)
        .filter_map(|(name, j)| Some((name.clone(), plan::tick_slot(&j.compiled, now)?)))
        .collect();
    let mut fired = Vec::new();
    for (name, slot) in due {
        if let Some(id) = fire_slot(inner, &name, slot, Trigger::Tick).await? {
            fired.push(id);
        }
    }
    Ok(fired)
}

enum Admit {
    Start(Arc<RunControl>, CronJobSpec),
    Queue,
    Skip(String),
    Replace(Vec<Arc<RunControl>>, Arc<RunControl>, CronJobSpec),
}

/// Applies the overlap policy to a recorded execution. Returns once it runs, waits or is skipped.
async fn admit(
    inner: &Arc<Inner>,
    name: &str,
    id: i64,
    trigger: Trigger,
    scheduled_at: Option<String>,
    attempt: u32,
) {
    let decision = {
        let mut jobs = inner.jobs();
        match jobs.get_mut(name) {
            None => Admit::Skip("the job was removed".into()),
            Some(_) if inner.closing() => Admit::Skip("the daemon is shutting down".into()),
            Some(job) => {
                let running: Vec<i64> = job.running.keys().copied().collect();
                let control =
                    || Arc::new(RunControl::new(id, trigger, scheduled_at.clone(), attempt));
                match plan::on_fire(job.spec.overlap, &running, job.queue.len()) {
                    Decision::Start => {
                        let c = control();
                        job.running.insert(id, c.clone());
                        Admit::Start(c, job.spec.clone())
                    }
                    Decision::Queue => {
                        job.queue.push_back(Queued {
                            job: name.to_string(),
                            id,
                            trigger,
                            scheduled_at: scheduled_at.clone(),
                            attempt,
                        });
                        Admit::Queue
                    }
                    Decision::Skip(why) => Admit::Skip(why),
                    Decision::Replace(ids) => {
                        let old = ids
                            .iter()
                            .filter_map(|i| job.running.get(i).cloned())
                            .collect();
                        let c = control();
                        job.running.insert(id, c.clone());
                        Admit::Replace(old, c, job.spec.clone())
                    }
                }
            }
        }
    };
    match decision {
        Admit::Start(control, spec) => launch(inner, name, spec, control).await,
        Admit::Queue => {
            let e = cron_event(name, id, trigger, attempt, scheduled_at, CronPhase::Queued);
            inner.bus.publish(Payload::Cron(e));
        }
        Admit::Skip(why) => {
            if let Err(e) = inner.store.mark_execution_skipped(id, &why).await {
                tracing::error!(job = name, id, error = %e, "cannot record a skipped execution");
            }
            let mut e = cron_event(name, id, trigger, attempt, scheduled_at, CronPhase::Skipped);
            e.message = Some(why);
            inner.bus.publish(Payload::Cron(e));
        }
        Admit::Replace(old, control, spec) => {
            for o in &old {
                o.stop(StopReason::Replaced(id));
            }
            for o in &old {
                o.done().await;
            }
            launch(inner, name, spec, control).await
        }
    }
}

/// Starts an execution and leaves a task supervising it (and whatever is dequeued after it).
async fn launch(inner: &Arc<Inner>, name: &str, spec: CronJobSpec, control: Arc<RunControl>) {
    let spawned = begin(inner, name, &spec, &control).await;
    let inner = inner.clone();
    let name = name.to_string();
    tokio::spawn(chain(inner, name, spec, control, spawned));
}

async fn chain(
    inner: Arc<Inner>,
    name: String,
    mut spec: CronJobSpec,
    mut control: Arc<RunControl>,
    mut spawned: Result<Spawned, ExecutionEnd>,
) {
    loop {
        let end = match spawned {
            Ok(s) => {
                let supervised = exec::supervise(s, &control, Duration::from_secs(spec.timeout));
                // A panic must not leave the execution `running` and its slot taken for ever.
                match crate::panics::catch(supervised).await {
                    Ok(end) => end,
                    Err(why) => {
                        tracing::error!(job = %name, id = control.id, panic = %why, "cron execution task panicked");
                        ExecutionEnd {
                            status: ExecutionStatus::Failed,
                            message: Some(format!(
                                "internal error: the execution's task panicked ({why}); see the daemon log"
                            )),
                            ..exec::spawn_failed(control.id, String::new())
                        }
                    }
                }
            }
            Err(end) => end,
        };
        let Some((next, next_spec)) = finish(&inner, &name, &control, &end).await else {
            return;
        };
        spawned = begin(&inner, &name, &next_spec, &next).await;
        control = next;
        spec = next_spec;
    }
}

/// Spawns the process and records the start; `Err` is the record of an execution that never ran.
async fn begin(
    inner: &Inner,
    name: &str,
    spec: &CronJobSpec,
    control: &RunControl,
) -> Result<Spawned, ExecutionEnd> {
    if let Some(reason) = control.stop_reason() {
        return Err(exec::never_started(control.id, &reason));
    }
    let launch = Launch {
        spec,
        instance: format!("{}.cron.{name}.{}", inner.node, control.id),
        log_file: inner
            .logs_dir
            .join(name)
            .join(format!("{}.log", control.id)),
    };
    match exec::spawn(&launch, control, inner.metrics.get()) {
        Ok(s) => {
            let log_file = launch.log_file.to_str();
            if let Err(e) = inner
                .store
                .mark_execution_started(control.id, &s.started_at, s.pid, log_file)
                .await
            {
                tracing::error!(job = name, id = control.id, error = %e, "cannot record an execution's start");
            }
            let mut e = control_event(name, control, CronPhase::Started);
            e.pid = Some(s.pid);
            inner.bus.publish(Payload::Cron(e));
            Ok(s)
        }
        Err(why) => {
            tracing::warn!(job = name, id = control.id, error = %why, "cron execution could not start");
            Err(exec::spawn_failed(control.id, why))
        }
    }
}

/// Records an ended execution, arms a retry, and hands back the next queued execution (registered as
/// running already) for the chain to start.
async fn finish(
    inner: &Arc<Inner>,
    name: &str,
    control: &Arc<RunControl>,
    end: &ExecutionEnd,
) -> Option<(Arc<RunControl>, CronJobSpec)> {
    if let Err(e) = inner.store.finish_execution(end).await {
        tracing::error!(job = name, id = end.id, error = %e, "cannot record an execution's end");
    }
    tracing::info!(
        job = name,
        id = end.id,
        status = end.status.as_str(),
        "cron execution ended"
    );
    let mut e = control_event(name, control, CronPhase::Finished);
    e.status = end.status;
    e.exit_code = end.exit_code;
    e.signal = end.signal.clone();
    e.duration_ms = end.duration_ms;
    e.message = end.message.clone();
    inner.bus.publish(Payload::Cron(e));
    let (mut retry_armed, mut prune_now) = (false, false);
    let next = {
        let mut jobs = inner.jobs();
        // A removed job's executions are waited for by the remover; nothing more to do for them.
        match jobs
            .get_mut(name)
            .filter(|job| job.running.contains_key(&control.id))
        {
            Some(job) => {
                job.running.remove(&control.id);
                job.ended_since_prune += 1;
                if job.ended_since_prune >= PRUNE_EVERY {
                    job.ended_since_prune = 0;
                    prune_now = true;
                }
                job.last = Some(LastRun {
                    id: end.id,
                    trigger: control.trigger,
                    status: end.status,
                    scheduled_at: control.scheduled_at.clone(),
                    started_at: control.started_at(),
                    ended_at: Some(end.ended_at.clone()),
                    exit_code: end.exit_code,
                    signal: end.signal.clone(),
                });
                let closing = inner.closing();
                if !closing && plan::should_retry(end.status, control.attempt, job.spec.retries) {
                    job.retries.push(PendingRetry {
                        at: Utc::now() + chrono::Duration::seconds(job.spec.retry_delay_s as i64),
                        scheduled_at: control.scheduled_at.clone(),
                        attempt: control.attempt + 1,
                    });
                    retry_armed = true;
                }
                dequeue(job, closing)
            }
            None => None,
        }
    };
    if retry_armed {
        inner.wake.notify_one();
    }
    control.mark_done();
    if prune_now {
        prune(inner, name).await;
    }
    next
}

fn dequeue(job: &mut Job, closing: bool) -> Option<(Arc<RunControl>, CronJobSpec)> {
    if closing || !plan::may_dequeue(job.running.len()) {
        return None;
    }
    let q = job.queue.pop_front()?;
    let control = Arc::new(RunControl::new(q.id, q.trigger, q.scheduled_at, q.attempt));
    job.running.insert(q.id, control.clone());
    Some((control, job.spec.clone()))
}

async fn prune(inner: &Inner, name: &str) {
    match inner.store.prune_executions(name, KEEP_EXECUTIONS).await {
        Ok(files) => {
            for f in files {
                let _ = std::fs::remove_file(f);
            }
        }
        Err(e) => tracing::warn!(job = name, error = %e, "cannot prune old executions"),
    }
}

/// Stops running executions and cancels queued ones; returns (their ids) once every tree is gone and
/// every end is recorded.
pub(super) async fn stop_runs(
    inner: &Inner,
    running: Vec<Arc<RunControl>>,
    queued: VecDeque<Queued>,
    reason: StopReason,
) -> Vec<i64> {
    for c in &running {
        c.stop(reason.clone());
    }
    let cancelled = format!("cancelled while queued: {}", reason.message());
    for q in &queued {
        if let Err(e) = inner.store.mark_execution_skipped(q.id, &cancelled).await {
            tracing::error!(id = q.id, error = %e, "cannot record a cancelled execution");
        }
        let (trigger, at) = (q.trigger, q.scheduled_at.clone());
        let mut e = cron_event(&q.job, q.id, trigger, q.attempt, at, CronPhase::Skipped);
        e.message = Some(cancelled.clone());
        inner.bus.publish(Payload::Cron(e));
    }
    for c in &running {
        c.done().await;
    }
    let mut ids: Vec<i64> = running
        .iter()
        .map(|c| c.id)
        .chain(queued.iter().map(|q| q.id))
        .collect();
    ids.sort_unstable();
    ids
}

/// Stops everything of a job that was taken out of the registry.
pub(super) async fn stop_all(inner: &Inner, job: Job, reason: StopReason) -> Vec<i64> {
    let running = job.running.values().cloned().collect();
    stop_runs(inner, running, job.queue, reason).await
}

/// A `cron` event of execution `id`; the status follows from the phase (`finished` callers set it).
fn cron_event(
    job: &str,
    id: i64,
    trigger: Trigger,
    attempt: u32,
    scheduled_at: Option<String>,
    phase: CronPhase,
) -> CronEvent {
    CronEvent {
        time: now_rfc3339(),
        job: job.to_string(),
        execution: id,
        phase,
        trigger,
        attempt,
        scheduled_at,
        status: match phase {
            CronPhase::Queued => ExecutionStatus::Queued,
            CronPhase::Started | CronPhase::Finished => ExecutionStatus::Running,
            CronPhase::Skipped => ExecutionStatus::Skipped,
        },
        pid: None,
        exit_code: None,
        signal: None,
        duration_ms: None,
        message: None,
    }
}

fn control_event(job: &str, c: &RunControl, phase: CronPhase) -> CronEvent {
    let at = c.scheduled_at.clone();
    cron_event(job, c.id, c.trigger, c.attempt, at, phase)
}
