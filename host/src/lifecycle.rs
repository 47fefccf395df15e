//! The service lifecycle as a pure transition function: `step(machine, policy, input) -> effects`.
//! No processes, no clocks, no randomness: time and jitter come in with the inputs, so every rule here is
//! unit-tested directly. The supervisor's service actor executes the effects.
//!
//! Dependencies: whether they are ready is decided by the actor (with `deps::readiness`) and comes in
//! as inputs. A start whose dependencies are not ready waits (`Waiting`, with a deadline of
//! `depends_timeout` unless a dependency is blocked: failed for good); "dependencies ready" starts
//! it; the deadline makes it `fatal`. "Dependency lost" (a dependency on a `restart = true` edge began a
//! new run) stops a running service and makes it wait again, so it starts after the dependency is
//! ready again.

use std::time::{Duration, Instant};

use crate::process::Exit;
use crate::wire::{Backoff, RestartPolicy, Status};

/// What happens once a stop completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterStop {
    Stay,
    Start,
    /// The stop was forced by failed health checks: treat the end like a crash.
    Fail,
    /// A dependency was lost: wait for the dependencies, then start.
    Wait,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Stopped,
    /// Started, waiting for dependencies; no deadline while one of them is blocked.
    Waiting {
        deadline: Option<Instant>,
    },
    Starting,
    Running {
        pid: u32,
        since: Instant,
    },
    Backoff {
        until: Instant,
    },
    Stopping {
        pid: u32,
        then: AfterStop,
    },
    Exited,
    Fatal,
}

impl State {
    pub fn status(&self) -> Status {
        match self {
            State::Stopped => Status::Stopped,
            State::Waiting { .. } => Status::Waiting,
            State::Starting => Status::Starting,
            State::Running { .. } => Status::Running,
            State::Backoff { .. } => Status::Backoff,
            State::Stopping { .. } => Status::Stopping,
            State::Exited => Status::Exited,
            State::Fatal => Status::Fatal,
        }
    }
}

/// The restart rules of one service.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub restart: RestartPolicy,
    pub max_restarts: u32,
    pub backoff: Backoff,
    /// How long a start waits for its dependencies (`depends_timeout_s`).
    pub depends_timeout: Duration,
}

/// State plus the counters the rules need.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Machine {
    pub state: State,
    /// Consecutive automatic restarts (drives the backoff; reset after a stable run).
    pub attempt: u32,
    /// Automatic restarts since the last start by a user or boot.
    pub restart_count: u32,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            state: State::Stopped,
            attempt: 0,
            restart_count: 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Start {
        reason: String,
    },
    Stop,
    Restart {
        reason: String,
    },
    Spawned {
        pid: u32,
        at: Instant,
    },
    /// `jitter` is a sample in [-1, 1].
    SpawnFailed {
        error: String,
        at: Instant,
        jitter: f64,
    },
    /// The leader exited on its own (the tree has been cleaned up already).
    Exited {
        exit: Exit,
        at: Instant,
        jitter: f64,
    },
    /// A stop finished: no process of the tree is left.
    TreeGone {
        exit: Option<Exit>,
        killed: bool,
        at: Instant,
        jitter: f64,
    },
    /// The service is failing although its process lives (health checks failed `retries` times, or it
    /// stayed over its memory limit): restart it like a crash, under the restart policy and backoff.
    Failing {
        reason: String,
    },
    BackoffElapsed {
        at: Instant,
    },
    /// A start (or a restart of a service that is not running) whose dependencies are not ready:
    /// `blocked` when one of them failed for good. `reason` says what it waits for.
    StartWaiting {
        reason: String,
        blocked: bool,
        at: Instant,
    },
    /// Every dependency's condition holds.
    DepsReady {
        reason: String,
    },
    /// The dependencies of a waiting service are still not ready; `blocked` may have changed.
    DepsPending {
        reason: String,
        blocked: bool,
        at: Instant,
    },
    /// A dependency on a `restart = true` edge began a new run: stop, then wait for it again.
    DepsLost {
        reason: String,
        at: Instant,
    },
    /// The waiting deadline passed; `reason` names the dependencies and why they are not ready.
    WaitElapsed {
        reason: String,
        at: Instant,
    },
}

/// One recorded transition.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub pid: Option<u32>,
    pub exit: Option<Exit>,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Record(Transition),
    /// Start the process; answer with `Spawned` or `SpawnFailed`.
    Spawn,
    /// Stop the whole tree (stop signal, SIGKILL after the timeout); answer with `TreeGone`.
    Terminate,
    /// Send `BackoffElapsed` (in `Backoff`) or `WaitElapsed` (in `Waiting`) at this instant.
    WakeAt(Instant),
}

/// The delay before the `attempt`-th consecutive restart (1-based), with `jitter` in [-1, 1].
pub fn backoff_delay(b: &Backoff, attempt: u32, jitter: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(64) as i32;
    let base = (b.initial_delay_ms as f64 * b.multiplier.powi(exp)).min(b.max_delay_ms as f64);
    let spread = base * b.jitter * jitter.clamp(-1.0, 1.0);
    Duration::from_micros(((base + spread).max(0.0) * 1000.0) as u64)
}

fn record(
    from: &State,
    to: &State,
    pid: Option<u32>,
    exit: Option<Exit>,
    reason: impl Into<String>,
) -> Effect {
    Effect::Record(Transition {
        from: from.status(),
        to: to.status(),
        pid,
        exit,
        reason: reason.into(),
    })
}

fn fmt_delay(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Applies one input. Inputs that make no sense in the current state change nothing.
pub fn step(m: Machine, policy: &Policy, input: Input) -> (Machine, Vec<Effect>) {
    let from = m.state;
    let mut next = m;
    let mut fx = Vec::new();
    let idle = matches!(
        from,
        State::Stopped | State::Exited | State::Fatal | State::Backoff { .. }
    );
    match input {
        Input::Start { reason } if idle => {
            next = Machine {
                state: State::Starting,
                attempt: 0,
                restart_count: 0,
            };
            fx.push(record(&from, &next.state, None, None, reason));
            fx.push(Effect::Spawn);
        }
        Input::Restart { reason } if idle => {
            next = Machine {
                state: State::Starting,
                attempt: 0,
                restart_count: 0,
            };
            fx.push(record(&from, &next.state, None, None, reason));
            fx.push(Effect::Spawn);
        }
        Input::Restart { reason } => match from {
            State::Running { pid, .. } => {
                next.state = State::Stopping {
                    pid,
                    then: AfterStop::Start,
                };
                fx.push(record(&from, &next.state, Some(pid), None, reason));
                fx.push(Effect::Terminate);
            }
            State::Stopping { pid, .. } => {
                next.state = State::Stopping {
                    pid,
                    then: AfterStop::Start,
                }
            }
            _ => {}
        },
        Input::Start { .. } => {
            if let State::Stopping { pid, .. } = from {
                next.state = State::Stopping {
                    pid,
                    then: AfterStop::Start,
                };
            }
        }
        Input::Stop => match from {
            State::Running { pid, .. } => {
                next.state = State::Stopping {
                    pid,
                    then: AfterStop::Stay,
                };
                fx.push(record(
                    &from,
                    &next.state,
                    Some(pid),
                    None,
                    "stop requested",
                ));
                fx.push(Effect::Terminate);
            }
            State::Backoff { .. } => {
                next.state = State::Stopped;
                fx.push(record(
                    &from,
                    &next.state,
                    None,
                    None,
                    "stop requested during backoff",
                ));
            }
            State::Waiting { .. } => {
                next.state = State::Stopped;
                fx.push(record(
                    &from,
                    &next.state,
                    None,
                    None,
                    "stop requested while waiting for dependencies",
                ));
            }
            State::Stopping { pid, .. } => {
                next.state = State::Stopping {
                    pid,
                    then: AfterStop::Stay,
                }
            }
            _ => {}
        },
        Input::Spawned { pid, at } if from == State::Starting => {
            next.state = State::Running { pid, since: at };
            fx.push(record(&from, &next.state, Some(pid), None, "spawned"));
        }
        Input::SpawnFailed { error, at, jitter } if from == State::Starting => {
            after_failure(
                &mut next,
                policy,
                None,
                None,
                format!("spawn failed: {error}"),
                at,
                jitter,
                &mut fx,
            );
        }
        Input::Exited { exit, at, jitter } => {
            if let State::Running { pid, since } = from {
                if at.saturating_duration_since(since)
                    >= Duration::from_secs(policy.backoff.reset_after_s)
                {
                    next.attempt = 0;
                }
                let restart = match policy.restart {
                    RestartPolicy::Always => true,
                    RestartPolicy::OnFailure => !exit.success(),
                    RestartPolicy::Never => false,
                };
                if restart {
                    after_failure(
                        &mut next,
                        policy,
                        Some(pid),
                        Some(exit),
                        exit.to_string(),
                        at,
                        jitter,
                        &mut fx,
                    );
                } else {
                    next.state = State::Exited;
                    fx.push(record(
                        &from,
                        &next.state,
                        Some(pid),
                        Some(exit),
                        exit.to_string(),
                    ));
                }
            }
        }
        Input::Failing { reason } => {
            if let State::Running { pid, .. } = from {
                let restart = match policy.restart {
                    RestartPolicy::Always | RestartPolicy::OnFailure => true,
                    RestartPolicy::Never => false,
                };
                if restart {
                    next.state = State::Stopping {
                        pid,
                        then: AfterStop::Fail,
                    };
                    fx.push(record(
                        &from,
                        &next.state,
                        Some(pid),
                        None,
                        format!("{reason}; restarting"),
                    ));
                    fx.push(Effect::Terminate);
                }
            }
        }
        Input::TreeGone {
            exit, at, jitter, ..
        } if matches!(
            from,
            State::Stopping {
                then: AfterStop::Fail,
                ..
            }
        ) =>
        {
            if let State::Stopping { pid, .. } = from {
                let how = exit
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "process gone".into());
                after_failure(
                    &mut next,
                    policy,
                    Some(pid),
                    exit,
                    format!("stopped after a failure, {how}"),
                    at,
                    jitter,
                    &mut fx,
                );
            }
        }
        Input::TreeGone {
            exit, killed, at, ..
        } => {
            if let State::Stopping { pid, then } = from {
                next.state = State::Stopped;
                let how = match exit {
                    Some(e) => e.to_string(),
                    None => "process gone".into(),
                };
                let reason = if killed {
                    format!("stopped: {how} (SIGKILL after stop timeout)")
                } else {
                    format!("stopped: {how}")
                };
                fx.push(record(&from, &next.state, Some(pid), exit, reason));
                if then == AfterStop::Wait {
                    let deadline = at + policy.depends_timeout;
                    next.state = State::Waiting {
                        deadline: Some(deadline),
                    };
                    fx.push(record(
                        &State::Stopped,
                        &next.state,
                        None,
                        None,
                        "waiting for dependencies",
                    ));
                    fx.push(Effect::WakeAt(deadline));
                } else if then != AfterStop::Stay {
                    next = Machine {
                        state: State::Starting,
                        attempt: 0,
                        restart_count: 0,
                    };
                    fx.push(record(
                        &State::Stopped,
                        &next.state,
                        None,
                        None,
                        "restart requested",
                    ));
                    fx.push(Effect::Spawn);
                }
            }
        }
        Input::BackoffElapsed { at } => {
            if let State::Backoff { until } = from
                && at >= until
            {
                next.state = State::Starting;
                fx.push(record(&from, &next.state, None, None, "backoff elapsed"));
                fx.push(Effect::Spawn);
            }
        }
        Input::StartWaiting {
            reason,
            blocked,
            at,
        } if idle => {
            let deadline = (!blocked).then_some(at + policy.depends_timeout);
            next = Machine {
                state: State::Waiting { deadline },
                attempt: 0,
                restart_count: 0,
            };
            fx.push(record(&from, &next.state, None, None, reason));
            fx.extend(deadline.map(Effect::WakeAt));
        }
        Input::DepsReady { reason } if matches!(from, State::Waiting { .. }) => {
            next.state = State::Starting;
            fx.push(record(&from, &next.state, None, None, reason));
            fx.push(Effect::Spawn);
        }
        Input::DepsPending {
            reason,
            blocked,
            at,
        } => {
            // Only a change between blocked and not is news: a blocked wait has no deadline, and
            // an unblocked one gets a whole `depends_timeout` from the moment it was unblocked.
            if let State::Waiting { deadline } = from
                && blocked != deadline.is_none()
            {
                let deadline = (!blocked).then_some(at + policy.depends_timeout);
                next.state = State::Waiting { deadline };
                fx.push(record(&from, &next.state, None, None, reason));
                fx.extend(deadline.map(Effect::WakeAt));
            }
        }
        Input::DepsLost { reason, at } => match from {
            State::Running { pid, .. } => {
                next.state = State::Stopping {
                    pid,
                    then: AfterStop::Wait,
                };
                fx.push(record(&from, &next.state, Some(pid), None, reason));
                fx.push(Effect::Terminate);
            }
            State::Backoff { .. } => {
                let deadline = at + policy.depends_timeout;
                next.state = State::Waiting {
                    deadline: Some(deadline),
                };
                fx.push(record(&from, &next.state, None, None, reason));
                fx.push(Effect::WakeAt(deadline));
            }
            _ => {}
        },
        Input::WaitElapsed { reason, at } => {
            if let State::Waiting {
                deadline: Some(deadline),
            } = from
                && at >= deadline
            {
                next.state = State::Fatal;
                fx.push(record(&from, &next.state, None, None, reason));
            }
        }
        Input::Spawned { .. }
        | Input::SpawnFailed { .. }
        | Input::StartWaiting { .. }
        | Input::DepsReady { .. } => {}
    }
    (next, fx)
}

/// A run ended in a way that calls for a restart: back off, or give up.
#[allow(clippy::too_many_arguments)]
fn after_failure(
    next: &mut Machine,
    policy: &Policy,
    pid: Option<u32>,
    exit: Option<Exit>,
    what: String,
    at: Instant,
    jitter: f64,
    fx: &mut Vec<Effect>,
) {
    let from = next.state;
    if next.attempt >= policy.max_restarts {
        next.state = State::Fatal;
        let reason = format!(
            "{what}; gave up after {} restarts (max_restarts)",
            next.attempt
        );
        fx.push(record(&from, &next.state, pid, exit, reason));
        return;
    }
    next.attempt += 1;
    next.restart_count += 1;
    let delay = backoff_delay(&policy.backoff, next.attempt, jitter);
    let until = at + delay;
    next.state = State::Backoff { until };
    let reason = format!(
        "{what}; restart {}/{} in {}",
        next.attempt,
        policy.max_restarts,
        fmt_delay(delay)
    );
    fx.push(record(&from, &next.state, pid, exit, reason));
    fx.push(Effect::WakeAt(until));
}

#[cfg(test)]
mod tests;
