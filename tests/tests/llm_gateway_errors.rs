//! The LLM gateway's failures through `POST /api/llm/complete`, against the scripted OpenAI-compatible
//! server: a refused key (quoted back by the provider, never by tend), a context overflow, a 5xx, a
//! `Retry-After` past the deadline, a timeout, an unreachable provider (retried, reported without its
//! address), a stream cut midway or ending without `[DONE]` or with an error object (an error, never a
//! partial answer), requests and configurations that cannot work (refused naming the field or key,
//! nothing sent).

use std::time::{Duration, Instant};

use tend_tests::llm_script::{Reply, ScriptedLlm, openai};
use tend_tests::{Daemon, json, secs};

use crate::llm_gateway::{KEY, complete, openai_config, start, stream, user};

#[test]
fn a_refused_key_a_timeout_and_provider_failures_are_clear_errors() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false\ntimeout_s = 1"));
    // The provider quotes the key it refused: the answer must not.
    server.push(Reply::json(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}")}}),
    ));
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 502, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("refused the key") && msg.contains("401"),
        "{msg}"
    );
    assert!(!e.to_string().contains(KEY), "{e}");

    server.push(Reply::json(
        400,
        json!({"error": {"message": "This model's maximum context length is 8192 tokens", "code": "context_length_exceeded"}}),
    ));
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than the model's context window"),
        "{e}"
    );

    server.push(Reply::json(500, json!({"error": {"message": "boom"}})));
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("HTTP 500"),
        "{e}"
    );
    assert_eq!(server.requests().len(), 3, "a 500 is not retried");

    // A wait past the deadline is not waited: rate-limited at once.
    server
        .push(Reply::json(429, json!({"error": {"message": "later"}})).header("retry-after", "20"));
    let started = Instant::now();
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("past the model's timeout_s"),
        "{e}"
    );
    assert!(started.elapsed() < secs(1), "{:?}", started.elapsed());
    assert_eq!(server.requests().len(), 4);

    server.push(Reply::hang());
    let started = Instant::now();
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 504, "{e}");
    assert_eq!(e["error"]["code"], "timeout");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("timeout_s"),
        "{e}"
    );
    assert!(started.elapsed() < secs(10), "{:?}", started.elapsed());
}

#[test]
fn a_stream_cut_midway_is_an_error_never_a_partial_answer() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    let pieces = openai::sse(&["The fix ", "is to ", "set PORT."], 10, 5);
    server.push(Reply::sse(pieces.clone()).cut_after(2));
    let (status, deltas, end) = stream(&d, &json!({"messages": [user("fix?")]}));
    assert_eq!(status, 200);
    assert_eq!(deltas.concat(), "The fix is to ");
    let end = end.expect("a final event");
    assert_eq!(end.event, "error", "{}", end.data);
    assert_eq!(end.json()["code"], "unavailable");

    // Whole-answer form: an error, no content.
    server.push(Reply::sse(pieces.clone()).cut_after(2));
    let (status, e) = complete(&d, &json!({"messages": [user("fix?")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("incomplete"),
        "{e}"
    );

    // A body that ends cleanly but without `[DONE]`, and an error object mid-stream.
    server.push(Reply::sse(pieces[..3].to_vec()));
    let (status, e) = complete(&d, &json!({"messages": [user("fix?")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("[DONE]"),
        "{e}"
    );
    server.push(Reply::sse(vec![
        openai::delta("x"),
        openai::event(&json!({"error": {"message": "the slot crashed"}})),
    ]));
    let (status, e) = complete(&d, &json!({"messages": [user("fix?")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the slot crashed"),
        "{e}"
    );
}

#[test]
fn requests_and_configurations_that_cannot_work_are_refused_naming_the_field() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    let (status, e) = complete(&d, &json!({"model": "gpt-9", "messages": [user("hi")]}));
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["field"], "model");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("local"),
        "{e}"
    );
    let (status, e) = complete(&d, &json!({"messages": []}));
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("messages")),
        "{e}"
    );
    let (status, e) = complete(
        &d,
        &json!({"messages": [user("x")], "tools": [{"name": "bad name", "parameters": {"type": "object"}}]}),
    );
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("tools[0].name")),
        "{e}"
    );
    let (status, e) = complete(&d, &json!({"messages": [user("x")], "colour": 1}));
    assert_eq!(status, 422, "{e}");
    assert!(server.requests().is_empty(), "nothing was sent");

    // No [llm] at all.
    let bare = Daemon::start();
    let (status, e) = complete(&bare, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[llm.models"),
        "{e}"
    );
    let (status, s) = bare.get("/api/llm");
    assert_eq!(status, 200);
    assert_eq!(s["configured"], false);

    // A key named but not set: the call says which variable.
    let unset = Daemon::builder()
        .config_toml(&openai_config(&server, ""))
        .start();
    let (status, e) = complete(&unset, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TEND_TEST_LLM_KEY"),
        "{e}"
    );
    assert!(server.requests().is_empty(), "nothing was sent");
}

#[test]
fn a_bad_llm_table_stops_the_daemon_naming_the_key() {
    for (toml, key) in [
        (
            "[llm]\ndefault = \"nope\"\n[llm.models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1/v1\"\n",
            "llm.default",
        ),
        (
            "[llm.models.a]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1/v1\"\nmax_tokens_field = \"tokens\"\n",
            "llm.models.a.max_tokens_field",
        ),
        (
            "[llm.models.a]\nprovider = \"anthropic\"\nmodel = \"m\"\napi_key_env = \"A\"\napi_key_file = \"/k\"\n",
            "llm.models.a.api_key_env",
        ),
        (
            "[llm.models.a]\nprovider = \"openai\"\nmodel = \"m\"\ntemperature = 1\n",
            "temperature",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tend.toml"), toml).unwrap();
        let err = tend_tests::refused_start(dir.path());
        assert!(err.contains(key), "{toml}\n-> {err}");
    }
}

#[test]
fn an_unreachable_provider_is_retried_then_reported_without_its_address() {
    let port = tend_tests::free_port();
    let d = start(&format!(
        "[llm.models.gone]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nmodel = \"m\"\nretries = 2\n"
    ));
    let started = Instant::now();
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    let took = started.elapsed();
    assert_eq!(status, 502, "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("cannot reach the provider of model \"gone\" (after 2 retries)"),
        "{msg}"
    );
    // A plugin reads this message: no URL, no port.
    assert!(
        !msg.contains(&port.to_string()) && !msg.contains("127.0.0.1"),
        "{msg}"
    );
    assert!(
        took >= Duration::from_millis(1500),
        "backoff 0.5 s + 1 s, took {took:?}"
    );
}

#[test]
fn a_stopping_daemon_does_not_wait_for_a_call_in_progress() {
    let server = ScriptedLlm::start();
    let mut d = start(&openai_config(&server, "stream = false\ntimeout_s = 600"));
    server.push(Reply::hang());
    let (url, token) = (d.url().to_string(), d.token().to_string());
    let caller = std::thread::spawn(move || {
        let resp = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .unwrap()
            .post(format!("{url}/api/llm/complete"))
            .bearer_auth(token)
            .json(&json!({"messages": [user("hi")]}))
            .send();
        resp.map(|r| r.status().as_u16()).ok()
    });
    tend_tests::wait_until(secs(10), "the call reached the provider", || {
        server.requests().len() == 1
    })
    .unwrap();
    let started = Instant::now();
    let status = d.stop();
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < secs(10),
        "stopping took {:?}",
        started.elapsed()
    );
    assert_eq!(
        caller.join().unwrap(),
        Some(503),
        "the call ends shutting_down"
    );
}
