//! What the LLM gateway counts and keeps: daily token budgets (refused before anything is sent, and
//! still used up after a restart), usage per model and purpose on `GET /api/llm` and `/metrics`,
//! `tend llm` / `tend llm test`, and the key: never in an API answer, the daemon's log, the database
//! or any other file of the data dir.

use std::path::Path;

use tend_tests::llm_script::{Reply, ScriptedLlm, openai};
use tend_tests::{Daemon, json, secs};

use crate::llm_gateway::{KEY, complete, openai_config, start, stream, user};

#[test]
fn a_used_up_daily_budget_refuses_calls_before_sending_and_survives_a_restart() {
    let server = ScriptedLlm::start();
    let mut d = start(&openai_config(
        &server,
        "stream = false\ndaily_token_budget = 100",
    ));
    server.push(Reply::json(200, openai::text("one", 60, 30)));
    let (status, c) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 200, "{c}");
    // The output cap comes down to what is left of the budget: 100, then 10.
    assert_eq!(server.requests()[0].json()["max_tokens"], 100);
    server.push(Reply::json(200, openai::text("two", 5, 5)));
    let (status, c) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 200, "{c}");
    assert_eq!(server.requests()[1].json()["max_tokens"], 10);

    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 429, "{e}");
    assert_eq!(e["error"]["code"], "too_many_requests");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("budget"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 2, "nothing was sent");
    // Asked for a stream: the refusal keeps its HTTP status (nothing streamed before it).
    let (status, deltas, _) = stream(&d, &json!({"messages": [user("hi")]}));
    assert_eq!((status, deltas.len()), (429, 0));

    d.restart();
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 429, "the budget holds across a restart: {e}");
    assert_eq!(server.requests().len(), 2, "nothing was sent");
    let (_, s) = d.get("/api/llm");
    assert_eq!(s["used_today"], 100);
    let u = &s["models"][0]["usage"][0];
    assert_eq!(u["purpose"], "test");
    assert_eq!(
        (u["calls"].as_u64(), u["errors"].as_u64()),
        (Some(5), Some(3))
    );

    // The global budget counts every model.
    let server2 = ScriptedLlm::start();
    let config = openai_config(&server2, "stream = false").replacen(
        "default = \"local\"\n",
        "default = \"local\"\ndaily_token_budget = 20\n",
        1,
    );
    let d2 = start(&config);
    server2.push(Reply::json(200, openai::text("x", 15, 10)));
    assert_eq!(complete(&d2, &json!({"messages": [user("hi")]})).0, 200);
    let (status, _) = complete(&d2, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 429);
    assert_eq!(server2.requests().len(), 1);
    let (_, s) = d2.get("/api/llm");
    assert_eq!(s["daily_token_budget"], 20);
}

#[test]
fn usage_shows_on_the_api_the_metrics_and_the_cli() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "daily_token_budget = 5000"));
    server.push(Reply::sse(openai::sse(&["po", "ng"], 11, 4)));
    let (status, deltas, end) = stream(&d, &json!({"messages": [user("ping")]}));
    assert_eq!((status, deltas.concat()), (200, "pong".to_string()));
    assert_eq!(end.unwrap().event, "done");
    server.push(Reply::json(500, json!({"error": {"message": "down"}})));
    assert_eq!(complete(&d, &json!({"messages": [user("ping")]})).0, 502);

    let (status, s) = d.get("/api/llm");
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["configured"], true);
    assert_eq!(s["default"], "local");
    assert_eq!(s["used_today"], 15);
    let m = &s["models"][0];
    assert_eq!(m["name"], "local");
    assert_eq!(m["provider"], "openai");
    assert_eq!(m["model"], "scripted-model");
    assert_eq!(m["key"], "env:TEND_TEST_LLM_KEY");
    assert_eq!(m["key_present"], true);
    assert_eq!(m["daily_token_budget"], 5000);
    assert_eq!(m["used_today"], 15);
    assert_eq!(
        m["usage"][0],
        json!({"purpose": "test", "calls": 2, "errors": 1, "input_tokens": 11, "output_tokens": 4,
               "latency_ms": m["usage"][0]["latency_ms"]})
    );

    let text = d
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "tend_llm_requests_total{model=\"local\",purpose=\"test\",outcome=\"ok\"} 1",
        "tend_llm_requests_total{model=\"local\",purpose=\"test\",outcome=\"provider\"} 1",
        "tend_llm_tokens_total{model=\"local\",purpose=\"test\",direction=\"input\"} 11",
        "tend_llm_tokens_total{model=\"local\",purpose=\"test\",direction=\"output\"} 4",
        "tend_llm_request_seconds_count{model=\"local\",purpose=\"test\"} 2",
        "# TYPE tend_llm_request_seconds summary",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    crate::metrics::parse_exposition(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));

    let out = d.cli(&["llm"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "local",
        "openai",
        "scripted-model",
        "env:TEND_TEST_LLM_KEY",
        "15",
        "5000",
    ] {
        assert!(stdout.contains(needle), "{needle:?} in:\n{stdout}");
    }

    server.push(Reply::sse(openai::sse(&["Hello", " there"], 3, 2)));
    let out = d.cli(&["llm", "test", "--stream", "say hello"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Hello there"), "{stdout}");
    let b = server.requests().last().unwrap().json();
    assert_eq!(
        b["messages"],
        json!([{"role": "user", "content": "say hello"}])
    );

    server.push(Reply::json(200, openai::text("plain", 3, 2)));
    let out = d.cli(&["llm", "test", "--model", "local", "hi"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("plain"));

    let out = d.cli(&["llm", "test", "--model", "nope", "hi"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("model"), "{stderr}");
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        } else if meta.is_file()
            && let Ok(bytes) = std::fs::read(&p)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(p.display().to_string());
        }
    }
    found
}

#[test]
fn the_key_never_reaches_an_answer_the_log_or_the_data_dir() {
    let server = ScriptedLlm::start();
    let mut d = Daemon::builder()
        .config_toml(&openai_config(&server, ""))
        .env("TEND_TEST_LLM_KEY", KEY)
        .arg("--log-level")
        .arg("debug,tend=trace,reqwest=trace,hyper_util=trace")
        .start();
    let mut answers = Vec::new();
    server.push(Reply::sse(openai::sse(&["ok"], 1, 1)));
    answers.push(complete(&d, &json!({"messages": [user("hi")]})).1);
    // A provider that quotes the key back, in an error body and mid-stream.
    server.push(Reply::json(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}}),
    ));
    answers.push(complete(&d, &json!({"messages": [user("hi")]})).1);
    server.push(Reply::sse(vec![
        openai::delta("x"),
        openai::event(&json!({"error": {"message": format!("key {KEY} revoked")}})),
    ]));
    let (_, _, end) = stream(&d, &json!({"messages": [user("hi")]}));
    answers.push(json!(end.unwrap().data));
    answers.push(d.get("/api/llm").1);
    answers.push(d.get("/api/status").1);
    answers.push(d.get("/api/supervisor/logs?tail=1000").1);
    answers.push(json!(
        d.request(reqwest::Method::GET, "/metrics")
            .send()
            .unwrap()
            .text()
            .unwrap()
    ));
    answers.push(json!(String::from_utf8_lossy(&d.cli(&["llm"]).stdout)));
    for a in &answers {
        assert!(!a.to_string().contains(KEY), "the key in an answer: {a}");
    }
    assert!(
        server
            .requests()
            .iter()
            .all(|r| { r.header("authorization") == Some(format!("Bearer {KEY}").as_str()) })
    );
    // Stopped, so that the log and the database are complete on disk.
    d.stop();
    let leaks = files_containing(d.data_dir(), KEY.as_bytes());
    assert!(leaks.is_empty(), "the key is in {leaks:?}");
    let log = std::fs::read_to_string(d.data_dir().join("tend.log")).unwrap();
    assert!(
        log.contains("LLM call failed"),
        "the log is written:\n{log}"
    );
}

#[test]
fn calls_in_progress_hold_their_share_of_the_budget() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(
        &server,
        "stream = false\ndaily_token_budget = 100",
    ));
    server.push(Reply::json(200, openai::text("slow", 10, 10)).delay(secs(2)));
    std::thread::scope(|s| {
        let slow = s.spawn(|| complete(&d, &json!({"messages": [user("slow")]})));
        tend_tests::wait_until(secs(10), "the first call reached the provider", || {
            server.requests().len() == 1
        })
        .unwrap();
        // The first call holds all 100 tokens while it runs: the second gets nothing and sends nothing.
        let (status, e) = complete(&d, &json!({"messages": [user("fast")]}));
        assert_eq!(status, 429, "{e}");
        assert_eq!(server.requests().len(), 1);
        assert_eq!(slow.join().unwrap().0, 200);
    });
    assert_eq!(server.requests()[0].json()["max_tokens"], 100);
    // Once it ended, what it did not use is free again.
    server.push(Reply::json(200, openai::text("next", 5, 5)));
    let (status, c) = complete(&d, &json!({"messages": [user("next")]}));
    assert_eq!(status, 200, "{c}");
    assert_eq!(server.requests()[1].json()["max_tokens"], 80);
}
