//! Cancelling jobs (`POST /api/jobs/{id}/cancel`, `tend job ID --cancel`): the running command's whole
//! tree stopped, the rest skipped, a restart in progress let finish; refusals for ended and unknown
//! jobs. And a job's progress as events of its service (kind `job`), through REST and SSE.

use super::*;

/// POST /api/jobs/{id}/cancel.
fn cancel(d: &Daemon, id: &str) -> (u16, Value) {
    d.post_empty(&format!("/api/jobs/{id}/cancel"))
}

/// The `job` events of a service, oldest first, as their reasons.
fn job_events(d: &Daemon, name: &str) -> Vec<Value> {
    d.events(name)
        .into_iter()
        .filter(|e| e["kind"] == "job")
        .collect()
}

fn reasons(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// Waits until the job's step `phase[index]` is running; returns the job.
fn step_running(d: &Daemon, id: &str, phase: &str, index: u64) -> Value {
    wait_for(JOB_TIMEOUT, || {
        let j = job(d, id);
        if step(&j, phase, index)["status"] == "running" {
            Ok(j)
        } else {
            Err(j.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("step {phase}[{index}] of job {id} never ran: {e}"))
}

/// Submits a job whose first pre-command is a shell running `sleep 1000` (and a `setsid` sleep that
/// leaves its session) with `mark` in their environment; returns the job id once both sleeps run (the
/// shell itself does not carry the mark: it exported it to its children only).
fn start_long_job(d: &Daemon, mark: &str) -> String {
    let command = format!("export {mark}; sleep 1000 & setsid sleep 1001 & wait");
    let id = start_job(
        d,
        "web",
        &json!({
            "pre_commands": [shell(&command), shell("touch pre-never-ran")],
            "post_commands": [shell("touch post-never-ran")],
            "args": ["--x"],
        }),
    );
    step_running(d, &id, "pre", 0);
    wait_until(secs(20), "the command's sleeps run", || {
        processes_with_env(|env| env.iter().any(|kv| kv == mark)).len() >= 2
    })
    .unwrap();
    id
}

#[test]
fn cancel_stops_a_running_command_tree_and_skips_the_rest() {
    let d = Daemon::start();
    let old_pid = sleeper(&d, "web");
    let mark = format!("TT_CANCEL_MARK={}", d.marker());
    let id = start_long_job(&d, &mark);

    let (status, j) = cancel(&d, &id);
    assert_eq!(status, 200, "{j:#}");
    assert_eq!(j["status"], "cancelled", "{j:#}");
    assert_eq!(j, finished_job(&d, &id), "the answer is the recorded job");
    assert_eq!(
        statuses(&j),
        [
            "pre:cancelled",
            "pre:skipped",
            "restart:skipped",
            "post:skipped"
        ],
        "{j:#}"
    );
    let pre = step(&j, "pre", 0);
    assert!(
        pre["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled"),
        "{pre}"
    );
    assert!(
        j["error"]
            .as_str()
            .unwrap_or_default()
            .contains("pre_commands[0]"),
        "{j:#}"
    );
    // The job ends only once the command's whole tree is gone, the setsid'd sleep included.
    let left = processes_with_env(|env| env.contains(&mark));
    assert!(
        left.is_empty(),
        "processes of the cancelled command survive: {left:?}"
    );
    assert_eq!(pid_of(&d, "web"), old_pid, "the service was touched");
    assert!(pid_alive(old_pid as u32));
    for file in ["pre-never-ran", "post-never-ran"] {
        assert!(
            !d.scratch().join(file).exists(),
            "{file}: a skipped command ran"
        );
    }
    assert!(
        !d.events("web").iter().any(|e| e["to"] == "stopping"),
        "the service was stopped"
    );
    let (status, listed) = d.get("/api/jobs?status=cancelled");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["jobs"][0]["id"], id.as_str(), "{listed}");

    // The job's events: started, one per step, ended; the cancelled step with its signal.
    let events = job_events(&d, "web");
    let reasons = reasons(&events);
    assert_eq!(events.len(), 6, "{reasons:#?}");
    assert!(
        reasons[0].starts_with(&format!("custom-restart job {id} started")),
        "{reasons:#?}"
    );
    assert!(
        reasons[1].starts_with(&format!("custom-restart job {id} pre[0] cancelled")),
        "{reasons:#?}"
    );
    assert_eq!(events[1]["pid"], pre["pid"], "{:#}", events[1]);
    assert!(
        reasons[2].starts_with(&format!("custom-restart job {id} pre[1] skipped")),
        "{reasons:#?}"
    );
    assert!(
        reasons[3].starts_with(&format!("custom-restart job {id} restart skipped")),
        "{reasons:#?}"
    );
    assert!(
        reasons[4].starts_with(&format!("custom-restart job {id} post[0] skipped")),
        "{reasons:#?}"
    );
    assert!(
        reasons[5].starts_with(&format!("custom-restart job {id} cancelled")),
        "{reasons:#?}"
    );

    // Cancelling again: the job already ended.
    let (status, err) = cancel(&d, &id);
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled"),
        "{err}"
    );
}

#[test]
fn cancel_refuses_ended_and_unknown_jobs() {
    let d = Daemon::start();
    sleeper(&d, "web");
    let id = start_job(&d, "web", &json!({"pre_commands": [shell("true")]}));
    assert_eq!(finished_job(&d, &id)["status"], "succeeded");
    let (status, err) = cancel(&d, &id);
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "conflict");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("succeeded"),
        "the answer must name the status: {err}"
    );
    assert_eq!(
        job(&d, &id)["status"],
        "succeeded",
        "a refused cancel changed the job"
    );

    for unknown in ["999999", "nope"] {
        let (status, err) = cancel(&d, unknown);
        assert_eq!(status, 404, "{unknown}: {err}");
        assert_eq!(err["error"]["code"], "not_found", "{err}");
    }
}

/// A service that ignores SIGTERM, so its restart takes the whole `stop_timeout_s`.
fn deaf(d: &Daemon, name: &str) -> u64 {
    let ready = d.scratch().join(format!("{name}.ready"));
    let spec = d.service_with(
        name,
        json!([
            "/bin/sh",
            "-c",
            "trap '' TERM; echo $$ >> \"$0\"; while :; do sleep 1; done",
            ready
        ]),
        json!({"stop_timeout_s": 3}),
    );
    d.create(&spec);
    let pid = pid_of(d, name);
    assert_eq!(wait_lines(&ready, 1), [pid.to_string()]);
    pid
}

#[test]
fn a_cancel_during_the_restart_lets_it_finish_and_skips_the_post_commands() {
    let d = Daemon::start();
    let old_pid = deaf(&d, "web");
    let id = start_job(
        &d,
        "web",
        &json!({"post_commands": [shell("touch post-never-ran")]}),
    );
    step_running(&d, &id, "restart", 0);
    let (status, j) = cancel(&d, &id);
    assert!(status == 200 || status == 202, "{status}: {j:#}");
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "cancelled", "{j:#}");
    assert_eq!(statuses(&j), ["restart:ok", "post:skipped"], "{j:#}");
    let new_pid = pid_of(&d, "web");
    assert_ne!(new_pid, old_pid, "the restart did not finish");
    assert_eq!(step(&j, "restart", 0)["pid"].as_u64(), Some(new_pid));
    assert_eq!(d.view("web")["status"], "running");
    assert!(!d.scratch().join("post-never-ran").exists());
}

#[test]
fn the_cli_cancels_a_job_and_still_shows_one() {
    let d = Daemon::start();
    sleeper(&d, "web");
    let mark = format!("TT_CLI_CANCEL_MARK={}", d.marker());
    let id = start_long_job(&d, &mark);

    let out = d.cli(&["job", &id, "--cancel"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with(&format!("job {id} cancelled\n")),
        "{stdout}"
    );
    assert!(stdout.contains("pre[0]   cancelled"), "{stdout}");
    assert_eq!(job(&d, &id)["status"], "cancelled");
    let left = processes_with_env(|env| env.contains(&mark));
    assert!(
        left.is_empty(),
        "processes of the cancelled command survive: {left:?}"
    );

    let out = d.cli(&["job", &id, "--cancel"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already ended: cancelled"), "{stderr}");

    let out = d.cli(&["job", &id]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("status   cancelled"));
    let out = d.cli(&["job", "999999", "--cancel"]);
    assert_eq!(out.status.code(), Some(3), "not found");
}

#[test]
fn a_jobs_progress_shows_in_the_services_events() {
    let d = Daemon::start();
    sleeper(&d, "web");
    let sse = d.sse("/api/events");
    let id = start_job(
        &d,
        "web",
        &json!({
            "pre_commands": [shell("echo pre")],
            "post_commands": [shell("true")],
        }),
    );
    let j = finished_job(&d, &id);
    assert_eq!(j["status"], "succeeded", "{j:#}");
    let new_pid = step(&j, "restart", 0)["pid"].clone();

    let events = job_events(&d, "web");
    let reasons = reasons(&events);
    let prefix = format!("custom-restart job {id} ");
    assert_eq!(
        reasons,
        [
            format!("{prefix}started (3 steps)"),
            format!("{prefix}pre[0] ok: `echo pre` (policy allow, exit code 0)"),
            format!(
                "{prefix}restart ok: `{}`",
                step(&j, "restart", 0)["command"].as_str().unwrap()
            ),
            format!("{prefix}post[0] ok: `true` (policy allow, exit code 0)"),
            format!("{prefix}succeeded"),
        ],
    );
    assert_eq!(events[1]["exit_code"], 0, "{:#}", events[1]);
    assert_eq!(events[1]["pid"], step(&j, "pre", 0)["pid"]);
    assert_eq!(events[2]["pid"], new_pid);
    assert!(
        events
            .iter()
            .all(|e| e["service"] == "web" && e["from"] == e["to"])
    );
    // In order among the service's other events: the restart's transition comes between the
    // pre-command's event and the restart step's.
    let all = d.events("web");
    let at = |reason: &str| {
        all.iter()
            .position(|e| e["reason"] == reason)
            .unwrap_or_else(|| panic!("no event {reason:?}"))
    };
    let restarted = all
        .iter()
        .position(|e| e["reason"] == format!("custom-restart job {id}"))
        .expect("the restart's transition");
    assert!(at(&reasons[1]) < restarted && restarted < at(&reasons[2]));

    // The same events, live.
    let mut live = Vec::new();
    while live.len() < reasons.len() {
        let ev = sse
            .wait_for(secs(10), |e| e.event == "job" && e.json()["kind"] == "job")
            .unwrap_or_else(|e| panic!("job events missing on /api/events after {live:?}: {e}"));
        live.push(ev.json()["reason"].as_str().unwrap_or("?").to_string());
    }
    assert_eq!(live, reasons);
}
