//! Cron jobs through the real daemon: per-second fires (each slot once), the four overlap policies with
//! a job that outlives its interval, timeouts and stops that take the whole tree, environments, retries,
//! output capture, catch-up across a restart, the compat tick under concurrency, validation errors, the
//! config-file ownership rule, and the `tend cron` CLI. The overlap policies are in `cron/overlap.rs`,
//! the API's validation, CRUD and the CLI in `cron/api.rs`; the helpers shared by all are here.

mod api;
mod overlap;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};
use tend_tests::{Daemon, Value, json, merge, pid_alive, rfc3339_ms, secs, wait_for, wait_until};

/// A job spec in UTC carrying the daemon's marker, so leftovers are found and killed.
fn job(d: &Daemon, name: &str, command: impl Into<Value>, schedule: &str, patch: Value) -> Value {
    let base = json!({
        "name": name, "command": command.into(), "schedule": schedule, "timezone": "UTC",
        "env_vars": {tend_tests::MARKER_VAR: d.marker()},
    });
    merge(base, patch)
}

fn create(d: &Daemon, spec: &Value) -> Value {
    let (status, body) = d.post("/api/cron", spec);
    assert_eq!(status, 201, "creating {spec} answered {body}");
    body
}

/// Every execution of a job, newest first.
fn executions(d: &Daemon, name: &str) -> Vec<Value> {
    let (status, body) = d.get(&format!("/api/cron/{name}/executions?limit=500"));
    assert_eq!(status, 200, "executions of {name}: {body}");
    body["executions"].as_array().cloned().unwrap_or_default()
}

fn finished(execs: &[Value]) -> Vec<Value> {
    execs
        .iter()
        .filter(|e| !matches!(e["status"].as_str(), Some("running" | "queued")))
        .cloned()
        .collect()
}

fn with_status<'a>(execs: &'a [Value], status: &str) -> Vec<&'a Value> {
    execs.iter().filter(|e| e["status"] == status).collect()
}

fn ms(e: &Value, field: &str) -> f64 {
    rfc3339_ms(
        e[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} missing: {e}")),
    )
}

fn brief(execs: &[Value]) -> String {
    execs
        .iter()
        .map(|e| {
            format!(
                "#{} {} {} sched={} start={} end={} {}",
                e["id"],
                e["trigger"],
                e["status"],
                e["scheduled_at"],
                e["started_at"],
                e["ended_at"],
                e["message"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until `cond` holds for the job's executions; returns them (newest first).
fn wait_execs(
    d: &Daemon,
    name: &str,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    wait_for(timeout, || {
        let e = executions(d, name);
        if cond(&e) {
            Ok(e)
        } else {
            Err(format!("{what}; executions:\n{}", brief(&e)))
        }
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `POST /api/cron/{name}/run`, asserting 202; returns the execution id.
fn run_now(d: &Daemon, name: &str) -> i64 {
    let (status, body) = d.post_empty(&format!("/api/cron/{name}/run"));
    assert_eq!(status, 202, "run {name}: {body}");
    body["id"].as_i64().unwrap()
}

fn wait_final(d: &Daemon, name: &str, id: i64) -> Value {
    let execs = wait_execs(d, name, secs(30), "execution to end", |e| {
        e.iter()
            .any(|x| x["id"] == id && !matches!(x["status"].as_str(), Some("running" | "queued")))
    });
    execs.into_iter().find(|x| x["id"] == id).unwrap()
}

fn read_pid(path: &Path) -> u32 {
    wait_for(secs(10), || {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| format!("{} not written yet", path.display()))
    })
    .unwrap()
}

/// A 6-field expression (plus year) naming exactly the second `t`, UTC.
fn at_second(t: DateTime<Utc>) -> String {
    format!(
        "{} {} {} {} {} * {}",
        t.second(),
        t.minute(),
        t.hour(),
        t.day(),
        t.month(),
        t.year()
    )
}

#[test]
fn every_second_job_fires_each_slot_once() {
    let d = Daemon::start();
    create(
        &d,
        &job(
            &d,
            "secondly",
            "echo at=$TEND_SCHEDULED_AT",
            "*/1 * * * * *",
            // Under load a run could outlive its second; `allow` keeps every slot a run.
            json!({"overlap": "allow"}),
        ),
    );
    let execs = wait_execs(&d, "secondly", secs(20), "6 finished executions", |e| {
        finished(e).len() >= 6
    });
    let done = finished(&execs);
    let mut slots: Vec<f64> = done.iter().map(|e| ms(e, "scheduled_at")).collect();
    slots.sort_by(f64::total_cmp);
    let distinct: BTreeSet<i64> = slots.iter().map(|s| *s as i64).collect();
    assert_eq!(
        distinct.len(),
        slots.len(),
        "a slot fired twice:\n{}",
        brief(&execs)
    );
    for pair in slots.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            1000.0,
            "slots are not consecutive seconds:\n{}",
            brief(&execs)
        );
    }
    for e in &done {
        assert_eq!(e["trigger"], "schedule", "{e}");
        assert_eq!(e["status"], "succeeded", "{e}");
        assert_eq!(
            ms(e, "scheduled_at") % 1000.0,
            0.0,
            "slots are whole seconds: {e}"
        );
        assert!(
            ms(e, "started_at") >= ms(e, "scheduled_at"),
            "started before its slot: {e}"
        );
        let want = format!("at={}\n", e["scheduled_at"].as_str().unwrap());
        assert_eq!(e["stdout"]["text"], want.as_str(), "{e}");
        // The whole output is in the execution's log file, in the service log format.
        let file = e["log_file"].as_str().expect("log_file");
        let text = std::fs::read_to_string(file).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert!(
            text.ends_with(&format!(" stdout {want}")),
            "{file}: {text:?}"
        );
    }
    let (_, status) = d.get("/api/cron/status");
    assert!(
        status["jobs"]["secondly"]["next_run_at"].is_string(),
        "{status}"
    );
}

#[test]
fn timeout_and_stop_kill_the_whole_tree() {
    let d = Daemon::start();
    let dir = d.scratch();
    // The leader waits for a shell that starts a grandchild and a setsid'd grandchild.
    let tree = |tag: &str| {
        format!(
            "sh -c 'sleep 300 & echo $! > {dir}/{tag}.gc; setsid sleep 300 & echo $! > {dir}/{tag}.sid; wait'; echo never",
            dir = dir.display()
        )
    };
    create(
        &d,
        &job(&d, "slow", tree("t"), "@yearly", json!({"timeout": 2})),
    );
    let id = run_now(&d, "slow");
    let (gc, sid) = (read_pid(&dir.join("t.gc")), read_pid(&dir.join("t.sid")));
    let e = wait_final(&d, "slow", id);
    assert_eq!(e["status"], "timed_out", "{e}");
    assert!(e["duration_ms"].as_u64().unwrap() >= 2000, "{e}");
    assert!(!pid_alive(gc), "grandchild {gc} outlived the timeout");
    assert!(
        !pid_alive(sid),
        "setsid'd grandchild {sid} outlived the timeout"
    );
    assert!(
        !e["stdout"]["text"].as_str().unwrap().contains("never"),
        "{e}"
    );

    create(&d, &job(&d, "held", tree("s"), "@yearly", json!({})));
    let id = run_now(&d, "held");
    let (gc, sid) = (read_pid(&dir.join("s.gc")), read_pid(&dir.join("s.sid")));
    let (status, body) = d.post_empty("/api/cron/held/stop");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executions"], json!([id]), "{body}");
    // The answer comes once the tree is gone.
    assert!(
        !pid_alive(gc) && !pid_alive(sid),
        "stop left {gc} or {sid} running"
    );
    let e = wait_final(&d, "held", id);
    assert_eq!(e["status"], "stopped", "{e}");
    assert_eq!(e["message"], "stopped on request", "{e}");
}

#[test]
fn env_file_quotes_comments_export_and_env_vars_override() {
    let d = Daemon::start();
    let dir = d.scratch();
    std::fs::write(
        dir.join("job.env"),
        "# a comment\nexport A=1\nB=\"two words\"\nC='single $quoted'\nD=from_file\n#E=commented\n",
    )
    .unwrap();
    let print = r#"printf '%s|%s|%s|%s|%s|%s\n' "$A" "$B" "$C" "$D" "${E-unset}" "$TEND_CRON_JOB""#;
    create(
        &d,
        &job(
            &d,
            "env",
            print,
            "@yearly",
            json!({
                "working_dir": dir, "env_file": "job.env", "env_vars": {"D": "from_vars"}
            }),
        ),
    );
    let e = wait_final(&d, "env", run_now(&d, "env"));
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["trigger"], "manual", "{e}");
    assert_eq!(
        e["stdout"]["text"], "1|two words|single $quoted|from_vars|unset|env\n",
        "{e}"
    );
}

#[test]
fn retries_failed_runs_and_records_resources() {
    let d = Daemon::start();
    create(
        &d,
        &job(
            &d,
            "flaky",
            "echo oops >&2; exit 3",
            "@yearly",
            json!({"retries": 2, "retry_delay_s": 0}),
        ),
    );
    run_now(&d, "flaky");
    let execs = wait_execs(&d, "flaky", secs(20), "3 failed attempts", |e| {
        with_status(e, "failed").len() == 3
    });
    let mut attempts: Vec<(u64, String)> = execs
        .iter()
        .map(|e| {
            (
                e["attempt"].as_u64().unwrap(),
                e["trigger"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    attempts.sort();
    assert_eq!(
        attempts,
        [
            (0, "manual".into()),
            (1, "retry".into()),
            (2, "retry".into())
        ],
        "{}",
        brief(&execs)
    );
    for e in &execs {
        assert_eq!(e["exit_code"], 3, "{e}");
        assert_eq!(e["stderr"]["text"], "oops\n", "{e}");
    }

    // A grandchild that allocates 100 MiB and a loop that burns CPU count for the tree.
    let busy = "sh -c 'dd if=/dev/zero of=/dev/null bs=100M count=1 2>/dev/null'; i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done";
    create(&d, &job(&d, "busy", busy, "@yearly", json!({})));
    let e = wait_final(&d, "busy", run_now(&d, "busy"));
    assert_eq!(e["status"], "succeeded", "{e}");
    assert!(e["max_rss_bytes"].as_u64().unwrap() >= 100 << 20, "{e}");
    assert!(e["cpu_time_ms"].as_u64().unwrap() >= 100, "{e}");
}

#[test]
fn large_output_keeps_both_ends_in_the_store_and_all_in_the_file() {
    let d = Daemon::start();
    let lines = "i=0; while [ $i -lt 30000 ]; do echo \"line $i\"; i=$((i+1)); done";
    create(&d, &job(&d, "loud", lines, "@yearly", json!({})));
    let e = wait_final(&d, "loud", run_now(&d, "loud"));
    let out = &e["stdout"];
    assert_eq!(out["truncated"], true, "{out}");
    assert_eq!(out["text"].as_str().unwrap().len(), 64 * 1024);
    assert_eq!(out["tail"].as_str().unwrap().len(), 64 * 1024);
    assert!(
        out["text"]
            .as_str()
            .unwrap()
            .starts_with("line 0\nline 1\n")
    );
    assert!(out["tail"].as_str().unwrap().ends_with("line 29999\n"));
    let total: u64 = (0..30000)
        .map(|i: u64| format!("line {i}\n").len() as u64)
        .sum();
    assert_eq!(out["bytes"], total);
    let file = std::fs::read_to_string(e["log_file"].as_str().unwrap()).unwrap();
    assert_eq!(file.lines().count(), 30000);
    assert!(file.lines().all(|l| l.contains(" stdout line ")));
}

#[test]
fn catch_up_runs_the_missed_fire_once_after_downtime() {
    let mut d = Daemon::start();
    let slot = (Utc::now() + chrono::Duration::seconds(5)).trunc_subsecs(0);
    let schedule = at_second(slot);
    create(
        &d,
        &job(
            &d,
            "late",
            "echo caught",
            &schedule,
            json!({"catch_up": "latest"}),
        ),
    );
    create(
        &d,
        &job(
            &d,
            "lost",
            "echo caught",
            &schedule,
            json!({"catch_up": "none"}),
        ),
    );
    assert!(d.stop().success());
    assert!(
        Utc::now() < slot,
        "the daemon stopped after the fire time; the test is void"
    );
    wait_until(secs(10), "the fire time to pass", || {
        Utc::now() > slot + chrono::Duration::milliseconds(500)
    })
    .unwrap();
    d.restart();
    let want = slot.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let execs = wait_execs(&d, "late", secs(20), "a catch-up run", |e| {
        e.iter().any(|x| x["status"] == "succeeded")
    });
    assert_eq!(execs.len(), 1, "{}", brief(&execs));
    assert_eq!(execs[0]["trigger"], "catch_up", "{}", brief(&execs));
    assert_eq!(execs[0]["scheduled_at"], want.as_str());
    assert!(executions(&d, "lost").is_empty(), "catch_up none ran");
    // Another restart neither loses nor repeats it.
    d.restart();
    let (status, _) = d.get("/api/cron/late");
    assert_eq!(status, 200);
    assert_eq!(
        executions(&d, "late").len(),
        1,
        "catch-up repeated after a restart"
    );
    assert!(executions(&d, "lost").is_empty());
}

#[test]
fn daemon_shutdown_stops_running_executions() {
    let mut d = Daemon::start();
    let dir = d.scratch();
    let cmd = format!("sleep 300 & echo $! > {}/gc; wait", dir.display());
    create(&d, &job(&d, "long", cmd, "@yearly", json!({})));
    let id = run_now(&d, "long");
    let gc = read_pid(&dir.join("gc"));
    assert!(d.stop().success());
    assert!(!pid_alive(gc), "an execution outlived the daemon");
    d.restart();
    let e = executions(&d, "long")
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap();
    assert_eq!(e["status"], "stopped", "{e}");
    assert_eq!(e["message"], "the daemon shut down", "{e}");
}

#[test]
fn tick_fires_a_due_slot_once_even_when_called_concurrently() {
    let d = Daemon::start();
    let slot = (Utc::now() - chrono::Duration::seconds(3)).trunc_subsecs(0);
    // Created after its fire time, so only a tick can run it (the scheduler's next is next year).
    let schedule = format!(
        "{} {} {} {} {} *",
        slot.second(),
        slot.minute(),
        slot.hour(),
        slot.day(),
        slot.month()
    );
    let names = ["t1", "t2", "t3"];
    for n in names {
        create(&d, &job(&d, n, "true", &schedule, json!({})));
    }
    let barrier = std::sync::Barrier::new(6);
    let fired: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let (status, body) = d.post_empty("/api/cron/tick");
                    assert_eq!(status, 200, "{body}");
                    body["fired"].as_array().cloned().unwrap_or_default()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let want = slot.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut jobs: Vec<&str> = fired.iter().map(|e| e["job"].as_str().unwrap()).collect();
    jobs.sort_unstable();
    assert_eq!(jobs, names, "{}", brief(&fired));
    for n in names {
        let execs = executions(&d, n);
        assert_eq!(execs.len(), 1, "{n}: {}", brief(&execs));
        assert_eq!(execs[0]["trigger"], "tick");
        assert_eq!(execs[0]["scheduled_at"], want.as_str());
    }
    let (_, again) = d.post_empty("/api/cron/tick");
    assert_eq!(again["fired"], json!([]), "{again}");
}

#[test]
fn a_killed_daemon_leaves_no_execution_behind() {
    let mut d = Daemon::start();
    let dir = d.scratch();
    let cmd = format!("sleep 300 & echo $! > {}/gc; wait", dir.display());
    create(&d, &job(&d, "orphan", cmd, "@yearly", json!({})));
    let id = run_now(&d, "orphan");
    let gc = read_pid(&dir.join("gc"));
    d.kill9();
    assert!(
        pid_alive(gc),
        "the execution should survive a SIGKILLed daemon until the next boot"
    );
    d.restart();
    // The next daemon stops what its predecessor left before it serves.
    assert!(
        !pid_alive(gc),
        "a leftover execution process survived the restart"
    );
    let e = executions(&d, "orphan")
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap();
    assert_eq!(e["status"], "stopped", "{e}");
    assert_eq!(
        e["message"], "the daemon stopped before this execution ended",
        "{e}"
    );
}
