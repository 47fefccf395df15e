//! The overlap policies with a job that outlives its one-second interval: `skip`, `queue`, `allow`
//! and `replace`.

use tend_tests::{Daemon, Value, json, secs, wait_until};

use super::{brief, create, job, ms, wait_execs, with_status};

fn intervals(execs: &[&Value]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = execs
        .iter()
        .map(|e| (ms(e, "started_at"), ms(e, "ended_at")))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

#[test]
fn overlap_skip_records_skipped_fires_and_never_overlaps() {
    let d = Daemon::start();
    create(
        &d,
        &job(
            &d,
            "slow",
            "sleep 2.2",
            "*/1 * * * * *",
            json!({"overlap": "skip"}),
        ),
    );
    let execs = wait_execs(&d, "slow", secs(30), "2 runs and 2 skips", |e| {
        with_status(e, "succeeded").len() >= 2 && with_status(e, "skipped").len() >= 2
    });
    for s in with_status(&execs, "skipped") {
        assert!(
            s["message"]
                .as_str()
                .unwrap_or("")
                .contains("still running"),
            "{s}"
        );
        assert!(s.get("started_at").is_none_or(Value::is_null), "{s}");
    }
    let runs = intervals(&with_status(&execs, "succeeded"));
    for pair in runs.windows(2) {
        assert!(pair[1].0 >= pair[0].1, "runs overlap:\n{}", brief(&execs));
    }
}

#[test]
fn overlap_queue_runs_every_fire_one_after_another() {
    let d = Daemon::start();
    create(
        &d,
        &job(
            &d,
            "q",
            "sleep 1.4",
            "*/1 * * * * *",
            json!({"overlap": "queue"}),
        ),
    );
    let execs = wait_execs(&d, "q", secs(30), "3 runs with a queue behind them", |e| {
        with_status(e, "succeeded").len() >= 3 && !with_status(e, "queued").is_empty()
    });
    assert!(
        with_status(&execs, "skipped").is_empty(),
        "nothing is skipped:\n{}",
        brief(&execs)
    );
    let done = with_status(&execs, "succeeded");
    let runs = intervals(&done);
    for pair in runs.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "queued runs overlap:\n{}",
            brief(&execs)
        );
    }
    // Queued runs start when their predecessor ends, well after their own fire time.
    assert!(
        done.iter()
            .any(|e| ms(e, "started_at") - ms(e, "scheduled_at") > 300.0),
        "no run waited in the queue:\n{}",
        brief(&execs)
    );
    // Removing the job cancels what is still queued.
    let (status, body) = d.delete("/api/cron/q");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn overlap_allow_runs_alongside() {
    let d = Daemon::start();
    create(
        &d,
        &job(
            &d,
            "par",
            "sleep 2.5",
            "*/1 * * * * *",
            json!({"overlap": "allow"}),
        ),
    );
    wait_until(secs(20), "two executions running at once", || {
        let (_, v) = d.get("/api/cron/par");
        v["running"].as_array().is_some_and(|r| r.len() >= 2)
    })
    .unwrap();
    let execs = wait_execs(&d, "par", secs(30), "2 finished runs", |e| {
        with_status(e, "succeeded").len() >= 2
    });
    let runs = intervals(&with_status(&execs, "succeeded"));
    assert!(
        runs.windows(2).any(|p| p[1].0 < p[0].1),
        "no two runs overlapped:\n{}",
        brief(&execs)
    );
    assert!(
        with_status(&execs, "skipped").is_empty(),
        "{}",
        brief(&execs)
    );
}

#[test]
fn overlap_replace_stops_the_running_one_first() {
    let d = Daemon::start();
    create(
        &d,
        &job(
            &d,
            "rep",
            "sleep 30",
            "*/1 * * * * *",
            json!({"overlap": "replace"}),
        ),
    );
    let execs = wait_execs(
        &d,
        "rep",
        secs(30),
        "2 replaced runs whose successors started",
        |e| replacements(e).len() >= 2,
    );
    for (old, new) in replacements(&execs) {
        assert_eq!(old["signal"], "SIGTERM", "{old}");
        assert!(
            ms(&new, "started_at") >= ms(&old, "ended_at"),
            "the successor started before the old tree was gone:\n{}",
            brief(&execs)
        );
    }
}

/// `(replaced, successor)` pairs where both started (a successor can itself be replaced before it
/// starts, or not have recorded its start yet).
fn replacements(execs: &[Value]) -> Vec<(Value, Value)> {
    let started = |e: &Value| e["started_at"].is_string();
    with_status(execs, "stopped")
        .into_iter()
        .filter(|s| started(s))
        .filter_map(|s| {
            let by: i64 = s["message"]
                .as_str()?
                .strip_prefix("replaced by execution ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let successor = execs.iter().find(|e| e["id"] == by && started(e))?;
            Some((s.clone(), successor.clone()))
        })
        .collect()
}
