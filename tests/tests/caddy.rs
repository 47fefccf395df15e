//! The Caddy integration against a real Caddy (Debian's `caddy`, started by the harness on loopback
//! ports with its own config and storage): services exposed by subdomain or path are reachable through
//! Caddy and unreachable once unexposed or removed, a route configured outside tend survives, port
//! changes re-apply, Caddy down is reported and retried, maintenance answers for unhealthy services,
//! the readable Caddyfile is written, bad specs are refused. Generator output is compared with
//! committed snapshots (`tests/snapshots/caddy/`), and a user plugin replaces the built-in generator.

use tend_tests::caddy::{CaddyProxy, NAMING_SERVER, OUTSIDE_BODY, OUTSIDE_HOST, assert_snapshot};
use tend_tests::{Daemon, Value, free_port, json, merge, python3, secs, wait_for};

const BASE: &str = "example.test";

/// `[caddy]` for a daemon talking to the admin API at `admin_url`, routing on `http_port` (plain HTTP,
/// quick retries), plus `extra` lines.
fn caddy_toml(admin_url: &str, http_port: u16, extra: &str) -> String {
    format!(
        "[caddy]\nadmin_url = \"{admin_url}\"\nbase_domain = \"{BASE}\"\nport = {http_port}\n\
         bind = \"127.0.0.1\"\ntls = \"off\"\nretry_initial_ms = 200\nretry_max_ms = 1000\n{extra}"
    )
}

/// A spec running [`NAMING_SERVER`] as `name` on `port`, exposed through Caddy, deep-merged with `patch`.
fn web(d: &Daemon, name: &str, port: u16, patch: Value) -> Value {
    d.service_with(
        name,
        json!([python3(), "-c", NAMING_SERVER, port.to_string(), name]),
        merge(json!({"port": port, "expose_caddy": true}), patch),
    )
}

fn caddy_status(d: &Daemon) -> Value {
    let (code, body) = d.get("/api/status");
    assert_eq!(code, 200, "{body}");
    body["supervisor"]["caddy"].clone()
}

fn wait_caddy_state(d: &Daemon, state: &str) -> Value {
    wait_for(secs(30), || {
        let s = caddy_status(d);
        if s["state"] == state {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("caddy integration never became {state}: {e}"))
}

/// Caddy's default answer for a request no route takes: 200 with an empty body.
fn wait_unrouted(caddy: &CaddyProxy, host: &str) {
    wait_for(secs(30), || match caddy.request(host, "/") {
        Ok((200, body)) if body.is_empty() => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .unwrap_or_else(|e| panic!("{host} is still routed: {e}\nconfig: {}", caddy.config()));
}

fn assert_outside_route_intact(caddy: &CaddyProxy) {
    assert_eq!(
        caddy.request(OUTSIDE_HOST, "/").expect("caddy answers"),
        (200, OUTSIDE_BODY.to_string()),
        "the route configured outside tend changed; config: {}",
        caddy.config()
    );
}

#[test]
fn exposed_service_is_routed_by_subdomain_until_unexposed_or_removed() {
    let caddy = CaddyProxy::with_outside_route();
    let d = Daemon::builder()
        .config_toml(&caddy_toml(&caddy.admin_url(), caddy.http_port(), ""))
        .start();
    assert_eq!(caddy_status(&d)["state"], "idle", "nothing exposed yet");

    let p1 = free_port();
    d.create(&web(&d, "myapp", p1, json!({"caddy_subdomain": "myapp"})));
    caddy.wait_answer("myapp.example.test", "/hello", 200, "myapp path=/hello");
    assert_outside_route_intact(&caddy);
    // tend's group went first into the server already listening on the port; nothing else changed.
    let routes = caddy.admin_get("/config/apps/http/servers/outside/routes");
    assert_eq!(routes.as_array().map(Vec::len), Some(2), "{routes}");
    assert_eq!(routes[0]["@id"], "tend-routes", "{routes}");
    assert_eq!(routes[1]["match"][0]["host"][0], OUTSIDE_HOST, "{routes}");
    let status = wait_caddy_state(&d, "applied");
    assert_eq!(status["exposed"], 1, "{status}");

    // The readable rendering, at the default place inside the data dir; the CLI shows the same.
    let file = d.data_dir().join("caddy").join("supervisor.caddy");
    let text = wait_for(secs(10), || {
        std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))
    })
    .unwrap();
    assert!(
        text.contains(&format!("http://myapp.{BASE}:{} {{", caddy.http_port())),
        "{text}"
    );
    assert!(
        text.contains(&format!("reverse_proxy 127.0.0.1:{p1}")),
        "{text}"
    );
    let out = d.cli(&["caddy", "show", "--caddyfile"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), text);

    // A port change re-applies.
    let p2 = free_port();
    let (code, body) = d.put(
        "/api/services/myapp",
        &web(&d, "myapp", p2, json!({"caddy_subdomain": "myapp"})),
    );
    assert_eq!(code, 200, "{body}");
    wait_for(secs(30), || {
        let group = caddy.admin_get("/id/tend-routes").to_string();
        if group.contains(&format!("127.0.0.1:{p2}")) {
            Ok(())
        } else {
            Err(group)
        }
    })
    .unwrap();
    caddy.wait_answer("myapp.example.test", "/again", 200, "myapp path=/again");

    // Unexposed: the route is gone, Caddy gives its default answer; the outside route stays.
    let (code, body) = d.put(
        "/api/services/myapp",
        &web(
            &d,
            "myapp",
            p2,
            json!({"caddy_subdomain": "myapp", "expose_caddy": false}),
        ),
    );
    assert_eq!(code, 200, "{body}");
    wait_unrouted(&caddy, "myapp.example.test");
    assert_outside_route_intact(&caddy);

    // Exposed again, then removed: gone again.
    let (code, body) = d.put(
        "/api/services/myapp",
        &web(&d, "myapp", p2, json!({"caddy_subdomain": "myapp"})),
    );
    assert_eq!(code, 200, "{body}");
    caddy.wait_answer("myapp.example.test", "/", 200, "myapp path=/");
    let (code, body) = d.delete("/api/services/myapp");
    assert_eq!(code, 200, "{body}");
    wait_unrouted(&caddy, "myapp.example.test");
    assert_outside_route_intact(&caddy);
    let routes = caddy.admin_get("/config/apps/http/servers/outside/routes");
    assert_eq!(routes.as_array().map(Vec::len), Some(2), "{routes}");
    assert_eq!(caddy_status(&d)["exposed"], 0);
}

#[test]
fn path_routes_strip_their_prefix_and_carry_headers_in_a_server_of_tends_own() {
    let caddy = CaddyProxy::bare();
    let d = Daemon::builder()
        .config_toml(&caddy_toml(
            &caddy.admin_url(),
            caddy.http_port(),
            "domain = \"apps.example.test\"\n",
        ))
        .start();
    let p = free_port();
    d.create(&web(
        &d,
        "api",
        p,
        json!({"caddy_path": "/api", "caddy_headers": {"X-Env": "staging"}}),
    ));
    caddy.wait_answer(
        "apps.example.test",
        "/api/v1/items",
        200,
        "api path=/v1/items x-env=staging",
    );
    // No server listened on the port: tend created its own, with its group only.
    let server = caddy.admin_get("/config/apps/http/servers/tend");
    assert_eq!(
        server["listen"],
        json!([format!("127.0.0.1:{}", caddy.http_port())]),
        "{server}"
    );
    assert_eq!(server["routes"][0]["@id"], "tend-routes", "{server}");
    // Other hosts and paths are not routed.
    assert_eq!(
        caddy.request("apps.example.test", "/apiary").unwrap(),
        (200, String::new())
    );
    assert_eq!(
        caddy.request("other.example.test", "/api/x").unwrap(),
        (200, String::new())
    );
}

#[test]
fn caddy_down_is_reported_and_the_config_applied_once_it_is_back() {
    let admin_port = free_port();
    let http_port = free_port();
    let d = Daemon::builder()
        .config_toml(&caddy_toml(
            &format!("http://127.0.0.1:{admin_port}"),
            http_port,
            "",
        ))
        .start();
    let p = free_port();
    d.create(&web(&d, "myapp", p, json!({})));
    let status = wait_caddy_state(&d, "failing");
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("unreachable"), "{status}");
    assert!(status["next_retry_at"].is_string(), "{status}");
    // Reported as an event of the exposed service; the daemon carries on.
    let events = d.events("myapp");
    let failed = events
        .iter()
        .find(|e| e["kind"] == "caddy")
        .unwrap_or_else(|| panic!("no caddy event: {events:?}"));
    assert!(
        failed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("last good one stays in force"),
        "{failed}"
    );
    let (code, _) = d.get("/api/services/myapp");
    assert_eq!(code, 200);
    // A reload says what went wrong, with a non-zero exit from the CLI.
    let (code, body) = d.post_empty("/api/caddy/reload");
    assert_eq!(code, 502, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let out = d.cli(&["caddy", "reload"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unreachable"),
        "{out:?}"
    );

    // Caddy comes up (no servers at all): the retry applies the config, with a server of tend's own
    // (the service's name is its subdomain).
    let caddy = CaddyProxy::start_on(admin_port, http_port, false);
    caddy.wait_answer("myapp.example.test", "/up", 200, "myapp path=/up");
    let status = wait_caddy_state(&d, "applied");
    assert_eq!(status["failures"], 0, "{status}");
    wait_for(secs(10), || {
        let events = d.events("myapp");
        events
            .iter()
            .find(|e| {
                e["kind"] == "caddy"
                    && e["reason"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("applied after")
            })
            .cloned()
            .ok_or_else(|| format!("{events:?}"))
    })
    .unwrap();
    let out = d.cli(&["caddy", "reload"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replaced route group tend-routes"),
        "{out:?}"
    );
}

#[test]
fn unhealthy_services_get_the_maintenance_response_when_configured() {
    let caddy = CaddyProxy::with_outside_route();
    let d = Daemon::builder()
        .config_toml(&caddy_toml(
            &caddy.admin_url(),
            caddy.http_port(),
            "maintenance = \"Down for maintenance, back soon\"\n",
        ))
        .start();
    let sick = free_port();
    let fine = free_port();
    // `sick` fails its health check (nothing listens where it is probed) and is not restarted.
    d.create(&web(
        &d,
        "sick",
        sick,
        json!({
            "restart": "never",
            "health": {"probe": "tcp", "interval_s": 1, "retries": 1, "timeout_s": 1,
                       "config": {"port": free_port()}},
        }),
    ));
    d.create(&web(&d, "fine", fine, json!({})));
    caddy.wait_answer("fine.example.test", "/", 200, "fine path=/");
    let body = caddy.wait_answer(
        "sick.example.test",
        "/",
        503,
        "Down for maintenance, back soon",
    );
    assert_eq!(body, "Down for maintenance, back soon");
    let (code, view) = d.get("/api/caddy/config");
    assert_eq!(code, 200, "{view}");
    let sick_entry = view["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "sick"))
        .cloned()
        .unwrap_or_else(|| panic!("{view}"));
    assert_eq!(sick_entry["health"], "unhealthy", "{view}");
    assert!(
        view["caddyfile"]
            .as_str()
            .unwrap_or_default()
            .contains("respond \"Down for maintenance, back soon\" 503"),
        "{view}"
    );
}

#[test]
fn bad_caddy_fields_are_refused_and_change_nothing() {
    let d = Daemon::builder()
        .config_toml("[caddy]\nenabled = false\n")
        .start();
    let before = d.list();
    for (patch, field) in [
        (json!({"expose_caddy": true}), "port"),
        (
            json!({"expose_caddy": true, "port": 8000, "caddy_subdomain": "not valid"}),
            "caddy_subdomain",
        ),
        (
            json!({"expose_caddy": true, "port": 8000, "caddy_subdomain": "-x"}),
            "caddy_subdomain",
        ),
        (json!({"caddy_path": "api"}), "caddy_path"),
        (json!({"caddy_path": "/api/"}), "caddy_path"),
        (json!({"caddy_path": "/a b"}), "caddy_path"),
        (
            json!({"caddy_headers": {"Bad Header": "x"}}),
            "caddy_headers",
        ),
        (
            json!({"caddy_headers": {"X-Ok": "line\nbreak"}}),
            "caddy_headers",
        ),
    ] {
        let spec = d.service_with("svc", "sleep 100", patch.clone());
        let (code, body) = d.post("/api/services", &spec);
        assert_eq!(code, 422, "{patch}: {body}");
        assert_eq!(body["error"]["field"], field, "{patch}: {body}");
    }
    // A service name that is no DNS label needs a subdomain to be exposed.
    let spec = d.service_with(
        "my_app",
        "sleep 100",
        json!({"expose_caddy": true, "port": 8000}),
    );
    let (code, body) = d.post("/api/services", &spec);
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["field"], "caddy_subdomain", "{body}");
    assert_eq!(d.list(), before);
    // Disabled: a reload is refused, the status says so.
    let (code, body) = d.post_empty("/api/caddy/reload");
    assert_eq!(code, 409, "{body}");
    assert_eq!(caddy_status(&d)["state"], "disabled");
}

#[test]
fn bad_caddy_settings_stop_the_daemon_with_the_setting_named() {
    for (toml, needle) in [
        ("[caddy]\ntls = \"sometimes\"\n", "caddy.tls"),
        ("[caddy]\nadmin_url = \"ftp://x\"\n", "caddy.admin_url"),
        ("[caddy]\nport = 0\n", "caddy.port"),
        ("[caddy]\nshade = 1\n", "shade"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tend.toml"), toml).unwrap();
        let mut cmd = tend_tests::tend_cmd();
        cmd.args(["daemon", "--port", "0", "--data-dir"])
            .arg(dir.path());
        let out = tend_tests::run_with_deadline(cmd, secs(30));
        assert!(!out.status.success(), "{toml}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{toml}: {stderr}");
    }
}

/// A daemon that never talks to Caddy, for generator output: services are registered disabled, on
/// fixed ports, so the output is the same on every run.
fn generator_daemon(caddy_table: &str) -> Daemon {
    Daemon::builder()
        .config_toml(&format!("[caddy]\nenabled = false\n{caddy_table}"))
        .start()
}

fn add_disabled(d: &Daemon, name: &str, port: u16, patch: Value) {
    d.create(&d.service_with(
        name,
        "sleep 1000",
        merge(
            json!({"enabled": false, "port": port, "expose_caddy": true}),
            patch,
        ),
    ));
}

/// Snapshots `GET /api/caddy/config`: the generated JSON and the Caddyfile rendering.
fn snapshot(d: &Daemon, case: &str) {
    let (code, view) = d.get("/api/caddy/config");
    assert_eq!(code, 200, "{view}");
    assert!(view["error"].is_null(), "{view}");
    let config = serde_json::to_string_pretty(&view["config"]).unwrap() + "\n";
    assert_snapshot(&format!("caddy/{case}.json"), &config);
    assert_snapshot(
        &format!("caddy/{case}.caddyfile"),
        view["caddyfile"].as_str().unwrap_or_default(),
    );
}

#[test]
fn generator_snapshots_for_several_service_sets_and_tls_modes() {
    let settings = "base_domain = \"example.test\"\nport = 8443\n";
    let d = generator_daemon(&format!("{settings}tls = \"off\"\n"));
    snapshot(&d, "none");
    add_disabled(&d, "myapp", 18001, json!({"caddy_subdomain": "myapp"}));
    snapshot(&d, "one-subdomain");

    let d = generator_daemon(&format!(
        "{settings}tls = \"off\"\ndomain = \"apps.example.test:8443\"\n"
    ));
    add_disabled(&d, "web", 18001, json!({}));
    add_disabled(
        &d,
        "api",
        18002,
        json!({"caddy_path": "/api", "caddy_headers": {"X-Env": "prod", "X-Quote": "say \"hi\""}}),
    );
    add_disabled(&d, "docs", 18003, json!({"caddy_path": "/docs/v2"}));
    add_disabled(
        &d,
        "admin",
        18004,
        json!({"caddy_subdomain": "ops", "caddy_path": "/admin"}),
    );
    snapshot(&d, "several");

    for tls in ["internal", "automatic"] {
        let d = generator_daemon(&format!(
            "{settings}tls = \"{tls}\"\nbind = \"127.0.0.1\"\n"
        ));
        add_disabled(&d, "myapp", 18001, json!({}));
        add_disabled(&d, "blog", 18002, json!({"caddy_subdomain": "www"}));
        snapshot(&d, &format!("tls-{tls}"));
    }

    // Maintenance routing: services that are not running count as unhealthy.
    let d = generator_daemon(&format!(
        "{settings}tls = \"off\"\nmaintenance = \"Back soon\"\n"
    ));
    add_disabled(&d, "myapp", 18001, json!({}));
    snapshot(&d, "maintenance");
}

#[test]
fn a_user_generator_replaces_the_builtin_one() {
    let caddy = CaddyProxy::with_outside_route();
    let d = Daemon::builder()
        .plugin("proxy-alt", "proxy-alt")
        .config_toml(&caddy_toml(
            &caddy.admin_url(),
            caddy.http_port(),
            "plugin = \"proxy-alt\"\n",
        ))
        .start();
    let p = free_port();
    d.create(&web(&d, "myapp", p, json!({"caddy_subdomain": "ignored"})));
    // proxy-alt's layout: every service under /<name> on the base domain, no subdomains.
    caddy.wait_answer(BASE, "/myapp/x", 200, "myapp path=/x");
    assert_eq!(
        caddy.request("ignored.example.test", "/").unwrap(),
        (200, String::new())
    );
    assert_outside_route_intact(&caddy);
    let (code, view) = d.get("/api/caddy/config");
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["plugin"], "proxy-alt");
    assert_eq!(
        view["caddyfile"],
        format!(
            "# proxy-alt layout: everything on {BASE}:{}\n{BASE}/myapp -> 127.0.0.1:{p}\n",
            caddy.http_port()
        )
    );
    assert_eq!(view["in_sync"], true, "{view}");
    let text = wait_for(secs(10), || {
        let f = d.data_dir().join("caddy").join("supervisor.caddy");
        std::fs::read_to_string(&f).map_err(|e| e.to_string())
    })
    .unwrap();
    assert!(text.starts_with("# proxy-alt layout"), "{text}");
}
