//! Dependency rejections: an unknown name, a cycle, a condition the dependency cannot meet (422 naming
//! the field), deleting a service others depend on (409 naming them); nothing changes on rejection.
//! `tend.toml` with a cycle: the daemon refuses to start, naming the cycle.

use tend_tests::{Daemon, json};

fn assert_invalid(code: u16, body: &serde_json::Value, field: &str, needle: &str) {
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {body}");
}

#[test]
fn unknown_cycle_and_impossible_conditions_are_rejected_and_change_nothing() {
    let d = Daemon::start();
    let before = d.list();

    // Unknown dependency.
    let (code, body) = d.post(
        "/api/services",
        &d.service_with("api", "exec sleep 1000", json!({"depends_on": ["nope"]})),
    );
    assert_invalid(code, &body, "depends_on", "\"nope\"");
    assert_eq!(d.list(), before, "nothing registered");

    // A cycle made by a replace.
    d.create(&d.service_with("a", "exec sleep 1000", json!({})));
    d.create(&d.service_with("b", "exec sleep 1000", json!({"depends_on": ["a"]})));
    let a_before = d.view("a");
    let (code, body) = d.put(
        "/api/services/a",
        &d.service_with("a", "exec sleep 1000", json!({"depends_on": ["b"]})),
    );
    assert_invalid(code, &body, "depends_on", "a -> b -> a");
    let a_after = d.view("a");
    assert_eq!(a_after["depends_on"], json!({}), "{a_after}");
    assert_eq!(a_after["pid"], a_before["pid"], "a was not restarted");

    // `healthy` on a service without a health check; `completed` on one that always restarts.
    let (code, body) = d.post(
        "/api/services",
        &d.service_with(
            "c",
            "exec sleep 1000",
            json!({"depends_on": {"a": {"condition": "healthy"}}}),
        ),
    );
    assert_invalid(code, &body, "depends_on.a.condition", "health check");
    let (code, body) = d.post(
        "/api/services",
        &d.service_with(
            "c",
            "exec sleep 1000",
            json!({"depends_on": {"a": {"condition": "completed"}}}),
        ),
    );
    assert_invalid(code, &body, "depends_on.a.condition", "restart");
    let (code, _) = d.get("/api/services/c");
    assert_eq!(code, 404, "c was not registered");

    // Deleting a dependency: 409 naming the dependent; both stay.
    let (code, body) = d.delete("/api/services/a");
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("\"b\""),
        "{body}"
    );
    assert_eq!(d.view("a")["status"], "running");
    // Once b no longer depends on it, a can go.
    let (code, body) = d.delete("/api/services/b");
    assert_eq!(code, 200, "{body}");
    let (code, body) = d.delete("/api/services/a");
    assert_eq!(code, 200, "{body}");
}

#[test]
fn a_tend_toml_with_a_cycle_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tend.toml"),
        "[services.a]\ncommand = \"sleep 1000\"\ndepends_on = [\"b\"]\n\n\
         [services.b]\ncommand = \"sleep 1000\"\ndepends_on = { a = { condition = \"started\" } }\n",
    )
    .unwrap();
    let err = tend_tests::refused_start(dir.path());
    assert!(
        err.contains("a -> b -> a"),
        "the error names the cycle: {err}"
    );

    std::fs::write(
        dir.path().join("tend.toml"),
        "[services.a]\ncommand = \"sleep 1000\"\ndepends_on = [\"ghost\"]\n",
    )
    .unwrap();
    let err = tend_tests::refused_start(dir.path());
    assert!(
        err.contains("depends_on") && err.contains("\"ghost\""),
        "the error names the field and the name: {err}"
    );
}
