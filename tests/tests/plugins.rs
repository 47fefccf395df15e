//! WebAssembly plugins seen from outside: the built-in probes in `/api/plugins`, hostile fixtures
//! (spin, hog, sneaky, reader, chatty, trapper) contained by the sandbox while used as real health
//! probes, reload and hot reload of user plugins (replacement, rejection, wrong world), user plugins
//! overriding built-ins, and the `tend plugin` CLI.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tend_tests::output::{stderr, stdout};
use tend_tests::plugins::{
    builtin, install, install_raw, junk_bytes, reload_entry, sha256_bytes, user_plugin_dir,
};
use tend_tests::{
    Daemon, HttpServer, RecordingListener, Value, fixture, free_port, json, rfc3339_ms, secs,
    wait_for,
};

/// A long-running service checked every second by `probe` with `config`; never restarted for its
/// health, so the checks go on whatever they say.
fn probe_service(d: &Daemon, name: &str, probe: &str, config: Value) {
    d.create(&d.service_with(
        name,
        json!(["sleep", "1000"]),
        json!({
            "port": free_port(),
            "restart": "never",
            "health": {"probe": probe, "config": config, "interval_s": 1, "timeout_s": 5, "retries": 1000},
        }),
    ));
}

fn history(d: &Daemon, service: &str) -> Vec<Value> {
    let report = d.health(service);
    report["history"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no history: {report}"))
}

/// Waits for a health check of `service` that satisfies `pred`; returns it.
fn wait_check(d: &Daemon, service: &str, timeout_s: u64, pred: impl Fn(&Value) -> bool) -> Value {
    wait_for(secs(timeout_s), || {
        let hist = history(d, service);
        hist.iter()
            .find(|c| pred(c))
            .cloned()
            .ok_or_else(|| format!("{hist:#?}"))
    })
    .unwrap_or_else(|e| panic!("no matching check of {service}: {e}"))
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn list(d: &Daemon) -> Vec<Value> {
    let (code, body) = d.get("/api/plugins");
    assert_eq!(code, 200, "{body}");
    body.as_array()
        .cloned()
        .unwrap_or_else(|| panic!("not a list: {body}"))
}

fn failures(info: &Value, kind: &str) -> u64 {
    info["stats"]["failures"][kind].as_u64().unwrap_or(0)
}

// ---- built-ins ---------------------------------------------------------------------------------

#[test]
fn builtins_are_listed_with_world_source_digest_and_grants() {
    let d = Daemon::start();
    let all = list(&d);
    for name in ["http", "tcp"] {
        let entry = all
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {all:#?}"));
        assert_eq!(entry["world"], "probe", "{entry:#}");
        assert_eq!(entry["source"], "builtin", "{entry:#}");
        assert_eq!(entry["state"], "loaded", "{entry:#}");
        assert_eq!(
            entry["sha256"],
            builtin(name).sha256(),
            "the embedded {name} is target/plugins/{name}.wasm (if that was rebuilt since, rebuild tend): {entry:#}"
        );
        assert_eq!(entry["grants"]["hosts"], json!(["$target"]), "{entry:#}");
        assert_eq!(entry["grants"]["paths"], json!([]), "{entry:#}");
        assert_eq!(entry["grants"]["env"], json!([]), "{entry:#}");
        assert!(entry.get("path").is_none_or(Value::is_null), "{entry:#}");
        assert_eq!(&d.plugin(name), entry, "GET /api/plugins/{name}");
    }
    let names: Vec<&str> = all.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "listed by name");

    let (code, body) = d.get("/api/plugins/nope");
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

// ---- hostile fixtures ---------------------------------------------------------------------------

#[test]
fn spin_times_out_at_its_deadline_while_the_api_keeps_answering() {
    let d = Daemon::builder().plugin("spin", "spin").start();
    assert_eq!(d.plugin("spin")["limits"]["timeout_ms"], 500);
    probe_service(&d, "spun", "spin", json!({}));

    // Ask for the status all along, noting when each request started and how long it took.
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let timeouts = wait_for(secs(10), || {
        let sent = now_ms();
        let started = Instant::now();
        let (code, body) = d.get("/api/status");
        assert_eq!(code, 200, "{body}");
        samples.push((sent, started.elapsed().as_secs_f64() * 1000.0));
        let timeouts: Vec<Value> = history(&d, "spun")
            .into_iter()
            .filter(|c| c["result"] == "timeout")
            .collect();
        if timeouts.len() >= 2 {
            Ok(timeouts)
        } else {
            Err(format!("{timeouts:?}"))
        }
    })
    .unwrap();

    for c in &timeouts {
        assert_eq!(c["passed"], false, "{c}");
        let ms = c["latency_ms"].as_u64().unwrap_or(u64::MAX);
        assert!(
            (450..1500).contains(&ms),
            "ended at the manifest's 500 ms, not the check's 5 s: {c}"
        );
        assert!(message(c).contains("timed out"), "{c}");
    }
    // The probe spun during some of those requests, and none of them waited for it.
    let during: Vec<f64> = samples
        .iter()
        .filter(|(sent, _)| {
            timeouts.iter().any(|c| {
                let t = rfc3339_ms(c["time"].as_str().unwrap());
                *sent >= t && *sent <= t + 450.0
            })
        })
        .map(|(_, took)| *took)
        .collect();
    assert!(
        !during.is_empty(),
        "no status request overlapped a spinning check"
    );
    let slowest = samples.iter().map(|(_, took)| *took).fold(0.0, f64::max);
    assert!(
        slowest < 1000.0,
        "GET /api/status took {slowest:.0} ms while the probe spun"
    );

    let info = d.plugin("spin");
    assert!(failures(&info, "timeout") >= 2, "{info:#}");
    assert_eq!(d.view("spun")["status"], "running");
}

#[test]
fn hog_runs_out_of_memory_at_its_cap() {
    let d = Daemon::builder().plugin("hog", "hog").start();
    assert_eq!(d.plugin("hog")["limits"]["memory_mb"], 16);
    probe_service(&d, "hungry", "hog", json!({}));
    let check = wait_check(&d, "hungry", 10, |c| c["passed"] == false);
    assert_eq!(check["result"], "out_of_memory", "{check}");
    assert!(message(&check).contains("out of memory"), "{check}");
    let info = d.plugin("hog");
    assert!(failures(&info, "out_of_memory") >= 1, "{info:#}");
    assert_eq!(
        info["stats"]["last_errors"].as_array().unwrap()[0]["kind"],
        "out_of_memory",
        "{info:#}"
    );
    let (code, _) = d.get("/api/status");
    assert_eq!(code, 200, "the daemon survived");
}

#[test]
fn sneaky_is_denied_hosts_outside_its_allowlist_and_connects_nowhere() {
    // The control's grant needs the daemon's allowlist too (it is empty by default).
    let d = Daemon::builder()
        .config_toml("[plugins]\nallow_hosts = [\"127.0.0.1\"]\n")
        .start();
    let listener = RecordingListener::start();
    let port = listener.port();
    let sneaky = fixture("sneaky");
    install(d.data_dir(), "sneaky", "sneaky");
    // The control: the same component, with a manifest that does grant the listener.
    let granted = sneaky.manifest().replace(
        r#"hosts = ["127.0.0.1:1"]"#,
        &format!(r#"hosts = ["127.0.0.1:{port}"]"#),
    );
    assert!(granted.contains(&format!("127.0.0.1:{port}")), "{granted}");
    install_raw(
        d.data_dir(),
        "sneaky-granted",
        &sneaky.wasm_bytes(),
        &granted,
    );
    let report = d.reload_plugins();
    for name in ["sneaky", "sneaky-granted"] {
        let e = reload_entry(&report, name);
        assert!(e["action"] == "loaded" || e["action"] == "unchanged", "{e}");
    }

    let config =
        json!({"url": format!("http://127.0.0.1:{port}/"), "host": "127.0.0.1", "port": port});
    probe_service(&d, "snoop", "sneaky", config.clone());
    let check = wait_check(&d, "snoop", 10, |_| true);
    assert_eq!(
        check["result"], "unhealthy",
        "both attempts stopped: {check}"
    );
    let msg = message(&check);
    assert!(
        msg.contains("http") && msg.contains("tcp") && msg.matches("denied").count() >= 2,
        "{check}"
    );
    let info = d.plugin("sneaky");
    assert!(info["stats"]["denials"].as_u64() >= Some(2), "{info:#}");
    assert_eq!(
        listener.connections(),
        0,
        "a denied request reached the listener"
    );

    probe_service(&d, "allowed", "sneaky-granted", config);
    let check = wait_check(&d, "allowed", 10, |_| true);
    assert!(message(&check).contains("got through"), "{check}");
    assert!(
        listener.connections() >= 1,
        "the control connected, so the listener does record"
    );
}

#[test]
fn reader_cannot_read_outside_its_grants() {
    let secrets = tempfile::tempdir().unwrap();
    let dir = secrets.path().canonicalize().unwrap();
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let d = Daemon::builder()
        .config_toml(&format!("[plugins]\nallow_paths = [{:?}]\n", dir))
        .plugin("reader", "reader")
        .start();
    let reader = fixture("reader");
    let granted = reader
        .manifest()
        .replace("paths = []", &format!("paths = [{:?}]", dir));
    install_raw(
        d.data_dir(),
        "reader-granted",
        &reader.wasm_bytes(),
        &granted,
    );
    d.reload_plugins();
    assert_eq!(
        d.plugin("reader-granted")["grants"]["paths"],
        json!([dir]),
        "the control is granted the dir"
    );

    let config = json!({"path": secret});
    probe_service(&d, "curious", "reader", config.clone());
    probe_service(&d, "trusted", "reader-granted", config);
    let denied = wait_check(&d, "curious", 10, |_| true);
    assert_eq!(denied["result"], "unhealthy", "{denied}");
    assert!(
        message(&denied).starts_with(&format!("cannot read {}", secret.display())),
        "{denied}"
    );
    assert!(!message(&denied).contains("hunter2"));
    let read = wait_check(&d, "trusted", 10, |_| true);
    assert_eq!(read["result"], "healthy", "{read}");
    assert_eq!(
        message(&read),
        format!("read 8 bytes from {}", secret.display())
    );
}

#[test]
fn chatty_runs_in_an_empty_sandbox_and_prints_to_the_daemon_log() {
    let d = Daemon::builder()
        .config_toml("[plugins]\nallow_env = [\"TEND_CHATTY\"]\n")
        .env("TEND_CHATTY", "granted-value")
        .env("TEND_CHATTY_SECRET", "secret-value")
        .plugin("chatty", "chatty")
        .start();
    assert_eq!(d.plugin("chatty")["grants"]["env"], json!(["TEND_CHATTY"]));
    probe_service(&d, "talker", "chatty", json!({}));
    probe_service(&d, "prier", "chatty", json!({"env": "TEND_CHATTY_SECRET"}));

    let granted = wait_check(&d, "talker", 10, |_| true);
    assert_eq!(granted["result"], "healthy", "{granted}");
    let msg = message(&granted);
    assert!(msg.contains("TEND_CHATTY=granted-value"), "{granted}");
    let clock: f64 = msg
        .strip_prefix("clock=")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no clock in {msg:?}"));
    assert!(
        (clock * 1000.0 - now_ms()).abs() < 60_000.0,
        "the guest sees the wall clock: {msg}"
    );

    let hidden = wait_check(&d, "prier", 10, |_| true);
    assert!(
        message(&hidden).ends_with("TEND_CHATTY_SECRET unset"),
        "an env var that is not granted is not visible: {hidden}"
    );

    for (stream, text) in [
        ("stdout", "chatty: hello on stdout from talker"),
        ("stderr", "chatty: hello on stderr from talker"),
    ] {
        wait_for(secs(5), || {
            let (code, body) = d.get("/api/supervisor/logs?tail=2000");
            assert_eq!(code, 200, "{body}");
            let lines = body["lines"].as_array().cloned().unwrap_or_default();
            lines
                .iter()
                .find(|l| {
                    l["message"].as_str().is_some_and(|m| m.contains(text))
                        && l["plugin"] == "chatty"
                        && l["stream"] == stream
                })
                .cloned()
                .ok_or_else(|| format!("{} lines, none with {text:?}", lines.len()))
        })
        .unwrap_or_else(|e| panic!("plugin {stream} not in the daemon log: {e}"));
    }
}

#[test]
fn trapper_is_suspended_after_traps_in_a_row() {
    let d = Daemon::builder().plugin("trapper", "trapper").start();
    probe_service(&d, "victim", "trapper", json!({}));
    let info = wait_for(secs(10), || {
        let info = d.plugin("trapper");
        if info["state"] == "suspended" {
            Ok(info)
        } else {
            Err(info.to_string())
        }
    })
    .unwrap();
    let stats = &info["stats"];
    assert_eq!(failures(&info, "trap"), 3, "{info:#}");
    assert_eq!(stats["consecutive_traps"], 3, "{info:#}");
    assert_eq!(stats["ok"], 0, "{info:#}");
    assert!(
        stats["last_errors"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| e["kind"] == "trap")),
        "{info:#}"
    );
    let until = rfc3339_ms(
        info["suspended_until"]
            .as_str()
            .unwrap_or_else(|| panic!("no suspended_until: {info:#}")),
    );
    let ahead = until - now_ms();
    assert!(
        ahead > 0.0 && ahead <= 11_000.0,
        "suspended for the first period (10 s): {ahead:.0} ms left"
    );
    let traps: Vec<Value> = history(&d, "victim")
        .into_iter()
        .filter(|c| c["result"] == "trap")
        .collect();
    assert_eq!(traps.len(), 3, "{traps:#?}");
    assert!(message(&traps[0]).contains("trapped"), "{traps:#?}");

    // While suspended, checks are refused without a call.
    let refused = wait_check(&d, "victim", 5, |c| c["result"] == "suspended");
    assert!(message(&refused).contains("suspended"), "{refused}");
    let info = d.plugin("trapper");
    assert!(failures(&info, "suspended") >= 1, "{info:#}");
    assert_eq!(
        failures(&info, "trap"),
        3,
        "no call while suspended: {info:#}"
    );
}

// ---- reload ---------------------------------------------------------------------------------

#[test]
fn reload_replaces_rejects_and_keeps_the_previous_version() {
    let d = Daemon::start();
    let (trivial, chatty, notworld) = (fixture("trivial"), fixture("chatty"), fixture("notworld"));
    let changed = |report: &Value, name: &str| {
        // The file watcher may have loaded the change already: then reload finds it unchanged.
        let e = reload_entry(report, name);
        assert!(
            e["action"] == "loaded" || e["action"] == "unchanged",
            "{report:#}"
        );
        assert_eq!(e["source"], "user", "{report:#}");
    };

    install(d.data_dir(), "trivial", "mine");
    changed(&d.reload_plugins(), "mine");
    let mine = d.plugin("mine");
    assert_eq!(mine["sha256"], trivial.sha256(), "{mine:#}");
    assert_eq!(
        (&mine["source"], &mine["state"], &mine["world"]),
        (&json!("user"), &json!("loaded"), &json!("probe"))
    );
    let path = user_plugin_dir(d.data_dir()).join("mine.wasm");
    assert_eq!(mine["path"], json!(path), "{mine:#}");
    assert!(list(&d).iter().any(|p| p["name"] == "mine"));

    // A different valid component under the same manifest replaces it.
    d.write_plugin_wasm("mine", &chatty.wasm_bytes());
    changed(&d.reload_plugins(), "mine");
    assert_eq!(d.plugin("mine")["sha256"], chatty.sha256());

    // Junk, and then a truncated component, are refused; the working version stays.
    let junk = junk_bytes(4096, 7);
    let truncated = trivial.wasm_bytes()[..200].to_vec();
    for (bad, what) in [(&junk, "WebAssembly"), (&truncated, "")] {
        d.write_plugin_wasm("mine", bad);
        let report = d.reload_plugins();
        let e = reload_entry(&report, "mine");
        assert_eq!(e["action"], "rejected", "{report:#}");
        assert_eq!(e["previous_kept"], true, "{report:#}");
        let reason = e["reason"].as_str().unwrap_or_default();
        assert!(!reason.is_empty() && reason.contains(what), "{report:#}");
        let mine = d.plugin("mine");
        assert_eq!(mine["sha256"], chatty.sha256(), "previous kept: {mine:#}");
        assert_eq!(mine["state"], "loaded", "{mine:#}");
        assert_eq!(mine["rejected"]["reason"], reason, "{mine:#}");
        assert_eq!(mine["rejected"]["sha256"], sha256_bytes(bad), "{mine:#}");
    }
    // ... and still answers as a probe.
    probe_service(&d, "user", "mine", json!({}));
    let check = wait_check(&d, "user", 10, |_| true);
    assert_eq!(check["result"], "healthy", "{check}");
    assert!(
        message(&check).starts_with("clock="),
        "chatty answered: {check}"
    );

    // A component of another world under a probe manifest is refused.
    install(d.data_dir(), "notworld", "other");
    let report = d.reload_plugins();
    let e = reload_entry(&report, "other");
    assert_eq!(e["action"], "rejected", "{report:#}");
    assert!(
        e.get("previous_kept").is_none_or(|k| k == false),
        "nothing to keep: {report:#}"
    );
    assert!(
        e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("wrong world") && r.contains("probe")),
        "{report:#}"
    );
    let other = d.plugin("other");
    assert_eq!(other["state"], "rejected", "{other:#}");
    assert_eq!(other["sha256"], notworld.sha256(), "{other:#}");
    assert_eq!(other["rejected"]["reason"], e["reason"], "{other:#}");

    // Good files again clear the rejection; removed files unload.
    d.write_plugin_wasm("mine", &trivial.wasm_bytes());
    changed(&d.reload_plugins(), "mine");
    let mine = d.plugin("mine");
    assert_eq!(mine["sha256"], trivial.sha256(), "{mine:#}");
    assert!(mine.get("rejected").is_none_or(Value::is_null), "{mine:#}");
    for ext in ["wasm", "toml"] {
        std::fs::remove_file(user_plugin_dir(d.data_dir()).join(format!("mine.{ext}"))).unwrap();
    }
    let report = d.reload_plugins();
    let (code, body) = d.get("/api/plugins/mine");
    assert_eq!(code, 404, "{body}");
    if let Some(e) = report["plugins"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "mine"))
    {
        assert_eq!(e["action"], "removed", "{report:#}");
    }
}

#[test]
fn dropped_files_are_picked_up_without_a_reload() {
    let d = Daemon::start();
    let wait_plugin = |what: &str, pred: &dyn Fn(u16, &Value) -> bool| {
        wait_for(secs(5), || {
            let (code, body) = d.get("/api/plugins/dropped");
            if pred(code, &body) {
                Ok(body)
            } else {
                Err(format!("{code} {body}"))
            }
        })
        .unwrap_or_else(|e| panic!("the watcher did not {what}: {e}"))
    };
    install(d.data_dir(), "trivial", "dropped");
    wait_plugin("load a new plugin", &|code, p| {
        code == 200 && p["state"] == "loaded"
    });
    let chatty = fixture("chatty").sha256();
    d.write_plugin_wasm("dropped", &fixture("chatty").wasm_bytes());
    wait_plugin("load a replaced .wasm", &|code, p| {
        code == 200 && p["sha256"] == chatty.as_str()
    });
    d.write_plugin_wasm("dropped", &junk_bytes(1000, 1));
    wait_plugin("notice a corrupt .wasm", &|code, p| {
        code == 200 && p["rejected"].is_object() && p["sha256"] == chatty.as_str()
    });
    for ext in ["wasm", "toml"] {
        std::fs::remove_file(user_plugin_dir(d.data_dir()).join(format!("dropped.{ext}"))).unwrap();
    }
    wait_plugin("unload a removed plugin", &|code, _| code == 404);
}

#[test]
fn a_user_plugin_named_http_overrides_the_builtin_visibly() {
    let d = Daemon::start();
    let server = HttpServer::start(500);
    let builtin_sha = builtin("http").sha256();
    let service = |name: &str| {
        d.create(&d.service_with(
            name,
            json!(["sleep", "1000"]),
            json!({"port": server.port(), "restart": "never",
                   "health": {"probe": "http", "interval_s": 1, "retries": 1000}}),
        ));
    };
    // The built-in sees the 500.
    service("before");
    let check = wait_check(&d, "before", 10, |_| true);
    assert_eq!(check["result"], "unhealthy", "{check}");
    assert!(message(&check).contains("500"), "{check}");

    install(d.data_dir(), "trivial", "http");
    let report = d.reload_plugins();
    let e = reload_entry(&report, "http");
    assert_eq!(e["source"], "user-overrides-builtin", "{report:#}");
    let http = d.plugin("http");
    assert_eq!(http["source"], "user-overrides-builtin", "{http:#}");
    assert_eq!(http["sha256"], fixture("trivial").sha256(), "{http:#}");
    assert_ne!(http["sha256"], builtin_sha.as_str());
    assert_eq!(
        http["path"],
        json!(user_plugin_dir(d.data_dir()).join("http.wasm"))
    );
    let ls = d.cli(&["plugin", "ls"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let row = stdout(&ls)
        .lines()
        .find(|l| l.starts_with("http "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{}", stdout(&ls)));
    assert!(row.contains("user (overrides built-in)"), "{row}");

    // Services asking for `http` now get the user's plugin: trivial says "ok" whatever the server says.
    service("after");
    let check = wait_check(&d, "after", 10, |_| true);
    assert_eq!(
        (check["result"].as_str(), message(&check)),
        (Some("healthy"), "ok"),
        "{check}"
    );

    for ext in ["wasm", "toml"] {
        std::fs::remove_file(user_plugin_dir(d.data_dir()).join(format!("http.{ext}"))).unwrap();
    }
    d.reload_plugins();
    let http = d.plugin("http");
    assert_eq!(
        (&http["source"], &http["sha256"]),
        (&json!("builtin"), &json!(builtin_sha)),
        "the built-in is back: {http:#}"
    );
}

// ---- CLI ------------------------------------------------------------------------------------

#[test]
fn cli_lists_shows_and_reloads_plugins() {
    let d = Daemon::start();
    let ls = d.cli(&["plugin", "ls"]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let out = stdout(&ls);
    let header = out.lines().next().unwrap_or_default();
    for col in ["NAME", "WORLD", "SOURCE"] {
        assert!(header.contains(col), "{out}");
    }
    for name in ["http", "tcp"] {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row:\n{out}"));
        assert!(row.contains("probe") && row.contains("builtin"), "{row}");
    }

    let info = d.cli(&["plugin", "info", "http", "--json"]);
    assert!(info.status.success(), "{}", stderr(&info));
    let parsed: Value = serde_json::from_slice(&info.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&info)));
    assert_eq!(parsed, d.plugin("http"));
    let human = d.cli(&["plugin", "info", "http"]);
    assert!(human.status.success(), "{}", stderr(&human));
    assert!(
        stdout(&human).contains(&builtin("http").sha256()),
        "{}",
        stdout(&human)
    );

    let missing = d.cli(&["plugin", "info", "nope"]);
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));

    let ok = d.cli(&["plugin", "reload"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).contains("http"), "{}", stdout(&ok));

    install_raw(
        d.data_dir(),
        "broken",
        &junk_bytes(512, 3),
        &fixture("trivial").manifest(),
    );
    let bad = d.cli(&["plugin", "reload"]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{}{}",
        stdout(&bad),
        stderr(&bad)
    );
    let row = stdout(&bad)
        .lines()
        .find(|l| l.starts_with("broken "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no row for broken:\n{}", stdout(&bad)));
    assert!(row.contains("rejected"), "{row}");
    assert!(stderr(&bad).starts_with("error:"), "{}", stderr(&bad));
    let json = d.cli(&["--json", "plugin", "reload"]);
    assert_eq!(json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(reload_entry(&report, "broken")["action"], "rejected");
}

/// Plugins installed before the daemon starts are loaded at boot.
#[test]
fn plugins_in_the_data_dir_load_at_boot() {
    let d = Daemon::builder().plugin("trivial", "early").start();
    let early = d.plugin("early");
    assert_eq!(
        (&early["state"], &early["source"]),
        (&json!("loaded"), &json!("user")),
        "{early:#}"
    );
    let path = user_plugin_dir(d.data_dir()).join("early.wasm");
    assert_eq!(early["path"], json!(path), "{early:#}");
}
