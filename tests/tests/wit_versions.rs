//! Plugins built against the previous major version of the plugin contract (`tend:plugin@0.1.0`, the
//! frozen copy in `wit/v0.1/`) dropped into a real daemon's `<data_dir>/plugins`: they load, say
//! which version they are of in `GET /api/plugins/{name}`, and work. A 0.1 `command-policy` plugin
//! answers `POST /api/policy/evaluate` through the host's adapter (it gets the 0.1 request record,
//! its 0.1 `log` import is served); a 0.1 probe runs real health checks with its 0.1 `net`, `kv` and
//! `log` imports; a 0.1 `proxy-config` generator routes a service through a real Caddy. Current
//! plugins say 0.2.3.

use tend_tests::caddy::{CaddyProxy, NAMING_SERVER};
use tend_tests::{Daemon, RecordingListener, Value, free_port, json, python3, secs, wait_for};

fn ask(d: &Daemon, command_type: &str, command: &str) -> Value {
    let body =
        json!({"command": {"command_type": command_type, "command": command, "is_safe": true}});
    let (status, answer) = d.post("/api/policy/evaluate", &body);
    assert_eq!(status, 200, "{body} answered {answer}");
    answer
}

fn reason(v: &Value) -> &str {
    v["reason"].as_str().unwrap_or_default()
}

#[test]
fn a_0_1_policy_plugin_is_loaded_and_adapted() {
    let d = Daemon::builder()
        .plugin("policy-v01", "old-policy")
        .config_toml("[policy]\nplugin = \"old-policy\"\n")
        .start();
    let info = d.plugin("old-policy");
    assert_eq!(info["state"], "loaded", "{info:#}");
    assert_eq!(info["world"], "command-policy", "{info:#}");
    assert_eq!(info["wit"], "0.1.0", "{info:#}");
    assert_eq!(
        d.plugin("policy")["wit"],
        "0.2.3",
        "the built-in is current"
    );

    let echo = ask(&d, "exec", "echo hi");
    assert_eq!(echo["decision"], "allow", "{echo}");
    assert_eq!(echo["plugin"], "old-policy", "{echo}");
    assert_eq!(echo["plugin_version"], "0.1.7", "{echo}");
    let shell = ask(&d, "shell", "echo hello world");
    assert_eq!(shell["decision"], "allow", "{shell}");

    // Denials carry the plugin's reason, built from the 0.1 record's fields the host filled in.
    let make = ask(&d, "make", "clean");
    assert_eq!(make["decision"], "deny", "{make}");
    assert!(
        reason(&make)
            .contains("policy-v01: only echo may run, not \"make\" (make command for service \"\""),
        "{make}"
    );
    assert!(reason(&make).contains("origin rest"), "{make}");
    let rm = ask(&d, "shell", "rm -rf /");
    assert_eq!(rm["decision"], "deny", "{rm}");
    assert!(reason(&rm).contains("policy-v01"), "{rm}");

    // Its `tend:plugin/log@0.1.0` import reached the daemon's log.
    wait_for(secs(5), || {
        let log = d.stderr();
        if log.contains("policy-v01: asked about") {
            Ok(())
        } else {
            Err(log)
        }
    })
    .unwrap_or_else(|log| panic!("the 0.1 plugin's log line is missing:\n{log}"));
    // The operator is told at load what such a policy misses, and to rebuild it.
    let log = d.stderr();
    assert!(
        log.contains("built against tend:plugin@0.1.0")
            && log.contains("it is not told tend's protected paths"),
        "{log}"
    );
}

#[test]
fn a_0_1_probe_checks_a_real_service() {
    let listener = RecordingListener::start();
    let d = Daemon::builder().plugin("probe-v01", "old-probe").start();
    let info = d.plugin("old-probe");
    assert_eq!(info["state"], "loaded", "{info:#}");
    assert_eq!(info["world"], "probe", "{info:#}");
    assert_eq!(info["wit"], "0.1.0", "{info:#}");
    assert_eq!(d.plugin("tcp")["wit"], "0.2.3", "the built-in is current");

    d.create(&d.service_with(
        "web",
        json!(["sleep", "1000"]),
        json!({
            "port": listener.port(),
            "restart": "never",
            "health": {"probe": "old-probe", "interval_s": 1, "timeout_s": 5, "retries": 1000},
        }),
    ));
    // Two checks: the second counted through its kv store (kept between calls) says 2.
    let want = format!(
        "probe-v01: connected to 127.0.0.1:{} (check 2)",
        listener.port()
    );
    let report = wait_for(secs(15), || {
        let report = d.health("web");
        let found = report["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|c| c["message"] == want.as_str()));
        if found {
            Ok(report)
        } else {
            Err(format!("{report:#}"))
        }
    })
    .unwrap_or_else(|r| panic!("no check saying {want:?}: {r}"));
    let check = report["history"]
        .as_array()
        .and_then(|h| h.iter().find(|c| c["message"] == want.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(check["result"], "healthy", "{check:#}");
    assert!(listener.connections() >= 2, "the probe connected for real");
}

#[test]
fn a_0_1_proxy_generator_routes_through_a_real_caddy() {
    const BASE: &str = "example.test";
    let caddy = CaddyProxy::bare();
    let d = Daemon::builder()
        .plugin("proxy-v01", "old-proxy")
        .config_toml(&format!(
            "[caddy]\nadmin_url = \"{}\"\nbase_domain = \"{BASE}\"\nport = {}\nbind = \"127.0.0.1\"\n\
             tls = \"off\"\nretry_initial_ms = 200\nretry_max_ms = 1000\nplugin = \"old-proxy\"\n",
            caddy.admin_url(),
            caddy.http_port()
        ))
        .start();
    let info = d.plugin("old-proxy");
    assert_eq!(info["state"], "loaded", "{info:#}");
    assert_eq!(info["world"], "proxy-config", "{info:#}");
    assert_eq!(info["wit"], "0.1.0", "{info:#}");
    assert_eq!(d.plugin("caddy")["wit"], "0.2.3", "the built-in is current");

    let port = free_port();
    d.create(&d.service_with(
        "myapp",
        json!([python3(), "-c", NAMING_SERVER, port.to_string(), "myapp"]),
        json!({"port": port, "expose_caddy": true}),
    ));
    // proxy-v01's layout: every service under /<name> on the base domain.
    caddy.wait_answer(BASE, "/myapp/x", 200, "myapp path=/x");
    let (code, view) = d.get("/api/caddy/config");
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["plugin"], "old-proxy", "{view}");
    assert_eq!(
        view["caddyfile"],
        format!(
            "# proxy-v01: everything on {BASE}:{}\n{BASE}/myapp -> 127.0.0.1:{port}\n",
            caddy.http_port()
        ),
        "{view}"
    );
}
