//! One command of a job, once the policy allowed it: a `process::Run` with the service's environment
//! and a `TEND_INSTANCE` marker, its output's tail kept (`output::Capture`), and its whole tree stopped
//! at the timeout, on cancellation or shutdown (`Stop`), or when the leader exits leaving descendants
//! behind. What is left here is the step's vocabulary: statuses and messages.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::watch;

use super::output::Capture;
use crate::process::{Ending, Exit, Run, SpawnSpec, Stopping};
use crate::wire::StepStatus;

/// A command's tree gets SIGTERM, SIGKILL 5 s later; its output may keep arriving 2 s after that.
const STOPPING: Stopping = Stopping {
    signal: Signal::SIGTERM,
    grace: Duration::from_secs(5),
    output_grace: Duration::from_secs(2),
};

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
        instance: launch.instance,
    };
    let run = match Run::start(&spec, STOPPING, Capture::start) {
        Ok(run) => run,
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
    let (end, finished) = run.wait(launch.timeout, stopped(&mut stop)).await;
    let exit = finished.exit();
    let (status, message) = match end {
        Ending::Exited => match exit {
            Some(Exit::Code(0)) => (StepStatus::Ok, "exited with code 0".to_string()),
            Some(e) => (StepStatus::Failed, e.to_string()),
            None => (StepStatus::Failed, "its exit status was lost".to_string()),
        },
        Ending::TimedOut => (
            StepStatus::TimedOut,
            format!(
                "timed out after {}; its process tree was stopped",
                seconds(launch.timeout)
            ),
        ),
        Ending::Stopped(Stop::Cancel) => (
            StepStatus::Cancelled,
            "cancelled: its process tree was stopped".to_string(),
        ),
        Ending::Stopped(Stop::Shutdown) => (
            StepStatus::Failed,
            "stopped: the daemon is shutting down".to_string(),
        ),
    };
    Ran {
        status,
        exit_code: exit.and_then(Exit::code),
        signal: exit.and_then(Exit::signal_name),
        pid: Some(finished.pid),
        duration_ms: started.elapsed().as_millis() as u64,
        output_tail: finished.output,
        message,
    }
}
