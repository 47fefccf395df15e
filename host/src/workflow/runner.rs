//! One job from start to end: pre-commands in order (each asked of the policy first), the restart with
//! the extra args, post-commands; the record rewritten as each step moves. The first step that does not
//! end `ok` ends the job: the steps after it are `skipped` (so a failed pre-command leaves the service
//! untouched). A cancel stops the running command's tree and skips the rest, but lets a restart in
//! progress (and its health wait) finish, so the service is never left half-restarted. The job's start,
//! each final step and its end are recorded as events of the service (kind `job`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::Inner;
use super::plan::{Planned, display};
use super::step::{self, Launch, Stop, StopRx, shutting_down};
use crate::events::Note;
use crate::policy::Ask;
use crate::spec::argv_with_args;
use crate::store::now_rfc3339;
use crate::wire::{
    BusEvent, Decision, EventKind, HealthSpec, HealthState, JobStatus, JobStep, JobView, Payload,
    ServiceState, Status, StepPhase, StepStatus,
};

/// How a job's steps went, for the job's end.
enum Verdict {
    Done,
    Failed(String),
    Interrupted(String),
    Cancelled(String),
}

pub(super) async fn run(inner: Arc<Inner>, mut job: JobView, planned: Vec<Planned>, stop: StopRx) {
    job.status = JobStatus::Running;
    job.started_at = Some(now_rfc3339());
    inner.save(&job).await;
    note(
        &inner,
        &job,
        format!(
            "custom-restart job {} started ({} steps)",
            job.id,
            job.steps.len()
        ),
        None,
    );
    let mut commands = planned.into_iter();
    let mut verdict = Verdict::Done;
    for i in 0..job.steps.len() {
        let planned = match job.steps[i].phase {
            StepPhase::Restart => None,
            StepPhase::Pre | StepPhase::Post => commands.next(),
        };
        if !matches!(verdict, Verdict::Done) {
            skip(&inner, &mut job, i);
            continue;
        }
        // Read once: a cancel that arrives during a step is seen after it (a restart runs to its end).
        let asked = *stop.borrow();
        if let Some(why) = asked {
            let what = step_name(&job.steps[i]);
            verdict = match why {
                Stop::Cancel => Verdict::Cancelled(format!("cancelled before {what}")),
                Stop::Shutdown => {
                    Verdict::Interrupted("the daemon shut down before the job finished".into())
                }
            };
            skip(&inner, &mut job, i);
            continue;
        }
        job.steps[i].status = StepStatus::Running;
        job.steps[i].started_at = Some(now_rfc3339());
        inner.save(&job).await;
        let started = Instant::now();
        match &planned {
            Some(p) => command(&inner, &job, p, stop.clone())
                .await
                .apply(&mut job.steps[i]),
            None => restart(&inner, &job, stop.clone())
                .await
                .apply(&mut job.steps[i]),
        }
        let step = &mut job.steps[i];
        step.duration_ms
            .get_or_insert(started.elapsed().as_millis() as u64);
        if step.status != StepStatus::Ok {
            let what = step_name(step);
            let why = step.message.clone().unwrap_or_default();
            verdict = match (step.status, *stop.borrow()) {
                (StepStatus::Cancelled, _) => Verdict::Cancelled(format!(
                    "cancelled during {what}; its process tree was stopped"
                )),
                (_, Some(Stop::Shutdown)) => {
                    Verdict::Interrupted(format!("the daemon shut down during {what}"))
                }
                _ => Verdict::Failed(format!("{what}: {why}")),
            };
        }
        inner.save(&job).await;
        note_step(&inner, &job, i);
    }
    job.finished_at = Some(now_rfc3339());
    (job.status, job.error) = match verdict {
        Verdict::Done => (JobStatus::Succeeded, None),
        Verdict::Failed(e) => (JobStatus::Failed, Some(e)),
        Verdict::Interrupted(e) => (JobStatus::Interrupted, Some(e)),
        Verdict::Cancelled(e) => (JobStatus::Cancelled, Some(e)),
    };
    tracing::info!(job = %job.id, service = %job.service, status = job.status.as_str(), error = ?job.error, "custom restart finished");
    inner.save(&job).await;
    let mut reason = format!("custom-restart job {} {}", job.id, job.status.as_str());
    if let Some(e) = &job.error {
        reason.push_str(&format!(": {e}"));
    }
    note(&inner, &job, reason, None);
}

/// Marks step `i` skipped and records that as the step's event.
fn skip(inner: &Inner, job: &mut JobView, i: usize) {
    job.steps[i].status = StepStatus::Skipped;
    note_step(inner, job, i);
}

/// A job event of the service (kind `job`), in the service's event stream.
fn note(inner: &Inner, job: &JobView, reason: String, step: Option<&JobStep>) {
    let (pid, exit_code, signal) = step.map_or((None, None, None), |s| {
        (s.pid, s.exit_code, s.signal.clone())
    });
    if let Some(status) = inner.sup.status_of(&job.service) {
        let note = Note {
            reason,
            pid,
            exit_code,
            signal,
        };
        inner.bus.note(&job.service, status, EventKind::Job, note);
    }
}

/// The event of step `i` once it is final: `custom-restart job 4 pre[0] ok: `make build` (policy
/// allow, exit code 0)`; the step's pid, exit code and signal go in the event's own fields.
fn note_step(inner: &Inner, job: &JobView, i: usize) {
    let s = &job.steps[i];
    let label = match s.phase {
        StepPhase::Restart => "restart".to_string(),
        p => format!("{}[{}]", p.as_str(), s.index),
    };
    let mut details: Vec<String> = Vec::new();
    if let Some(d) = s.decision {
        details.push(format!(
            "policy {}",
            match d {
                Decision::Allow => "allow",
                Decision::Deny => "deny",
            }
        ));
    }
    if let Some(code) = s.exit_code {
        details.push(format!("exit code {code}"));
    } else if let Some(sig) = &s.signal {
        details.push(format!("killed by {sig}"));
    }
    if !matches!(s.status, StepStatus::Ok | StepStatus::Skipped)
        && let Some(m) = s.reason.as_ref().or(s.message.as_ref())
    {
        details.push(m.clone());
    }
    let mut reason = format!(
        "custom-restart job {} {label} {}: `{}`",
        job.id,
        s.status.as_str(),
        s.command
    );
    if !details.is_empty() {
        reason.push_str(&format!(" ({})", details.join(", ")));
    }
    note(inner, job, reason, Some(s));
}

/// `pre_commands[1]`, `restart`, `post_commands[0]`.
pub fn step_name(step: &JobStep) -> String {
    match step.phase {
        StepPhase::Pre => format!("pre_commands[{}]", step.index),
        StepPhase::Post => format!("post_commands[{}]", step.index),
        StepPhase::Restart => "restart".into(),
    }
}

/// What a finished step adds to its record.
#[derive(Default)]
struct Outcome {
    status: Option<StepStatus>,
    decision: Option<Decision>,
    reason: Option<String>,
    argv: Option<Vec<String>>,
    exit_code: Option<i32>,
    signal: Option<String>,
    pid: Option<u32>,
    duration_ms: Option<u64>,
    output_tail: String,
    message: String,
}

impl Outcome {
    fn failed(message: impl Into<String>) -> Outcome {
        Outcome {
            status: Some(StepStatus::Failed),
            message: message.into(),
            ..Outcome::default()
        }
    }

    fn apply(self, step: &mut JobStep) {
        step.status = self.status.unwrap_or(StepStatus::Failed);
        step.decision = self.decision;
        step.reason = self.reason;
        if let Some(argv) = self.argv {
            step.command = display(&argv);
            step.argv = argv;
        }
        step.exit_code = self.exit_code;
        step.signal = self.signal;
        step.pid = self.pid;
        step.duration_ms = self.duration_ms;
        step.output_tail = self.output_tail;
        step.message = Some(self.message);
    }
}

async fn command(inner: &Inner, job: &JobView, planned: &Planned, stop: StopRx) -> Outcome {
    // The service's current definition: its working dir and environment, as its own runs get them.
    let Ok(view) = inner.sup.get(&job.service) else {
        return Outcome::failed("the service was removed");
    };
    let spec = &view.spec;
    let mut env = match crate::spec::service_env(spec) {
        Ok(env) => env,
        Err(e) => return Outcome::failed(format!("{}: {}", e.field, e.message)),
    };
    env.insert("TEND_SERVICE".into(), job.service.clone());
    env.insert("TEND_JOB_ID".into(), job.id.clone());
    // For post-commands, the new run's pid.
    if let Some(pid) = view.state.pid {
        env.insert("TEND_SERVICE_PID".into(), pid.to_string());
    }
    let cwd = spec
        .working_dir
        .clone()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| "/".into());
    let verdict = inner
        .policy
        .evaluate(Ask {
            command: &planned.command,
            argv: &planned.argv,
            cwd: &cwd,
            service: &job.service,
            vars: &env,
            origin: job.origin,
        })
        .await;
    if !verdict.allowed {
        tracing::warn!(job = %job.id, service = %job.service, command = %planned.command.command, reason = %verdict.reason, "command denied by the policy");
        return Outcome {
            status: Some(StepStatus::Denied),
            decision: Some(Decision::Deny),
            message: format!("denied by the command policy: {}", verdict.reason),
            reason: Some(verdict.reason),
            duration_ms: Some(0),
            ..Outcome::default()
        };
    }
    let instance = format!(
        "{}.job{}.{}{}",
        inner.sup.node(),
        job.id,
        planned.phase.as_str(),
        planned.index
    );
    let ran = step::run(
        Launch {
            argv: &planned.argv,
            cwd: Some(cwd),
            env,
            instance,
            timeout: planned.timeout,
        },
        stop,
    )
    .await;
    Outcome {
        status: Some(ran.status),
        decision: Some(Decision::Allow),
        exit_code: ran.exit_code,
        signal: ran.signal,
        pid: ran.pid,
        duration_ms: Some(ran.duration_ms),
        output_tail: ran.output_tail,
        message: ran.message,
        ..Outcome::default()
    }
}

async fn restart(inner: &Inner, job: &JobView, mut stop: StopRx) -> Outcome {
    let Ok(view) = inner.sup.get(&job.service) else {
        return Outcome::failed("the service was removed");
    };
    let args = job.request.args.clone();
    let argv = argv_with_args(&view.spec.command, &args);
    let reason = format!("custom-restart job {}", job.id);
    // Subscribed before the restart so that no health change of the new run can be missed.
    let events = inner.bus.subscribe();
    let answer = tokio::select! {
        a = inner.sup.restart_with_args(&job.service, args, &reason) => a,
        _ = shutting_down(&mut stop) => return Outcome {
            argv: Some(argv),
            ..Outcome::failed("stopped: the daemon is shutting down")
        },
    };
    match answer {
        Ok(state) if state.status == Status::Running => {
            let pid = state.pid.unwrap_or_default();
            let waited = match view.spec.effective_health() {
                Some(health) => wait_healthy(inner, &job.service, pid, &health, events, stop).await,
                None => wait_settled(inner, &job.service, pid, events, stop).await,
            };
            Outcome {
                status: Some(if waited.is_ok() {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                }),
                argv: Some(argv),
                pid: Some(pid),
                message: waited.unwrap_or_else(|e| e),
                ..Outcome::default()
            }
        }
        Ok(state) => {
            let last = last_exit(&state).map_or(String::new(), |e| format!(" (last exit: {e})"));
            Outcome {
                argv: Some(argv),
                ..Outcome::failed(format!(
                    "the service is {} instead of running{last}; see its events",
                    state.status.as_str()
                ))
            }
        }
        Err(e) => Outcome {
            argv: Some(argv),
            ..Outcome::failed(e.to_string())
        },
    }
}

/// How the service's last run ended: `code 3`, `SIGKILL`.
fn last_exit(state: &ServiceState) -> Option<String> {
    let e = state.last_exit.as_ref()?;
    match (e.code, &e.signal) {
        (Some(c), _) => Some(format!("code {c}")),
        (None, Some(s)) => Some(s.clone()),
        _ => None,
    }
}

/// How long the new run of a service without a health check must stay up for the restart step to
/// count as done (supervisord's `startsecs`): a program that dies at once on its new args fails the
/// step instead of passing it.
const SETTLE: Duration = Duration::from_secs(1);

/// How long a run found exited when `SETTLE` ends may take to show as ended (reaped, recorded), so
/// that the step can say how it ended.
const RECORDED: Duration = Duration::from_secs(5);

/// After a restart of a service without a health check: the new run (`pid`) must still be running
/// after `SETTLE`. Ok and Err both carry the step's message.
async fn wait_settled(
    inner: &Inner,
    service: &str,
    pid: u32,
    mut events: broadcast::Receiver<Arc<BusEvent>>,
    mut stop: StopRx,
) -> Result<String, String> {
    let mut deadline = tokio::time::Instant::now() + SETTLE;
    // Set once the window has closed on a run that had already exited: its end is on the way.
    let mut ending = false;
    let mut watch = Watch {
        service,
        pid,
        ours: false,
    };
    loop {
        let Ok(view) = inner.sup.get(service) else {
            return Err("the service was removed".into());
        };
        let state = view.state;
        if state.status != Status::Running || state.pid != Some(pid) {
            let last = last_exit(&state).map_or(String::new(), |e| format!(", last exit: {e}"));
            return Err(format!(
                "the new run (pid {pid}) did not stay up for {} s (the service is {}{last}); see its logs",
                SETTLE.as_secs(),
                state.status.as_str()
            ));
        }
        tokio::select! {
            // Events first: an exit published before the deadline must not lose a coin toss to it.
            biased;
            ev = events.recv() => match ev {
                Ok(e) => match watch.seen(&e) {
                    // The event is published before the registry shows the new state, so the
                    // event itself is the answer: the registry may still say `running`.
                    Some(Seen::Ended(how)) => return Err(format!(
                        "the new run (pid {pid}) did not stay up for {} s ({how}); see its logs",
                        SETTLE.as_secs()
                    )),
                    Some(Seen::Healthy) | None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Err("the daemon is shutting down".into()),
            },
            _ = tokio::time::sleep_until(deadline) => {
                if ending {
                    return Err(format!(
                        "the new run (pid {pid}) did not stay up for {} s; see its logs",
                        SETTLE.as_secs()
                    ));
                }
                // The registry and the bus learn of an exit only once it is reaped and recorded,
                // which a loaded machine can delay past the window: the process itself says.
                if crate::process::stat(pid).is_some_and(|s| s.state != b'Z') {
                    return Ok(format!("running with pid {pid} (up {} s)", SETTLE.as_secs()));
                }
                ending = true;
                deadline = tokio::time::Instant::now() + RECORDED;
            }
            _ = shutting_down(&mut stop) => return Err("stopped: the daemon is shutting down".into()),
        }
    }
}

/// What an event of the bus says about the run a restart step waits for.
enum Seen {
    /// The run left `running`: how, e.g. `the service is backoff, last exit: code 4`.
    Ended(String),
    /// The run turned healthy.
    Healthy,
}

/// Reads the bus for the run `pid` of `service`. The subscription began before the restart, so the
/// old run's last events come first: a health change counts only after the new run's own `running`
/// transition (`ours`), an end only when it names the new run's pid.
struct Watch<'a> {
    service: &'a str,
    pid: u32,
    ours: bool,
}

impl Watch<'_> {
    fn seen(&mut self, e: &BusEvent) -> Option<Seen> {
        let Payload::Service(ev) = &e.payload else {
            return None;
        };
        if ev.service != self.service {
            return None;
        }
        match ev.kind {
            EventKind::Lifecycle if ev.to == Status::Running && ev.pid == Some(self.pid) => {
                self.ours = true;
                None
            }
            EventKind::Lifecycle if ev.from == Status::Running && ev.pid == Some(self.pid) => {
                let last = match (ev.exit_code, &ev.signal) {
                    (Some(c), _) => format!(", last exit: code {c}"),
                    (None, Some(s)) => format!(", last exit: {s}"),
                    _ => String::new(),
                };
                Some(Seen::Ended(format!(
                    "the service is {}{last}",
                    ev.to.as_str()
                )))
            }
            EventKind::Health if self.ours && ev.health == Some(HealthState::Healthy) => {
                Some(Seen::Healthy)
            }
            _ => None,
        }
    }
}

/// After a restart of a service with a health check: waits until the new run (`pid`) is healthy, so
/// post-commands meet a service that is up. Bounded by what the check itself allows: the start
/// period plus `retries + 1` intervals and probe timeouts. Ok and Err both carry the step's message.
async fn wait_healthy(
    inner: &Inner,
    service: &str,
    pid: u32,
    health: &HealthSpec,
    mut events: broadcast::Receiver<Arc<BusEvent>>,
    mut stop: StopRx,
) -> Result<String, String> {
    // Saturating: specs are bounded (`spec::validate`), but a stored one from before the bounds is not.
    let per_try = health.interval_s.saturating_add(health.timeout_s);
    let bound = Duration::from_secs(
        health
            .start_period_s
            .saturating_add((u64::from(health.retries) + 1).saturating_mul(per_try))
            .saturating_add(5)
            .min(crate::spec::MAX_DURATION_S * 2),
    );
    let deadline = tokio::time::Instant::now() + bound;
    let mut watch = Watch {
        service,
        pid,
        ours: false,
    };
    loop {
        let Ok(view) = inner.sup.get(service) else {
            return Err("the service was removed".into());
        };
        let state = view.state;
        if state.status != Status::Running || state.pid != Some(pid) {
            return Err(format!(
                "the new run (pid {pid}) ended before it turned healthy; the service is {}",
                state.status.as_str()
            ));
        }
        if state.health == Some(HealthState::Healthy) {
            return Ok(format!("running with pid {pid}, healthy"));
        }
        // The event is published before the registry shows the new state, so the event itself is
        // the answer; after a lag the registry is read again.
        tokio::select! {
            // Events first: an exit published before the deadline must not lose a coin toss to it.
            biased;
            ev = events.recv() => match ev {
                Ok(e) => match watch.seen(&e) {
                    Some(Seen::Ended(how)) => return Err(format!(
                        "the new run (pid {pid}) ended before it turned healthy ({how})"
                    )),
                    Some(Seen::Healthy) => return Ok(format!("running with pid {pid}, healthy")),
                    None => continue,
                },
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Err("the daemon is shutting down".into()),
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!(
                    "running with pid {pid}, but not healthy within {} s (health: {})",
                    bound.as_secs(),
                    state.health.map_or("unknown", HealthState::as_str)
                ));
            }
            _ = shutting_down(&mut stop) => return Err("stopped: the daemon is shutting down".into()),
        }
    }
}
