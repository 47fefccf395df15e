//! `tend.toml`: file-defined services start with the daemon, belong to the file (the API cannot edit or
//! delete them), coexist with API services, and follow the file across restarts.

use tend_tests::{Daemon, json, processes_with_marker, secs};

fn config(marker: &str, services: &str) -> String {
    format!("[daemon]\nlog_level = \"info\"\n\n{services}").replace("MARKER", marker)
}

const WEB_AND_WORKER: &str = r#"
[services.web]
command = ["sleep", "1000"]
env = { TEND_TEST_ID = "MARKER", VERSION = "1" }
port = 8080

[services.worker]
command = "exec sleep 1000"
env = { TEND_TEST_ID = "MARKER" }
restart = "on-failure"
"#;

/// Same `web` with a changed port and env, `worker` removed.
const WEB_ONLY_CHANGED: &str = r#"
[services.web]
command = ["sleep", "1000"]
env = { TEND_TEST_ID = "MARKER", VERSION = "2" }
port = 8081
"#;

fn start_with(services: &str) -> Daemon {
    let b = Daemon::builder();
    let text = config(b.marker(), services);
    b.config_toml(&text).start()
}

#[test]
fn file_services_start_and_belong_to_the_file() {
    let d = start_with(WEB_AND_WORKER);
    let web = d.wait_status("web", "running", secs(10));
    assert_eq!(web["source"], "config", "{web}");
    assert_eq!(web["port"], 8080, "{web}");
    let worker = d.wait_status("worker", "running", secs(10));
    assert_eq!(worker["source"], "config", "{worker}");
    assert_eq!(worker["restart"], "on-failure", "{worker}");

    let before = d.list();
    let mut edited = web.clone();
    edited["port"] = json!(9999);
    for key in ["source", "status", "pid", "uptime_s", "restart_count"] {
        edited.as_object_mut().unwrap().remove(key);
    }
    let (code, body) = d.put("/api/services/web", &edited);
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (409, json!("conflict")),
        "{body}"
    );
    let (code, body) = d.delete("/api/services/web");
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (409, json!("conflict")),
        "{body}"
    );
    let (code, body) = d.post("/api/services", &d.service("web", json!(["sleep", "5"])));
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (409, json!("conflict")),
        "{body}"
    );
    let after = d.list();
    assert_eq!(
        after.as_array().map(Vec::len),
        before.as_array().map(Vec::len)
    );
    assert_eq!(
        d.view("web")["pid"],
        web["pid"],
        "web kept running untouched"
    );
    assert_eq!(d.view("web")["port"], 8080);

    // Start/stop are runtime actions, allowed on file services.
    let (code, body) = d.post_empty("/api/services/web/stop");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stopped", "{body}");

    let api = d.create(&d.service("apisvc", json!(["sleep", "1000"])));
    assert_eq!(api["source"], "api", "{api}");
    d.wait_status("apisvc", "running", secs(10));
    let names: Vec<String> = d
        .list()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in ["web", "worker", "apisvc"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
}

#[test]
fn file_changes_apply_after_a_restart() {
    let mut d = start_with(WEB_AND_WORKER);
    d.wait_status("web", "running", secs(10));
    let worker_pid = d.wait_status("worker", "running", secs(10))["pid"]
        .as_u64()
        .unwrap() as u32;
    d.create(&d.service("apisvc", json!(["sleep", "1000"])));
    d.wait_status("apisvc", "running", secs(10));

    let status = d.stop();
    assert!(status.success(), "daemon exit {status}");
    d.write_config(&config(d.marker(), WEB_ONLY_CHANGED));
    d.restart();

    let web = d.wait_status("web", "running", secs(10));
    assert_eq!(web["port"], 8081, "the file's change is applied: {web}");
    assert_eq!(web["env"]["VERSION"], "2", "{web}");
    assert_eq!(web["source"], "config");
    let env = tend_tests::service_environ(web["pid"].as_u64().unwrap() as u32);
    assert!(
        env.iter().any(|kv| kv == "VERSION=2"),
        "web runs the new spec: {env:?}"
    );

    let (code, body) = d.get("/api/services/worker");
    assert_eq!(
        code, 404,
        "a service removed from the file is removed: {body}"
    );
    assert!(!tend_tests::pid_alive(worker_pid));

    let api = d.wait_status("apisvc", "running", secs(10));
    assert_eq!(
        api["source"], "api",
        "API services survive a config change: {api}"
    );
    assert_eq!(d.list().as_array().map(Vec::len), Some(2));
    tend_tests::wait_for(secs(10), || {
        let n = processes_with_marker(d.marker()).len();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} marked processes"))
        }
    })
    .unwrap();
}

#[test]
fn a_file_service_shadows_an_api_service_of_the_same_name() {
    let mut d = Daemon::start();
    d.create(&d.service_with("web", json!(["sleep", "1000"]), json!({"port": 7000})));
    d.wait_status("web", "running", secs(10));
    d.write_config(&config(d.marker(), WEB_ONLY_CHANGED));
    d.restart();
    let web = d.wait_status("web", "running", secs(10));
    assert_eq!(web["source"], "config", "file-defined services win: {web}");
    assert_eq!(web["port"], 8081, "{web}");
    assert_eq!(d.list().as_array().map(Vec::len), Some(1));
}

#[test]
fn a_broken_config_file_stops_the_daemon_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tend.toml"),
        "[services.web]\ncommand = \"sleep 1\"\nbogus = 1\n",
    )
    .unwrap();
    let err = tend_tests::refused_start(dir.path());
    assert!(err.contains("web"), "the error names the service: {err}");
    assert!(
        !dir.path().join("daemon.json").exists(),
        "it never listened"
    );
}

#[test]
fn daemon_and_metrics_numbers_past_their_bounds_stop_the_daemon_naming_the_key() {
    for (table, key) in [
        (
            "[daemon]\nlog_backup_count = 4000000000\n",
            "log_backup_count",
        ),
        (
            "[daemon]\nlog_retention_days = 4000000000\n",
            "log_retention_days",
        ),
        (
            "[metrics]\nretention_days = 9000000000000000000\n",
            "retention_days",
        ),
        (
            "[metrics]\ndisk_timeout_s = 9000000000000000000\n",
            "disk_timeout_s",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tend.toml"), table).unwrap();
        let err = tend_tests::refused_start(dir.path());
        assert!(
            err.contains(key) && err.contains("at most"),
            "{key}: the error names the key and its bound: {err}"
        );
        assert!(
            !dir.path().join("daemon.json").exists(),
            "it never listened"
        );
    }
}
