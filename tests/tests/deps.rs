//! Dependencies (`depends_on`) with real services: db (answers its health path 1 s after it starts) <-
//! api (`healthy`) <- worker. Boot order and shutdown order observed from the services' own monotonic
//! timestamps; a stop stopping dependents first and a start pulling dependencies in; a `completed`
//! setup job gating its dependent and a failing one blocking it; a fatal dependency blocking its
//! dependent (no timeout) until started again; `restart = true` propagation; the timeout; `GET
//! /api/graph`, `tend graph` and `tend status NAME`. Rejections are in `deps_errors.rs`.

use std::path::Path;
use std::time::Instant;

use tend_tests::{
    Daemon, Value, free_port, json, python3, rfc3339_ms, secs, transition, wait_for, wait_until,
};

/// `svc.py NAME DIR [PORT]`: appends `<monotonic ns> <pid>` to DIR/NAME.start when it starts and
/// `<monotonic ns>` to DIR/NAME.stop when it gets SIGTERM (then exits); with PORT, serves HTTP whose
/// every path answers 503 for the first second, then 200.
const SVC: &str = r#"
import http.server, os, signal, sys, time
name, d = sys.argv[1], sys.argv[2]
port = int(sys.argv[3]) if len(sys.argv) > 3 else None
def stamp(suffix, extra=""):
    with open(os.path.join(d, name + suffix), "a") as f:
        f.write(f"{time.monotonic_ns()}{extra}\n")
def term(*_):
    stamp(".stop")
    os._exit(0)
signal.signal(signal.SIGTERM, term)
stamp(".start", f" {os.getpid()}")
t0 = time.monotonic()
if port:
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = time.monotonic() - t0 >= 1.0
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(b"ok" if ok else b"not yet")
        def log_message(self, *a):
            pass
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
else:
    while True:
        signal.pause()
"#;

fn write_svc(dir: &Path) -> String {
    let path = dir.join("svc.py");
    std::fs::write(&path, SVC).expect("write svc.py");
    path.to_string_lossy().into_owned()
}

/// The monotonic stamps in DIR/NAME.SUFFIX, oldest first.
fn stamps(dir: &Path, name: &str, suffix: &str) -> Vec<u64> {
    std::fs::read_to_string(dir.join(format!("{name}.{suffix}")))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Waits until DIR/NAME.SUFFIX holds `n` stamps (a started script has written its start stamp, so its
/// SIGTERM handler is installed); returns them.
fn wait_stamps(dir: &Path, name: &str, suffix: &str, n: usize) -> Vec<u64> {
    wait_for(secs(20), || {
        let s = stamps(dir, name, suffix);
        if s.len() >= n {
            Ok(s)
        } else {
            Err(format!("{name}.{suffix}: {s:?}"))
        }
    })
    .unwrap()
}

fn first(dir: &Path, name: &str, suffix: &str) -> u64 {
    *stamps(dir, name, suffix)
        .first()
        .unwrap_or_else(|| panic!("{name} wrote no {suffix} stamp"))
}

/// db's check: the whole first second's 503s fall in the start period.
fn health() -> Value {
    json!({"probe": "http", "config": {"path": "/health"}, "interval_s": 1, "timeout_s": 1,
           "retries": 3, "start_period_s": 30})
}

/// db <- api (healthy, `api_edge` merged into the edge) <- worker, created through the API.
fn stack(d: &Daemon, dir: &Path, api_edge: Value) {
    let svc = write_svc(dir);
    let dir_s = dir.to_string_lossy().into_owned();
    let port = free_port();
    d.create(&d.service_with(
        "db",
        json!([python3(), svc, "db", dir_s, port.to_string()]),
        json!({"port": port, "health": health()}),
    ));
    let edge = tend_tests::merge(json!({"condition": "healthy"}), api_edge);
    d.create(&d.service_with(
        "api",
        json!([python3(), svc, "api", dir_s]),
        json!({"depends_on": {"db": edge}}),
    ));
    d.create(&d.service_with(
        "worker",
        json!([python3(), svc, "worker", dir_s]),
        json!({"depends_on": ["api"]}),
    ));
}

/// db, then api once db was healthy (its health path answers 1 s after its start), then worker: from
/// the scripts' own stamps. worker's edge is `started` (api's process exists), which the scripts'
/// stamps cannot order within the milliseconds Python takes to start, so api-before-worker is also
/// checked on the daemon's spawn events (the `nth` run of each).
fn assert_start_order(d: &Daemon, db: u64, api: u64, worker: u64, nth: usize) {
    const SECOND: u64 = 1_000_000_000;
    assert!(
        db < api && api - db >= SECOND,
        "api started only once db was healthy, 1 s after db's start: {} ms",
        api as i64 / 1_000_000 - db as i64 / 1_000_000
    );
    assert!(
        db < worker && worker - db >= SECOND,
        "worker started after api, so after db was healthy: {} ms",
        worker as i64 / 1_000_000 - db as i64 / 1_000_000
    );
    let spawned = |name: &str| {
        let events = d.events(name);
        let at: Vec<f64> = events
            .iter()
            .filter(|e| transition(e) == ("starting".into(), "running".into()))
            .map(|e| rfc3339_ms(e["time"].as_str().unwrap()))
            .collect();
        *at.get(nth).unwrap_or_else(|| {
            panic!(
                "{name}: no run {nth}: {}",
                tend_tests::describe_events(&events)
            )
        })
    };
    assert!(
        spawned("api") <= spawned("worker"),
        "api was spawned before worker"
    );
}

fn pid(v: &Value) -> u64 {
    v["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {v}"))
}

#[test]
fn boot_starts_in_dependency_order_and_shutdown_stops_in_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let svc = write_svc(dir.path());
    let d_s = dir.path().to_string_lossy().into_owned();
    let port = free_port();
    let b = Daemon::builder();
    let toml = format!(
        r#"
[services.worker]
command = ["{py}", "{svc}", "worker", "{d_s}"]
env = {{ TEND_TEST_ID = "{m}" }}
depends_on = ["api"]

[services.api]
command = ["{py}", "{svc}", "api", "{d_s}"]
env = {{ TEND_TEST_ID = "{m}" }}
depends_on = {{ db = {{ condition = "service_healthy" }} }}

[services.db]
command = ["{py}", "{svc}", "db", "{d_s}", "{port}"]
env = {{ TEND_TEST_ID = "{m}" }}
port = {port}
health = {{ probe = "http", config = {{ path = "/health" }}, interval_s = 1, timeout_s = 1, retries = 3, start_period_s = 30 }}
"#,
        py = python3(),
        m = b.marker(),
    );
    let mut d = b.config_toml(&toml).start();
    d.wait_status("worker", "running", secs(20));
    for name in ["db", "api", "worker"] {
        wait_stamps(dir.path(), name, "start", 1);
    }
    let (db, api, worker) = (
        first(dir.path(), "db", "start"),
        first(dir.path(), "api", "start"),
        first(dir.path(), "worker", "start"),
    );
    assert_start_order(&d, db, api, worker, 0);
    let events = d.events("api");
    let waited = events
        .iter()
        .find(|e| e["to"] == "waiting")
        .unwrap_or_else(|| panic!("api never waited: {}", tend_tests::describe_events(&events)));
    assert!(
        waited["reason"].as_str().unwrap().contains("db (healthy)"),
        "{waited}"
    );

    let status = d.stop();
    assert!(status.success(), "{status}");
    let stderr = d.stderr();
    let transitions: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("transition"))
        .collect();
    let stop = |name: &str| {
        stamps(dir.path(), name, "stop")
            .first()
            .copied()
            .unwrap_or_else(|| {
                panic!(
                    "{name} wrote no stop stamp; transitions:\n{}",
                    transitions.join("\n")
                )
            })
    };
    let (db, api, worker) = (stop("db"), stop("api"), stop("worker"));
    assert!(
        worker < api && api < db,
        "shutdown order worker < api < db: {worker} {api} {db}"
    );
}

#[test]
fn stop_stops_running_dependents_first_and_start_pulls_dependencies_in() {
    let d = Daemon::start();
    let dir = d.scratch();
    stack(&d, &dir, json!({}));
    d.wait_status("worker", "running", secs(20));
    for name in ["db", "api", "worker"] {
        wait_stamps(&dir, name, "start", 1);
    }

    let (code, body) = d.post_empty("/api/services/db/stop");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stopped", "{body}");
    for name in ["api", "worker"] {
        assert_eq!(d.view(name)["status"], "stopped", "{name} stopped with db");
    }
    let (db, api, worker) = (
        first(&dir, "db", "stop"),
        first(&dir, "api", "stop"),
        first(&dir, "worker", "stop"),
    );
    assert!(
        worker < api && api < db,
        "stop order worker < api < db: {worker} {api} {db}"
    );

    // Starting worker starts api and db again, in order, api after db is healthy.
    let (code, body) = d.post_empty("/api/services/worker/start");
    assert_eq!(code, 200, "{body}");
    d.wait_status("worker", "running", secs(20));
    let second = |name: &str| wait_stamps(&dir, name, "start", 2)[1];
    let (db, api, worker) = (second("db"), second("api"), second("worker"));
    assert_start_order(&d, db, api, worker, 1);

    // The graph, through the API and the CLI.
    let (code, graph) = d.get("/api/graph");
    assert_eq!(code, 200, "{graph}");
    assert_eq!(
        graph["order"],
        json!([["db"], ["api"], ["worker"]]),
        "{graph}"
    );
    let edges = graph["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2, "{graph}");
    let api_db = edges.iter().find(|e| e["service"] == "api").unwrap();
    assert_eq!(api_db["dependency"], "db");
    assert_eq!(api_db["condition"], "healthy");
    assert_eq!(api_db["restart"], false);
    assert_eq!(api_db["satisfied"], true, "{graph}");
    let db_node = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "db")
        .unwrap();
    assert_eq!(db_node["status"], "running");
    assert_eq!(db_node["health_status"], "healthy");

    let out = d.cli(&["graph"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        "worker: running\n└── api (started): running\n    └── db (healthy): running, healthy\n",
        "{text}"
    );
    let out = d.cli(&["graph", "--json"]);
    let json: Value = serde_json::from_slice(&out.stdout).expect("graph --json is JSON");
    assert_eq!(json["order"], graph["order"]);
}

#[test]
fn a_completed_setup_job_gates_its_dependent_and_a_failing_one_blocks_it() {
    let d = Daemon::start();
    let dir = d.scratch();
    let fixed = dir.join("fixed");
    let setup = format!(
        "test -f {} && echo migrated || {{ echo 'no migration file' >&2; exit 3; }}",
        fixed.display()
    );
    d.create(&d.service_with(
        "setup",
        setup.as_str(),
        json!({"restart": "never", "enabled": false}),
    ));
    d.create(&d.service_with(
        "app",
        "exec sleep 1000",
        json!({"depends_on": {"setup": {"condition": "service_completed_successfully"}},
               "depends_timeout_s": 1}),
    ));
    // Creating app started setup, which failed: app waits, blocked, with the reason.
    let view = wait_for(secs(10), || {
        let v = d.view("app");
        if v["status"] == "waiting" && v["waiting_for"][0]["blocked"] == true {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
    .unwrap();
    let w = &view["waiting_for"][0];
    assert_eq!(w["service"], "setup", "{view}");
    assert_eq!(w["condition"], "completed", "{view}");
    assert!(
        w["reason"]
            .as_str()
            .unwrap()
            .contains("setup exited unsuccessfully"),
        "{view}"
    );
    // Blocked: no timeout (depends_timeout_s = 1), it stays waiting.
    let until = Instant::now() + secs(2);
    wait_until(secs(5), "2 s to pass while app stays waiting", || {
        let v = d.view("app");
        assert_eq!(
            v["status"], "waiting",
            "a blocked wait never times out: {v}"
        );
        Instant::now() >= until
    })
    .unwrap();
    let events = d.events("app");
    assert!(
        events.iter().any(|e| e["to"] == "waiting"
            && e["reason"]
                .as_str()
                .unwrap()
                .contains("setup exited unsuccessfully")),
        "a waiting event carries the reason: {}",
        tend_tests::describe_events(&events)
    );

    // Fixed, and setup started again: it completes and app goes on.
    std::fs::write(&fixed, "").unwrap();
    let (code, body) = d.post_empty("/api/services/setup/start");
    assert_eq!(code, 200, "{body}");
    d.wait_status("app", "running", secs(10));
    let setup_view = d.view("setup");
    assert_eq!(setup_view["status"], "exited", "{setup_view}");
    assert_eq!(setup_view["last_exit"]["code"], 0, "{setup_view}");
    // A completed setup is not run again when app starts again.
    d.post_empty("/api/services/app/stop");
    d.post_empty("/api/services/app/start");
    d.wait_status("app", "running", secs(10));
    let runs = d
        .events("setup")
        .iter()
        .filter(|e| transition(e) == ("starting".into(), "running".into()))
        .count();
    assert_eq!(runs, 2, "setup ran twice (failed, then fixed), not again");
}

#[test]
fn restart_true_restarts_the_dependent_after_the_dependency_is_ready_again() {
    let d = Daemon::start();
    let dir = d.scratch();
    stack(&d, &dir, json!({"restart": true}));
    let worker = d.wait_status("worker", "running", secs(20));
    for name in ["db", "api", "worker"] {
        wait_stamps(&dir, name, "start", 1);
    }
    let api = d.view("api");
    let db = d.view("db");

    let (code, body) = d.post_empty("/api/services/db/restart");
    assert_eq!(code, 200, "{body}");
    let api2 = wait_for(secs(20), || {
        let v = d.view("api");
        if v["status"] == "running" && v["pid"] != api["pid"] {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
    .unwrap();
    let db2 = d.view("db");
    assert_ne!(pid(&db2), pid(&db), "db restarted");
    assert_ne!(pid(&api2), pid(&api), "api restarted");
    let db_starts = wait_stamps(&dir, "db", "start", 2);
    let api_starts = wait_stamps(&dir, "api", "start", 2);
    assert_eq!((db_starts.len(), api_starts.len()), (2, 2));
    assert!(
        api_starts[1] - db_starts[1] >= 1_000_000_000,
        "api started again only once db was healthy again"
    );
    assert_eq!(
        pid(&d.view("worker")),
        pid(&worker),
        "worker (no restart = true) kept running"
    );
    let events = d.events("api");
    let lost = events
        .iter()
        .find(|e| transition(e) == ("running".into(), "stopping".into()))
        .unwrap_or_else(|| panic!("{}", tend_tests::describe_events(&events)));
    assert!(
        lost["reason"].as_str().unwrap().contains("db restarted"),
        "{lost}"
    );
}

#[test]
fn a_dependency_that_never_becomes_ready_fails_the_start_after_the_timeout() {
    let d = Daemon::start();
    let port = free_port();
    d.create(&d.service_with(
        "db",
        "exec sleep 1000",
        json!({"port": port, "health": {"probe": "tcp", "interval_s": 1, "timeout_s": 1,
               "start_period_s": 600}}),
    ));
    d.create(&d.service_with(
        "api",
        "exec sleep 1000",
        json!({"depends_on": {"db": {"condition": "healthy"}}, "depends_timeout_s": 1}),
    ));
    let view = d.wait_status("api", "fatal", secs(10));
    let events = d.events("api");
    let last = events.last().unwrap();
    assert_eq!(
        transition(last),
        ("waiting".into(), "fatal".into()),
        "{}",
        tend_tests::describe_events(&events)
    );
    let reason = last["reason"].as_str().unwrap();
    assert!(
        reason.contains("db (healthy)") && reason.contains("not healthy yet"),
        "the event names the dependency and why: {reason}"
    );
    assert!(view.get("pid").is_none_or(Value::is_null), "{view}");
    assert!(
        !events.iter().any(|e| e["to"] == "running"),
        "api never ran: {}",
        tend_tests::describe_events(&events)
    );
}

#[test]
fn a_fatal_dependency_blocks_its_dependent_until_it_is_started_again() {
    let d = Daemon::start();
    // db's program does not exist yet: its spawn fails and, with no restarts allowed, it is fatal
    // without ever running (a `started` dependent never sees it up).
    let program = d.scratch().join("db.sh");
    d.create(&d.service_with(
        "db",
        json!([program.to_string_lossy()]),
        json!({"max_restarts": 0, "enabled": false}),
    ));
    // An independent service is not held up by any of this.
    d.create(&d.service_with("cache", "exec sleep 1000", json!({})));
    d.create(&d.service_with(
        "api",
        "exec sleep 1000",
        json!({"depends_on": ["db"], "depends_timeout_s": 1}),
    ));
    let view = wait_for(secs(10), || {
        let v = d.view("api");
        if v["waiting_for"][0]["blocked"] == true {
            Ok(v)
        } else {
            Err(v.to_string())
        }
    })
    .unwrap();
    assert_eq!(view["status"], "waiting", "{view}");
    let reason = view["waiting_for"][0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("db is fatal"), "{view}");
    assert_eq!(d.view("cache")["status"], "running");

    let (_, graph) = d.get("/api/graph");
    let edge = &graph["edges"][0];
    assert_eq!(
        (&edge["service"], &edge["satisfied"]),
        (&json!("api"), &json!(false)),
        "{graph}"
    );
    let out = d.cli(&["graph", "api"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("api: waiting; blocked by db (started): db is fatal")
            && text.contains("└── db (started, not met): fatal"),
        "{text}"
    );
    let out = d.cli(&["status", "api"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("waiting for") && l.contains("db (started, blocked)")),
        "{text}"
    );

    // Blocked past its timeout, it is still waiting; fixed and started again, db unblocks it.
    let until = Instant::now() + secs(2);
    wait_until(secs(5), "2 s to pass while api stays waiting", || {
        assert_eq!(d.view("api")["status"], "waiting");
        Instant::now() >= until
    })
    .unwrap();
    std::fs::write(&program, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (code, body) = d.post_empty("/api/services/db/start");
    assert_eq!(code, 200, "{body}");
    let api = d.wait_status("api", "running", secs(10));
    assert!(api.get("waiting_for").is_none_or(Value::is_null), "{api}");
}
