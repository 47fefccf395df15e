//! Cron jobs: the registry of jobs, the event-driven scheduler and the bookkeeping of every execution.
//! The API calls only `Scheduler` methods (this module knows nothing of HTTP); processes are started
//! and signalled only through `process`; rows are written only through `store`.
//!
//! - `schedule` parses expressions and computes fire times (pure, with the DST rules); `describe`
//!   renders them in plain English; `tz` finds zones.
//! - `plan` holds the rules: overlap, catch-up, tick, retries, statuses (pure).
//! - `engine` is the one timer task; `runner` turns fires into executions and records their ends;
//!   `exec` runs one execution (a `process::Run`, its output in `output`); `boot` loads jobs and
//!   catches up at startup.
//!
//! A fire time is claimed in the store before it runs (`Store::claim_slot`), so a slot runs at most
//! once whoever fires it: the scheduler, `POST /api/cron/tick`, or catch-up after a restart.

mod boot;
mod describe;
mod engine;
mod exec;
mod job;
mod output;
mod plan;
mod runner;
mod schedule;
mod tz;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use schedule::Schedule;
pub use tz::{local_zone, parse_zone};

use crate::failure::Failure;
use crate::spec::FieldError;
use crate::store::{Store, StoreError, fmt_time};
use crate::wire::{
    CronActionResponse, CronJobSpec, CronJobState, CronJobStatus, CronJobView, CronStatus,
    Execution, ExecutionStatus, ExecutionsPage, LastRun, Source, Trigger, ValidateResponse,
};
use exec::RunControl;
use job::Compiled;
use plan::StopReason;

pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// The next fire of a job: its fire time and when to run it (later by the job's jitter).
#[derive(Clone, Copy, Debug)]
struct Due {
    slot: DateTime<Utc>,
    at: DateTime<Utc>,
}

/// An execution waiting for its turn (overlap `queue`); its row exists with status `queued`.
#[derive(Clone, Debug)]
struct Queued {
    job: String,
    id: i64,
    trigger: Trigger,
    scheduled_at: Option<String>,
    attempt: u32,
}

/// A failed attempt to run again at `at`.
#[derive(Clone, Debug)]
struct PendingRetry {
    at: DateTime<Utc>,
    scheduled_at: Option<String>,
    attempt: u32,
}

struct Job {
    spec: CronJobSpec,
    source: Source,
    compiled: Compiled,
    next: Option<Due>,
    running: BTreeMap<i64, Arc<RunControl>>,
    queue: VecDeque<Queued>,
    retries: Vec<PendingRetry>,
    last: Option<LastRun>,
    /// Executions ended since old ones were last pruned.
    ended_since_prune: u32,
}

impl Job {
    fn new(spec: CronJobSpec, source: Source, compiled: Compiled, now: DateTime<Utc>) -> Job {
        let mut job = Job {
            spec,
            source,
            compiled,
            next: None,
            running: BTreeMap::new(),
            queue: VecDeque::new(),
            retries: Vec::new(),
            last: None,
            ended_since_prune: 0,
        };
        job.plan_next(now);
        job
    }

    /// Sets `next` to the first fire time after `after` (none while disabled).
    fn plan_next(&mut self, after: DateTime<Utc>) {
        self.next = if self.spec.enabled {
            self.compiled
                .schedule
                .next_after(self.compiled.tz, after)
                .map(|slot| Due {
                    slot,
                    at: slot + jitter(self.spec.jitter_s),
                })
        } else {
            None
        };
    }

    fn state(&self) -> CronJobState {
        CronJobState {
            schedule_description: describe::describe(self.compiled.schedule.fields()),
            effective_timezone: self.compiled.tz.name().to_string(),
            next_run_at: self.next.map(|d| fmt_time(d.slot)),
            running: self.running.keys().copied().collect(),
            queued: self.queue.len() as u32,
            last_run: self.last.clone(),
        }
    }

    fn view(&self) -> CronJobView {
        CronJobView {
            spec: self.spec.clone(),
            source: self.source,
            state: self.state(),
        }
    }
}

fn jitter(max_s: u64) -> chrono::Duration {
    if max_s == 0 {
        chrono::Duration::zero()
    } else {
        chrono::Duration::milliseconds(rand::random_range(0..=max_s as i64 * 1000))
    }
}

/// State shared by the handle, the engine and execution tasks.
struct Inner {
    store: Store,
    /// Prefix of every `TEND_INSTANCE` marker this data dir's daemon hands out.
    node: String,
    /// `<data_dir>/logs/cron`.
    logs_dir: PathBuf,
    default_tz: Tz,
    jobs: Mutex<BTreeMap<String, Job>>,
    /// Wakes the engine when fire times change.
    wake: Notify,
    closing: AtomicBool,
    /// The metrics sampler, once the daemon has started it: executions' trees are watched by it.
    metrics: std::sync::OnceLock<crate::metrics::Metrics>,
    /// Executions queued, started, skipped and finished go out as `cron` events.
    bus: crate::events::Bus,
}

impl Inner {
    fn jobs(&self) -> MutexGuard<'_, BTreeMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

/// Handle to the cron subsystem; cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
    engine: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Scheduler {
    fn check_open(&self) -> Result<()> {
        if self.inner.closing() {
            Err(Failure::ShuttingDown)
        } else {
            Ok(())
        }
    }

    /// Hands the scheduler the metrics sampler, which then samples every execution's process tree.
    pub fn attach_metrics(&self, metrics: crate::metrics::Metrics) {
        let _ = self.inner.metrics.set(metrics);
    }

    pub fn list(&self) -> Vec<CronJobView> {
        self.inner.jobs().values().map(Job::view).collect()
    }

    pub fn get(&self, name: &str) -> Result<CronJobView> {
        self.inner
            .jobs()
            .get(name)
            .map(Job::view)
            .ok_or_else(|| Failure::not_found("cron job", name))
    }

    pub async fn create(&self, spec: CronJobSpec) -> Result<CronJobView> {
        self.check_open()?;
        let compiled = job::validate(&spec, self.inner.default_tz, Utc::now())?;
        let name = spec.name.clone();
        let conflict = || Failure::Conflict(format!("a cron job named {name:?} already exists"));
        if self.inner.jobs().contains_key(&name) {
            return Err(conflict());
        }
        if !self.inner.store.insert_cron_job(&spec, Source::Api).await? {
            return Err(conflict());
        }
        let job = Job::new(spec, Source::Api, compiled, Utc::now());
        let view = job.view();
        self.inner.jobs().insert(name, job);
        self.inner.wake.notify_one();
        Ok(view)
    }

    /// `NotFound`, or `Conflict` for a job defined in the config file.
    pub fn check_editable(&self, name: &str) -> Result<()> {
        let source = self.inner.jobs().get(name).map(|j| j.source);
        Failure::check_editable("cron job", name, source)
    }

    /// Replaces a job's definition. Running executions go on with the old one; fire times are
    /// recomputed from now.
    pub async fn update(&self, spec: CronJobSpec) -> Result<CronJobView> {
        self.check_open()?;
        let name = spec.name.clone();
        self.check_editable(&name)?;
        let compiled = job::validate(&spec, self.inner.default_tz, Utc::now())?;
        // An UPDATE, never an upsert: a DELETE that got there first stays done (404).
        if !self.inner.store.update_cron_job(&spec, Source::Api).await? {
            return Err(Failure::not_found("cron job", &name));
        }
        let view = {
            let mut jobs = self.inner.jobs();
            let job = jobs
                .get_mut(&name)
                .ok_or_else(|| Failure::not_found("cron job", &name))?;
            job.spec = spec;
            job.compiled = compiled;
            job.plan_next(Utc::now());
            job.view()
        };
        self.inner.wake.notify_one();
        Ok(view)
    }

    /// Stops the job's executions (their trees are gone when this returns) and removes it; its
    /// executions stay in the history.
    pub async fn remove(&self, name: &str) -> Result<CronActionResponse> {
        self.check_open()?;
        self.check_editable(name)?;
        let Some(job) = self.inner.jobs().remove(name) else {
            return Err(Failure::not_found("cron job", name));
        };
        self.inner.wake.notify_one();
        let ids = runner::stop_all(&self.inner, job, StopReason::Removed).await;
        self.inner.store.delete_cron_job(name).await?;
        Ok(CronActionResponse {
            name: name.into(),
            action: "delete".into(),
            executions: ids,
        })
    }

    /// Runs the job now (trigger `manual`), under its overlap policy. Returns the execution as it
    /// stands once started (or queued, or skipped).
    pub async fn run(&self, name: &str) -> Result<Execution> {
        self.check_open()?;
        if !self.inner.jobs().contains_key(name) {
            return Err(Failure::not_found("cron job", name));
        }
        let id = runner::fire_now(&self.inner, name, Trigger::Manual, None, 0).await?;
        self.execution(id).await
    }

    /// Stops every running execution of the job and cancels its queued ones; returns once their
    /// process trees are gone.
    pub async fn stop(&self, name: &str) -> Result<CronActionResponse> {
        let (running, queued) = {
            let mut jobs = self.inner.jobs();
            let job = jobs
                .get_mut(name)
                .ok_or_else(|| Failure::not_found("cron job", name))?;
            let running: Vec<_> = job.running.values().cloned().collect();
            (running, std::mem::take(&mut job.queue))
        };
        let ids = runner::stop_runs(&self.inner, running, queued, StopReason::Requested).await;
        Ok(CronActionResponse {
            name: name.into(),
            action: "stop".into(),
            executions: ids,
        })
    }

    async fn execution(&self, id: i64) -> Result<Execution> {
        self.inner
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| Failure::Store(StoreError::Corrupt(format!("execution {id} vanished"))))
    }

    /// One execution of the job (`NotFound` for another job's). While it runs, its output is read
    /// from its log file so far (`output::read_so_far`); after it ended, as stored.
    pub async fn execution_of(&self, name: &str, id: i64) -> Result<Execution> {
        if !self.inner.jobs().contains_key(name) {
            return Err(Failure::not_found("cron job", name));
        }
        let mut e = self
            .inner
            .store
            .get_execution(id)
            .await?
            .filter(|e| e.job == name)
            .ok_or_else(|| {
                Failure::NotFound(format!("execution {id} of cron job {name:?} not found"))
            })?;
        if e.status == ExecutionStatus::Running
            && let Some(path) = e.log_file.clone()
        {
            let read = tokio::task::spawn_blocking(move || output::read_so_far(&path)).await;
            match read {
                Ok(Ok((stdout, stderr))) => {
                    e.stdout = stdout;
                    e.stderr = stderr;
                }
                // Not created yet (or already gone): what the store has.
                Ok(Err(err)) => tracing::debug!(id, error = %err, "cannot read an execution log"),
                Err(err) => tracing::error!(id, error = %err, "reading an execution log failed"),
            }
        }
        Ok(e)
    }

    /// A page of the job's executions, newest first.
    pub async fn executions(
        &self,
        name: &str,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<ExecutionsPage> {
        if !self.inner.jobs().contains_key(name) {
            return Err(Failure::not_found("cron job", name));
        }
        let executions = self
            .inner
            .store
            .list_executions(name, before_id, limit)
            .await?;
        let next_before_id = if executions.len() == limit as usize {
            executions.last().map(|e| e.id)
        } else {
            None
        };
        Ok(ExecutionsPage {
            executions,
            next_before_id,
        })
    }

    pub fn status(&self) -> CronStatus {
        let jobs = self.inner.jobs();
        let next_fire_at = jobs
            .values()
            .filter_map(|j| j.next.map(|d| d.slot))
            .min()
            .map(fmt_time);
        CronStatus {
            timezone: self.inner.default_tz.name().to_string(),
            next_fire_at,
            running: jobs.values().map(|j| j.running.len()).sum(),
            jobs: jobs
                .iter()
                .map(|(name, j)| {
                    let status = CronJobStatus {
                        enabled: j.spec.enabled,
                        schedule: j.spec.schedule.clone(),
                        state: j.state(),
                    };
                    (name.clone(), status)
                })
                .collect(),
        }
    }

    /// Checks a schedule (in `timezone`, else the daemon's zone): its next `count` fire times and a
    /// description. Errors name the field (`schedule` or `timezone`).
    pub fn validate(
        &self,
        schedule: &str,
        timezone: Option<&str>,
        count: usize,
    ) -> Result<ValidateResponse, FieldError> {
        validate_schedule(schedule, timezone, self.inner.default_tz, Utc::now(), count)
    }

    /// `POST /api/cron/tick`: fires every enabled job whose latest fire time within the last minute
    /// has not run yet. Never runs a fire time twice.
    pub async fn tick(&self) -> Result<Vec<Execution>> {
        self.check_open()?;
        let ids = runner::tick(&self.inner, Utc::now()).await?;
        let mut fired = Vec::with_capacity(ids.len());
        for id in ids {
            fired.push(self.execution(id).await?);
        }
        Ok(fired)
    }

    /// Stops the engine, then every running execution (each tree within its grace period); queued
    /// executions are cancelled. Returns when all are recorded.
    pub async fn shutdown(&self) {
        let (running, queued) = {
            let mut jobs = self.inner.jobs();
            self.inner.closing.store(true, Ordering::SeqCst);
            let mut running = Vec::new();
            let mut queued = VecDeque::new();
            for job in jobs.values_mut() {
                running.extend(job.running.values().cloned());
                queued.extend(std::mem::take(&mut job.queue));
            }
            (running, queued)
        };
        self.inner.wake.notify_one();
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(engine) = engine {
            let _ = engine.await;
        }
        runner::stop_runs(&self.inner, running, queued, StopReason::Shutdown).await;
    }
}

/// Validates a spec as `POST /api/cron` would (for `[cron.<name>]` tables in the config file).
pub fn validate_spec(spec: &CronJobSpec) -> Result<(), FieldError> {
    job::validate(spec, local_zone(), Utc::now()).map(|_| ())
}

/// The pure part of `GET /api/cron/validate`.
pub fn validate_schedule(
    schedule: &str,
    timezone: Option<&str>,
    default_tz: Tz,
    now: DateTime<Utc>,
    count: usize,
) -> Result<ValidateResponse, FieldError> {
    let field = |field: &str, message: String| FieldError {
        field: field.into(),
        message,
    };
    let parsed = Schedule::parse(schedule).map_err(|e| field("schedule", e.0))?;
    let tz = match timezone {
        Some(name) => parse_zone(name).map_err(|m| field("timezone", m))?,
        None => default_tz,
    };
    let next: Vec<String> = parsed
        .upcoming(tz, now, count)
        .into_iter()
        .map(|t| {
            t.with_timezone(&tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        })
        .collect();
    if next.is_empty() {
        return Err(field(
            "schedule",
            format!("{schedule:?} never fires from now on"),
        ));
    }
    Ok(ValidateResponse {
        schedule: schedule.to_string(),
        normalized: parsed.normalized(),
        timezone: tz.name().to_string(),
        description: describe::describe(parsed.fields()),
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> CronJobSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn next_fire_respects_enabled_and_jitter() {
        let now = DateTime::parse_from_rfc3339("2024-06-03T12:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let s = spec(
            serde_json::json!({"name": "j", "command": "true", "schedule": "*/10 * * * * *",
            "timezone": "UTC", "jitter_s": 3}),
        );
        let compiled = job::compile(&s, chrono_tz::UTC).unwrap();
        for _ in 0..50 {
            let j = Job::new(s.clone(), Source::Api, compiled.clone(), now);
            let due = j.next.unwrap();
            assert_eq!(fmt_time(due.slot), "2024-06-03T12:00:10.000000Z");
            let delay = due.at - due.slot;
            assert!(delay >= chrono::Duration::zero() && delay <= chrono::Duration::seconds(3));
        }
        let off = spec(
            serde_json::json!({"name": "j", "command": "true", "schedule": "@daily",
            "enabled": false}),
        );
        let j = Job::new(off, Source::Api, compiled, now);
        assert!(j.next.is_none());
        assert_eq!(j.state().next_run_at, None);
    }

    #[test]
    fn validate_reports_the_bad_field() {
        let now = Utc::now();
        let e = validate_schedule("* * * * 9", None, chrono_tz::UTC, now, 5).unwrap_err();
        assert_eq!(e.field, "schedule");
        let e = validate_schedule("@daily", Some("Nope/Nope"), chrono_tz::UTC, now, 5).unwrap_err();
        assert_eq!(e.field, "timezone");
        let ok = validate_schedule("@daily", Some("Asia/Tokyo"), chrono_tz::UTC, now, 3).unwrap();
        assert_eq!(ok.next.len(), 3);
        assert!(
            ok.next.iter().all(|t| t.ends_with("T00:00:00+09:00")),
            "{:?}",
            ok.next
        );
        assert_eq!(ok.normalized, "0 0 0 * * *");
    }
}
