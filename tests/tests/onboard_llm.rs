//! The onboarder's refinement against a scripted OpenAI-compatible server (real HTTP on loopback):
//! `GET /api/onboard/preview?model=local` sends exactly one request (a system and a user message, the
//! user message a JSON object with the project's files, the deterministic plan and the free ports, a
//! response schema, never a `.env` value); a valid answer changes the plan as told (author `model`);
//! an answer naming a port not offered or a working dir not in the project is rejected with the
//! reason, leaving the deterministic plan; usage shows under purpose `onboard` on `GET /api/llm`;
//! without `model` nothing reaches the server.

use tend_tests::llm_script::{Recorded, Reply, ScriptedLlm, openai};
use tend_tests::onboard::{OnboardDaemon, plan_of, planned_services, preview};
use tend_tests::{Value, json};

use crate::llm_gateway::{KEY, openai_config};

const SECRET: &str = "s3cr3t-onboard-value-1234";

fn daemon(server: &ScriptedLlm) -> OnboardDaemon {
    OnboardDaemon::start_with(&openai_config(server, "stream = false"), |b| {
        b.env("TEND_TEST_LLM_KEY", KEY)
    })
}

/// The user message of a refinement request, parsed.
fn user_message(r: &Recorded) -> Value {
    let body = r.json();
    let messages = body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "a system and a user message: {body}");
    assert_eq!(messages[0]["role"], "system", "{body}");
    assert!(
        messages[0]["content"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    assert_eq!(messages[1]["role"], "user", "{body}");
    let content = messages[1]["content"].as_str().expect("text content");
    serde_json::from_str(content)
        .unwrap_or_else(|e| panic!("the user message is a JSON object ({e}): {content}"))
}

/// The scripted answer: `answer` as the message content.
fn answer(server: &ScriptedLlm, answer: &Value) {
    server.push(Reply::json(
        200,
        openai::text(&answer.to_string(), 900, 120),
    ));
}

/// An answer fitting the schema that no plan can take (a service with no argv): asked first, to read
/// what the request holds before scripting the real answer.
fn placeholder() -> Value {
    json!({
        "services": [{"name": "x", "argv": [], "working_dir": ".", "port": null, "env": {},
                      "health_path": null, "reason": "placeholder"}],
        "cron_jobs": [], "setup": [], "notes": [],
    })
}

/// The model's answer keeping the plan's service but renamed, moved to `port`, with `argv` and an
/// extra variable; `working_dir` as the request gave it (or `dir` when given).
fn refined(sent: &Value, port: Value, dir: Option<&str>) -> Value {
    let s = &sent["plan"]["services"][0];
    let working_dir = dir.map_or_else(|| s["working_dir"].clone(), |d| json!(d));
    json!({
        "services": [{
            "name": "refined-web",
            "argv": ["python3", "server.py", "--refined"],
            "working_dir": working_dir,
            "port": port,
            "env": {"REFINED": "yes"},
            "health_path": "/",
            "reason": "the README says so",
        }],
        "cron_jobs": [],
        "setup": [],
        "notes": ["refined by the test model"],
    })
}

#[test]
fn a_valid_refinement_changes_the_plan_as_told() {
    let server = ScriptedLlm::start();
    let d = daemon(&server);
    let root = d.project("env-secret");

    // Without a model no request reaches the server.
    let plain = plan_of(&d, &root);
    assert_eq!(plain["author"], "rule", "{plain}");
    assert!(server.requests().is_empty(), "no model, no request");
    let det = &planned_services(&plain)[0];

    // First a request we answer with an invalid plan, to read what is sent; then the real answer.
    answer(&server, &placeholder());
    let (status, _) = preview(&d, root.to_str().unwrap(), &[("model", "local")]);
    assert_eq!(status, 200);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "one request per refinement");
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    let body = r.json();
    assert_eq!(body["model"], "scripted-model", "{body}");
    assert!(
        body["response_format"]["json_schema"]["schema"].is_object(),
        "a response schema: {body}"
    );
    let schema = body["response_format"]["json_schema"]["schema"].to_string();
    for key in [
        "services",
        "cron_jobs",
        "setup",
        "notes",
        "argv",
        "working_dir",
    ] {
        assert!(schema.contains(key), "{key} in the schema: {schema}");
    }
    let sent = user_message(r);
    assert_eq!(sent["project"], "env-secret", "{sent}");
    assert!(
        sent["files"].as_array().is_some_and(|f| !f.is_empty()),
        "the project's files: {sent}"
    );
    let free: Vec<u64> = sent["free_ports"]
        .as_array()
        .expect("free_ports")
        .iter()
        .map(|p| p.as_u64().expect("a port number"))
        .collect();
    assert!(!free.is_empty(), "{sent}");
    let sent_service = &sent["plan"]["services"][0];
    assert_eq!(sent_service["name"], det["name"], "{sent}");
    assert_eq!(sent_service["port"], json!(free[0]), "{sent}");
    assert!(sent_service["argv"].is_array(), "{sent}");
    let raw = String::from_utf8_lossy(&r.body);
    assert!(!raw.contains(SECRET), "the secret went to the model: {raw}");
    assert!(!raw.contains(KEY), "the key is only in the header");

    let port = *free.last().unwrap();
    answer(&server, &refined(&sent, json!(port), None));
    let (status, plan) = preview(&d, root.to_str().unwrap(), &[("model", "local")]);
    assert_eq!(status, 200, "{plan}");
    assert_eq!(server.requests().len(), 2);
    assert_eq!(plan["author"], "model", "{plan}");
    assert_eq!(plan["source"], "model:local", "{plan}");
    let services = planned_services(&plan);
    assert_eq!(services.len(), 1, "{plan}");
    let s = &services[0];
    assert_eq!(s["name"], "refined-web", "{plan}");
    assert_eq!(s["port"], json!(port), "{plan}");
    assert_eq!(
        s["command"],
        json!(["python3", "server.py", "--refined"]),
        "{plan}"
    );
    assert_eq!(s["env"]["REFINED"], "yes", "{plan}");
    assert_eq!(s["working_dir"], json!(root), "{plan}");
    assert!(
        plan["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "refined by the test model"),
        "{plan}"
    );
    assert!(
        plan["usage"].is_object(),
        "the plan carries its usage: {plan}"
    );
    assert!(!plan.to_string().contains(SECRET));

    let (status, llm) = d.get("/api/llm");
    assert_eq!(status, 200, "{llm}");
    let usage = llm["models"][0]["usage"]
        .as_array()
        .expect("usage")
        .iter()
        .find(|u| u["purpose"] == "onboard")
        .unwrap_or_else(|| panic!("usage under purpose onboard: {llm}"))
        .clone();
    assert_eq!(usage["calls"], 2, "{usage}");
    assert!(usage["input_tokens"].as_u64() >= Some(900), "{usage}");
    assert!(usage["output_tokens"].as_u64() >= Some(120), "{usage}");

    // Still without a model: nothing more is sent.
    plan_of(&d, &root);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn an_invalid_refinement_is_rejected_with_the_reason() {
    let server = ScriptedLlm::start();
    let d = daemon(&server);
    let root = d.project("py-script");
    let plain = plan_of(&d, &root);
    let names = |p: &Value| -> Vec<Value> {
        planned_services(p)
            .iter()
            .map(|s| s["name"].clone())
            .collect()
    };

    // A port not offered (1 never is), then a working dir that is not in the project.
    let bad = [
        (Some(json!(1)), None, "port"),
        (None, Some("no-such-dir"), "no-such-dir"),
    ];
    for (i, (port, dir, says)) in bad.into_iter().enumerate() {
        // The request is needed to build the answer: ask once with a placeholder answer first.
        answer(&server, &placeholder());
        let (status, _) = preview(&d, root.to_str().unwrap(), &[("model", "local")]);
        assert_eq!(status, 200);
        let sent = user_message(&server.requests()[2 * i]);
        let free = sent["free_ports"][0].clone();
        answer(&server, &refined(&sent, port.unwrap_or(free), dir));
        let (status, plan) = preview(&d, root.to_str().unwrap(), &[("model", "local")]);
        assert_eq!(status, 200, "{plan}");
        assert_eq!(plan["author"], "rule", "the deterministic plan: {plan}");
        assert_eq!(names(&plan), names(&plain), "{plan}");
        let note = plan["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .find(|n| n.starts_with("the model's plan was rejected: "))
            .unwrap_or_else(|| panic!("a note saying why: {plan}"));
        assert!(note.contains(says), "{says:?} in {note:?}");
    }
    assert_eq!(server.requests().len(), 4);
}
