//! A probe written in Python (`plugins/examples/json-status`, built by componentize-py) used as a
//! user would: dropped into the daemon's plugin directory, picked up, and driving a real service's
//! health and restarts; and a hostile Python component (`sneaky-py`) confined to its grants through
//! the WASI interfaces CPython imports (files, sockets, environment), not only through tend's own.

use std::path::Path;

use tend_tests::plugins::{fixture, install_raw, reload_entry};
use tend_tests::{Daemon, RecordingListener, Value, free_port, json, python3, secs, wait_for};

/// An HTTP service answering `GET /health` with `{"status": ..., "message": ...}`: "ok" while
/// `<flag>` is missing, else the flag's first line as the status and its second as the message.
const STATUS_SERVER: &str = r#"
import http.server, json, os, sys
port, flag = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, message = "ok", "all good"
        if os.path.exists(flag):
            lines = open(flag).read().splitlines() + ["", ""]
            status, message = lines[0], lines[1]
        body = json.dumps({"status": status, "message": message, "pid": os.getpid()}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// Compiling an 18 MB component with Cranelift takes seconds, many more on a loaded machine.
const LOAD_TIMEOUT_S: u64 = 180;

/// Waits until the watcher has loaded user plugin `name`; returns its info.
fn wait_loaded(d: &Daemon, name: &str) -> Value {
    wait_for(secs(LOAD_TIMEOUT_S), || {
        let (code, body) = d.get(&format!("/api/plugins/{name}"));
        match body["state"].as_str() {
            Some("loaded") if code == 200 => Ok(body),
            _ => Err(format!("{code} {body}")),
        }
    })
    .unwrap_or_else(|e| panic!("{name} was not loaded: {e}"))
}

fn history(d: &Daemon, name: &str) -> Vec<Value> {
    let report = d.health(name);
    report["history"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no history: {report}"))
}

/// Waits for a check of `name` with this result whose message satisfies `pred`; returns it.
fn wait_check(d: &Daemon, name: &str, result: &str, pred: impl Fn(&str) -> bool) -> Value {
    wait_for(secs(30), || {
        let hist = history(d, name);
        hist.iter()
            .find(|c| c["result"] == result && pred(c["message"].as_str().unwrap_or_default()))
            .cloned()
            .ok_or_else(|| format!("{hist:#?}\nview: {}", d.view(name)))
    })
    .unwrap_or_else(|e| panic!("no {result} check of {name}: {e}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn a_python_probe_drives_a_service_health_and_restarts() {
    let d = Daemon::start();
    // The user's way: drop the two files into the plugin directory; the watcher loads them.
    d.install_plugin("json-status", "json-status");
    let info = wait_loaded(&d, "json-status");
    assert_eq!(info["world"], "probe", "{info}");
    assert_eq!(info["source"], "user", "{info}");
    assert_eq!(info["grants"]["hosts"], json!(["$target"]), "{info}");
    assert_eq!(info["sha256"], fixture("json-status").sha256().as_str());

    let dir = d.scratch();
    let flag = dir.join("state");
    let port = free_port();
    let server = write(&dir, "status_server.py", STATUS_SERVER);
    d.create(&d.service_with(
        "api",
        json!([python3(), server, port.to_string(), flag.to_string_lossy()]),
        json!({
            "port": port,
            "health": {"probe": "json-status", "config": {"path": "/health"}, "interval_s": 1, "timeout_s": 2, "retries": 2},
            "backoff": {"initial_delay_ms": 100, "jitter": 0.0},
        }),
    ));
    let url = format!("http://127.0.0.1:{port}/health");

    let ok = wait_check(&d, "api", "healthy", |_| true);
    assert_eq!(
        ok["message"],
        format!("GET {url}: status='ok' (all good)"),
        "{ok}"
    );
    let first = d.wait_status("api", "running", secs(5));
    wait_for(secs(10), || {
        let v = d.view("api");
        (v["health_status"] == "healthy")
            .then_some(())
            .ok_or_else(|| v.to_string())
    })
    .unwrap_or_else(|e| panic!("never healthy: {e}"));

    // Degraded still serves: reported, no restart.
    std::fs::write(&flag, "degraded\nreplica lagging\n").unwrap();
    let degraded = wait_check(&d, "api", "degraded", |_| true);
    assert_eq!(
        degraded["message"],
        format!("GET {url}: status='degraded' (replica lagging)"),
        "{degraded}"
    );

    std::fs::write(&flag, "failing\ndatabase unreachable\n").unwrap();
    let failing = wait_check(&d, "api", "unhealthy", |_| true);
    assert_eq!(
        failing["message"],
        format!("GET {url}: status='failing' (database unreachable), expected 'ok'"),
        "{failing}"
    );
    // Two failures in a row make the service unhealthy and the restart policy restarts it.
    wait_for(secs(30), || {
        let v = d.view("api");
        (v["restart_count"].as_u64() >= Some(1))
            .then_some(())
            .ok_or_else(|| v.to_string())
    })
    .unwrap_or_else(|e| panic!("not restarted for its health: {e}"));
    std::fs::remove_file(&flag).unwrap();
    let recovered = wait_for(secs(30), || {
        let v = d.view("api");
        (v["health_status"] == "healthy" && v["pid"] != first["pid"])
            .then(|| v.clone())
            .ok_or_else(|| v.to_string())
    })
    .unwrap_or_else(|e| panic!("no recovery after the restart: {e}"));
    assert!(
        recovered["restart_count"].as_u64() >= Some(1),
        "{recovered}"
    );
    let events = d.events("api");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "health" && e["health"] == "unhealthy"),
        "{events:#?}"
    );

    // Its imports are checked against its grants: without a host to reach, the same component
    // imports `http`/`net` beyond its grants and is refused at load.
    let offline = fixture("json-status")
        .manifest()
        .replace(r#"hosts = ["$target"]"#, "hosts = []");
    assert!(offline.contains("hosts = []"), "{offline}");
    install_raw(
        d.data_dir(),
        "json-status-offline",
        &fixture("json-status").wasm_bytes(),
        &offline,
    );
    let report = d.reload_plugins();
    let entry = reload_entry(&report, "json-status-offline");
    assert_eq!(entry["action"], "rejected", "{entry}");
    assert!(entry.to_string().contains("beyond its grants"), "{entry}");

    // The probe's own errors: a config typo is named, not ignored.
    d.create(&d.service_with(
        "typo",
        json!(["sleep", "1000"]),
        json!({
            "port": port,
            "restart": "never",
            "health": {"probe": "json-status", "config": {"pth": "/health"}, "interval_s": 1, "retries": 1000},
        }),
    ));
    let typo = wait_check(&d, "typo", "unhealthy", |_| true);
    assert!(
        typo["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid probe config: unknown key 'pth'")),
        "{typo}"
    );
}

#[test]
fn a_python_component_gets_no_files_sockets_or_env_beyond_its_grants() {
    let secrets = tempfile::tempdir().unwrap();
    let secrets_dir = secrets.path().canonicalize().unwrap();
    let secret = secrets_dir.join("secret.txt");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let d = Daemon::builder()
        .config_toml(&format!(
            "[plugins]\nallow_hosts = [\"127.0.0.1\"]\nallow_paths = [{:?}]\nallow_env = [\"TEND_PY_SECRET\"]\n",
            secrets_dir
        ))
        .env("TEND_PY_SECRET", "swordfish")
        .start();
    let listener = RecordingListener::start();
    let port = listener.port();
    let sneaky = fixture("sneaky-py");
    install_raw(
        d.data_dir(),
        "sneaky-py",
        &sneaky.wasm_bytes(),
        &sneaky.manifest(),
    );
    // The control: the same component granted the directory, the listener and the variable.
    let granted = sneaky
        .manifest()
        .replace(
            r#"hosts = ["127.0.0.1:1"]"#,
            &format!(r#"hosts = ["127.0.0.1:{port}"]"#),
        )
        .replace("paths = []", &format!("paths = [{:?}]", secrets_dir))
        .replace("env = []", r#"env = ["TEND_PY_SECRET"]"#);
    assert!(granted.contains("TEND_PY_SECRET"), "{granted}");
    install_raw(
        d.data_dir(),
        "sneaky-py-granted",
        &sneaky.wasm_bytes(),
        &granted,
    );
    wait_loaded(&d, "sneaky-py");
    wait_loaded(&d, "sneaky-py-granted");

    let config = json!({
        "path": secret,
        "host": "127.0.0.1",
        "port": port,
        "url": format!("http://127.0.0.1:{port}/"),
        "env": "TEND_PY_SECRET",
    });
    let probe_with = |name: &str, plugin: &str| {
        d.create(&d.service_with(
            name,
            json!(["sleep", "1000"]),
            json!({
                "port": free_port(),
                "restart": "never",
                "health": {"probe": plugin, "config": config, "interval_s": 1, "timeout_s": 5, "retries": 1000},
            }),
        ));
    };
    probe_with("snoop", "sneaky-py");
    let denied = wait_check(&d, "snoop", "unhealthy", |_| true);
    let said = denied["message"].as_str().unwrap_or_default();
    let file = format!("file {}: refused", secret.display());
    let tcp = format!("tcp 127.0.0.1:{port}: refused: PermissionError");
    let http = format!("http http://127.0.0.1:{port}/: denied");
    for part in [
        &file[..],
        "list /: refused",
        &tcp,
        "env TEND_PY_SECRET: refused",
        &http,
    ] {
        assert!(said.contains(part), "{part:?} not in {said:?}");
    }
    assert!(
        !said.contains("hunter2") && !said.contains("swordfish"),
        "{said}"
    );
    assert_eq!(
        listener.connections(),
        0,
        "a refused connection reached the listener: {said}"
    );

    // The `http` attempt is a recorded denial; the socket never got as far as an address check:
    // the sandbox does not let a plugin create a TCP or UDP socket at all.
    let info = d.plugin("sneaky-py");
    assert!(
        info["stats"]["denials"].as_u64() >= Some(1),
        "the http attempt is recorded as a denial: {said}\n{info:#}"
    );

    // Granted, the same code reads the file, sees the variable and reaches the listener through
    // tend's `http`; a socket of its own stays refused (wasi:sockets is never granted).
    probe_with("trusted", "sneaky-py-granted");
    let trusted = wait_check(&d, "trusted", "healthy", |_| true);
    let said = trusted["message"].as_str().unwrap_or_default();
    let file = format!("file {}: got through, read 8 bytes", secret.display());
    let http = format!("http http://127.0.0.1:{port}/: got through");
    for part in [
        &file[..],
        &tcp,
        "env TEND_PY_SECRET: got through, TEND_PY_SECRET=swordfish",
        &http,
    ] {
        assert!(said.contains(part), "{part:?} not in {said:?}");
    }
    assert!(
        listener.connections() >= 1,
        "the control connected, so the listener does record"
    );
    let (code, _) = d.get("/api/status");
    assert_eq!(code, 200, "the daemon survived");
}
