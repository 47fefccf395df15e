//! `GET /api/openapi.json`: served without a token, a valid OpenAPI 3.1 document by a validator nobody
//! here wrote (`openapi-spec-validator` from PyPI; a broken copy of the same document fails it, so the
//! check can fail), and true to the daemon: every documented route is served, needs what the document
//! says it needs, and the error shape it names is the one the daemon answers.

use std::process::Command;

use reqwest::Method;
use tend_tests::tools::tool;
use tend_tests::{Daemon, Value, json, send};

fn document(d: &Daemon) -> Value {
    let response = d
        .request_anonymous(Method::GET, "/api/openapi.json")
        .send()
        .expect("GET /api/openapi.json");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    response.json().expect("the document is JSON")
}

/// Runs openapi-spec-validator over `doc`; its exit status and what it printed.
fn validate(d: &Daemon, name: &str, doc: &Value) -> (bool, String) {
    let path = d.scratch().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = Command::new(tool("openapi-spec-validator"))
        .arg(&path)
        .output()
        .expect("run openapi-spec-validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

#[test]
fn the_document_validates_and_a_broken_copy_does_not() {
    let d = Daemon::start();
    let doc = document(&d);
    assert_eq!(doc["openapi"], "3.1.0");
    let (ok, text) = validate(&d, "openapi.json", &doc);
    assert!(ok, "openapi-spec-validator refused the document: {text}");

    // The same document with one operation's answers replaced by a string: the validator must say so.
    let mut broken = doc;
    broken["paths"]["/api/services"]["get"]["responses"] = json!("none");
    let (ok, text) = validate(&d, "broken.json", &broken);
    assert!(!ok, "a broken document passed: {text}");
}

#[test]
fn every_route_is_documented_with_its_inputs_answers_and_the_bearer_scheme() {
    let d = Daemon::start();
    let doc = document(&d);
    let ops = operations(&doc);
    let ids: Vec<&str> = ops
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicate operation ids: {ids:?}");
    for (method, path) in [
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("post", "/api/login"),
        ("get", "/api/openapi.json"),
        ("post", "/api/services"),
        ("put", "/api/services/{name}"),
        ("get", "/api/services/{name}/logs/follow"),
        ("get", "/api/services/{name}/logs/download"),
        ("get", "/api/cron/{name}/executions/{id}"),
        ("post", "/api/supervisor/shutdown"),
        ("get", "/api/events"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["in"],
        "cookie"
    );

    let services = &doc["paths"]["/api/services"];
    assert_eq!(
        services["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ServiceSpec"
    );
    for status in ["201", "401", "409", "413", "415", "422"] {
        assert!(
            services["post"]["responses"][status].is_object(),
            "POST /api/services {status}"
        );
    }
    let error = &services["post"]["responses"]["422"]["content"]["application/json"]["schema"];
    assert_eq!(error["$ref"], "#/components/schemas/ErrorBody");
    let logs = &doc["paths"]["/api/services/{name}/logs"]["get"];
    let params: Vec<&str> = logs["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["name", "tail", "after_id", "stream", "q", "regex"] {
        assert!(params.contains(&p), "logs parameter {p}: {params:?}");
    }
    let follow = &doc["paths"]["/api/services/{name}/logs/follow"]["get"]["responses"]["200"];
    assert!(
        follow["content"]["text/event-stream"].is_object(),
        "{follow}"
    );
    let download = &doc["paths"]["/api/services/{name}/logs/download"]["get"]["responses"]["200"];
    assert!(download["content"]["text/plain"].is_object(), "{download}");

    // `depends_on` as compose writes it: a list of names or a map; `command` a string or an argv.
    let spec = &doc["components"]["schemas"]["ServiceSpec"]["properties"];
    assert_eq!(
        spec["depends_on"]["$ref"],
        "#/components/schemas/Dependencies"
    );
    let depends_on = &doc["components"]["schemas"]["Dependencies"]["oneOf"];
    assert_eq!(depends_on[0]["type"], "array", "{depends_on}");
    assert_eq!(depends_on[1]["type"], "object", "{depends_on}");
    let command = &doc["components"]["schemas"]["CommandLine"];
    assert!(
        command["oneOf"].as_array().is_some_and(|o| o.len() == 2),
        "{command}"
    );
    let required = doc["components"]["schemas"]["ServiceSpec"]["required"].clone();
    assert_eq!(
        required,
        json!(["name", "command"]),
        "only what has no default is required"
    );
}

/// What the document says about credentials is what the daemon enforces: every operation needing
/// them answers 401 without them, every one that does not answers something else.
#[test]
fn the_documented_security_is_what_the_daemon_enforces() {
    let d = Daemon::start();
    let doc = document(&d);
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        // Concrete values for path parameters: whatever they name need not exist, 401 comes first.
        let url = path.replace("{name}", "nosuch").replace("{id}", "1");
        let open = op["security"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_object().is_some_and(|o| o.is_empty()));
        // Streams and the shutdown are not opened: only their refusal is asked for.
        if open && (path == "/api/supervisor/shutdown" || url.contains("follow")) {
            continue;
        }
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, body) = send(
            d.request_anonymous(m, &url)
                .header("content-type", "application/json")
                .body("{}"),
        );
        if open {
            assert_ne!(status, 401, "{method} {path} is documented as open: {body}");
        } else {
            assert_eq!(status, 401, "{method} {path} without a token: {body}");
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} lacks 401"
            );
            assert_eq!(
                body["error"]["code"], "unauthorized",
                "{method} {path}: {body}"
            );
        }
        checked += 1;
    }
    assert!(checked > 60, "only {checked} operations checked");
}
