//! One execution: a `process::Run` (its own session, the job's environment, a `TEND_INSTANCE`
//! marker) whose output goes to an `OutputCapture`, whose tree is watched by the metrics sampler while
//! it runs, and which is stopped as a whole at the timeout or on request (`RunControl::stop`); then the
//! report of how it ended, with peak memory and CPU from the sampler's watch and the leader's rusage.
//! Stores nothing itself: the caller records the result.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;

use super::job::job_env;
use super::output::OutputCapture;
use super::plan::{self, Ending, StopReason};
use crate::metrics::{Kind, Metrics, WatchGuard, WatchSummary};
use crate::process::{self, Exit, Finished, Run, SpawnSpec, Stopping, Tree};
use crate::store::{ExecutionEnd, now_rfc3339};
use crate::wire::{CapturedOutput, CronJobSpec, Trigger};

/// SIGTERM, SIGKILL 5 s later; output may keep arriving 2 s after the tree is gone (a process that
/// escaped it could hold a pipe open).
const STOPPING: Stopping = Stopping {
    signal: Signal::SIGTERM,
    grace: Duration::from_secs(5),
    output_grace: Duration::from_secs(2),
};

/// What the scheduler and the API see of a running (or about to run) execution.
#[derive(Debug)]
pub struct RunControl {
    pub id: i64,
    pub trigger: Trigger,
    pub scheduled_at: Option<String>,
    pub attempt: u32,
    started_at: Mutex<Option<String>>,
    tree: Mutex<Option<Arc<Tree>>>,
    stop_tx: watch::Sender<Option<StopReason>>,
    done_tx: watch::Sender<bool>,
}

impl RunControl {
    pub fn new(
        id: i64,
        trigger: Trigger,
        scheduled_at: Option<String>,
        attempt: u32,
    ) -> RunControl {
        RunControl {
            id,
            trigger,
            scheduled_at,
            attempt,
            started_at: Mutex::new(None),
            tree: Mutex::new(None),
            stop_tx: watch::channel(None).0,
            done_tx: watch::channel(false).0,
        }
    }

    /// Asks the execution to stop (the first reason wins).
    pub fn stop(&self, reason: StopReason) {
        self.stop_tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Resolves once the execution is over and recorded.
    pub async fn done(&self) {
        let mut rx = self.done_tx.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    pub fn mark_done(&self) {
        self.done_tx.send_replace(true);
    }

    pub fn started_at(&self) -> Option<String> {
        self.started_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The stop reason, if a stop was asked for.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop_tx.borrow().clone()
    }

    /// Resolves with the stop reason once one is given (at once if one was given already).
    async fn stop_requested(&self) -> StopReason {
        let mut rx = self.stop_tx.subscribe();
        loop {
            if let Some(r) = rx.borrow_and_update().clone() {
                return r;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// What to run.
pub struct Launch<'a> {
    pub spec: &'a CronJobSpec,
    pub instance: String,
    pub log_file: PathBuf,
}

/// A started execution.
pub struct Spawned {
    pub pid: u32,
    pub started_at: String,
    run: Run<OutputCapture>,
    /// Keeps the execution's tree in the metrics sampler until the execution is over; what the sampler
    /// saw of it (peak memory, CPU of descendants nobody waited for) goes into the record.
    watch: Option<WatchGuard>,
}

/// Starts the command; the error says why it could not.
pub fn spawn(
    launch: &Launch,
    control: &RunControl,
    metrics: Option<&Metrics>,
) -> Result<Spawned, String> {
    let env = job_env(launch.spec, control.id, control.scheduled_at.as_deref())
        .map_err(|e| e.to_string())?;
    let spec = SpawnSpec {
        argv: launch.spec.command.argv(),
        cwd: launch.spec.working_dir.clone(),
        env,
        instance: launch.instance.clone(),
    };
    let run = Run::start(&spec, STOPPING, |stdout, stderr| {
        OutputCapture::start(stdout, stderr, Some(&launch.log_file))
    })
    .map_err(|e| format!("{}: {e}", spec.argv[0]))?;
    let started_at = now_rfc3339();
    *control.tree.lock().unwrap_or_else(|e| e.into_inner()) = Some(run.tree().clone());
    *control.started_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(started_at.clone());
    let watch = metrics.map(|m| m.watch(Kind::Job, &launch.spec.name, run.tree().clone()));
    Ok(Spawned {
        pid: run.pid(),
        started_at,
        run,
        watch,
    })
}

/// Waits for the execution to end on its own, at its timeout, or on request; stops what is left of its
/// tree; returns the record of its end.
pub async fn supervise(s: Spawned, control: &RunControl, timeout: Duration) -> ExecutionEnd {
    let (ending, finished) = s.run.wait(timeout, control.stop_requested()).await;
    let ending = match ending {
        process::Ending::Exited => {
            Ending::Exited(finished.exit().unwrap_or(Exit::Signal(Signal::SIGKILL)))
        }
        process::Ending::TimedOut => Ending::Stopped(StopReason::TimedOut),
        process::Ending::Stopped(reason) => Ending::Stopped(reason),
    };
    // Read before the guard goes: the tree is gone, so nothing is added after this.
    let seen = s
        .watch
        .as_ref()
        .map(WatchGuard::summary)
        .unwrap_or_default();
    record(control.id, &ending, finished, seen)
}

/// Peak memory is the larger of the sampler's peak (the whole tree, orphans included, at each sample)
/// and the leader's `ru_maxrss` (its largest waited-for process at any moment); CPU likewise the larger
/// of the sampler's sum and the rusage. Runs shorter than the sampling interval, or started before the
/// sampler was attached, have the rusage alone.
fn record(
    id: i64,
    ending: &Ending,
    finished: Finished<(CapturedOutput, CapturedOutput)>,
    seen: WatchSummary,
) -> ExecutionEnd {
    let (status, message) = plan::status_of(ending, finished.killed);
    let exit = finished.exit();
    let usage = finished.ended.map(|e| e.usage).unwrap_or_default();
    let sampled_cpu_ms = (seen.cpu_seconds * 1000.0) as u64;
    let reaped_cpu_ms = (usage.user_us + usage.system_us) / 1000;
    let rss = seen.peak_rss_bytes.max(usage.max_rss_kb * 1024);
    let (stdout, stderr) = finished.output;
    ExecutionEnd {
        id,
        status,
        ended_at: now_rfc3339(),
        duration_ms: Some(finished.elapsed.as_millis() as u64),
        exit_code: exit.and_then(Exit::code),
        signal: exit.and_then(Exit::signal_name),
        stdout,
        stderr,
        max_rss_bytes: (rss > 0).then_some(rss),
        cpu_time_ms: Some(sampled_cpu_ms.max(reaped_cpu_ms)),
        // Only the sampler sees CPU over an interval; rusage has no peak.
        peak_cpu_percent: (seen.samples > 1)
            .then(|| (seen.peak_cpu_percent * 100.0).round() / 100.0),
        message,
    }
}

/// The record of an execution that could not start.
pub fn spawn_failed(id: i64, why: String) -> ExecutionEnd {
    let (status, message) = plan::status_of(&Ending::SpawnFailed(why), false);
    ExecutionEnd {
        id,
        status,
        ended_at: now_rfc3339(),
        duration_ms: None,
        exit_code: None,
        signal: None,
        stdout: CapturedOutput::default(),
        stderr: CapturedOutput::default(),
        max_rss_bytes: None,
        cpu_time_ms: None,
        peak_cpu_percent: None,
        message,
    }
}

/// The record of an execution stopped before it started.
pub fn never_started(id: i64, reason: &StopReason) -> ExecutionEnd {
    let (status, message) = plan::status_of(&Ending::Stopped(reason.clone()), false);
    ExecutionEnd {
        status,
        message,
        ..spawn_failed(id, String::new())
    }
}
