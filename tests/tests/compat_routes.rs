//! The replaced dashboard's calls against tend (README "Coming from ..."): `GET
//! /dashboard/api/system/status` in the seed's metrics shape (checked field by field: names and JSON
//! types), `POST /dashboard/api/system/restart` `{"service": ...}` and `POST
//! /dashboard/api/system/custom-restart` (the seed's body plus `service`, else `[compat]
//! default_service`), under the same authentication as `/api` (bearer token, or the session cookie with
//! a same-origin `Origin` for changes).

use std::time::Duration;

use reqwest::Method;
use tend_tests::{Daemon, Value, json, secs, send, wait_for};

const STATUS: &str = "/dashboard/api/system/status";
const RESTART: &str = "/dashboard/api/system/restart";
const CUSTOM: &str = "/dashboard/api/system/custom-restart";

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort();
    k
}

fn pid_of(d: &Daemon, name: &str) -> u64 {
    d.view(name)["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} has no pid"))
}

/// A long-running service in the scratch dir; a custom restart's args become positional parameters of
/// the shell, which stays (no `exec`) so that its command line shows them.
fn sleeper(d: &Daemon, name: &str) -> u64 {
    d.create(&d.service_with(
        name,
        json!(["/bin/sh", "-c", "sleep 300; :", "svc"]),
        json!({"working_dir": d.scratch()}),
    ));
    d.wait_status(name, "running", secs(10));
    pid_of(d, name)
}

fn assert_error(answer: (u16, Value), status: u16, code: &str, field: Option<&str>) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"].as_str(), field, "{body}");
}

#[test]
fn status_has_the_seed_metrics_shape_field_by_field() {
    let d = Daemon::builder().arg("--monitor-interval").arg("1").start();
    let pid = sleeper(&d, "web");
    d.create(&d.service_with("crashy", "exit 1", json!({"max_restarts": 0})));
    d.wait_status("crashy", "fatal", secs(10));
    d.create(&d.service_with("idle", "true", json!({"enabled": false})));

    // Once web has been sampled.
    let body = wait_for(secs(15), || {
        let (status, body) = d.get(STATUS);
        assert_eq!(status, 200, "{body}");
        if body["services"]["web"]["memory_mb"].as_f64() > Some(0.0) {
            Ok(body)
        } else {
            Err(body.to_string())
        }
    })
    .unwrap();
    assert_eq!(keys(&body), ["services", "supervisor"], "{body}");
    let sup = &body["supervisor"];
    assert_eq!(keys(sup), ["managed_services", "status", "uptime"], "{sup}");
    assert_eq!(sup["status"], "running");
    assert!(sup["uptime"].is_u64(), "uptime: whole seconds: {sup}");
    assert_eq!(sup["managed_services"], 3);

    let fields = [
        "cpu_percent",
        "memory_mb",
        "pid",
        "restart_count",
        "status",
        "uptime",
    ];
    let web = &body["services"]["web"];
    assert_eq!(keys(web), fields, "{web}");
    assert_eq!(web["status"], "running");
    assert_eq!(web["pid"], pid);
    assert!(web["uptime"].is_u64(), "{web}");
    assert!(web["memory_mb"].is_f64(), "{web}");
    assert!(web["cpu_percent"].is_f64(), "{web}");
    assert_eq!(web["restart_count"], 0);

    // Not running: every field is still there; tend's `fatal` is the seed's `failed`.
    let crashy = &body["services"]["crashy"];
    assert_eq!(keys(crashy), fields, "{crashy}");
    assert_eq!(
        (&crashy["status"], &crashy["pid"], &crashy["uptime"]),
        (&json!("failed"), &Value::Null, &json!(0)),
        "{crashy}"
    );
    assert_eq!(
        (&crashy["memory_mb"], &crashy["cpu_percent"]),
        (&json!(0.0), &json!(0.0)),
        "{crashy}"
    );
    assert_eq!(body["services"]["idle"]["status"], "stopped");
}

#[test]
fn restart_restarts_the_named_service() {
    let d = Daemon::start();
    let old = sleeper(&d, "web");
    let (status, body) = d.post(RESTART, &json!({"service": "web"}));
    assert_eq!(status, 200, "{body}");
    let new = pid_of(&d, "web");
    assert_ne!(new, old, "a new process");
    assert_eq!(
        body,
        json!({"success": true, "service": "web", "action": "restart", "status": "running",
               "pid": new, "message": "web restarted"})
    );
    let events = d.events("web");
    assert!(
        events
            .iter()
            .any(|e| e["to"] == "stopping" && e["pid"] == old),
        "the old run was stopped: {}",
        tend_tests::describe_events(&events)
    );

    assert_error(
        d.post(RESTART, &json!({"service": "ghost"})),
        404,
        "not_found",
        None,
    );
    assert_error(d.post(RESTART, &json!({})), 422, "invalid", Some("service"));
    assert_error(
        d.post(RESTART, &json!({"service": "Bad Name"})),
        422,
        "invalid",
        Some("service"),
    );
    assert_error(
        d.post(RESTART, &json!({"service": "web", "force": true})),
        422,
        "invalid",
        Some("force"),
    );
    assert_error(
        send(
            d.request(Method::POST, RESTART)
                .header("content-type", "text/plain")
                .body("web"),
        ),
        415,
        "unsupported_media_type",
        None,
    );
    assert_eq!(pid_of(&d, "web"), new, "no refused request restarted it");
    // Other paths under the replaced dashboard's API are the API's 404, not the dashboard.
    assert_error(d.get("/dashboard/api/system/other"), 404, "not_found", None);
}

fn shell(command: &str) -> Value {
    json!({"command_type": "shell", "command": command, "is_safe": true})
}

/// The seed's custom-restart body, with its pre- and post-commands writing to `order.log`.
fn seed_body() -> Value {
    json!({
        "pre_commands": [shell("echo pre >> order.log")],
        "post_commands": [shell("echo \"Restart complete\" >> order.log")],
        "args": ["--config", "production.yaml"]
    })
}

/// Waits for the job at `location` to end; returns it.
fn finished(d: &Daemon, location: &str) -> Value {
    wait_for(Duration::from_secs(60), || {
        let (_, job) = d.get(location);
        match job["status"].as_str() {
            Some("queued" | "running") => Err(job.to_string()),
            _ => Ok(job),
        }
    })
    .unwrap()
}

fn submit(d: &Daemon, body: &Value) -> (u16, String, Value) {
    let resp = d.request(Method::POST, CUSTOM).json(body).send().unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, resp.json().unwrap())
}

#[test]
fn custom_restart_runs_the_workflow_on_the_named_or_the_default_service() {
    let d = Daemon::builder()
        .config_toml("[compat]\ndefault_service = \"main\"\n")
        .start();
    let old = sleeper(&d, "web");
    let mut body = seed_body();
    body["service"] = json!("web");
    let (status, location, job) = submit(&d, &body);
    assert_eq!(status, 202, "{job}");
    assert_eq!(
        location,
        format!("/api/jobs/{}", job["id"].as_str().unwrap())
    );
    assert_eq!(job["service"], "web", "{job}");
    let job = finished(&d, &location);
    assert_eq!(job["status"], "succeeded", "{job}");
    let new = pid_of(&d, "web");
    assert_ne!(new, old);
    let log = std::fs::read_to_string(d.scratch().join("order.log")).unwrap();
    assert_eq!(log, "pre\nRestart complete\n");
    let cmdline = std::fs::read(format!("/proc/{new}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).contains("production.yaml"),
        "the args reach the new run"
    );

    // Without `service`: `[compat] default_service`, here a service that does not exist (yet).
    assert_error(
        {
            let (s, _, b) = submit(&d, &seed_body());
            (s, b)
        },
        404,
        "not_found",
        None,
    );
    sleeper(&d, "main");
    let (status, location, job) = submit(&d, &json!({}));
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["service"], "main", "{job}");
    assert_eq!(finished(&d, &location)["status"], "succeeded");

    // Bad input names the field and runs nothing.
    let mut bad = seed_body();
    bad["service"] = json!(5);
    assert_eq!(submit(&d, &bad).0, 422);
    let mut bad = seed_body();
    bad["pre_commands"][0]["command_type"] = json!("powershell");
    let (status, _, err) = submit(&d, &bad);
    assert_eq!(status, 422, "{err}");
    assert_eq!(
        err["error"]["field"], "pre_commands[0].command_type",
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(d.scratch().join("order.log")).unwrap(),
        "pre\nRestart complete\n",
        "refused requests ran nothing"
    );
}

#[test]
fn custom_restart_without_service_or_default_names_service() {
    let d = Daemon::start();
    let (status, _, err) = submit(&d, &seed_body());
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "service", "{err}");
}

/// Signs in through a one-time code, as the dashboard does; the session cookie's secret.
fn session_cookie(d: &Daemon) -> String {
    let (status, code) = d.post_empty("/api/sessions/code");
    assert_eq!(status, 201, "{code}");
    let resp = d
        .request_anonymous(Method::POST, "/api/login")
        .header("origin", d.url())
        .json(&json!({"code": code["code"]}))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("tend_session=")
        .unwrap()
        .to_string()
}

#[test]
fn the_same_authentication_as_the_api() {
    let d = Daemon::start();
    let old = sleeper(&d, "web");
    for (method, path) in [
        (Method::GET, STATUS),
        (Method::POST, RESTART),
        (Method::POST, CUSTOM),
    ] {
        let anonymous = d
            .request_anonymous(method.clone(), path)
            .json(&json!({"service": "web"}));
        assert_error(send(anonymous), 401, "unauthorized", None);
        let wrong = d
            .request_anonymous(method, path)
            .bearer_auth("not-the-token")
            .json(&json!({"service": "web"}));
        assert_error(send(wrong), 401, "unauthorized", None);
    }
    assert_eq!(pid_of(&d, "web"), old, "nothing was restarted");

    let secret = session_cookie(&d);
    let cookie = format!("tend_session={secret}");
    let (status, body) = send(
        d.request_anonymous(Method::GET, STATUS)
            .header("cookie", &cookie),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["services"]["web"]["pid"], old);
    // A change made with the cookie must come from the dashboard's own origin (CSRF).
    assert_error(
        send(
            d.request_anonymous(Method::POST, RESTART)
                .header("cookie", &cookie)
                .json(&json!({"service": "web"})),
        ),
        403,
        "forbidden",
        Some("Origin"),
    );
    assert_error(
        send(
            d.request_anonymous(Method::POST, RESTART)
                .header("cookie", &cookie)
                .header("origin", "http://evil.example")
                .json(&json!({"service": "web"})),
        ),
        403,
        "forbidden",
        Some("Origin"),
    );
    assert_eq!(pid_of(&d, "web"), old, "nothing was restarted");
    let (status, body) = send(
        d.request_anonymous(Method::POST, RESTART)
            .header("cookie", &cookie)
            .header("origin", d.url())
            .json(&json!({"service": "web"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_ne!(pid_of(&d, "web"), old);
}
