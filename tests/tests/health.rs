//! Health checks: the built-in `http` and `tcp` probes against real local services, health states in
//! the API and as events, restarts of unhealthy services under their restart policy, the start
//! period, the `health_check_url` shorthand, and validation of the `health` block.

use std::path::Path;

use tend_tests::{
    Daemon, HttpServer, RecordingListener, Value, free_port, json, pid_alive, python3, rfc3339_ms,
    secs, wait_for,
};

/// An HTTP service: answers 500 while `<flag>` exists, 200 otherwise.
const FLAG_SERVER: &str = r#"
import http.server, os, sys
port, flag = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sick = os.path.exists(flag)
        body = b"sick\n" if sick else b"fine\n"
        self.send_response(500 if sick else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// A service that listens on a TCP port and accepts (and drops) connections.
const TCP_SERVER: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    s.accept()[0].close()
"#;

fn script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write script");
    path.to_string_lossy().into_owned()
}

/// `health:<state>` for health events, `<from>-><to>` for lifecycle ones.
fn compact(ev: &Value) -> String {
    if ev["kind"] == "health" {
        format!("health:{}", ev["health"].as_str().unwrap_or("?"))
    } else {
        format!(
            "{}->{}",
            ev["from"].as_str().unwrap_or("?"),
            ev["to"].as_str().unwrap_or("?")
        )
    }
}

fn compact_all(events: &[Value]) -> Vec<String> {
    events.iter().map(compact).collect()
}

fn pid(view: &Value) -> u64 {
    view["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no pid: {view}"))
}

/// Waits until the service's `health` (in its view) is `state`; returns the view.
fn wait_health(d: &Daemon, name: &str, state: &str, timeout_s: u64) -> Value {
    wait_for(secs(timeout_s), || {
        let v = d.view(name);
        if v["health_status"] == state {
            Ok(v)
        } else {
            Err(format!(
                "{v}\nevents: {:?}\nhealth: {}",
                compact_all(&d.events(name)),
                d.health(name)
            ))
        }
    })
    .unwrap_or_else(|e| panic!("{name} never became {state}: {e}"))
}

/// Waits until the service's events contain `ev` (compact form); returns all events.
fn wait_event(d: &Daemon, name: &str, ev: &str, timeout_s: u64) -> Vec<Value> {
    wait_for(secs(timeout_s), || {
        let events = d.events(name);
        if compact_all(&events).iter().any(|e| e == ev) {
            Ok(events)
        } else {
            Err(format!(
                "{:?}\nhealth: {}",
                compact_all(&events),
                d.health(name)
            ))
        }
    })
    .unwrap_or_else(|e| panic!("{name}: no {ev} event: {e}"))
}

fn history(report: &Value) -> Vec<Value> {
    report["history"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no history array: {report}"))
}

fn time_ms(v: &Value) -> f64 {
    rfc3339_ms(v["time"].as_str().unwrap_or_else(|| panic!("no time: {v}")))
}

#[test]
fn http_probe_turns_unhealthy_restarts_and_recovers() {
    let d = Daemon::start();
    let dir = d.scratch();
    let flag = dir.join("sick");
    let port = free_port();
    let server = script(&dir, "server.py", FLAG_SERVER);
    let spec = d.service_with(
        "web",
        json!([python3(), server, port.to_string(), flag.to_string_lossy()]),
        json!({
            "port": port,
            "health": {"probe": "http", "config": {"path": "/"}, "interval_s": 1, "timeout_s": 1, "retries": 2},
            "backoff": {"initial_delay_ms": 100, "jitter": 0.0},
        }),
    );
    let created = d.create(&spec);
    assert_eq!(
        created["health_status"], "unknown",
        "no check has run yet: {created}"
    );

    let healthy = wait_health(&d, "web", "healthy", 10);
    let first = pid(&healthy);
    let (code, status) = d.get("/api/status");
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        status["services"]["web"]["health_status"], "healthy",
        "{status}"
    );
    let out = d.cli(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = text
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap_or_default();
    assert!(
        row.contains("healthy"),
        "`tend status` shows the health:\n{text}"
    );
    let out = d.cli(&["status", "web"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("health") && l.contains("healthy")),
        "{text}"
    );

    std::fs::write(&flag, "").unwrap();
    let events = wait_event(&d, "web", "health:unhealthy", 10);
    // The new run's first check comes one interval after its start: plenty of time to recover.
    std::fs::remove_file(&flag).unwrap();

    let want = [
        "stopped->starting",
        "starting->running",
        "health:healthy",
        "health:unhealthy",
        "running->stopping",
        "stopping->backoff",
        "backoff->starting",
        "starting->running",
        "health:healthy",
    ];
    let events = wait_for(secs(15), || {
        let events = d.events("web");
        if events.len() >= want.len() {
            Ok(events)
        } else {
            Err(format!("{:?}", compact_all(&events)))
        }
    })
    .unwrap_or_else(|e| panic!("no recovery ({e}); events at unhealthy: {events:?}"));
    assert_eq!(compact_all(&events), want, "{events:#?}");

    let unhealthy = &events[3];
    assert_eq!(unhealthy["from"], "running", "{unhealthy}");
    assert_eq!(unhealthy["to"], "running", "{unhealthy}");
    assert!(
        unhealthy["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unhealthy")),
        "{unhealthy}"
    );
    let stopping = &events[4];
    assert_eq!(stopping["pid"], first, "{stopping}");
    assert!(
        stopping["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unhealthy")),
        "the stop says why: {stopping}"
    );

    let view = wait_health(&d, "web", "healthy", 5);
    assert_eq!(view["status"], "running", "{view}");
    assert_ne!(pid(&view), first, "restarted: a new process");
    assert!(
        !pid_alive(first as u32),
        "the unhealthy process was stopped"
    );
    assert_eq!(view["restart_count"], 1, "{view}");

    let report = d.health("web");
    assert_eq!(report["service"], "web", "{report}");
    assert_eq!(report["state"], "healthy", "{report}");
    assert_eq!(report["consecutive_failures"], 0, "{report}");
    assert_eq!(report["check"]["probe"], "http", "{report}");
    assert_eq!(report["check"]["retries"], 2, "{report}");
    let hist = history(&report);
    let failed: Vec<&Value> = hist.iter().filter(|c| c["passed"] == false).collect();
    assert_eq!(
        failed.len(),
        2,
        "exactly `retries` failures before the restart: {report:#}"
    );
    for c in &failed {
        assert_eq!(c["result"], "unhealthy", "{c}");
        assert!(
            c["message"].as_str().is_some_and(|m| m.contains("500")),
            "the failure names the status: {c}"
        );
    }
    assert_eq!(hist.last().unwrap()["passed"], true, "{report:#}");
    assert!(
        hist.windows(2).all(|w| time_ms(&w[0]) <= time_ms(&w[1])),
        "history is oldest first: {report:#}"
    );
}

#[test]
fn tcp_probe_follows_whether_the_port_listens() {
    let d = Daemon::start();
    let dir = d.scratch();
    let listening = free_port();
    let server = script(&dir, "listen.py", TCP_SERVER);
    let health = json!({"probe": "tcp", "interval_s": 1, "timeout_s": 1, "retries": 2});
    let backoff = json!({"initial_delay_ms": 100, "jitter": 0.0});
    d.create(&d.service_with(
        "listens",
        json!([python3(), server, listening.to_string()]),
        json!({"port": listening, "health": health}),
    ));
    let sse = d.sse("/api/events");
    d.create(&d.service_with(
        "deaf",
        json!(["sleep", "1000"]),
        json!({"port": free_port(), "health": health, "backoff": backoff, "max_restarts": 1}),
    ));
    d.create(&d.service_with(
        "deaf-kept",
        json!(["sleep", "1000"]),
        json!({"port": free_port(), "health": health, "restart": "never"}),
    ));
    let kept_pid = pid(&d.wait_status("deaf-kept", "running", secs(5)));

    // A service that never listens is restarted under its policy, up to `max_restarts`.
    d.wait_status("deaf", "fatal", secs(15));
    let shown = compact_all(&d.events("deaf"));
    let run = ["starting->running", "health:unhealthy", "running->stopping"];
    let want: Vec<&str> = std::iter::once("stopped->starting")
        .chain(run)
        .chain(["stopping->backoff", "backoff->starting"])
        .chain(run)
        .chain(["stopping->fatal"])
        .collect();
    assert_eq!(shown, want);
    let report = d.health("deaf");
    let failed = history(&report);
    assert!(
        failed.len() >= 4 && failed.iter().all(|c| c["passed"] == false),
        "{report:#}"
    );
    assert!(
        failed.iter().all(|c| c["result"] == "unhealthy"),
        "{report:#}"
    );

    // ... unless it is `never`: then it stays running, unhealthy.
    let view = wait_health(&d, "deaf-kept", "unhealthy", 10);
    assert_eq!(view["status"], "running", "{view}");
    let streamed = sse
        .wait_for(secs(5), |ev| {
            let data = ev.json();
            data["service"] == "deaf-kept" && data["kind"] == "health"
        })
        .unwrap()
        .json();
    assert_eq!(
        (&streamed["health"], &streamed["from"], &streamed["to"]),
        (&json!("unhealthy"), &json!("running"), &json!("running")),
        "health changes are streamed on /api/events too: {streamed}"
    );
    let (_, status) = d.get("/api/status");
    assert_eq!(
        status["services"]["deaf-kept"]["health_status"], "unhealthy",
        "{status}"
    );
    // Two more failed checks later, still the same process and no stop.
    let seen = history(&d.health("deaf-kept")).len();
    wait_for(secs(5), || {
        let n = history(&d.health("deaf-kept")).len();
        if n >= seen + 2 {
            Ok(())
        } else {
            Err(format!("{n} checks"))
        }
    })
    .unwrap();
    let view = d.view("deaf-kept");
    assert_eq!(
        (
            view["status"].as_str(),
            view["health_status"].as_str(),
            pid(&view)
        ),
        (Some("running"), Some("unhealthy"), kept_pid),
        "{view}"
    );
    let shown = compact_all(&d.events("deaf-kept"));
    assert_eq!(
        shown,
        ["stopped->starting", "starting->running", "health:unhealthy"],
        "one health change, no restart"
    );
    let report = d.health("deaf-kept");
    assert!(
        report["consecutive_failures"].as_u64() >= Some(4),
        "{report:#}"
    );
    let (code, limited) = d.get("/api/services/deaf-kept/health?limit=2");
    assert_eq!(code, 200, "{limited}");
    let limited = history(&limited);
    let full = history(&d.health("deaf-kept"));
    assert!(
        limited.len() == 2
            && full
                .windows(2)
                .rposition(|w| w == limited.as_slice())
                .is_some_and(|at| at + 3 >= full.len()),
        "?limit=2 gives the newest two checks (one more may have come since): {limited:#?}\n{full:#?}"
    );
    assert!(time_ms(&limited[0]) < time_ms(&limited[1]));

    // The listening one is healthy, and its checks pass.
    let view = wait_health(&d, "listens", "healthy", 5);
    assert_eq!(view["restart_count"], 0, "{view}");
    let report = d.health("listens");
    assert!(
        history(&report).iter().all(|c| c["passed"] == true),
        "{report:#}"
    );
    assert_eq!(report["check"]["probe"], "tcp", "{report}");
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let d = Daemon::start();
    let health = |start_period_s: u64| json!({"probe": "tcp", "interval_s": 1, "timeout_s": 1, "retries": 1, "start_period_s": start_period_s});
    for (name, period) in [("patient", 3), ("eager", 0)] {
        d.create(&d.service_with(
            name,
            json!(["sleep", "1000"]),
            json!({"port": free_port(), "health": health(period), "restart": "never"}),
        ));
    }
    let unhealthy_after = |name: &str| {
        let events = wait_event(&d, name, "health:unhealthy", 10);
        let running = events
            .iter()
            .find(|e| compact(e) == "starting->running")
            .unwrap();
        let sick = events
            .iter()
            .find(|e| compact(e) == "health:unhealthy")
            .unwrap();
        (time_ms(sick) - time_ms(running), time_ms(sick))
    };

    let (eager, _) = unhealthy_after("eager");
    assert!(
        eager < 2500.0,
        "without a start period the first failure counts (retries 1): {eager:.0} ms"
    );

    let (patient, sick_at) = unhealthy_after("patient");
    assert!(
        patient >= 2900.0,
        "unhealthy {patient:.0} ms after the start, inside its 3 s start period"
    );
    let report = d.health("patient");
    let before: Vec<Value> = history(&report)
        .into_iter()
        .filter(|c| time_ms(c) < sick_at - 100.0)
        .collect();
    assert!(
        before.len() >= 2 && before.iter().all(|c| c["passed"] == false),
        "the checks in the start period failed, yet did not count: {report:#}"
    );
}

#[test]
fn health_check_url_is_shorthand_for_the_http_probe() {
    let d = Daemon::start();
    let server = HttpServer::start(200);
    let url = server.url("/ready");
    // The seed's usual spelling names the service's own port on `localhost`.
    let by_name = format!("http://localhost:{}/named", server.port());
    for (name, url) in [("legacy", &url), ("by-name", &by_name)] {
        let created = d.create(&d.service_with(
            name,
            json!(["sleep", "1000"]),
            json!({"port": server.port(), "health_check_url": url}),
        ));
        assert_eq!(created["health_check_url"], url.as_str(), "{created}");
        let report = d.health(name);
        let check = &report["check"];
        assert_eq!(check["probe"], "http", "{report}");
        assert_eq!(check["config"]["url"], url.as_str(), "{report}");
        assert_eq!(
            report["state"], "unknown",
            "no check yet (default interval 10 s): {report}"
        );
    }

    // The shorthand has the default interval (10 s): the first check comes 10 s after the start.
    let view = wait_health(&d, "legacy", "healthy", 20);
    assert_eq!(view["status"], "running", "{view}");
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("GET /ready ")),
        "the http probe did GET the URL: {requests:?}"
    );
    let report = d.health("legacy");
    assert_eq!(report["history"][0]["result"], "healthy", "{report}");

    let first = wait_for(secs(5), || {
        let report = d.health("by-name");
        match report["history"].get(0) {
            Some(c) => Ok(c.clone()),
            None => Err(report.to_string()),
        }
    })
    .unwrap();
    assert_eq!(
        first["result"], "healthy",
        "a localhost URL on the service's own port is the service itself: {first}"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /named ")),
        "{:?}",
        server.requests()
    );
}

#[test]
fn bad_health_blocks_are_rejected_naming_the_field() {
    let d = Daemon::start();
    let base = |patch: Value| d.service_with("checked", json!(["sleep", "1000"]), patch);
    let h = |patch: Value| tend_tests::merge(json!({"probe": "tcp"}), patch);
    let cases = [
        (
            json!({"health": h(json!({"retries": 0}))}),
            422,
            "health.retries",
        ),
        (
            json!({"health": h(json!({"interval_s": 0}))}),
            422,
            "health.interval_s",
        ),
        (
            json!({"health": h(json!({"timeout_s": 0}))}),
            422,
            "health.timeout_s",
        ),
        (
            json!({"health": h(json!({"probe": "Not A Plugin"}))}),
            422,
            "health.probe",
        ),
        (
            json!({"health": h(json!({"config": "url=x"}))}),
            422,
            "health.config",
        ),
        (
            json!({"health_check_url": "ftp://example.test/"}),
            422,
            "health_check_url",
        ),
        (
            json!({"health": h(json!({"bogus": 1}))}),
            422,
            "health.bogus",
        ),
        (
            json!({"health": h(json!({"retries": "two"}))}),
            422,
            "health.retries",
        ),
        (json!({"health": {"interval_s": 1}}), 422, "health.probe"),
    ];
    for (patch, status, field) in cases {
        let spec = base(patch);
        let before = d.list();
        let (got, body) = d.post("/api/services", &spec);
        assert_eq!(got, status, "{spec} answered {body}");
        assert_eq!(body["error"]["code"], "invalid", "{body}");
        assert_eq!(body["error"]["field"], field, "{spec} answered {body}");
        assert_eq!(d.list(), before, "a rejected spec changed the list");
    }

    // The same check on PUT leaves the existing definition alone.
    let created = d.create(&base(json!({"enabled": false})));
    assert!(
        created.get("health_status").is_none_or(Value::is_null),
        "no health check, no health state: {created}"
    );
    let report = d.health("checked");
    assert!(
        report.get("check").is_none_or(Value::is_null)
            && report["history"] == json!([])
            && report["consecutive_failures"] == 0,
        "{report}"
    );
    let (code, body) = d.get("/api/services/nope/health");
    assert_eq!(
        (code, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let before = d.view("checked");
    let (got, body) = d.put(
        "/api/services/checked",
        &base(json!({"health": h(json!({"retries": 0}))})),
    );
    assert_eq!(
        (got, body["error"]["field"].as_str()),
        (422, Some("health.retries")),
        "{body}"
    );
    assert_eq!(d.view("checked"), before);
}

/// A service that accepts connections but never answers fails its own checks; the built-in probe
/// it shares with every other service must stay usable (a hung service is not a broken plugin).
#[test]
fn a_hung_service_does_not_take_the_http_probe_away_from_others() {
    let d = Daemon::start();
    let hung = RecordingListener::holding();
    d.create(&d.service_with(
        "stuck",
        json!(["sleep", "1000"]),
        json!({"port": hung.port(), "restart": "never",
               "health": {"probe": "http", "interval_s": 1, "timeout_s": 1, "retries": 1000}}),
    ));
    // More failed checks in a row than the plugin host tolerates traps (3 by default).
    let failed = wait_for(secs(10), || {
        let hist = history(&d.health("stuck"));
        if hist.len() >= 4 {
            Ok(hist)
        } else {
            Err(format!("{hist:?}"))
        }
    })
    .unwrap();
    assert!(hung.connections() >= 1, "the probe did connect");
    assert!(
        failed
            .iter()
            .all(|c| c["passed"] == false && c["result"] != "suspended"),
        "{failed:#?}"
    );
    let http = d.plugin("http");
    assert_eq!(
        http["state"], "loaded",
        "one hung service got the shared http probe suspended: {http:#}\nchecks: {failed:#?}"
    );

    let server = HttpServer::start(200);
    d.create(&d.service_with(
        "fine",
        json!(["sleep", "1000"]),
        json!({"port": server.port(), "restart": "never",
               "health": {"probe": "http", "interval_s": 1, "retries": 1}}),
    ));
    let view = wait_health(&d, "fine", "healthy", 5);
    assert_eq!(view["status"], "running", "{view}");
}

/// `health = { ... }` in `tend.toml`, as the issue spells it; a bad block stops the daemon, naming it.
#[test]
fn health_blocks_in_the_config_file() {
    let port = free_port();
    let b = Daemon::builder();
    let dir = tempfile::tempdir().unwrap();
    let listener = script(dir.path(), "listen.py", TCP_SERVER);
    let text = format!(
        r#"
[services.filed]
command = [{py:?}, {listener:?}, "{port}"]
env = {{ TEND_TEST_ID = "{marker}" }}
port = {port}
health = {{ probe = "tcp", interval_s = 1, timeout_s = 1, retries = 1 }}
"#,
        py = python3(),
        marker = b.marker(),
    );
    let d = b.config_toml(&text).start();
    let view = wait_health(&d, "filed", "healthy", 10);
    assert_eq!(view["source"], "config", "{view}");
    assert_eq!(d.health("filed")["check"]["probe"], "tcp");

    let broken = tempfile::tempdir().unwrap();
    std::fs::write(
        broken.path().join("tend.toml"),
        "[services.web]\ncommand = \"sleep 1\"\nhealth = { probe = \"tcp\", retries = 0 }\n",
    )
    .unwrap();
    let err = tend_tests::refused_start(broken.path());
    assert!(
        err.contains("web") && err.contains("health.retries"),
        "the error names the service and the field: {err}"
    );
}
