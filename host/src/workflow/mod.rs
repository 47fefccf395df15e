//! Custom-restart workflows, run as background jobs: pre-commands (each asked of the policy first),
//! a restart with extra args for that run only, post-commands; every step reported and recorded.
//!
//! `Workflows` is what the API and the TCP control port call. It validates a request completely before
//! anything is recorded, allows one job per service at a time, runs each job on its own task
//! (`runner`) and cancels one on request. Commands are spawned only through `process` (`step`); the
//! store keeps every job, so a job outlives the daemon that ran it (jobs it left unfinished are marked
//! `interrupted` at the next boot). A panic of a job's task ends the job `failed` and frees its
//! service for the next one. Knows nothing of HTTP.

mod output;
mod plan;
mod runner;
pub(crate) mod step;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use plan::command_argv;
use step::Stop;

use crate::failure::Failure;
use crate::policy::Policy;
use crate::spec::argv_with_args;
use crate::store::{JobQuery, NewJob, Store, StoreError, now_rfc3339};
use crate::supervisor::Supervisor;
use crate::wire::{CustomRestartRequest, JobStatus, JobView, Origin, StepStatus};

/// The kind of every job this module runs.
pub const KIND: &str = "custom-restart";
/// How long shutdown waits for running jobs to stop their commands and record the interruption.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(20);
/// How long a cancel waits for the job to end before answering that it is still stopping: enough
/// for a command's tree to go (SIGTERM, SIGKILL after 5 s) and its output to be read.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

/// The job a service is busy with.
struct Active {
    job: String,
    stop: watch::Sender<Option<Stop>>,
    /// Closed when the job's task ends (after its final record).
    done: watch::Receiver<()>,
    task: Option<JoinHandle<()>>,
}

/// What a cancel achieved.
#[derive(Debug)]
pub enum Cancelled {
    /// The job ended `cancelled`.
    Ended(JobView),
    /// Asked; the job is still stopping (a restart in progress runs to its end).
    Stopping(JobView),
}

pub(crate) struct Inner {
    sup: Supervisor,
    bus: crate::events::Bus,
    policy: Policy,
    store: Store,
    /// Service name -> its queued or running job.
    active: Mutex<HashMap<String, Active>>,
    closing: AtomicBool,
}

impl Inner {
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, Active>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a job's progress; a failed write is logged (the job goes on: its processes matter more).
    async fn save(&self, job: &JobView) {
        if let Err(e) = self.store.save_job(job).await {
            tracing::error!(job = %job.id, error = %e, "cannot record a job's progress");
        }
    }
}

#[derive(Clone)]
pub struct Workflows {
    inner: Arc<Inner>,
}

impl Workflows {
    pub fn new(
        sup: Supervisor,
        policy: Policy,
        store: Store,
        bus: crate::events::Bus,
    ) -> Workflows {
        Workflows {
            inner: Arc::new(Inner {
                sup,
                bus,
                policy,
                store,
                active: Mutex::new(HashMap::new()),
                closing: AtomicBool::new(false),
            }),
        }
    }

    /// Validates the request, records a job and starts it in the background; answers the job as it
    /// was queued. `origin` is who asks. A rejected request records nothing.
    pub async fn start(
        &self,
        service: &str,
        request: CustomRestartRequest,
        origin: Origin,
    ) -> Result<JobView, Failure> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::SeqCst) {
            return Err(Failure::ShuttingDown);
        }
        let view = inner
            .sup
            .get(service)
            .map_err(|_| Failure::NotFound(format!("no service named {service:?}")))?;
        let planned = plan::plan(&request).map_err(|e| crate::spec::FieldError {
            field: e.field,
            message: e.message,
        })?;
        let steps =
            plan::initial_steps(&planned, argv_with_args(&view.spec.command, &request.args));
        // A job's final record is stored just before its task lets go of the service, so a client
        // that saw the job end and asks again at once would be refused: wait (bounded) for the task
        // of a job whose record says it ended.
        let ending = inner
            .active()
            .get(service)
            .map(|a| (a.job.clone(), a.done.clone()));
        if let Some((job, mut done)) = ending {
            let ended = !job.is_empty()
                && matches!(inner.store.get_job(&job).await, Ok(Some(j)) if j.finished_at.is_some());
            if ended {
                let _ = tokio::time::timeout(Duration::from_secs(5), done.changed()).await;
            }
        }
        let (stop, stop_rx) = watch::channel(None);
        let (done_tx, done) = watch::channel(());
        {
            let mut active = inner.active();
            if let Some(busy) = active.get(service) {
                return Err(Failure::Conflict(format!(
                    "a custom restart of {service:?} is already in progress (job {}); wait for it to finish",
                    busy.job
                )));
            }
            active.insert(
                service.to_string(),
                Active {
                    job: String::new(),
                    stop,
                    done,
                    task: None,
                },
            );
        }
        let created_at = now_rfc3339();
        let inserted = inner
            .store
            .insert_job(&NewJob {
                kind: KIND,
                service,
                origin: origin.as_str(),
                created_at: &created_at,
                request: &request,
                steps: &steps,
            })
            .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) => {
                inner.active().remove(service);
                return Err(e.into());
            }
        };
        tracing::info!(job = %id, service, %origin, "custom restart queued");
        let job = JobView {
            id: id.clone(),
            kind: KIND.into(),
            service: service.into(),
            origin,
            status: JobStatus::Queued,
            created_at,
            started_at: None,
            finished_at: None,
            request,
            steps,
            error: None,
        };
        let queued = job.clone();
        let me = inner.clone();
        let service_name = service.to_string();
        let job_id = id.clone();
        // Registered before the task may run, so the task's own removal cannot be overtaken.
        let mut active = inner.active();
        let task = tokio::spawn(async move {
            // A panic must not leave the service's slot taken (every later custom restart would be
            // refused) nor the job `running` for ever: it ends the job `failed`.
            let ran = crate::panics::catch(runner::run(me.clone(), job, planned, stop_rx)).await;
            if let Err(why) = ran {
                tracing::error!(job = %job_id, service = %service_name, panic = %why, "custom restart task panicked");
                fail_after_panic(&me, &job_id, &why).await;
            }
            let mut active = me.active();
            if active.get(&service_name).is_some_and(|a| a.job == job_id) {
                active.remove(&service_name);
            }
            drop(done_tx);
        });
        if let Some(a) = active.get_mut(service) {
            a.job = id.clone();
            a.task = Some(task);
        }
        Ok(queued)
    }

    pub async fn get(&self, id: &str) -> Result<Option<JobView>, Failure> {
        Ok(self.inner.store.get_job(id).await?)
    }

    /// Cancels a queued or running job: the running command's whole tree is stopped, the steps after
    /// it are skipped and the job ends `cancelled`; a restart in progress is let finish and the
    /// post-commands skipped. Waits a while for the job to end. A job that already ended (or that
    /// ended on its own before the cancel took effect) is a `Conflict` naming its status.
    pub async fn cancel(&self, id: &str) -> Result<Cancelled, Failure> {
        let done = self.inner.active().values().find(|a| a.job == id).map(|a| {
            // A shutdown (or cancel) already under way stays the reason.
            a.stop.send_if_modified(|s| {
                if s.is_some() {
                    return false;
                }
                *s = Some(Stop::Cancel);
                true
            });
            a.done.clone()
        });
        let asked = done.is_some();
        if let Some(mut done) = done {
            tracing::info!(job = %id, "custom restart cancel requested");
            // Err once the job's task has ended: nothing is ever sent.
            let _ = tokio::time::timeout(CANCEL_WAIT, done.changed()).await;
        }
        let job = self
            .get(id)
            .await?
            .ok_or_else(|| Failure::NotFound(format!("no job with id {id:?}")))?;
        match job.status {
            JobStatus::Cancelled if asked => Ok(Cancelled::Ended(job)),
            s if s.is_final() => Err(Failure::Conflict(format!(
                "job {id} already ended: {}",
                s.as_str()
            ))),
            _ if asked => Ok(Cancelled::Stopping(job)),
            s => Err(Failure::Conflict(format!(
                "job {id} is {} but not run by this daemon",
                s.as_str()
            ))),
        }
    }

    /// Jobs, newest first.
    pub async fn list(&self, query: &JobQuery) -> Result<Vec<JobView>, Failure> {
        Ok(self.inner.store.list_jobs(query).await?)
    }

    /// At boot, before any job is taken: jobs a previous daemon left queued or running are marked
    /// `interrupted` (their commands' processes were stopped with the other leftovers, by marker).
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let jobs = self.inner.store.unfinished_jobs().await?;
        let n = jobs.len();
        for mut job in jobs {
            let was = job.status.as_str();
            for step in &mut job.steps {
                match step.status {
                    StepStatus::Running => {
                        step.status = StepStatus::Failed;
                        step.message = Some("interrupted: the daemon stopped".into());
                    }
                    StepStatus::Pending => step.status = StepStatus::Skipped,
                    _ => {}
                }
            }
            job.status = JobStatus::Interrupted;
            job.finished_at = Some(now_rfc3339());
            job.error = Some(format!(
                "the daemon stopped while the job was {was}; it was not resumed"
            ));
            tracing::warn!(job = %job.id, service = %job.service, "custom restart interrupted by a daemon stop");
            self.inner.store.save_job(&job).await?;
        }
        Ok(n)
    }

    /// Takes no more jobs, stops the commands of running ones (their whole trees) and waits until
    /// they recorded their interruption.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .active()
            .values_mut()
            .filter_map(|a| {
                a.stop.send_replace(Some(Stop::Shutdown));
                a.task.take()
            })
            .collect();
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(SHUTDOWN_WAIT, all).await.is_err() {
            tracing::warn!(
                "custom-restart jobs still running after {SHUTDOWN_WAIT:?}; closing anyway"
            );
        }
    }
}

/// Records a job whose task panicked as `failed`: the step in progress failed, the rest skipped.
async fn fail_after_panic(inner: &Inner, id: &str, why: &str) {
    let job = match inner.store.get_job(id).await {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(job = %id, error = %e, "cannot read a panicked job to record its failure");
            return;
        }
    };
    let job = failed_by_panic(job, why);
    if let Err(e) = inner.store.save_job(&job).await {
        tracing::error!(job = %id, error = %e, "cannot record a panicked job's failure");
    }
}

/// Pure: `job` as it ends after a panic of its task.
fn failed_by_panic(mut job: JobView, why: &str) -> JobView {
    if job.status.is_final() {
        return job;
    }
    for step in &mut job.steps {
        match step.status {
            StepStatus::Running => {
                step.status = StepStatus::Failed;
                step.message = Some("internal error: the job's task panicked".into());
            }
            StepStatus::Pending => step.status = StepStatus::Skipped,
            _ => {}
        }
    }
    job.status = JobStatus::Failed;
    job.finished_at = Some(now_rfc3339());
    job.error = Some(format!(
        "internal error: the job's task panicked ({why}); see the daemon log"
    ));
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(phase: &str, index: u32, status: &str) -> serde_json::Value {
        serde_json::json!({"phase": phase, "index": index, "command": "true", "argv": [],
                           "status": status, "output_tail": ""})
    }

    fn job(status: &str, steps: Vec<serde_json::Value>) -> JobView {
        serde_json::from_value(serde_json::json!({
            "id": "j1", "kind": "custom-restart", "service": "web", "origin": "rest",
            "status": status, "created_at": "2026-01-01T00:00:00Z", "started_at": null,
            "finished_at": null, "request": {}, "steps": steps, "error": null,
        }))
        .unwrap()
    }

    #[test]
    fn a_panicked_job_ends_failed_with_the_step_in_progress_failed_and_the_rest_skipped() {
        let running = job(
            "running",
            vec![
                step("pre", 0, "ok"),
                step("pre", 1, "running"),
                step("restart", 0, "pending"),
                step("post", 0, "pending"),
            ],
        );
        let failed = failed_by_panic(running, "attempt to add with overflow");
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.finished_at.is_some());
        let error = failed.error.unwrap();
        assert!(
            error.contains("panicked (attempt to add with overflow)"),
            "{error}"
        );
        let statuses: Vec<StepStatus> = failed.steps.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [
                StepStatus::Ok,
                StepStatus::Failed,
                StepStatus::Skipped,
                StepStatus::Skipped
            ]
        );
        // A job that had already ended keeps its record.
        let done = job("succeeded", vec![step("pre", 0, "ok")]);
        assert_eq!(failed_by_panic(done.clone(), "late"), done);
    }
}
