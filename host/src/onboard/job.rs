//! One onboarding job from plan to verdict: analyze (when the request carried no plan), create the
//! data dir, judge every setup step by the command policy (origin `agent`, audited; one denial ends
//! the job before anything runs or is registered), run them in order, register the services and
//! cron jobs (normal validation; names recorded in `registered` as each succeeds), start the
//! services and confirm each listens on its port (or answers its health path) within
//! `[onboard] confirm_timeout_s`. A failure ends the job `failed` naming the step; what was
//! registered stays registered and the message says so. Every step rewrites the job record and
//! publishes an `agent` event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Inner, Problem, Project, plan};
use crate::policy::Ask;
use crate::store::{LogQuery, now_rfc3339};
use crate::wire::{
    OnboardJob, OnboardStatus, OnboardStep, OnboardStepKind as Kind, OnboardStepStatus as St,
    Origin, Plan, Status, StepStatus,
};

/// A setup step's timeout when it names none.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Log lines quoted when a service does not come up.
const LOG_LINES: u32 = 10;
/// How often a starting service is looked at.
const POLL: Duration = Duration::from_millis(200);

/// Every step a plan leads to, pending.
pub fn steps_of(plan: &Plan) -> Vec<OnboardStep> {
    let step = |kind, target: &str| OnboardStep {
        kind,
        target: target.to_string(),
        status: St::Pending,
        message: String::new(),
    };
    let mut steps = vec![step(Kind::DataDir, &plan.data_dir.to_string_lossy())];
    steps.extend(
        plan.setup
            .iter()
            .map(|s| step(Kind::Setup, &s.command.command)),
    );
    steps.extend(plan.services.iter().map(|s| step(Kind::Register, &s.name)));
    steps.extend(plan.cron_jobs.iter().map(|c| step(Kind::Register, &c.name)));
    steps.extend(plan.services.iter().map(|s| step(Kind::Start, &s.name)));
    steps.extend(plan.services.iter().map(|s| step(Kind::Confirm, &s.name)));
    steps
}

/// The `analyze` step of a plan made: what it holds.
pub fn analyzed(plan: &Plan) -> OnboardStep {
    OnboardStep {
        kind: Kind::Analyze,
        target: plan.project.clone(),
        status: St::Ok,
        message: format!(
            "{} service(s), {} cron job(s), {} setup step(s) by {} ({:?}, confidence {:.2})",
            plan.services.len(),
            plan.cron_jobs.len(),
            plan.setup.len(),
            if plan.source.is_empty() {
                "?"
            } else {
                &plan.source
            },
            plan.author,
            plan.confidence
        ),
    }
}

/// The job's task; frees the project's root when it ends, however it ends.
pub(super) async fn run(inner: Arc<Inner>, mut job: OnboardJob, p: Project, model: Option<String>) {
    let root = p.root.clone();
    let outcome = crate::panics::catch(apply(&inner, &mut job, p, model)).await;
    let (status, message) = match outcome {
        Ok(Ok(message)) => (OnboardStatus::Succeeded, message),
        Ok(Err(why)) => (OnboardStatus::Failed, failed_message(&job, &why)),
        Err(panic) => (
            OnboardStatus::Failed,
            failed_message(&job, &format!("internal error: the job panicked ({panic})")),
        ),
    };
    for s in &mut job.steps {
        if matches!(s.status, St::Pending | St::Running) {
            s.status = St::Skipped;
        }
    }
    job.status = status;
    job.ended_at = Some(now_rfc3339());
    job.message = message.clone();
    save(&inner, &job).await;
    inner.event(&job, None, &message);
    inner.active().remove(&root);
}

/// A failure's sentence, never silent about what stays registered.
fn failed_message(job: &OnboardJob, why: &str) -> String {
    if job.registered.is_empty() {
        format!("failed: {why}; nothing was registered")
    } else {
        format!(
            "failed: {why}; registered and left registered: {} (remove them or fix and restart)",
            job.registered.join(", ")
        )
    }
}

async fn save(inner: &Inner, job: &OnboardJob) {
    if let Err(e) = inner.store.save_onboard_job(job).await {
        tracing::error!(job = %job.id, error = %e, "cannot record an onboarding job's progress");
    }
}

/// Sets step `i` and records it.
async fn mark(inner: &Inner, job: &mut OnboardJob, i: usize, status: St, message: String) {
    let Some(step) = job.steps.get_mut(i) else {
        return;
    };
    step.status = status;
    step.message = message;
    let service = matches!(step.kind, Kind::Register | Kind::Start | Kind::Confirm)
        .then(|| step.target.clone());
    let what = format!(
        "{} {}: {}{}",
        kind_str(step.kind),
        step.target,
        status_str(status),
        if step.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", step.message)
        }
    );
    save(inner, job).await;
    inner.event(job, service.as_deref(), &what);
}

fn kind_str(k: Kind) -> &'static str {
    match k {
        Kind::Analyze => "analyze",
        Kind::DataDir => "data dir",
        Kind::Setup => "setup",
        Kind::Register => "register",
        Kind::Start => "start",
        Kind::Confirm => "confirm",
    }
}

fn status_str(s: St) -> &'static str {
    match s {
        St::Pending => "pending",
        St::Running => "running",
        St::Ok => "ok",
        St::Failed => "failed",
        St::Skipped => "skipped",
    }
}

/// The index of the first pending step of `kind` about `target`.
fn find(job: &OnboardJob, kind: Kind, target: &str) -> usize {
    job.steps
        .iter()
        .position(|s| s.kind == kind && s.target == target && s.status == St::Pending)
        .unwrap_or(usize::MAX)
}

/// Runs the job; answers the success message or why it failed.
async fn apply(
    inner: &Inner,
    job: &mut OnboardJob,
    p: Project,
    model: Option<String>,
) -> Result<String, String> {
    job.status = OnboardStatus::Running;
    job.message = "running".into();
    save(inner, job).await;
    // 1. The plan: the request's (checked when it was made), or the plugin's now.
    let plan = match job.plan.clone() {
        Some(plan) => plan,
        None => {
            job.steps.push(OnboardStep {
                kind: Kind::Analyze,
                target: job.project.clone(),
                status: St::Running,
                message: String::new(),
            });
            save(inner, job).await;
            let made = match inner.analyze(&p, model).await {
                Ok(plan) => plan::validate(&plan, &p.root, &inner.registered())
                    .map_err(Problem::from)
                    .and_then(|conflicts| {
                        if conflicts.is_empty() {
                            Ok(plan)
                        } else {
                            Err(plan::conflict(&conflicts).into())
                        }
                    }),
                Err(e) => Err(e),
            };
            match made {
                Ok(plan) => {
                    let msg = analyzed(&plan).message;
                    job.plan = Some(plan.clone());
                    job.steps.extend(steps_of(&plan));
                    mark(inner, job, 0, St::Ok, msg).await;
                    plan
                }
                Err(e) => {
                    let why = match e {
                        Problem::Failure(crate::failure::Failure::Invalid(f)) => {
                            format!("{}: {}", f.field, f.message)
                        }
                        other => other.to_string(),
                    };
                    mark(inner, job, 0, St::Failed, why.clone()).await;
                    return Err(format!("the plan could not be made: {why}"));
                }
            }
        }
    };
    // 2. The data dir.
    let i = find(job, Kind::DataDir, &plan.data_dir.to_string_lossy());
    let dir = plan.data_dir.clone();
    match tokio::task::spawn_blocking(move || std::fs::create_dir_all(&dir)).await {
        Ok(Ok(())) => mark(inner, job, i, St::Ok, "created (or already there)".into()).await,
        Ok(Err(e)) => {
            let why = format!("cannot create {}: {e}", plan.data_dir.display());
            mark(inner, job, i, St::Failed, why.clone()).await;
            return Err(why);
        }
        Err(e) => return Err(format!("cannot create the data dir: {e}")),
    }
    // 3. Setup: every step judged first (one denial: nothing runs), then run in order.
    setup(inner, job, &plan).await?;
    // 4. Register services, then cron jobs.
    for s in &plan.services {
        let i = find(job, Kind::Register, &s.name);
        match inner.sup.create(plan::service_spec(&plan, s)).await {
            Ok(_) => {
                job.registered.push(s.name.clone());
                mark(inner, job, i, St::Ok, "service registered".into()).await;
            }
            Err(e) => {
                let why = format!("cannot register service {:?}: {e}", s.name);
                mark(inner, job, i, St::Failed, e.to_string()).await;
                return Err(why);
            }
        }
    }
    for c in &plan.cron_jobs {
        let i = find(job, Kind::Register, &c.name);
        match inner.cron.create(plan::cron_spec(c)).await {
            Ok(_) => {
                job.registered.push(c.name.clone());
                mark(
                    inner,
                    job,
                    i,
                    St::Ok,
                    format!("cron job registered ({})", c.schedule),
                )
                .await;
            }
            Err(e) => {
                let why = format!("cannot register cron job {:?}: {e}", c.name);
                mark(inner, job, i, St::Failed, e.to_string()).await;
                return Err(why);
            }
        }
    }
    // 5. Start: registration started each (enabled) service; one that is not running is started.
    for s in &plan.services {
        let i = find(job, Kind::Start, &s.name);
        let state = inner.sup.get(&s.name).map(|v| v.state.status);
        let result = match state {
            Ok(Status::Starting | Status::Running | Status::Backoff) => {
                Ok("started when registered".to_string())
            }
            Ok(_) => inner
                .sup
                .act(&s.name, crate::supervisor::Action::Start)
                .await
                .map(|st| format!("started ({})", st.status.as_str()))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(m) => mark(inner, job, i, St::Ok, m).await,
            Err(e) => {
                mark(inner, job, i, St::Failed, e.clone()).await;
                return Err(format!("cannot start service {:?}: {e}", s.name));
            }
        }
    }
    // 6. Confirm each.
    let timeout = Duration::from_secs(inner.settings.confirm_timeout_s);
    let mut failed = Vec::new();
    for s in &plan.services {
        let i = find(job, Kind::Confirm, &s.name);
        mark(inner, job, i, St::Running, String::new()).await;
        match confirm(inner, &s.name, s.port, s.health_path.as_deref(), timeout).await {
            Ok(m) => mark(inner, job, i, St::Ok, m).await,
            Err(m) => {
                mark(inner, job, i, St::Failed, m.clone()).await;
                failed.push(format!("service {:?} {m}", s.name));
            }
        }
    }
    if !failed.is_empty() {
        return Err(failed.join("; "));
    }
    Ok(format!(
        "onboarded: {} registered, every service answering",
        if job.registered.is_empty() {
            "nothing".to_string()
        } else {
            job.registered.join(", ")
        }
    ))
}

/// Asks the policy about every setup step, then runs the allowed ones in order.
async fn setup(inner: &Inner, job: &mut OnboardJob, plan: &Plan) -> Result<(), String> {
    let mut env = std::collections::BTreeMap::new();
    env.insert(
        plan::DATA_DIR_VAR.to_string(),
        plan.data_dir.to_string_lossy().into_owned(),
    );
    env.insert("TEND_ONBOARD_ID".to_string(), job.id.clone());
    // By position: two steps may run the same command (in different dirs).
    let at: Vec<usize> = (job.steps.iter().enumerate())
        .filter(|(_, s)| s.kind == Kind::Setup)
        .map(|(i, _)| i)
        .collect();
    let mut runs = Vec::new();
    let mut denied = Vec::new();
    for (n, s) in plan.setup.iter().enumerate() {
        let i = at.get(n).copied().unwrap_or(usize::MAX);
        let wc = plan::setup_command(s);
        let argv = match crate::workflow::command_argv(&wc) {
            Ok(a) => a,
            Err(e) => {
                let why = format!("plan.setup[{n}].command: {e}");
                mark(inner, job, i, St::Failed, why.clone()).await;
                return Err(why);
            }
        };
        let verdict = inner
            .policy
            .evaluate(Ask {
                command: &wc,
                argv: &argv,
                cwd: &s.working_dir,
                service: &plan.project,
                vars: &env,
                origin: Origin::Agent,
            })
            .await;
        if verdict.allowed {
            // Still pending: it runs below; the message records the decision.
            if let Some(step) = job.steps.get_mut(i) {
                step.message =
                    format!("allowed by the command policy (audit {})", verdict.audit_id);
            }
            runs.push((i, wc, argv, s.working_dir.clone()));
        } else {
            let why = format!(
                "denied by the command policy: {} (audit {})",
                verdict.reason, verdict.audit_id
            );
            mark(inner, job, i, St::Failed, why).await;
            denied.push(format!(
                "setup step `{}` denied: {}",
                s.command.command, verdict.reason
            ));
        }
    }
    if !denied.is_empty() {
        return Err(denied.join("; "));
    }
    let stop_rx = inner.stop.subscribe();
    for (n, (i, wc, argv, cwd)) in runs.into_iter().enumerate() {
        mark(inner, job, i, St::Running, "running".into()).await;
        let ran = crate::workflow::step::run(
            crate::workflow::step::Launch {
                argv: &argv,
                cwd: Some(cwd),
                env: env.clone(),
                instance: format!("{}.onboard{}.setup{n}", inner.sup.node(), job.id),
                timeout: wc
                    .timeout_s
                    .map(Duration::from_secs)
                    .unwrap_or(SETUP_TIMEOUT),
            },
            stop_rx.clone(),
        )
        .await;
        let tail = ran.output_tail.trim();
        let message = if tail.is_empty() {
            ran.message.clone()
        } else {
            format!("{}; output: {}", ran.message, last_lines(tail, 5))
        };
        if ran.status == StepStatus::Ok {
            mark(inner, job, i, St::Ok, message).await;
        } else {
            mark(inner, job, i, St::Failed, message).await;
            return Err(format!("setup step `{}` {}", wc.command, ran.message));
        }
    }
    Ok(())
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Waits until the service listens on `port` (or answers 2xx at `health_path`); a service without a
/// port is confirmed once it is running. A service that exits or never answers within `timeout`
/// fails with its state and its last log lines.
async fn confirm(
    inner: &Inner,
    name: &str,
    port: Option<u16>,
    health_path: Option<&str>,
    timeout: Duration,
) -> Result<String, String> {
    let started = Instant::now();
    let mut last_http = String::new();
    loop {
        let state = inner.sup.get(name).map_err(|e| e.to_string())?.state;
        let running = state.status == Status::Running;
        // Backoff: it exited and waits to be started again; that is not coming up.
        if matches!(
            state.status,
            Status::Exited | Status::Fatal | Status::Stopped | Status::Backoff
        ) {
            return Err(format!(
                "is {}{}{}",
                state.status.as_str(),
                state
                    .last_exit
                    .as_ref()
                    .and_then(|e| e.code)
                    .map_or(String::new(), |c| format!(" (exit code {c})")),
                log_tail(inner, name).await
            ));
        }
        if running {
            match (port, health_path) {
                (Some(port), Some(path)) => match http_status(port, path).await {
                    Ok(code) if (200..300).contains(&code) => {
                        return Ok(format!(
                            "answered {code} at {}",
                            plan::health_url(port, path)
                        ));
                    }
                    Ok(code) => last_http = format!("; the last answer was HTTP {code}"),
                    Err(e) => last_http = format!("; the last attempt: {e}"),
                },
                (Some(port), None) => {
                    if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                        return Ok(format!("listening on 127.0.0.1:{port}"));
                    }
                }
                (None, _) => return Ok("running (it has no port to check)".into()),
            }
        }
        if started.elapsed() >= timeout {
            let what = match (port, health_path) {
                (Some(port), Some(path)) => format!(
                    "did not answer 2xx at {}{last_http}",
                    plan::health_url(port, path)
                ),
                (Some(port), None) => format!("was not listening on 127.0.0.1:{port}"),
                (None, _) => "was not running".into(),
            };
            return Err(format!(
                "{what} within {} s ([onboard] confirm_timeout_s; it is {}){}",
                timeout.as_secs(),
                state.status.as_str(),
                log_tail(inner, name).await
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `; last log lines: a | b` (empty when there are none).
async fn log_tail(inner: &Inner, name: &str) -> String {
    inner.hub.flush().await;
    let mut q = LogQuery::new(name.to_string());
    q.tail = Some(LOG_LINES);
    let lines: Vec<String> = inner
        .store
        .query_logs(&q)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|l| l.line)
        .collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!("; last log lines: {}", lines.join(" | "))
    }
}

/// The status code of `GET path` on 127.0.0.1:`port` (HTTP/1.0, a few seconds at most).
async fn http_status(port: u16, path: &str) -> Result<u16, String> {
    let ask = async {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: tend-onboard\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let mut got = 0;
        while got < buf.len() {
            let n = s.read(&mut buf[got..]).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            got += n;
            if buf[..got].contains(&b'\n') {
                break;
            }
        }
        parse_status(&buf[..got]).ok_or_else(|| "not an HTTP answer".to_string())
    };
    tokio::time::timeout(Duration::from_secs(3), ask)
        .await
        .map_err(|_| "no answer within 3 s".to_string())?
}

/// `HTTP/1.x 204 ...` -> 204.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(parse_status(b"HTTP/1.0 500 x"), Some(500));
        assert_eq!(parse_status(b"SSH-2.0"), None);
        assert_eq!(last_lines("a\nb\nc", 2), "b | c");
    }
}
