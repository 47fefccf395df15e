//! One task per service: owns its current run (a `process::Run` whose output goes to the log pipeline)
//! and drives `lifecycle::step` with everything that can wake it (a command, the leader's exit, the
//! backoff timer, a probe result), executing the effects the machine asks for.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::health::{self, Report, Tracker};
use crate::lifecycle::{self, Effect, Input, Machine, Policy, State, Transition};
use crate::logs::Capture;
use crate::process::{Exit, Run, SpawnSpec, Stopping};
use crate::spec;
use crate::store::fmt_time;
use crate::wire::{ExitInfo, HealthState, ServiceSpec, ServiceState};

/// Requests to a service actor; each answers with the state once the request is carried out.
pub enum Cmd {
    Start {
        reason: &'static str,
        reply: oneshot::Sender<ServiceState>,
    },
    Stop(oneshot::Sender<ServiceState>),
    Restart {
        reason: String,
        reply: oneshot::Sender<ServiceState>,
    },
    /// Restart with `args` appended to the command of the next run only (a custom restart).
    RestartWithArgs {
        reason: String,
        args: Vec<String>,
        reply: oneshot::Sender<ServiceState>,
    },
    /// The service is failing while running (e.g. over its memory limit): restart it like a crash.
    Fail {
        reason: String,
        reply: oneshot::Sender<ServiceState>,
    },
    /// Replace the spec; a running service restarts with it.
    Update(Box<ServiceSpec>, oneshot::Sender<ServiceState>),
    /// Stop and end the actor (service removed, or daemon shutting down).
    Finish(oneshot::Sender<ServiceState>),
}

/// How long a stopped run's output may keep arriving before the actor moves on (the capture goes on).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// The current run and its health probe.
struct Current {
    run: Run<Capture>,
    _checker: Option<AbortOnDrop>,
}

/// The run's health probe task, which must not outlive the run.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct Actor {
    name: String,
    spec: ServiceSpec,
    policy: Policy,
    m: Machine,
    current: Option<Current>,
    runs: u64,
    last_exit: Option<ExitInfo>,
    running_since: Option<SystemTime>,
    health: Tracker,
    health_tx: mpsc::Sender<Report>,
    health_rx: mpsc::Receiver<Report>,
    shared: Arc<Shared>,
    /// Extra args for the spawn of the restart being carried out; never outlives that command.
    once_args: Option<Vec<String>>,
}

enum Wake {
    Cmd(Option<Cmd>),
    Exit(Option<Exit>),
    Timer,
    Health(Report),
}

pub fn policy_of(spec: &ServiceSpec) -> Policy {
    Policy {
        restart: spec.restart,
        max_restarts: spec.max_restarts,
        backoff: spec.backoff.clone(),
    }
}

fn jitter() -> f64 {
    rand::random_range(-1.0..=1.0)
}

impl Actor {
    pub fn new(spec: ServiceSpec, shared: Arc<Shared>, restart_count: u32) -> Actor {
        let (health_tx, health_rx) = mpsc::channel(16);
        Actor {
            health: Tracker::default(),
            health_tx,
            health_rx,
            name: spec.name.clone(),
            policy: policy_of(&spec),
            spec,
            m: Machine {
                restart_count,
                ..Machine::default()
            },
            current: None,
            runs: 0,
            last_exit: None,
            running_since: None,
            shared,
            once_args: None,
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        loop {
            let wake_at = match self.m.state {
                State::Backoff { until } => Some(until),
                _ => None,
            };
            // A due (or zero) delay must not pay the timer wheel's millisecond granularity.
            if wake_at.is_some_and(|t| t <= Instant::now()) {
                self.feed(Input::BackoffElapsed { at: Instant::now() })
                    .await;
                continue;
            }
            let far = Instant::now() + Duration::from_secs(86_400 * 365);
            let (current, health_rx) = (&mut self.current, &mut self.health_rx);
            let wake = tokio::select! {
                cmd = rx.recv() => Wake::Cmd(cmd),
                // `exited` is cancel-safe: another wake-up leaves the pending exit in the run.
                exit = async { current.as_mut().expect("guarded").run.exited().await }, if current.is_some() => Wake::Exit(exit),
                _ = tokio::time::sleep_until(wake_at.unwrap_or(far).into()), if wake_at.is_some() => Wake::Timer,
                Some(report) = health_rx.recv() => Wake::Health(report),
            };
            match wake {
                Wake::Cmd(None) => {
                    self.feed(Input::Stop).await;
                    return;
                }
                Wake::Cmd(Some(cmd)) => {
                    if !self.handle(cmd).await {
                        return;
                    }
                }
                Wake::Exit(exit) => self.on_exit(exit).await,
                Wake::Timer => {
                    self.feed(Input::BackoffElapsed { at: Instant::now() })
                        .await
                }
                Wake::Health(report) => self.on_health(report).await,
            }
        }
    }

    /// Returns false when the actor should end.
    async fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Start { reason, reply } => {
                self.feed(Input::Start {
                    reason: reason.into(),
                })
                .await;
                let _ = reply.send(self.state());
            }
            Cmd::Stop(reply) => {
                self.feed(Input::Stop).await;
                let _ = reply.send(self.state());
            }
            Cmd::Restart { reason, reply } => {
                self.feed(Input::Restart { reason }).await;
                let _ = reply.send(self.state());
            }
            Cmd::RestartWithArgs {
                reason,
                args,
                reply,
            } => {
                self.once_args = Some(args);
                self.feed(Input::Restart { reason }).await;
                // A spawn that failed (backoff) retries later with the normal command.
                self.once_args = None;
                let _ = reply.send(self.state());
            }
            Cmd::Fail { reason, reply } => {
                self.feed(Input::Failing { reason }).await;
                let _ = reply.send(self.state());
            }
            Cmd::Update(spec, reply) => {
                self.spec = *spec;
                self.policy = policy_of(&self.spec);
                // A run is stopped the way the service is defined when it is stopped.
                let stopping = self.stopping();
                if let Some(current) = self.current.as_mut() {
                    current.run.set_stopping(stopping);
                }
                if matches!(self.m.state, State::Running { .. } | State::Backoff { .. }) {
                    self.feed(Input::Restart {
                        reason: "restart to apply the new definition".into(),
                    })
                    .await;
                }
                let _ = reply.send(self.state());
            }
            Cmd::Finish(reply) => {
                self.feed(Input::Stop).await;
                let _ = reply.send(self.state());
                return false;
            }
        }
        true
    }

    /// The leader exited on its own: clean up what is left of its tree, then let the machine decide.
    async fn on_exit(&mut self, exit: Option<Exit>) {
        let exit = exit.unwrap_or(Exit::Signal(Signal::SIGKILL));
        if let Some(current) = self.take_run() {
            // Stops what the leader left running (stop signal, SIGKILL after `stop_timeout_s`).
            current.run.end().await;
        }
        // The backoff delay counts from here, when the old run is completely gone.
        self.feed(Input::Exited {
            exit,
            at: Instant::now(),
            jitter: jitter(),
        })
        .await;
    }

    async fn on_health(&mut self, report: Report) {
        let current = matches!(self.m.state, State::Running { .. }) && report.run == self.runs;
        if !current {
            return;
        }
        self.shared.health_check(&self.name, report.check.clone());
        let retries = self.spec.effective_health().map_or(1, |h| h.retries);
        let change = self
            .health
            .observe(&report.check, report.in_start_period, retries);
        // The event before the state, as for transitions: a reader who sees the new health finds
        // its event.
        if let Some(change) = &change {
            tracing::info!(service = %self.name, reason = %change.reason, "health");
            self.shared.health_event(
                &self.name,
                self.m.state.status(),
                change.to,
                change.reason.clone(),
            );
        }
        self.shared
            .set_health(&self.name, Some(self.health.state), self.health.failures);
        if let Some(change) = change
            && change.restart
        {
            self.feed(Input::Failing {
                reason: change.reason,
            })
            .await;
        }
    }

    fn take_run(&mut self) -> Option<Current> {
        let run = self.current.take();
        if run.is_some() {
            self.shared.set_tree(&self.name, None);
            // Health belongs to a run: the next one starts from unknown.
            self.health = Tracker::default();
            if self.spec.effective_health().is_some() {
                self.shared
                    .set_health(&self.name, Some(HealthState::Unknown), 0);
            }
        }
        run
    }

    /// How the current definition stops a run: its stop signal, SIGKILL after `stop_timeout_s`.
    fn stopping(&self) -> Stopping {
        Stopping {
            signal: spec::parse_signal(&self.spec.stop_signal).unwrap_or(Signal::SIGTERM),
            grace: Duration::from_secs(self.spec.stop_timeout_s),
            output_grace: OUTPUT_GRACE,
        }
    }

    async fn feed(&mut self, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(input) = queue.pop_front() {
            let (m, effects) = lifecycle::step(self.m, &self.policy, input);
            self.m = m;
            for effect in effects {
                match effect {
                    Effect::Record(t) => self.record(t),
                    Effect::Spawn => queue.push_back(self.spawn()),
                    Effect::Terminate => queue.push_back(self.terminate().await),
                    // The run loop arms the timer from the Backoff state itself.
                    Effect::WakeAt(_) => {}
                }
            }
        }
    }

    fn spawn(&mut self) -> Input {
        let env = match spec::service_env(&self.spec) {
            Ok(env) => env,
            Err(e) => {
                return Input::SpawnFailed {
                    error: e.to_string(),
                    at: Instant::now(),
                    jitter: jitter(),
                };
            }
        };
        self.runs += 1;
        let instance = format!("{}.{}.{}", self.shared.node, self.name, self.runs);
        let mut env = env;
        env.insert("TEND_SERVICE".into(), self.name.clone());
        let argv = match self.once_args.take() {
            Some(args) => spec::argv_with_args(&self.spec.command, &args),
            None => self.spec.command.argv(),
        };
        let spawn = SpawnSpec {
            argv,
            cwd: self.spec.working_dir.clone(),
            env,
            instance,
        };
        let (hub, name) = (&self.shared.hub, &self.name);
        match Run::start(&spawn, self.stopping(), |stdout, stderr| {
            hub.capture(name, stdout, stderr)
        }) {
            Ok(run) => {
                let pid = run.pid();
                self.shared.set_tree(&self.name, Some(run.tree().clone()));
                self.health = Tracker::default();
                let checker = self.spec.effective_health().map(|h| {
                    AbortOnDrop(health::spawn_checker(
                        self.shared.plugins.clone(),
                        self.name.clone(),
                        self.spec.port,
                        h,
                        self.runs,
                        self.health_tx.clone(),
                    ))
                });
                self.current = Some(Current {
                    run,
                    _checker: checker,
                });
                self.running_since = Some(SystemTime::now());
                Input::Spawned {
                    pid,
                    at: Instant::now(),
                }
            }
            Err(e) => Input::SpawnFailed {
                error: format!("{}: {e}", spawn.argv[0]),
                at: Instant::now(),
                jitter: jitter(),
            },
        }
    }

    /// Stops the whole tree: stop signal, SIGKILL after `stop_timeout_s`, done when nothing is left.
    async fn terminate(&mut self) -> Input {
        let Some(current) = self.take_run() else {
            return Input::TreeGone {
                exit: None,
                killed: false,
                at: Instant::now(),
                jitter: jitter(),
            };
        };
        let finished = current.run.end().await;
        Input::TreeGone {
            exit: finished.exit(),
            killed: finished.killed,
            at: Instant::now(),
            jitter: jitter(),
        }
    }

    fn state(&self) -> ServiceState {
        let (pid, uptime_s) = match self.m.state {
            State::Running { pid, .. } | State::Stopping { pid, .. } => (
                Some(pid),
                self.running_since
                    .and_then(|t| t.elapsed().ok())
                    .map(|d| d.as_secs_f64()),
            ),
            _ => (None, None),
        };
        let next_start_at = match self.m.state {
            State::Backoff { until } => {
                let wait = until.saturating_duration_since(Instant::now());
                Some(fmt_time((SystemTime::now() + wait).into()))
            }
            _ => None,
        };
        let health = self.spec.effective_health().map(|_| match self.m.state {
            State::Running { .. } => self.health.state,
            _ => HealthState::Unknown,
        });
        ServiceState {
            status: self.m.state.status(),
            pid,
            uptime_s,
            restart_count: self.m.restart_count,
            last_exit: self.last_exit.clone(),
            next_start_at,
            health,
            memory_mb: None,
            cpu_percent: None,
            waiting_for: Vec::new(),
        }
    }

    fn record(&mut self, t: Transition) {
        if let Some(exit) = t.exit {
            self.last_exit = Some(ExitInfo {
                code: exit.code(),
                signal: exit.signal_name(),
                at: crate::store::now_rfc3339(),
            });
        }
        let state = self.state();
        let tree = self.current.as_ref().map(|c| &**c.run.tree());
        self.shared.transition(&self.name, t, state, tree);
    }
}
