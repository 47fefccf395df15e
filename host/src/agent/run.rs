//! The one service `tend agent` runs: the supervisor's pure `lifecycle::step` driven by a small loop
//! (start, exit, backoff timer, stop request) instead of an actor, every run a `process::Run` (its own
//! session or cgroup, the whole tree stopped), its output passed through to the agent's own stdout and
//! stderr (`Passthrough`). No store, no bus, no dependencies (the engine orders containers), no periodic
//! health checks (the engine's probe calls `/healthz`). What the agent exits with is decided here
//! (`exit_status`).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::pipe;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::lifecycle::{self, Effect, Input, Machine, Policy, State};
use crate::process::{Exit, Output, Run, SpawnSpec, Stopping};
use crate::spec;
use crate::wire::{RestartPolicy, ServiceSpec, Status};

/// How long output may keep arriving once the tree is gone (the supervisor's value).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
/// A line longer than this is passed on in pieces rather than held in memory.
const MAX_PENDING: usize = 64 * 1024;
/// The exit status when the command could not be started at all (a shell's "command not found").
pub const SPAWN_FAILED: u8 = 127;

/// The service's restart rules inside the agent: `never` (and no restart of a failed spawn) unless
/// `keep_restart`, then the service's own policy, backoff and `max_restarts`.
pub fn agent_policy(spec: &ServiceSpec, keep_restart: bool) -> Policy {
    let mut policy = crate::supervisor::policy_of(spec);
    if !keep_restart {
        policy.restart = RestartPolicy::Never;
        policy.max_restarts = 0;
    }
    policy
}

/// The exit status of a process as a shell reports it: its code, or 128 + the signal's number.
pub fn exit_status(exit: Exit) -> u8 {
    match exit {
        Exit::Code(c) => (c & 0xff) as u8,
        Exit::Signal(s) => (128 + s as i32).min(255) as u8,
    }
}

/// Drives one service until it is over for good (exited without a restart, fatal, or stopped), and
/// publishes its status on `status` (what `/healthz` reads).
pub struct Driver {
    name: String,
    spec: ServiceSpec,
    policy: Policy,
    m: Machine,
    run: Option<Run<Passthrough>>,
    runs: u64,
    /// The last run's end, for the exit status.
    last_exit: Option<Exit>,
    spawn_failed: bool,
    status: watch::Sender<Status>,
}

impl Driver {
    pub fn new(spec: ServiceSpec, policy: Policy, status: watch::Sender<Status>) -> Driver {
        Driver {
            name: spec.name.clone(),
            spec,
            policy,
            m: Machine::default(),
            run: None,
            runs: 0,
            last_exit: None,
            spawn_failed: false,
            status,
        }
    }

    /// Starts the service and runs it until it is over; `stop` (SIGTERM/SIGINT to the agent) stops the
    /// whole tree with the service's stop signal, SIGKILL after `stop_timeout_s`. Returns the agent's
    /// exit status: the last run's (`exit_status`), 127 when the command could not be started, 1 when
    /// it gave up after `max_restarts` with a last run that had succeeded.
    pub async fn drive(mut self, stop: impl Future<Output = ()>) -> u8 {
        self.feed(Input::Start {
            reason: "started by tend agent".into(),
        })
        .await;
        let mut stop = std::pin::pin!(stop);
        let mut stopping = false;
        loop {
            if matches!(self.m.state, State::Stopped | State::Exited | State::Fatal) {
                break;
            }
            let backoff = match self.m.state {
                State::Backoff { until } => Some(tokio::time::Instant::from_std(until)),
                _ => None,
            };
            tokio::select! {
                exit = exited(&mut self.run) => {
                    let exit = match exit {
                        Some(e) => e,
                        // Its status was lost: report it like a kill, the safest reading for a restart.
                        None => Exit::Signal(Signal::SIGKILL),
                    };
                    // The leader is gone; end() stops whatever it left running before the next decision.
                    if let Some(run) = self.run.take() {
                        run.end().await;
                    }
                    self.last_exit = Some(exit);
                    self.feed(Input::Exited { exit, at: Instant::now(), jitter: jitter() }).await;
                }
                _ = sleep_until(backoff), if backoff.is_some() => {
                    self.feed(Input::BackoffElapsed { at: Instant::now() }).await;
                }
                _ = &mut stop, if !stopping => {
                    stopping = true;
                    self.feed(Input::Stop).await;
                }
            }
        }
        self.status.send_replace(self.m.state.status());
        let gave_up = self.m.state == State::Fatal;
        match self.last_exit {
            None if self.spawn_failed => SPAWN_FAILED,
            // Gave up after max_restarts, though the last run succeeded (restart = always).
            Some(Exit::Code(0)) | None if gave_up => 1,
            Some(exit) => exit_status(exit),
            // The run's status was lost (reaped by someone else): nothing better to report.
            None => 0,
        }
    }

    async fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let (m, effects) = lifecycle::step(self.m, &self.policy, input);
            self.m = m;
            for effect in effects {
                match effect {
                    // The transitions the daemon would record, on stderr (the reason names the exit).
                    Effect::Record(t) => {
                        let pid = t.pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
                        eprintln!(
                            "tend agent: {}: {} -> {}: {}{pid}",
                            self.name,
                            t.from.as_str(),
                            t.to.as_str(),
                            t.reason
                        );
                    }
                    Effect::Spawn => queue.push_back(self.spawn()),
                    Effect::Terminate => queue.push_back(self.terminate().await),
                    // The loop arms the timer from the Backoff state itself.
                    Effect::WakeAt(_) => {}
                }
            }
        }
        self.status.send_replace(self.m.state.status());
    }

    fn stopping(&self) -> Stopping {
        Stopping {
            signal: spec::parse_signal(&self.spec.stop_signal).unwrap_or(Signal::SIGTERM),
            grace: Duration::from_secs(self.spec.stop_timeout_s),
            output_grace: OUTPUT_GRACE,
        }
    }

    fn spawn(&mut self) -> Input {
        let mut env = match spec::service_env(&self.spec) {
            Ok(env) => env,
            Err(e) => return self.spawn_failed(e.to_string()),
        };
        env.insert("TEND_SERVICE".into(), self.name.clone());
        self.runs += 1;
        let spawn = SpawnSpec {
            argv: self.spec.command.argv(),
            cwd: self.spec.working_dir.clone(),
            env,
            instance: format!("agent.{}.{}.{}", std::process::id(), self.name, self.runs),
        };
        match Run::start(&spawn, self.stopping(), Passthrough::start) {
            Ok(run) => {
                let pid = run.pid();
                self.run = Some(run);
                Input::Spawned {
                    pid,
                    at: Instant::now(),
                }
            }
            Err(e) => self.spawn_failed(format!("{}: {e}", spawn.argv[0])),
        }
    }

    fn spawn_failed(&mut self, error: String) -> Input {
        self.spawn_failed = true;
        Input::SpawnFailed {
            error,
            at: Instant::now(),
            jitter: jitter(),
        }
    }

    async fn terminate(&mut self) -> Input {
        let (exit, killed) = match self.run.take() {
            Some(run) => {
                let finished = run.end().await;
                (finished.exit(), finished.killed)
            }
            None => (None, false),
        };
        if exit.is_some() {
            self.last_exit = exit;
        }
        Input::TreeGone {
            exit,
            killed,
            at: Instant::now(),
            jitter: jitter(),
        }
    }
}

/// The current run's exit; pending forever when there is none (so it can be a `select!` branch).
async fn exited(run: &mut Option<Run<Passthrough>>) -> Option<Exit> {
    match run {
        Some(run) => run.exited().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn jitter() -> f64 {
    rand::random_range(-1.0..=1.0)
}

/// A run's output copied to the agent's own stdout and stderr as it comes, whole lines at a time (so
/// the container runtime's log driver sees the service's lines), one task per pipe.
pub struct Passthrough {
    tasks: Vec<JoinHandle<()>>,
}

impl Passthrough {
    fn start(stdout: OwnedFd, stderr: OwnedFd) -> Passthrough {
        Passthrough {
            tasks: vec![
                tokio::spawn(copy_lines(stdout, tokio::io::stdout())),
                tokio::spawn(copy_lines(stderr, tokio::io::stderr())),
            ],
        }
    }
}

impl Output for Passthrough {
    type Kept = ();

    /// Bounded: a process that escaped the tree could hold a pipe open.
    async fn finish(self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            for task in self.tasks {
                let _ = task.await;
            }
        })
        .await;
    }
}

/// Copies `fd` to `out` up to the last complete line of what is there; a partial line waits for its
/// end (or for the pipe to close, or for `MAX_PENDING` bytes).
async fn copy_lines(fd: OwnedFd, mut out: impl tokio::io::AsyncWrite + Unpin) {
    let pipe = match pipe::Receiver::from_owned_fd(fd) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tend agent: cannot read the service's output: {e}");
            return;
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        match pipe.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                let cut = match memchr::memrchr(b'\n', &pending) {
                    Some(i) => i + 1,
                    None if pending.len() >= MAX_PENDING => pending.len(),
                    None => continue,
                };
                if out.write_all(&pending[..cut]).await.is_err() || out.flush().await.is_err() {
                    // Our own stdout is gone: keep draining so the service never blocks on a full pipe.
                    pending.clear();
                    continue;
                }
                pending.drain(..cut);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if pipe.readable().await.is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if !pending.is_empty() {
        let _ = out.write_all(&pending).await;
    }
    let _ = out.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_the_shells() {
        assert_eq!(exit_status(Exit::Code(0)), 0);
        assert_eq!(exit_status(Exit::Code(3)), 3);
        assert_eq!(exit_status(Exit::Signal(Signal::SIGTERM)), 143);
        assert_eq!(exit_status(Exit::Signal(Signal::SIGKILL)), 137);
    }
}
