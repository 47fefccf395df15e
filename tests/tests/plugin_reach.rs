//! What a plugin can reach: a probe's `$target` is the checked service's own port and nothing else by
//! default, and tend's own API and control ports are out of reach of every plugin, whatever its grants
//! and the daemon's `allow_hosts` say. Real probe plugins (the built-in `tcp` and `http`, the `sneaky`
//! fixture) checking real services.

use tend_tests::plugins::{install_raw, reload_entry};
use tend_tests::{Daemon, HttpServer, RecordingListener, Value, fixture, json, secs, wait_for};

/// A service on `port` checked every second by `probe` with `config`.
fn probed(d: &Daemon, name: &str, port: u16, probe: &str, config: Value) {
    d.create(&d.service_with(
        name,
        json!(["sleep", "1000"]),
        json!({
            "port": port,
            "restart": "never",
            "health": {"probe": probe, "config": config, "interval_s": 1, "timeout_s": 5, "retries": 1000},
        }),
    ));
}

/// The first health check of `name`.
fn first_check(d: &Daemon, name: &str) -> Value {
    wait_for(secs(15), || {
        let report = d.health(name);
        report["history"]
            .as_array()
            .and_then(|h| h.first().cloned())
            .ok_or_else(|| report.to_string())
    })
    .unwrap()
}

fn api_port(d: &Daemon) -> u16 {
    d.url().rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn a_probe_reaches_its_own_service_but_never_tends_ports() {
    let d = Daemon::builder().control().start();
    let server = HttpServer::start(200);
    probed(&d, "own-tcp", server.port(), "tcp", json!({}));
    probed(&d, "own-http", server.port(), "http", json!({"path": "/"}));
    for name in ["own-tcp", "own-http"] {
        let check = first_check(&d, name);
        assert_eq!(check["result"], "healthy", "{name}: {check}");
    }

    let api = api_port(&d);
    let control = d.control_addr().port();
    for (name, port) in [("api", api), ("control", control)] {
        probed(&d, &format!("{name}-tcp"), port, "tcp", json!({}));
        probed(
            &d,
            &format!("{name}-http"),
            port,
            "http",
            json!({"path": "/healthz"}),
        );
    }
    for name in ["api-tcp", "api-http", "control-tcp", "control-http"] {
        let check = first_check(&d, name);
        assert_eq!(check["result"], "unhealthy", "{name}: {check}");
        assert!(
            check["message"]
                .as_str()
                .unwrap_or_default()
                .contains("allowlist"),
            "{name} is refused by the grants: {check}"
        );
    }
}

#[test]
fn grants_and_allow_hosts_cannot_open_tends_ports_and_the_default_opens_no_other_port() {
    let listener = RecordingListener::start();
    let port = listener.port();
    // A plugin granted everything on loopback by its manifest.
    let sneaky = fixture("sneaky");
    let everything = sneaky
        .manifest()
        .replace(r#"hosts = ["127.0.0.1:1"]"#, r#"hosts = ["127.0.0.1"]"#);
    assert!(
        everything.contains(r#"hosts = ["127.0.0.1"]"#),
        "{everything}"
    );

    // Default settings: the manifest's grant is narrowed to nothing (the plugin, which imports `http`
    // and `net` without a host left, is not even loaded); only a probe's own service port is open.
    let d = Daemon::start();
    install_raw(d.data_dir(), "greedy", &sneaky.wasm_bytes(), &everything);
    d.reload_plugins();
    // The service checked lives on another port than the one probed.
    let config =
        json!({"url": format!("http://127.0.0.1:{port}/"), "host": "127.0.0.1", "port": port});
    probed(
        &d,
        "elsewhere",
        tend_tests::free_port(),
        "greedy",
        config.clone(),
    );
    let check = first_check(&d, "elsewhere");
    assert_eq!(check["passed"], false, "{check}");
    assert_eq!(
        listener.connections(),
        0,
        "the default let a plugin reach another loopback port"
    );
    drop(d);

    // The operator allows all of loopback: other ports open, tend's own stay closed.
    let d = Daemon::builder()
        .control()
        .config_toml("[plugins]\nallow_hosts = [\"127.0.0.1\"]\n")
        .start();
    install_raw(d.data_dir(), "greedy", &sneaky.wasm_bytes(), &everything);
    let e = reload_entry(&d.reload_plugins(), "greedy").clone();
    assert_eq!(e["action"], "loaded", "{e}");
    probed(&d, "granted", tend_tests::free_port(), "greedy", config);
    let check = first_check(&d, "granted");
    assert_eq!(
        check["result"], "healthy",
        "the control gets through: {check}"
    );
    for (name, port) in [("api", api_port(&d)), ("control", d.control_addr().port())] {
        let config = json!({"url": format!("http://127.0.0.1:{port}/healthz"), "host": "127.0.0.1", "port": port});
        probed(&d, name, tend_tests::free_port(), "greedy", config);
        let check = first_check(&d, name);
        assert_eq!(check["result"], "unhealthy", "{name}: {check}");
        assert!(
            check["message"]
                .as_str()
                .unwrap_or_default()
                .matches("denied")
                .count()
                >= 2,
            "{name}: both attempts denied: {check}"
        );
    }
}
