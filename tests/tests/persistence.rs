//! Persistence across daemon restarts: definitions, events and logs survive a clean stop and a crash,
//! and a crashed daemon's leftover processes are not left running unmanaged.

use tend_tests::{Daemon, Value, json, pid_alive, processes_with_marker, secs, wait_for};

/// Registers `web` (enabled, logs a line then sleeps) and `idle` (disabled); waits for web's log line.
/// Returns web's pid.
fn register(d: &Daemon) -> u32 {
    d.create(&d.service("web", "echo started; exec sleep 1000"));
    d.create(&d.service_with("idle", json!(["sleep", "1000"]), json!({"enabled": false})));
    let view = d.wait_status("web", "running", secs(10));
    wait_for(secs(10), || {
        let tail = d.tail_text("web", 10);
        if tail.iter().any(|l| l == "started") {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();
    view["pid"].as_u64().unwrap() as u32
}

/// The spec part of a view: what must survive a restart unchanged.
fn spec_of(view: &Value) -> Value {
    let mut v = view.clone();
    for runtime in [
        "status",
        "pid",
        "uptime_s",
        "restart_count",
        "last_exit",
        "next_start_at",
        "health_status",
        "memory_mb",
        "cpu_percent",
    ] {
        v.as_object_mut().unwrap().remove(runtime);
    }
    v
}

fn specs(d: &Daemon) -> Vec<Value> {
    d.list().as_array().unwrap().iter().map(spec_of).collect()
}

/// After a restart: both definitions are back, the old events and log lines are a prefix of the new
/// ones, `web` runs again (exactly one process, a fresh start logged), `idle` stays stopped.
fn assert_recovered(
    d: &Daemon,
    specs_before: &[Value],
    events_before: &[Value],
    logs_before: &[Value],
) -> u32 {
    assert_eq!(
        specs(d),
        specs_before,
        "definitions changed across the restart"
    );
    let view = d.wait_status("web", "running", secs(15));
    let pid = view["pid"].as_u64().unwrap() as u32;
    assert_eq!(d.view("idle")["status"], "stopped");

    let events = d.events("web");
    assert!(
        events.len() > events_before.len() && events[..events_before.len()] == *events_before,
        "old events are not kept as they were:\nbefore {events_before:#?}\nafter {events:#?}"
    );
    let boot = events[events_before.len()..]
        .iter()
        .find(|e| e["to"] == "starting")
        .unwrap_or_else(|| panic!("no new start event: {events:#?}"));
    assert_eq!(boot["reason"], "daemon boot", "{boot}");

    let logs = wait_for(secs(10), || {
        let logs = d.all_logs("web");
        if logs.iter().filter(|l| l["line"] == "started").count() >= 2 {
            Ok(logs)
        } else {
            Err(format!("{logs:?}"))
        }
    })
    .unwrap();
    assert_eq!(
        logs[..logs_before.len()],
        *logs_before,
        "old log lines are not kept as they were"
    );

    wait_for(secs(10), || {
        let procs = processes_with_marker(d.marker());
        if procs == [pid] {
            Ok(())
        } else {
            Err(format!("marked processes {procs:?}, service pid {pid}"))
        }
    })
    .unwrap();
    pid
}

#[test]
fn definitions_events_and_logs_survive_a_clean_restart() {
    let mut d = Daemon::start();
    let old = register(&d);
    let specs_before = specs(&d);
    let events_before = d.events("web");
    let logs_before = d.all_logs("web");
    let status = d.stop();
    assert!(status.success(), "daemon exit {status}");
    assert!(!pid_alive(old), "a clean stop leaves no service behind");
    d.restart();
    assert_recovered(&d, &specs_before, &events_before, &logs_before);
    // Between the old events and the boot: the shutdown's stop of `web`.
    let events = d.events("web");
    let shutdown: Vec<_> = events[events_before.len()..]
        .iter()
        .take_while(|e| e["reason"] != "daemon boot")
        .map(tend_tests::transition)
        .collect();
    assert_eq!(
        shutdown,
        vec![
            ("running".into(), "stopping".into()),
            ("stopping".into(), "stopped".into())
        ],
        "the shutdown is recorded:\n{}",
        tend_tests::describe_events(&events)
    );
}

#[test]
fn after_a_crash_leftovers_are_not_left_unmanaged() {
    let mut d = Daemon::start();
    let old = register(&d);
    let specs_before = specs(&d);
    let events_before = d.events("web");
    let logs_before = d.all_logs("web");
    d.kill9();
    assert!(
        pid_alive(old),
        "the service outlives a SIGKILLed daemon (own session)"
    );
    d.restart();
    let new = assert_recovered(&d, &specs_before, &events_before, &logs_before);
    assert!(
        new == old || !pid_alive(old),
        "the old process {old} still runs beside the new {new}"
    );
}

#[test]
fn the_token_is_private_and_stable_across_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let mut d = Daemon::start();
    let token_file = d.data_dir().join("token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "token file mode {mode:o}");
    assert!(d.token().len() >= 16, "a guessable token: {:?}", d.token());
    assert!(
        d.data_dir().join("tend.log").is_file(),
        "the daemon keeps its own log"
    );
    let before = d.token().to_string();
    d.restart();
    assert_eq!(d.token(), before, "the token survives a restart");
    assert_eq!(d.get("/api/services").0, 200);
}
