//! One command of a job, once the policy allowed it: spawned through `process` in its own session
//! with the service's environment and a `TEND_INSTANCE` marker, its output's tail kept, and its whole
//! tree stopped at the timeout, on cancellation or shutdown (`Stop`), or when the leader exits leaving
//! descendants behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::watch;

use super::output::Capture;
use crate::process::{self, Ended, Exit, SpawnSpec, Tree};
use crate::wire::StepStatus;

/// Between SIGTERM and SIGKILL when a command's tree is stopped.
const GRACE: Duration = Duration::from_secs(5);
/// How long output may keep arriving once the tree is gone.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// What to run.
pub struct Launch<'a> {
    pub argv: &'a [String],
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub instance: String,
    pub timeout: Duration,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Ran {
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub pid: Option<u32>,
    pub duration_ms: u64,
    pub output_tail: String,
    pub message: String,
}

/// Why a job is told to stop before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// `POST /api/jobs/{id}/cancel`.
    Cancel,
    /// The daemon is shutting down (overrides a cancel).
    Shutdown,
}

/// What a job's runner watches: `None` until it is told to stop.
pub type StopRx = watch::Receiver<Option<Stop>>;

enum End {
    Exited(Option<Ended>),
    TimedOut,
    Stopped(Stop),
}

/// Resolves once the job is told to stop, with why (never, if the sender is gone).
pub async fn stopped(stop: &mut StopRx) -> Stop {
    let why = stop.wait_for(Option::is_some).await.map(|s| *s);
    match why {
        Ok(s) => s.unwrap_or(Stop::Shutdown),
        Err(_) => std::future::pending().await,
    }
}

/// Resolves once the daemon shuts down (never, if the sender is gone): what a restart in progress
/// gives way to, where a cancel lets it finish.
pub async fn shutting_down(stop: &mut StopRx) {
    if stop.wait_for(|s| *s == Some(Stop::Shutdown)).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

pub async fn run(launch: Launch<'_>, mut stop: StopRx) -> Ran {
    let started = Instant::now();
    let spec = SpawnSpec {
        argv: launch.argv.to_vec(),
        cwd: launch.cwd,
        env: launch.env,
        instance: launch.instance.clone(),
    };
    let child = match process::spawn(&spec) {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                status: StepStatus::Failed,
                exit_code: None,
                signal: None,
                pid: None,
                duration_ms: started.elapsed().as_millis() as u64,
                output_tail: String::new(),
                message: format!("cannot start {}: {e}", spec.argv[0]),
            };
        }
    };
    let pid = child.pid;
    let tree = Tree::new(child.pid, child.start_ticks, launch.instance);
    let capture = Capture::start(child.stdout, child.stderr);
    let mut exit = Some(child.exit);
    let end = {
        let rx = exit.as_mut().expect("set above");
        tokio::select! {
            res = rx => End::Exited(res.ok()),
            _ = tokio::time::sleep(launch.timeout) => End::TimedOut,
            why = stopped(&mut stop) => End::Stopped(why),
        }
    };
    let ended = match &end {
        End::Exited(ended) => {
            // The leader is gone; whatever it left running must not outlive the step.
            if !tree.scan().is_empty() {
                tree.drain(Signal::SIGTERM, BTreeSet::new(), Instant::now() + GRACE)
                    .await;
            }
            *ended
        }
        End::TimedOut | End::Stopped(_) => tree.stop(Signal::SIGTERM, exit.take(), GRACE).await.0,
    };
    let output_tail = capture.finish(OUTPUT_GRACE).await;
    let exit = ended.map(|e| e.exit);
    let (status, message) = match end {
        End::Exited(_) => match exit {
            Some(Exit::Code(0)) => (StepStatus::Ok, "exited with code 0".to_string()),
            Some(e) => (StepStatus::Failed, e.to_string()),
            None => (StepStatus::Failed, "its exit status was lost".to_string()),
        },
        End::TimedOut => (
            StepStatus::TimedOut,
            format!(
                "timed out after {}; its process tree was stopped",
                seconds(launch.timeout)
            ),
        ),
        End::Stopped(Stop::Cancel) => (
            StepStatus::Cancelled,
            "cancelled: its process tree was stopped".to_string(),
        ),
        End::Stopped(Stop::Shutdown) => (
            StepStatus::Failed,
            "stopped: the daemon is shutting down".to_string(),
        ),
    };
    Ran {
        status,
        exit_code: exit.and_then(Exit::code),
        signal: exit.and_then(Exit::signal_name),
        pid: Some(pid),
        duration_ms: started.elapsed().as_millis() as u64,
        output_tail,
        message,
    }
}
