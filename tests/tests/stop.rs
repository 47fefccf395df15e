//! Stopping: escalation to SIGKILL, whole process trees (double-forked, setsid'd descendants included),
//! stop during backoff, and daemon shutdown by signal and through the API.

use std::path::Path;
use std::time::{Duration, Instant};

use tend_tests::{Daemon, json, pid_alive, processes_with_marker, secs, transition, wait_for};

/// Python that ignores SIGTERM, then touches `$READY` and idles.
const IGNORES_TERM: &str = r#"
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.environ["READY"], "w").close()
while True:
    time.sleep(0.1)
"#;

/// Python that double-forks a `setsid` grandchild running `sleep 1000`, writes its pid to `$PIDFILE`
/// and idles.
const DOUBLE_FORK: &str = r#"
import os, time
pidfile = os.environ["PIDFILE"]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(pidfile + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(pidfile + ".tmp", pidfile)
        os.execvp("sleep", ["sleep", "1000"])
    os._exit(0)
os.wait()
while True:
    time.sleep(0.1)
"#;

fn wait_file(path: &Path) -> String {
    wait_for(secs(10), || {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    })
    .unwrap()
}

/// The grandchild's pid, once it has exec'd `sleep`. While a process is inside execve its
/// /proc/<pid>/environ reads empty, so stopping before the exec finished would test that race instead.
fn read_grandchild_pid(path: &Path, marker: &str) -> u32 {
    let pid: u32 = wait_file(path)
        .trim()
        .parse()
        .expect("pid file holds a pid");
    let want = format!("{}={marker}", tend_tests::MARKER_VAR);
    wait_for(secs(10), || {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let marked = tend_tests::proc_environ(pid).contains(&want);
        if comm.trim() == "sleep" && marked {
            Ok(())
        } else {
            Err(format!("comm {comm:?}, marked {marked}"))
        }
    })
    .unwrap();
    pid
}

#[test]
fn stop_escalates_to_sigkill_when_sigterm_is_ignored() {
    let d = Daemon::start();
    let ready = d.scratch().join("ready");
    let spec = json!({"stop_timeout_s": 1, "env": {"READY": ready}});
    d.create(&d.service_with("stubborn", json!(["python3", "-c", IGNORES_TERM]), spec));
    wait_file(&ready);
    assert_eq!(processes_with_marker(d.marker()).len(), 1);

    let started = Instant::now();
    let (code, body) = d.post_empty("/api/services/stubborn/stop");
    let took = started.elapsed();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stopped", "{body}");
    assert!(
        took >= Duration::from_millis(900),
        "stop returned after {took:?}: it did not wait stop_timeout_s"
    );
    assert!(
        took < Duration::from_millis(3500),
        "stop took {took:?} for a 1 s stop timeout"
    );
    assert!(
        processes_with_marker(d.marker()).is_empty(),
        "the stubborn process survived the stop"
    );

    let events = d.events("stubborn");
    let stopped = events.last().unwrap();
    assert_eq!(
        transition(stopped),
        ("stopping".into(), "stopped".into()),
        "{events:#?}"
    );
    let reason = stopped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.to_uppercase().contains("SIGKILL"),
        "the stopped event's reason should mention SIGKILL: {stopped}"
    );
}

#[test]
fn stop_kills_a_double_forked_setsid_grandchild() {
    let d = Daemon::start();
    let pidfile = d.scratch().join("grandchild.pid");
    let spec = json!({"env": {"PIDFILE": pidfile}});
    let view = d.create(&d.service_with("forker", json!(["python3", "-c", DOUBLE_FORK]), spec));
    let grandchild = read_grandchild_pid(&pidfile, d.marker());
    assert!(
        pid_alive(grandchild),
        "grandchild {grandchild} should be running"
    );
    let leader = view["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid: {view}")) as u32;
    assert_ne!(grandchild, leader);
    // The grandchild really left the service's session: that is the case being tested.
    assert_ne!(
        session_of(grandchild),
        session_of(leader),
        "grandchild did not setsid"
    );

    let (code, body) = d.post_empty("/api/services/forker/stop");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stopped", "{body}");
    assert_gone(&[grandchild], "POST stop returned");
    assert!(
        processes_with_marker(d.marker()).is_empty(),
        "{:?} survived",
        processes_with_marker(d.marker())
    );
}

/// Asserts none of `pids` is alive. On failure tells whether a survivor was still exiting (state not
/// yet `Z`, /proc/<pid>/environ already empty) or truly escaped, by watching it for a few seconds.
fn assert_gone(pids: &[u32], when: &str) {
    let alive: Vec<u32> = pids.iter().copied().filter(|p| pid_alive(*p)).collect();
    if alive.is_empty() {
        return;
    }
    let states: Vec<String> = alive
        .iter()
        .map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim().chars().next().unwrap_or('?'));
            let env = tend_tests::proc_environ(*p).len();
            format!("pid {p} state {state:?} environ vars {env}")
        })
        .collect();
    let later = wait_for(secs(5), || {
        let left: Vec<u32> = alive.iter().copied().filter(|p| pid_alive(*p)).collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    });
    let verdict = match later {
        Ok(()) => "they were still exiting: the tree was declared gone too early",
        Err(_) => "they are still running 5 s later: they escaped the stop",
    };
    panic!("{when} while processes of the tree are alive: {states:?}; {verdict}");
}

/// Session id (field 6 of /proc/<pid>/stat).
fn session_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(3).unwrap().parse().unwrap()
}

#[test]
fn stop_during_backoff_goes_straight_to_stopped() {
    let d = Daemon::start();
    let spec =
        json!({"backoff": {"initial_delay_ms": 30000, "max_delay_ms": 30000, "jitter": 0.0}});
    d.create(&d.service_with("waiting", "exit 1", spec));
    let view = d.wait_status("waiting", "backoff", secs(10));
    assert!(
        view["next_start_at"].is_string(),
        "backoff view has next_start_at: {view}"
    );
    let (code, body) = d.post_empty("/api/services/waiting/stop");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stopped", "{body}");
    let events = d.events("waiting");
    assert_eq!(
        transition(events.last().unwrap()),
        ("backoff".into(), "stopped".into()),
        "{events:#?}"
    );
}

/// Services of several shapes, all running, for the shutdown tests.
fn start_mixed_services(d: &Daemon) -> Vec<u32> {
    let ready = d.scratch().join("ready");
    let pidfile = d.scratch().join("grandchild.pid");
    d.create(&d.service("plain", json!(["sleep", "1000"])));
    d.create(&d.service("shelled", "sleep 1000 & sleep 1000 & wait"));
    let stubborn = json!({"stop_timeout_s": 1, "env": {"READY": ready}});
    d.create(&d.service_with("stubborn", json!(["python3", "-c", IGNORES_TERM]), stubborn));
    d.create(&d.service_with(
        "forker",
        json!(["python3", "-c", DOUBLE_FORK]),
        json!({"env": {"PIDFILE": pidfile}}),
    ));
    wait_file(&ready);
    let grandchild = read_grandchild_pid(&pidfile, d.marker());
    for name in ["plain", "shelled", "stubborn", "forker"] {
        d.wait_status(name, "running", secs(10));
    }
    let procs = processes_with_marker(d.marker());
    assert!(
        procs.contains(&grandchild),
        "{procs:?} lacks the grandchild {grandchild}"
    );
    assert!(
        procs.len() >= 6,
        "expected at least 6 service processes, found {procs:?}"
    );
    procs
}

fn assert_clean_exit(d: &Daemon, status: std::process::ExitStatus, procs: &[u32]) {
    assert_eq!(
        status.code(),
        Some(0),
        "daemon exit status {status}; stderr:\n{}",
        d.stderr()
    );
    assert_gone(procs, "the daemon exited");
    assert!(processes_with_marker(d.marker()).is_empty());
    assert!(
        !d.data_dir().join("daemon.json").exists(),
        "daemon.json is removed at clean shutdown"
    );
}

#[test]
fn sigterm_to_the_daemon_stops_every_service_and_exits_zero() {
    let mut d = Daemon::start();
    let procs = start_mixed_services(&d);
    let status = d.stop();
    assert_clean_exit(&d, status, &procs);
}

#[test]
fn shutdown_endpoint_stops_every_service_and_exits_zero() {
    let mut d = Daemon::start();
    let procs = start_mixed_services(&d);
    let (code, body) = d.post_empty("/api/supervisor/shutdown");
    assert_eq!(code, 202, "{body}");
    assert_eq!(body, json!({"status": "shutting_down"}));
    let status = d.wait_exit(secs(20));
    assert_clean_exit(&d, status, &procs);
}
