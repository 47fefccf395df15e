//! One table of error codes for every front end. A table of bad requests is sent through REST and, as
//! raw bytes, through the control port: each answers the same code, and where the same value is to
//! blame the same field and message. REST's `invalid` always has one shape: 422
//! `{"error":{"code":"invalid","field","message"}}`, the message not repeating the field's name.

use reqwest::Method;
use tend_tests::{Control, Daemon, Value, json, secs, send, wait_for};

/// A running service the requests can name.
fn daemon() -> Daemon {
    let d = Daemon::builder().control().start();
    d.create(&d.service("web", json!(["sleep", "1000"])));
    d.wait_status("web", "running", secs(10));
    d
}

/// The services as listed, without the one field that changes by itself (`uptime_s`).
fn services(d: &Daemon) -> Value {
    let mut list = d.list();
    for s in list.as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("uptime_s");
    }
    list
}

/// A REST request of the table.
type Rest = Box<dyn Fn(&Daemon) -> (u16, Value)>;

fn get(path: &'static str) -> Rest {
    Box::new(move |d| d.get(path))
}

fn post(path: &'static str, body: Value) -> Rest {
    Box::new(move |d| d.post(path, &body))
}

fn post_empty(path: &'static str) -> Rest {
    Box::new(move |d| d.post_empty(path))
}

/// A POST whose body is sent as it is, typed as JSON.
fn post_raw(path: &'static str, body: &'static str) -> Rest {
    Box::new(move |d| {
        send(
            d.request(Method::POST, path)
                .header("content-type", "application/json")
                .body(body),
        )
    })
}

/// The error object of a control-port answer, asserting it is one.
fn control_error(c: &mut Control, line: &str) -> Value {
    let r = c.request(line);
    assert_eq!(r["ok"], false, "{line:?} answered {r}");
    r["error"].clone()
}

/// Asserts a REST error answer has `status` and `code`, and returns its error object.
fn rest_error(answer: &(u16, Value), status: u16, code: &str, what: &str) -> Value {
    let (got, body) = answer;
    assert_eq!(*got, status, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: an error has a message: {body}"
    );
    body["error"].clone()
}

/// Asserts `e` is an `invalid` naming `field`, with a message that does not start with the field.
fn assert_invalid_shape(e: &Value, field: &str, what: &str) {
    assert_eq!(e["code"], "invalid", "{what}: {e}");
    assert_eq!(e["field"], field, "{what}: {e}");
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        3,
        "{what}: code, field, message and nothing else: {e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        !message.starts_with(&format!("{field}:")),
        "{what}: the message repeats the field: {e}"
    );
}

#[test]
fn rest_and_the_control_port_answer_the_same_error_for_the_same_bad_request() {
    let d = daemon();
    // A job that has ended, to cancel too late.
    let (status, job) = d.post("/api/services/web/custom-restart", &json!({}));
    assert_eq!(status, 202, "{job}");
    let ended = job["id"].as_str().unwrap().to_string();
    wait_for(secs(30), || {
        let (_, j) = d.get(&format!("/api/jobs/{ended}"));
        match j["status"].as_str() {
            Some("queued" | "running") => Err(j.to_string()),
            _ => Ok(()),
        }
    })
    .unwrap();
    let cancel_ended: Rest = {
        let path = format!("/api/jobs/{ended}/cancel");
        Box::new(move |d| d.post_empty(&path))
    };

    // (REST request, control line, status, code, field): the same failure on both.
    let table: Vec<(Rest, String, u16, &str, Option<&str>)> = vec![
        (
            get("/api/services/nosuch"),
            "status nosuch".into(),
            404,
            "not_found",
            None,
        ),
        (
            post_empty("/api/services/nosuch/start"),
            "start nosuch".into(),
            404,
            "not_found",
            None,
        ),
        (
            post_empty("/api/services/nosuch/restart"),
            "restart nosuch".into(),
            404,
            "not_found",
            None,
        ),
        (
            get("/api/services/nosuch/logs"),
            "logs nosuch".into(),
            404,
            "not_found",
            None,
        ),
        (
            post_empty("/api/services/BAD/stop"),
            "stop BAD".into(),
            422,
            "invalid",
            Some("name"),
        ),
        (
            post_empty("/api/services/a.b/restart"),
            "restart a.b".into(),
            422,
            "invalid",
            Some("name"),
        ),
        (
            get("/api/services/BAD/logs"),
            "logs BAD".into(),
            422,
            "invalid",
            Some("name"),
        ),
        (
            post_raw("/api/services/web/custom-restart", "{not json"),
            "custom-restart web {not json".into(),
            422,
            "invalid",
            Some("body"),
        ),
        (
            post_raw("/api/services/web/custom-restart", "[1]"),
            "custom-restart web [1]".into(),
            422,
            "invalid",
            Some("body"),
        ),
        (
            post("/api/services/web/custom-restart", json!({"args": 5})),
            r#"custom-restart web {"args": 5}"#.into(),
            422,
            "invalid",
            Some("args"),
        ),
        (
            post("/api/services/web/custom-restart", json!({"bogus": true})),
            r#"custom-restart web {"bogus": true}"#.into(),
            422,
            "invalid",
            Some("bogus"),
        ),
        (
            post(
                "/api/services/web/custom-restart",
                json!({"args": vec!["x"; 65]}),
            ),
            format!("custom-restart web {}", json!({"args": vec!["x"; 65]})),
            422,
            "invalid",
            Some("args"),
        ),
        (
            post(
                "/api/services/web/custom-restart",
                json!({"pre_commands": [{"command_type": "python", "command": "x"}]}),
            ),
            r#"custom-restart web {"pre_commands": [{"command_type": "python", "command": "x"}]}"#
                .into(),
            422,
            "invalid",
            Some("pre_commands[0].command_type"),
        ),
        (
            post("/api/services/nosuch/custom-restart", json!({})),
            "custom-restart nosuch {}".into(),
            404,
            "not_found",
            None,
        ),
        (
            get("/api/jobs/999999"),
            "job 999999".into(),
            404,
            "not_found",
            None,
        ),
        (
            post_empty("/api/jobs/999999/cancel"),
            "cancel 999999".into(),
            404,
            "not_found",
            None,
        ),
        (
            cancel_ended,
            format!("cancel {ended}"),
            409,
            "conflict",
            None,
        ),
    ];

    let services_before = services(&d);
    let (_, jobs_before) = d.get("/api/jobs");
    let mut c = d.control_authed();
    for (rest, line, status, code, field) in &table {
        let over_rest = rest_error(&rest(&d), *status, code, line);
        let over_tcp = control_error(&mut c, line);
        assert_eq!(
            over_tcp, over_rest,
            "{line:?}: the control port and REST answer the same code, field and message"
        );
        match field {
            Some(field) => assert_invalid_shape(&over_rest, field, line),
            None => assert!(over_rest.get("field").is_none(), "{line:?}: {over_rest}"),
        }
    }
    assert_eq!(
        services(&d),
        services_before,
        "a rejected request changed a service"
    );
    assert_eq!(
        d.get("/api/jobs").1,
        jobs_before,
        "a rejected request recorded a job"
    );

    // Without authentication: the same code (the wording names each front end's way to log in).
    let anonymous = send(d.request_anonymous(Method::GET, "/api/status"));
    rest_error(&anonymous, 401, "unauthorized", "REST without a token");
    let mut fresh = d.control_conn();
    assert_eq!(control_error(&mut fresh, "status")["code"], "unauthorized");

    // Over the size limit: a body over 1 MiB, a line over max_line_bytes.
    let big = d.service_with(
        "big",
        json!(["true"]),
        json!({"env": {"A": "a".repeat(1 << 20)}}),
    );
    rest_error(
        &d.post("/api/services", &big),
        413,
        "too_large",
        "1 MiB body",
    );
    let mut line = vec![b'a'; 70_000];
    line.push(b'\n');
    c.send(&line);
    let r = c.response();
    assert_eq!(r["error"]["code"], "too_large", "{r}");
    assert_eq!(services(&d), services_before);
}

#[test]
fn every_invalid_rest_request_is_422_naming_the_field() {
    let d = daemon();
    let (status, job) = d.post(
        "/api/cron",
        &json!({"name": "nightly", "command": "true", "schedule": "@daily"}),
    );
    assert_eq!(status, 201, "{job}");
    let put = |path: &'static str, body: Value| -> Rest { Box::new(move |d| d.put(path, &body)) };
    let put_raw = |path: &'static str, body: &'static str| -> Rest {
        Box::new(move |d| {
            send(
                d.request(Method::PUT, path)
                    .header("content-type", "application/json")
                    .body(body),
            )
        })
    };
    // (request, field, what)
    let cases: Vec<(Rest, &str, &str)> = vec![
        (
            post_raw("/api/services", "{\"name\": "),
            "body",
            "malformed JSON",
        ),
        (
            post_raw("/api/services", "\"a string\""),
            "body",
            "a body that is not an object",
        ),
        (
            post("/api/services", json!({"name": "x", "command": 5})),
            "command",
            "wrong type",
        ),
        (
            post("/api/services", json!({"command": "true"})),
            "name",
            "missing field",
        ),
        (
            post(
                "/api/services",
                json!({"name": "x", "command": "true", "bogus": 1}),
            ),
            "bogus",
            "unknown field",
        ),
        (
            post("/api/services", json!({"name": "x", "command": ""})),
            "command",
            "validation",
        ),
        (get("/api/services/Bad%20Name"), "name", "name in the path"),
        (
            get("/api/services/web/logs?tail=x"),
            "tail",
            "query parameter type",
        ),
        (
            get("/api/services/web/logs?bogus=1"),
            "bogus",
            "unknown query parameter",
        ),
        (
            get("/api/services/web/logs?tail=10001"),
            "tail",
            "log limit",
        ),
        (
            get("/api/services/web/logs?limit=10001"),
            "limit",
            "log limit",
        ),
        (
            get("/api/services/web/logs?tail=1&after_id=1"),
            "tail",
            "tail with after_id",
        ),
        (
            get("/api/services/web/logs?since=yesterday"),
            "since",
            "log since",
        ),
        (
            get("/api/services/web/events?limit=x"),
            "limit",
            "events limit",
        ),
        (
            get("/api/services/web/metrics?step=fast"),
            "step",
            "metrics step",
        ),
        (
            get("/api/cron/nightly/executions?limit=0"),
            "limit",
            "executions limit",
        ),
        (
            get("/api/cron/validate"),
            "schedule",
            "cron validate without a schedule",
        ),
        (
            get("/api/cron/validate?schedule=nope"),
            "schedule",
            "cron validate",
        ),
        (
            get("/api/cron/validate?schedule=%40daily&count=0"),
            "count",
            "cron validate count",
        ),
        (
            get("/api/cron/validate?schedule=%40daily&timezone=Mars%2FOlympus"),
            "timezone",
            "cron validate timezone",
        ),
        (
            put(
                "/api/services/web",
                json!({"name": "other", "command": "true"}),
            ),
            "name",
            "service replace renaming",
        ),
        (
            put_raw("/api/services/web", "[1]"),
            "body",
            "service replace of a non-object",
        ),
        (
            put(
                "/api/cron/nightly",
                json!({"name": "other", "command": "true", "schedule": "@daily"}),
            ),
            "name",
            "cron replace renaming",
        ),
        (get("/api/jobs?status=bogus"), "status", "jobs status"),
        (get("/api/jobs?limit=0"), "limit", "jobs limit"),
        (get("/api/audit?limit=0"), "limit", "audit limit"),
        (get("/api/audit?origin=mars"), "origin", "audit origin"),
        (
            get("/api/supervisor/logs?tail=-1"),
            "tail",
            "supervisor logs tail",
        ),
        (
            post(
                "/api/policy/evaluate",
                json!({"command": {"command_type": "shell", "command": "true"}, "cwd": "rel"}),
            ),
            "cwd",
            "policy dry run cwd",
        ),
    ];
    let services_before = services(&d);
    for (request, field, what) in cases {
        let e = rest_error(&request(&d), 422, "invalid", what);
        assert_invalid_shape(&e, field, what);
    }
    assert_eq!(
        services(&d),
        services_before,
        "a rejected request changed a service"
    );
    assert_eq!(d.get("/api/cron/nightly").1["command"], "true");
}
