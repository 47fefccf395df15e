//! One execution: spawned through `process` (its own session, the job's environment, a
//! `TEND_INSTANCE` marker), output captured, the tree's resources sampled while it runs, the whole tree
//! stopped at the timeout or on request, and a report of how it ended. Stores nothing itself: the
//! caller records the result.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::{oneshot, watch};

use super::job::job_env;
use super::output::OutputCapture;
use super::plan::{self, Ending, StopReason};
use super::stop::{GRACE, stop_tree};
use crate::process::{self, Ended, Exit, SpawnSpec, Tree};
use crate::store::{ExecutionEnd, now_rfc3339};
use crate::wire::{CapturedOutput, CronJobSpec, Trigger};

/// How long output may keep arriving after the tree is gone (a process that escaped it could hold a
/// pipe open).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);
/// Resource samples start this soon and slow down to one a second.
const FIRST_SAMPLE: Duration = Duration::from_millis(50);
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

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

    /// The process tree while it runs, for samplers.
    pub fn tree(&self) -> Option<Arc<Tree>> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
    started: Instant,
    tree: Arc<Tree>,
    exit: oneshot::Receiver<Ended>,
    capture: OutputCapture,
    /// Keeps the execution's tree in the metrics sampler until the execution is over.
    _watch: Option<crate::metrics::WatchGuard>,
}

/// Starts the command; the error says why it could not.
pub fn spawn(
    launch: &Launch,
    control: &RunControl,
    metrics: Option<&crate::metrics::Metrics>,
) -> Result<Spawned, String> {
    let env = job_env(launch.spec, control.id, control.scheduled_at.as_deref())
        .map_err(|e| e.to_string())?;
    let argv = launch.spec.command.argv();
    let spec = SpawnSpec {
        argv: argv.clone(),
        cwd: launch.spec.working_dir.clone(),
        env,
        instance: launch.instance.clone(),
    };
    let child = process::spawn(&spec).map_err(|e| format!("{}: {e}", argv[0]))?;
    let started = Instant::now();
    let started_at = now_rfc3339();
    let tree = Arc::new(Tree::new(
        child.pid,
        child.start_ticks,
        launch.instance.clone(),
    ));
    *control.tree.lock().unwrap_or_else(|e| e.into_inner()) = Some(tree.clone());
    *control.started_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(started_at.clone());
    let capture = OutputCapture::start(child.stdout, child.stderr, Some(&launch.log_file));
    let watch =
        metrics.map(|m| m.watch(crate::metrics::Kind::Job, &launch.spec.name, tree.clone()));
    Ok(Spawned {
        pid: child.pid,
        started_at,
        started,
        tree,
        exit: child.exit,
        capture,
        _watch: watch,
    })
}

/// Peak memory and latest CPU of the tree, from `/proc` samples.
#[derive(Clone, Copy, Debug, Default)]
struct Peak {
    rss_bytes: u64,
    cpu_ticks: u64,
}

async fn sample(tree: Arc<Tree>, peak: Arc<Mutex<Peak>>) {
    let mut pause = FIRST_SAMPLE;
    loop {
        tokio::time::sleep(pause).await;
        let t = tree.clone();
        let Ok(u) = tokio::task::spawn_blocking(move || t.usage()).await else {
            return;
        };
        let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
        p.rss_bytes = p.rss_bytes.max(u.rss_bytes);
        p.cpu_ticks = p.cpu_ticks.max(u.cpu_ticks);
        drop(p);
        pause = (pause * 2).min(SAMPLE_EVERY);
    }
}

/// Waits for the execution to end on its own, at its timeout, or on request; stops what is left of its
/// tree; returns the record of its end.
pub async fn supervise(s: Spawned, control: &RunControl, timeout: Duration) -> ExecutionEnd {
    let peak = Arc::new(Mutex::new(Peak::default()));
    let sampler = tokio::spawn(sample(s.tree.clone(), peak.clone()));
    let mut exit = Some(s.exit);
    let mut ended: Option<Ended> = None;
    let ending = {
        let rx = exit.as_mut().expect("set above");
        tokio::select! {
            res = rx => {
                ended = res.ok();
                Ending::Exited(ended.map_or(Exit::Signal(Signal::SIGKILL), |e| e.exit))
            }
            _ = tokio::time::sleep(timeout) => Ending::Stopped(StopReason::TimedOut),
            reason = control.stop_requested() => Ending::Stopped(reason),
        }
    };
    if matches!(ending, Ending::Exited(_)) {
        exit = None;
    }
    // Whatever the way out, nothing of the tree may outlive the execution.
    let killed = if exit.is_some() || !s.tree.scan().is_empty() {
        stop_tree(&s.tree, &mut exit, &mut ended, GRACE).await
    } else {
        false
    };
    sampler.abort();
    let (stdout, stderr) = s.capture.finish(OUTPUT_GRACE).await;
    let peak = *peak.lock().unwrap_or_else(|e| e.into_inner());
    record(
        control.id, &ending, killed, ended, s.started, peak, stdout, stderr,
    )
}

#[allow(clippy::too_many_arguments)]
fn record(
    id: i64,
    ending: &Ending,
    killed: bool,
    ended: Option<Ended>,
    started: Instant,
    peak: Peak,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
) -> ExecutionEnd {
    let (status, message) = plan::status_of(ending, killed);
    let exit = ended.map(|e| e.exit);
    let usage = ended.map(|e| e.usage).unwrap_or_default();
    let sampled_cpu_ms = peak.cpu_ticks * 1000 / process::ticks_per_second();
    let reaped_cpu_ms = (usage.user_us + usage.system_us) / 1000;
    let rss = peak.rss_bytes.max(usage.max_rss_kb * 1024);
    ExecutionEnd {
        id,
        status,
        ended_at: now_rfc3339(),
        duration_ms: Some(started.elapsed().as_millis() as u64),
        exit_code: exit.and_then(Exit::code),
        signal: exit.and_then(Exit::signal_name),
        stdout,
        stderr,
        max_rss_bytes: (rss > 0).then_some(rss),
        cpu_time_ms: Some(sampled_cpu_ms.max(reaped_cpu_ms)),
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
