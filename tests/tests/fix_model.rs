//! The built-in `fixer`'s model path where it meets the gateway's limits and the service's secrets,
//! against the scripted OpenAI-compatible server: a model that never answers (the model's
//! `timeout_s`) or whose answer is cut midway ends the fix failed with nothing applied (files
//! unchanged, no backup); a fix's tokens show on its record, on `GET /api/llm` and on `/metrics`
//! under purpose `fix`; a service's env value never reaches the incident, the model's requests or
//! the fix record (only the variable's name does).

use tend_tests::llm_script::{Reply, ScriptedLlm, openai};
use tend_tests::{Daemon, free_port, json};

use crate::fix_agent::{BROKEN_APP, broken_service, call, walk};
use crate::fix_apply::{fix, fixes, project, settled, sha, start_fix};
use crate::llm_gateway::{KEY, openai_config};

/// A daemon with the built-in fixer and the scripted model `local` (`model` lines added to its
/// table); model-written proposals are applied without approval.
fn model_daemon(server: &ScriptedLlm, model: &str) -> Daemon {
    Daemon::builder()
        .config_toml(&format!(
            "{}\n[autofix]\nmodels = \"auto\"\ncooldown_s = 0\nmax_attempts = 5\nverify_window_s = 1\n",
            openai_config(server, model)
        ))
        .env("TEND_TEST_LLM_KEY", KEY)
        .start()
}

/// A `submit_fix` call making `app.py` listen on `port`.
fn submit(port: u16) -> serde_json::Value {
    json!({"diagnosis": "PORT is not a number", "confidence": 0.8, "edits": [
        {"type": "replace", "path": "app.py", "base_sha256": sha(BROKEN_APP.as_bytes()),
         "old": "PORT = 'abc'", "new": format!("PORT = '{port}'")}
    ], "commands": [], "restart": true})
}

#[test]
fn a_model_timeout_or_a_cut_answer_ends_the_fix_with_nothing_applied() {
    let server = ScriptedLlm::start();
    let d = model_daemon(&server, "timeout_s = 2");
    let root = project(&d, "web");
    std::fs::write(root.join("app.py"), BROKEN_APP).unwrap();
    let port = free_port();
    broken_service(
        &d,
        "web",
        &root,
        "exec python3 app.py",
        json!({"port": port}),
        "ValueError",
    );
    let unchanged = |what: &str| {
        assert_eq!(
            std::fs::read(root.join("app.py")).unwrap(),
            BROKEN_APP.as_bytes(),
            "{what}"
        );
        assert!(!d.data_dir().join("backups/web").exists(), "{what}");
    };

    // The model reads, then never answers.
    call(&server, "c1", "read_file", &json!({"path": "app.py"}));
    server.push(Reply::hang());
    let f = settled(&d, &start_fix(&d, "web"));
    assert_eq!(f["status"], "failed", "{f}");
    let reason = f["reason"].as_str().unwrap();
    assert!(
        reason.contains("the fixer failed")
            && reason.contains("the model call failed at step 2")
            && reason.contains("did not answer in time"),
        "{f}"
    );
    assert!(f["backup"].is_null() && f["proposal"].is_null(), "{f}");
    unchanged("after the timeout");

    // The answer that would fix it is cut midway: never a partial answer, nothing applied.
    let whole = openai::tool_calls(&[("c2", "submit_fix", &submit(port).to_string())], 100, 20);
    server.push(Reply::json(200, whole).split_every(64).cut_after(2));
    let before = server.requests().len();
    let f = settled(&d, &start_fix(&d, "web"));
    assert!(server.requests().len() > before, "the model was asked");
    assert_eq!(f["status"], "failed", "{f}");
    let reason = f["reason"].as_str().unwrap();
    assert!(
        reason.contains("the fixer failed") && reason.contains("the answer was cut off"),
        "{f}"
    );
    assert!(f["backup"].is_null() && f["proposal"].is_null(), "{f}");
    unchanged("after the cut answer");
    assert_ne!(d.view("web")["status"], "running");
}

#[test]
fn a_model_fix_counts_its_tokens_as_purpose_fix_and_never_sees_an_env_value() {
    const SECRET: &str = "s3cr3t-value-8d1f";
    let server = ScriptedLlm::start();
    let d = model_daemon(&server, "");
    let root = project(&d, "web");
    std::fs::write(root.join("app.py"), BROKEN_APP).unwrap();
    let port = free_port();
    call(&server, "c1", "list_dir", &json!({"path": ""}));
    call(&server, "c2", "read_file", &json!({"path": "app.py"}));
    call(&server, "c3", "submit_fix", &submit(port));
    broken_service(
        &d,
        "web",
        &root,
        "exec python3 app.py",
        json!({"port": port, "env": {"API_TOKEN": SECRET}}),
        "ValueError",
    );
    let id = start_fix(&d, "web");
    let f = settled(&d, &id);
    assert_eq!(f["status"], "verified", "{f}");
    assert_eq!(f["mode"], "auto", "{f}");
    assert_eq!(d.view("web")["status"], "running");

    // Tokens: three answers of 100 in / 20 out each.
    assert_eq!(f["llm_calls"], 3, "{f}");
    assert_eq!(
        f["usage"],
        json!({"input_tokens": 300, "output_tokens": 60}),
        "{f}"
    );
    let (status, s) = d.get("/api/llm");
    assert_eq!(status, 200, "{s}");
    let usage = s["models"][0]["usage"].as_array().unwrap();
    let row = usage
        .iter()
        .find(|u| u["purpose"] == "fix")
        .unwrap_or_else(|| panic!("no `fix` row: {s}"));
    assert_eq!(
        (
            row["calls"].as_u64(),
            row["input_tokens"].as_u64(),
            row["output_tokens"].as_u64()
        ),
        (Some(3), Some(300), Some(60)),
        "{s}"
    );
    let metrics = d
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "tend_llm_requests_total{model=\"local\",purpose=\"fix\",outcome=\"ok\"} 3",
        "tend_llm_tokens_total{model=\"local\",purpose=\"fix\",direction=\"input\"} 300",
        "tend_llm_tokens_total{model=\"local\",purpose=\"fix\",direction=\"output\"} 60",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }

    // The variable's name is in the incident; its value nowhere.
    let names = f["incident"]["env_names"].as_array().unwrap();
    assert!(names.iter().any(|n| n == "API_TOKEN"), "{f}");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        String::from_utf8_lossy(&requests[0].body).contains("API_TOKEN"),
        "the model is told the name"
    );
    for r in &requests {
        assert!(
            !String::from_utf8_lossy(&r.body).contains(SECRET),
            "a request to the model holds the value"
        );
    }
    let answers = [
        fix(&d, &id).to_string(),
        serde_json::Value::from(fixes(&d, "web")).to_string(),
        d.get("/api/audit").1.to_string(),
        d.get("/api/jobs").1.to_string(),
    ];
    for a in answers {
        assert!(!a.contains(SECRET), "an answer holds the value: {a}");
    }
    // The backup holds only the project's file, never the environment.
    for entry in walk(&d.data_dir().join("backups")) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{entry:?} holds the value"
        );
    }
}
