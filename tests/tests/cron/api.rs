//! The API around jobs: validation errors naming the field (store unchanged), CRUD, pagination, the
//! config-file ownership rule, one execution with its output while it runs, and the `tend cron` CLI
//! with its exit codes.

use chrono::{Datelike, Timelike};
use tend_tests::{Daemon, Value, json, merge, secs, wait_for};

use super::{create, executions, finished, job, run_now, wait_execs};

#[test]
fn invalid_schedules_and_zones_are_rejected_naming_the_field() {
    let d = Daemon::start();
    let cases = [
        ("schedule=61%20*%20*%20*%20*", "schedule", "minute"),
        ("schedule=*%20*%20*%20*%208", "schedule", "day-of-week"),
        ("schedule=%40reboot", "schedule", "macro"),
        ("schedule=*%20*%20*", "schedule", "5 fields"),
        (
            "schedule=%40daily&timezone=Mars%2FOlympus",
            "timezone",
            "Mars/Olympus",
        ),
        ("timezone=UTC", "schedule", "required"),
    ];
    for (query, field, words) in cases {
        let (status, body) = d.get(&format!("/api/cron/validate?{query}"));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid", "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(words),
            "{query}: {body}"
        );
    }
    let (status, body) = d.get("/api/cron/validate?schedule=0%209%20*%20*%201&timezone=UTC");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"], "At 09:00, on Monday");
    let next = body["next"].as_array().unwrap();
    assert_eq!(next.len(), 5);
    for t in next {
        let t = chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap();
        assert_eq!((t.weekday(), t.hour()), (chrono::Weekday::Mon, 9), "{body}");
    }

    let bad = [
        (json!({"schedule": "* 25 * * *"}), 422, "schedule"),
        (json!({"timezone": "Nowhere/Land"}), 422, "timezone"),
        (json!({"overlap": "sometimes"}), 422, "overlap"),
        (json!({"bogus": 1}), 422, "bogus"),
        (json!({"timeout": 0}), 422, "timeout"),
        (json!({"working_dir": "/no/such/dir"}), 422, "working_dir"),
    ];
    for (patch, code, field) in bad {
        let spec = job(&d, "bad", "true", "@daily", patch.clone());
        let (status, body) = d.post("/api/cron", &spec);
        assert_eq!(status, code, "{patch}: {body}");
        assert_eq!(body["error"]["field"], field, "{patch}: {body}");
    }
    let (_, list) = d.get("/api/cron");
    assert_eq!(list, json!([]), "a rejected request changed the store");
}

#[test]
fn crud_pagination_and_config_file_ownership() {
    let d = Daemon::builder()
        .config_toml("[cron.filejob]\ncommand = \"true\"\nschedule = \"@daily\"\n")
        .start();
    let spec = job(
        &d,
        "api",
        "true",
        "0 3 * * *",
        json!({"overlap": "allow", "enabled": false}),
    );
    let view = create(&d, &spec);
    assert_eq!(view["source"], "api");
    assert!(
        view.get("next_run_at").is_none_or(Value::is_null),
        "disabled: {view}"
    );
    assert_eq!(d.post("/api/cron", &spec).0, 409);
    let (status, v) = d.put(
        "/api/cron/api",
        &merge(
            spec.clone(),
            json!({"enabled": true, "schedule": "0 4 * * *"}),
        ),
    );
    assert_eq!(status, 200, "{v}");
    assert!(
        v["next_run_at"]
            .as_str()
            .unwrap()
            .ends_with("T04:00:00.000000Z"),
        "{v}"
    );
    let (status, list) = d.get("/api/cron");
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "filejob"]);

    for _ in 0..3 {
        run_now(&d, "api");
    }
    wait_execs(&d, "api", secs(20), "3 finished runs", |e| {
        finished(e).len() == 3
    });
    let (_, page) = d.get("/api/cron/api/executions?limit=2");
    assert_eq!(page["executions"].as_array().unwrap().len(), 2, "{page}");
    let before = page["next_before_id"].as_i64().expect("a next page");
    let (_, rest) = d.get(&format!(
        "/api/cron/api/executions?limit=2&before_id={before}"
    ));
    assert_eq!(rest["executions"].as_array().unwrap().len(), 1, "{rest}");
    assert!(
        rest.get("next_before_id").is_none_or(Value::is_null),
        "{rest}"
    );

    // A view can be edited and sent back: its read-only fields are ignored.
    let (_, mut view) = d.get("/api/cron/api");
    view["timeout"] = json!(42);
    let (status, v) = d.put("/api/cron/api", &view);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["timeout"], 42);

    let file_spec = job(&d, "filejob", "false", "@daily", json!({}));
    assert_eq!(d.put("/api/cron/filejob", &file_spec).0, 409);
    assert_eq!(d.put("/api/cron/filejob", &json!({"bogus": 1})).0, 409);
    assert_eq!(d.delete("/api/cron/filejob").0, 409);
    assert_eq!(d.get("/api/cron/filejob").1["source"], "config");

    assert_eq!(d.delete("/api/cron/api").0, 200);
    assert_eq!(d.get("/api/cron/api").0, 404);
    assert_eq!(d.post_empty("/api/cron/api/run").0, 404);
    assert_eq!(d.get("/api/cron/Bad%20Name").0, 422);
}

/// `tick`, `status` and `validate` are fixed routes under `/api/cron/`, so no job may take those names:
/// refused over REST (422 naming `name`, saying why, nothing stored) and in `tend.toml` (the daemon
/// does not start).
#[test]
fn fixed_route_names_are_reserved_for_cron_jobs() {
    let d = Daemon::start();
    for name in ["tick", "status", "validate"] {
        let (status, body) = d.post("/api/cron", &job(&d, name, "true", "@daily", json!({})));
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["error"]["field"], "name", "{name}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("reserved") && message.contains(&format!("/api/cron/{name}")),
            "{name}: the message says why: {body}"
        );
    }
    assert_eq!(d.get("/api/cron").1, json!([]), "nothing was stored");
    // Names that merely start like a fixed route are fine.
    create(&d, &job(&d, "ticker", "true", "@daily", json!({})));
    assert_eq!(d.get("/api/cron/ticker").0, 200);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tend.toml"),
        "[cron.status]\ncommand = \"true\"\nschedule = \"@daily\"\n",
    )
    .unwrap();
    let err = tend_tests::refused_start(dir.path());
    assert!(
        err.contains("status") && err.contains("name") && err.contains("reserved"),
        "the error names the job, the field and why: {err}"
    );
}

/// `GET /api/cron/{name}/executions/{id}` shows a running execution's output so far (from its log
/// file), then, once it ended, the stored output: the same item as in the executions list.
#[test]
fn one_execution_shows_its_output_while_it_runs() {
    let d = Daemon::start();
    let go = d.scratch().join("go");
    let script = r#"echo first-line; echo warned >&2; while [ ! -e "$GO" ]; do sleep 0.02; done; echo second-line"#;
    create(
        &d,
        &job(
            &d,
            "live",
            script,
            "@yearly",
            json!({"env_vars": {"GO": go}}),
        ),
    );
    let id = run_now(&d, "live");
    let path = format!("/api/cron/live/executions/{id}");
    // Both streams: stdout and stderr are read from separate pipes, so a snapshot may hold one
    // stream's line before the other's.
    let running = wait_for(secs(10), || match d.get(&path) {
        (200, e)
            if e["status"] == "running"
                && e["stdout"]["text"] == "first-line\n"
                && e["stderr"]["text"] == "warned\n" =>
        {
            Ok(e)
        }
        (code, e) => Err(format!("{code} {e}")),
    })
    .unwrap();
    assert_eq!(running["id"], id, "{running}");
    assert_eq!(running["stdout"]["truncated"], false, "{running}");
    assert_eq!(running["stdout"]["bytes"], 11, "{running}");
    assert_eq!(running["stderr"]["text"], "warned\n", "{running}");

    std::fs::write(&go, "").unwrap();
    let done = wait_for(secs(10), || match d.get(&path) {
        (200, e) if e["status"] == "succeeded" => Ok(e),
        (code, e) => Err(format!("{code} {e}")),
    })
    .unwrap();
    assert_eq!(
        done["stdout"]["text"], "first-line\nsecond-line\n",
        "{done}"
    );
    let listed = executions(&d, "live");
    assert_eq!(listed.first(), Some(&done), "the list's item is the same");

    for (bad, code) in [
        (format!("/api/cron/live/executions/{}", id + 1000), 404),
        (format!("/api/cron/nojob/executions/{id}"), 404),
    ] {
        assert_eq!(d.get(&bad).0, code, "{bad}");
    }
    let (code, body) = d.get("/api/cron/live/executions/latest");
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["field"], "id", "{body}");
}

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cli_cron_commands() {
    let d = Daemon::start();
    let ok = |args: &[&str]| {
        let o = d.cli(args);
        assert!(
            o.status.success(),
            "{args:?}: {}{}",
            out(&o),
            String::from_utf8_lossy(&o.stderr)
        );
        out(&o)
    };
    let text = ok(&[
        "cron",
        "add",
        "hello",
        "--schedule",
        "@yearly",
        "--timezone",
        "UTC",
        "--shell",
        "echo hello from cron",
    ]);
    assert!(
        text.starts_with("added cron job hello, next run in "),
        "{text}"
    );
    let text = ok(&["cron", "ls"]);
    assert!(
        text.starts_with("NAME   SCHEDULE  TIMEZONE  NEXT"),
        "{text}"
    );
    assert!(text.contains("hello  @yearly   UTC"), "{text}");
    let text = ok(&["cron", "run", "hello"]);
    // `echo` may be done before the API answers: then the run is reported with its end.
    assert!(
        text.starts_with("started execution 1 of hello")
            || text.starts_with("execution 1 of hello: succeeded"),
        "{text}"
    );
    wait_execs(&d, "hello", secs(20), "the run to end", |e| {
        finished(e).len() == 1
    });
    let text = ok(&["cron", "history", "hello", "--output"]);
    assert!(text.contains("manual   succeeded"), "{text}");
    assert!(text.contains("hello from cron"), "{text}");
    let json: Value = serde_json::from_str(&ok(&["--json", "cron", "history", "hello"])).unwrap();
    assert_eq!(json["executions"][0]["status"], "succeeded");
    let text = ok(&[
        "cron",
        "validate",
        "*/15 * * * *",
        "--timezone",
        "UTC",
        "-n",
        "2",
    ]);
    assert!(text.starts_with("Every 15 minutes\n"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");
    let text = ok(&["cron", "stop", "hello"]);
    assert_eq!(text, "nothing of hello was running\n");
    let text = ok(&["cron", "rm", "hello"]);
    assert_eq!(text, "removed cron job hello\n");

    let bad = d.cli(&["cron", "validate", "61 * * * *"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("minute field"),
        "{bad:?}"
    );
    assert_eq!(d.cli(&["cron", "rm", "hello"]).status.code(), Some(3));
    assert_eq!(
        d.cli(&["cron", "add", "x", "--", "true"]).status.code(),
        Some(2)
    );
}
