//! One task per service: owns its current run (a `process::Run` whose output goes to the log pipeline)
//! and drives `lifecycle::step` with everything that can wake it (a command, the leader's exit, the
//! backoff timer, a probe result, a change of its dependencies' states), executing the effects the
//! machine asks for. Whether its dependencies are ready is assessed here (`Shared::assess`) and fed to
//! the machine as inputs; while it waits, or runs with `restart = true` edges, it watches every
//! service's state changes.

use std::collections::{BTreeMap, VecDeque};
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
use crate::wire::{ExitInfo, HealthState, ServiceSpec, ServiceState, WaitingFor};

/// Requests to a service actor; each answers with the state once the request is carried out.
pub enum Cmd {
    Start {
        reason: String,
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
    /// While waiting: the dependencies whose condition does not hold, and why.
    waiting_for: Vec<WaitingFor>,
    /// The run number of each `restart = true` dependency when the current run was spawned: a
    /// different number later means the dependency restarted ("dependency lost").
    dep_runs: BTreeMap<String, u64>,
    /// Bumped on every service's transition or health change (`Shared::states`).
    states: tokio::sync::watch::Receiver<u64>,
}

enum Wake {
    Cmd(Option<Cmd>),
    Exit(Option<Exit>),
    Timer,
    Health(Report),
    Deps,
}

pub fn policy_of(spec: &ServiceSpec) -> Policy {
    Policy {
        restart: spec.restart,
        max_restarts: spec.max_restarts,
        backoff: spec.backoff.clone(),
        depends_timeout: Duration::from_secs(spec.depends_timeout_s),
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
            states: shared.states.subscribe(),
            shared,
            once_args: None,
            waiting_for: Vec::new(),
            dep_runs: BTreeMap::new(),
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        loop {
            self.settle().await;
            let wake_at = match self.m.state {
                State::Backoff { until } => Some(until),
                State::Waiting { deadline } => deadline,
                _ => None,
            };
            // A due (or zero) delay must not pay the timer wheel's millisecond granularity.
            if wake_at.is_some_and(|t| t <= Instant::now()) {
                self.on_timer().await;
                continue;
            }
            let far = Instant::now() + Duration::from_secs(86_400 * 365);
            let watch_deps = self.watches_deps();
            let (current, health_rx, states) =
                (&mut self.current, &mut self.health_rx, &mut self.states);
            let wake = tokio::select! {
                cmd = rx.recv() => Wake::Cmd(cmd),
                // `exited` is cancel-safe: another wake-up leaves the pending exit in the run.
                exit = async { current.as_mut().expect("guarded").run.exited().await }, if current.is_some() => Wake::Exit(exit),
                _ = tokio::time::sleep_until(wake_at.unwrap_or(far).into()), if wake_at.is_some() => Wake::Timer,
                Some(report) = health_rx.recv() => Wake::Health(report),
                Ok(()) = states.changed(), if watch_deps => Wake::Deps,
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
                Wake::Timer => self.on_timer().await,
                Wake::Health(report) => self.on_health(report).await,
                // `settle` at the top of the loop looks at the dependencies again.
                Wake::Deps => {}
            }
        }
    }

    /// Returns false when the actor should end.
    async fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Start { reason, reply } => {
                let input = self.start_input(reason, false);
                self.feed(input).await;
                let _ = reply.send(self.state());
            }
            Cmd::Stop(reply) => {
                self.feed(Input::Stop).await;
                let _ = reply.send(self.state());
            }
            Cmd::Restart { reason, reply } => {
                let input = self.start_input(reason, true);
                self.feed(input).await;
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

    /// What a start (or a restart, `restart`) asks of the machine: a plain start when the service is
    /// not idle or its dependencies are ready, else a start that waits for them.
    fn start_input(&mut self, reason: String, restart: bool) -> Input {
        let idle = matches!(
            self.m.state,
            State::Stopped | State::Exited | State::Fatal | State::Backoff { .. }
        );
        if idle && !self.spec.depends_on.is_empty() {
            let (ready, blocked, waiting_for) = self.shared.assess(&self.spec.depends_on);
            if !ready {
                let reason = format!("{reason}; waiting for {}", describe(&waiting_for));
                self.waiting_for = waiting_for;
                return Input::StartWaiting {
                    reason,
                    blocked,
                    at: Instant::now(),
                };
            }
        }
        if restart {
            Input::Restart { reason }
        } else {
            Input::Start { reason }
        }
    }

    /// Whether other services' state changes concern this one: it waits for dependencies, or runs
    /// with `restart = true` edges.
    fn watches_deps(&self) -> bool {
        match self.m.state {
            State::Waiting { .. } => true,
            State::Running { .. } => !self.dep_runs.is_empty(),
            _ => false,
        }
    }

    /// Feeds the machine what the dependencies' states mean now: ready or still pending while it
    /// waits, lost while it runs.
    async fn settle(&mut self) {
        // Marks the current states as seen: a change after this wakes the loop again.
        self.states.borrow_and_update();
        loop {
            match self.m.state {
                State::Waiting { .. } => {
                    let (ready, blocked, waiting_for) = self.shared.assess(&self.spec.depends_on);
                    if ready {
                        self.waiting_for.clear();
                        self.feed(Input::DepsReady {
                            reason: "dependencies ready".into(),
                        })
                        .await;
                        continue;
                    }
                    let reason = format!("waiting for {}", describe(&waiting_for));
                    if waiting_for != self.waiting_for {
                        self.waiting_for = waiting_for;
                        self.shared
                            .set_waiting(&self.name, self.waiting_for.clone());
                    }
                    self.feed(Input::DepsPending {
                        reason,
                        blocked,
                        at: Instant::now(),
                    })
                    .await;
                    return;
                }
                State::Running { .. } if !self.dep_runs.is_empty() => {
                    let runs = self
                        .shared
                        .runs_of(self.dep_runs.keys().map(String::as_str));
                    let lost = self
                        .dep_runs
                        .iter()
                        .find(|(name, n)| runs.get(*name).is_some_and(|now| now != *n));
                    let Some((lost, _)) = lost else { return };
                    let reason = format!(
                        "{lost} restarted (depends_on.{lost}.restart); stopping to start again once it is ready"
                    );
                    self.feed(Input::DepsLost {
                        reason,
                        at: Instant::now(),
                    })
                    .await;
                }
                _ => return,
            }
        }
    }

    async fn on_timer(&mut self) {
        let at = Instant::now();
        match self.m.state {
            State::Waiting { .. } => {
                let reason = format!(
                    "dependencies not ready after {} s (depends_timeout_s): {}",
                    self.spec.depends_timeout_s,
                    describe(&self.waiting_for)
                );
                self.feed(Input::WaitElapsed { reason, at }).await;
            }
            _ => self.feed(Input::BackoffElapsed { at }).await,
        }
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
                // This run counts against the dependencies' runs as they are now.
                let restart_edges = self
                    .spec
                    .depends_on
                    .iter()
                    .filter(|(_, d)| d.restart)
                    .map(|(n, _)| n);
                self.dep_runs = self.shared.runs_of(restart_edges);
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
            waiting_for: match self.m.state {
                State::Waiting { .. } => self.waiting_for.clone(),
                _ => Vec::new(),
            },
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

/// `db (healthy): db is starting; cache (started): cache is stopped`.
fn describe(waiting_for: &[WaitingFor]) -> String {
    let parts: Vec<String> = waiting_for
        .iter()
        .map(|w| format!("{} ({}): {}", w.service, w.condition.as_str(), w.reason))
        .collect();
    parts.join("; ")
}
