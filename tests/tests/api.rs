//! The REST surface: the CRUD round trip, status, and every kind of bad request, each of which must
//! answer the contract's status and error code and change nothing.

use reqwest::Method;
use tend_tests::{Daemon, Value, json, pid_alive, secs, send};

/// A daemon holding one disabled service, so the list is non-empty and stable between calls.
fn daemon_with_a_service() -> Daemon {
    let d = Daemon::start();
    d.create(&d.service_with(
        "existing",
        json!(["sleep", "1000"]),
        json!({"enabled": false}),
    ));
    d
}

fn assert_error(answer: &(u16, Value), status: u16, code: &str, field: Option<&str>) {
    let (got, body) = answer;
    assert_eq!(*got, status, "answer: {body}");
    assert_eq!(body["error"]["code"], code, "answer: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without a message: {body}"
    );
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "answer: {body}");
    }
}

/// Sends `req` and asserts the error, and that the service list did not change.
fn rejected(
    d: &Daemon,
    answer: impl FnOnce() -> (u16, Value),
    status: u16,
    code: &str,
    field: Option<&str>,
) {
    let before = d.list();
    let got = answer();
    assert_error(&got, status, code, field);
    assert_eq!(
        d.list(),
        before,
        "a rejected request changed the service list"
    );
}

#[test]
fn healthz_needs_no_token() {
    let d = Daemon::start();
    let got = send(d.request_anonymous(Method::GET, "/healthz"));
    assert_eq!(got, (200, json!({"status": "ok"})));
}

#[test]
fn missing_or_wrong_token_is_401() {
    let d = daemon_with_a_service();
    rejected(
        &d,
        || send(d.request_anonymous(Method::GET, "/api/services")),
        401,
        "unauthorized",
        None,
    );
    let wrong = || {
        d.request_anonymous(Method::GET, "/api/services")
            .bearer_auth("not-the-token")
    };
    rejected(&d, || send(wrong()), 401, "unauthorized", None);
    let spec = d.service("sneaky", json!(["sleep", "1"]));
    let post = || {
        send(
            d.request_anonymous(Method::POST, "/api/services")
                .bearer_auth("x")
                .json(&spec),
        )
    };
    rejected(&d, post, 401, "unauthorized", None);
    let delete = || send(d.request_anonymous(Method::DELETE, "/api/services/existing"));
    rejected(&d, delete, 401, "unauthorized", None);
    let shutdown = || send(d.request_anonymous(Method::POST, "/api/supervisor/shutdown"));
    rejected(&d, shutdown, 401, "unauthorized", None);
    assert_eq!(d.get("/healthz").0, 200, "the daemon still runs");
}

#[test]
fn semantically_invalid_specs_are_422_naming_the_field() {
    let d = daemon_with_a_service();
    let cases = [
        (d.service("Bad Name", json!(["true"])), "name"),
        (d.service("../etc", json!(["true"])), "name"),
        (d.service("", json!(["true"])), "name"),
        (d.service("empty", ""), "command"),
        (d.service("empty-argv", json!([])), "command"),
        (
            d.service_with(
                "nowhere",
                json!(["true"]),
                json!({"working_dir": "/no/such/dir/anywhere"}),
            ),
            "working_dir",
        ),
        (
            d.service_with("sig", json!(["true"]), json!({"stop_signal": "SIGNOPE"})),
            "stop_signal",
        ),
        (
            d.service_with("port", json!(["true"]), json!({"port": 0})),
            "port",
        ),
    ];
    for (spec, field) in cases {
        rejected(
            &d,
            || d.post("/api/services", &spec),
            422,
            "invalid",
            Some(field),
        );
    }
    assert!(
        !d.data_dir().join("etc").exists()
            && !d.data_dir().join("logs").join("..").join("etc").exists()
    );
}

#[test]
fn malformed_bodies_are_422_invalid() {
    let d = daemon_with_a_service();
    let d = &d;
    let raw = |body: &'static str| {
        move || {
            send(
                d.request(Method::POST, "/api/services")
                    .header("content-type", "application/json")
                    .body(body),
            )
        }
    };
    rejected(
        d,
        raw(r#"{"name": "x", "command": "#),
        422,
        "invalid",
        Some("body"),
    );
    rejected(d, raw("not json at all"), 422, "invalid", Some("body"));
    let unknown = d.service_with("x", json!(["true"]), json!({"bogus": 1}));
    rejected(
        d,
        || d.post("/api/services", &unknown),
        422,
        "invalid",
        Some("bogus"),
    );
    let wrong_type = d.service_with("x", json!(["true"]), json!({"port": "eighty"}));
    rejected(
        d,
        || d.post("/api/services", &wrong_type),
        422,
        "invalid",
        Some("port"),
    );
    let put_unknown = json!({"command": ["true"], "bogus": 1});
    rejected(
        d,
        || d.put("/api/services/existing", &put_unknown),
        422,
        "invalid",
        Some("bogus"),
    );
}

#[test]
fn invalid_names_in_the_path_are_422_invalid() {
    let d = daemon_with_a_service();
    for path in [
        "/api/services/Bad%20Name",
        "/api/services/..%2Fetc",
        "/api/services/..%2F..%2Fetc%2Fpasswd/logs",
    ] {
        rejected(&d, || d.get(path), 422, "invalid", Some("name"));
    }
    rejected(
        &d,
        || d.delete("/api/services/..%2Fexisting"),
        422,
        "invalid",
        Some("name"),
    );
    rejected(
        &d,
        || d.post_empty("/api/services/UPPER/start"),
        422,
        "invalid",
        Some("name"),
    );
}

#[test]
fn oversize_body_is_413() {
    let d = daemon_with_a_service();
    let big = d.service_with(
        "big",
        json!(["true"]),
        json!({"env": {"BIG": "a".repeat(1024 * 1024 + 100)}}),
    );
    rejected(&d, || d.post("/api/services", &big), 413, "too_large", None);
}

#[test]
fn body_without_json_content_type_is_415() {
    let d = daemon_with_a_service();
    let body = d.service("typed", json!(["true"])).to_string();
    let text_plain = || {
        send(
            d.request(Method::POST, "/api/services")
                .header("content-type", "text/plain")
                .body(body.clone()),
        )
    };
    rejected(&d, text_plain, 415, "unsupported_media_type", None);
    let none = || send(d.request(Method::POST, "/api/services").body(body.clone()));
    rejected(&d, none, 415, "unsupported_media_type", None);
}

#[test]
fn duplicate_name_is_409() {
    let d = daemon_with_a_service();
    let dup = d.service("existing", json!(["sleep", "5"]));
    rejected(&d, || d.post("/api/services", &dup), 409, "conflict", None);
    assert_eq!(
        d.view("existing")["command"],
        json!(["sleep", "1000"]),
        "the original spec is kept"
    );
}

#[test]
fn unknown_service_and_route_are_404() {
    let d = daemon_with_a_service();
    rejected(&d, || d.get("/api/services/nope"), 404, "not_found", None);
    rejected(
        &d,
        || d.post_empty("/api/services/nope/start"),
        404,
        "not_found",
        None,
    );
    rejected(
        &d,
        || d.post_empty("/api/services/nope/stop"),
        404,
        "not_found",
        None,
    );
    rejected(
        &d,
        || d.post_empty("/api/services/nope/restart"),
        404,
        "not_found",
        None,
    );
    rejected(
        &d,
        || d.delete("/api/services/nope"),
        404,
        "not_found",
        None,
    );
    rejected(&d, || d.get("/api/nothing-here"), 404, "not_found", None);
}

#[test]
fn create_get_put_delete_round_trip() {
    let d = Daemon::start();
    let spec = d.service_with("web", json!(["sleep", "1000"]), json!({"port": 8080}));
    let created = d.create(&spec);
    assert_eq!(created["name"], "web");
    assert_eq!(created["source"], "api");
    assert_eq!(created["port"], 8080);
    // Defaults are filled in and echoed.
    assert_eq!(created["restart"], "always", "{created}");
    assert_eq!(created["max_restarts"], 10, "{created}");
    assert_eq!(created["stop_signal"], "SIGTERM", "{created}");
    assert_eq!(created["stop_timeout_s"], 10, "{created}");
    assert_eq!(created["enabled"], true, "{created}");
    assert_eq!(created["backoff"]["initial_delay_ms"], 1000, "{created}");
    assert_eq!(created["restart_count"], 0, "{created}");

    let running = d.wait_status("web", "running", secs(10));
    let first = running["pid"].as_u64().unwrap() as u32;
    let list = d.list();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["name"], "web");

    // PUT without a name; the running service restarts with the new spec.
    let mut changed = spec.clone();
    changed.as_object_mut().unwrap().remove("name");
    changed["env"]["VERSION"] = json!("2");
    changed["port"] = json!(8081);
    let (code, updated) = d.put("/api/services/web", &changed);
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["port"], 8081, "{updated}");
    let rerun = tend_tests::wait_for(secs(10), || {
        let v = d.view("web");
        match v["pid"].as_u64() {
            Some(pid) if pid as u32 != first && v["status"] == "running" => Ok(pid as u32),
            _ => Err(v.to_string()),
        }
    })
    .unwrap();
    assert!(!pid_alive(first), "the old process survived the PUT");
    assert!(
        tend_tests::service_environ(rerun)
            .iter()
            .any(|kv| kv == "VERSION=2"),
        "the new process runs the new spec"
    );

    // The view itself, runtime fields and all, can be edited and PUT back.
    let mut view = d.view("web");
    view["port"] = json!(8082);
    let (code, updated) = d.put("/api/services/web", &view);
    assert_eq!(code, 200, "GET, edit, PUT round trip: {updated}");
    assert_eq!(updated["port"], 8082, "{updated}");
    let rerun = tend_tests::wait_for(secs(10), || {
        let v = d.view("web");
        match v["pid"].as_u64() {
            Some(pid) if pid as u32 != rerun && v["status"] == "running" => Ok(pid as u32),
            _ => Err(v.to_string()),
        }
    })
    .unwrap();

    // A name in the body must match the path.
    let mut mismatched = changed.clone();
    mismatched["name"] = json!("other");
    let (code, body) = d.put("/api/services/web", &mismatched);
    assert_eq!(code, 422, "PUT with a different name: {body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    assert_eq!(body["error"]["field"], "name", "{body}");
    assert_eq!(
        d.view("web")["pid"],
        rerun,
        "a rejected PUT does not restart the service"
    );

    let (code, deleted) = d.delete("/api/services/web");
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(deleted["name"], "web", "{deleted}");
    assert_eq!(deleted["action"], "delete", "{deleted}");
    assert!(
        !pid_alive(rerun),
        "DELETE returned while the process still runs"
    );
    assert_eq!(d.get("/api/services/web").0, 404);
    assert_eq!(d.list(), json!([]));
    assert!(tend_tests::processes_with_marker(d.marker()).is_empty());
}

#[test]
fn env_file_then_env_then_contract_variables() {
    let d = Daemon::start();
    let dir = d.scratch();
    std::fs::write(
        dir.join("svc.env"),
        "# comment\nFROM_FILE=file\nOVERRIDDEN=file\n",
    )
    .unwrap();
    let spec = d.service_with(
        "envy",
        json!(["sleep", "1000"]),
        json!({"working_dir": dir, "env_file": "svc.env", "env": {"OVERRIDDEN": "env"}}),
    );
    d.create(&spec);
    let view = d.wait_status("envy", "running", secs(10));
    let env = tend_tests::service_environ(view["pid"].as_u64().unwrap() as u32);
    for want in ["FROM_FILE=file", "OVERRIDDEN=env", "TEND_SERVICE=envy"] {
        assert!(
            env.iter().any(|kv| kv == want),
            "{want} missing from {env:?}"
        );
    }
    let cwd = std::fs::read_link(format!("/proc/{}/cwd", view["pid"])).unwrap();
    assert_eq!(
        cwd,
        dir.canonicalize().unwrap(),
        "working_dir is the process's cwd"
    );
}

#[test]
fn status_reports_the_supervisor_and_every_service() {
    let d = daemon_with_a_service();
    d.create(&d.service("runner", json!(["sleep", "1000"])));
    d.wait_status("runner", "running", secs(10));
    let (code, status) = d.get("/api/status");
    assert_eq!(code, 200, "{status}");
    let sup = &status["supervisor"];
    assert_eq!(sup["pid"], d.pid(), "{status}");
    assert_eq!(sup["managed_services"], 2, "{status}");
    assert_eq!(sup["counts"]["running"], 1, "{status}");
    assert_eq!(sup["counts"]["stopped"], 1, "{status}");
    assert_eq!(
        std::path::Path::new(sup["data_dir"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        d.data_dir().canonicalize().unwrap()
    );
    assert_eq!(
        status["services"]["runner"]["status"], "running",
        "{status}"
    );
    assert_eq!(
        status["services"]["existing"]["status"], "stopped",
        "{status}"
    );
}

#[test]
fn supervisor_logs_are_json_records() {
    let d = Daemon::start();
    let (code, body) = d.get("/api/supervisor/logs?tail=5");
    assert_eq!(code, 200, "{body}");
    let lines = body["lines"].as_array().unwrap_or_else(|| panic!("{body}"));
    assert!(!lines.is_empty() && lines.len() <= 5, "{body}");
    assert!(lines.iter().all(Value::is_object), "{body}");
}
