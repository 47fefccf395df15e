//! The LLM gateway against a scripted OpenAI-compatible server (real HTTP and SSE on loopback),
//! through `POST /api/llm/complete`: tool-call round trips, streamed answers split anywhere (CRLF,
//! comments, tool calls across indexes, the usage chunk, `[DONE]`), retries after a 429 honouring
//! `Retry-After`, the JSON fallback of models without tool support, `response_schema`, and a client
//! leaving a stream. Failures are in `llm_gateway_errors.rs`; the helpers here are shared by the
//! `llm_gateway_*` modules.

use std::time::{Duration, Instant};

use reqwest::Method;
use tend_tests::llm_script::{Reply, ScriptedLlm, openai};
use tend_tests::{Daemon, SseEvent, Value, json, secs, wait_until};

/// The key the daemon reads from `TEND_TEST_LLM_KEY`; no answer, log or file may contain it.
pub const KEY: &str = "sk-tendtest-5f3a9c1e7b2d4680aa";

/// `[llm]` with one OpenAI-compatible model `local` on `server`, plus `extra` lines in its table.
pub fn openai_config(server: &ScriptedLlm, extra: &str) -> String {
    format!(
        "[llm]\ndefault = \"local\"\n\n[llm.models.local]\nprovider = \"openai\"\nbase_url = \"{}/v1\"\n\
         model = \"scripted-model\"\napi_key_env = \"TEND_TEST_LLM_KEY\"\nretries = 2\n{extra}\n",
        server.url()
    )
}

pub fn start(config: &str) -> Daemon {
    Daemon::builder()
        .config_toml(config)
        .env("TEND_TEST_LLM_KEY", KEY)
        .start()
}

pub fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn read_file_tool() -> Value {
    json!({
        "name": "read_file",
        "description": "Read a file of the project",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    })
}

fn grep_tool() -> Value {
    json!({
        "name": "grep",
        "description": "Search the project",
        "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]},
    })
}

pub fn complete(d: &Daemon, body: &Value) -> (u16, Value) {
    d.post("/api/llm/complete", body)
}

/// `POST /api/llm/complete` with `Accept: text/event-stream`: the HTTP status, the `delta` texts and
/// the last event (`done` or `error`; `None` when the stream ended without one).
pub fn stream(d: &Daemon, body: &Value) -> (u16, Vec<String>, Option<SseEvent>) {
    let resp = d
        .request(Method::POST, "/api/llm/complete")
        .header("accept", "text/event-stream")
        .json(body)
        .send()
        .expect("POST /api/llm/complete");
    let status = resp.status().as_u16();
    if status != 200 {
        return (status, vec![], None);
    }
    let sse = tend_tests::Sse::from_response(resp);
    let mut deltas = Vec::new();
    while let Some(ev) = sse.next(secs(30)) {
        match ev.event.as_str() {
            "delta" => deltas.push(ev.json()["text"].as_str().unwrap().to_string()),
            "done" | "error" => return (status, deltas, Some(ev)),
            other => panic!("unexpected SSE event {other:?}: {}", ev.data),
        }
    }
    (status, deltas, None)
}

#[test]
fn a_tool_call_round_trip_goes_through_the_api() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false\nmax_tokens = 300"));
    server.push(Reply::json(
        200,
        openai::tool_calls(&[("call_7", "read_file", "{\"path\":\"app.py\"}")], 40, 9),
    ));
    let first = json!({
        "messages": [{"role": "system", "content": "You fix services."}, user("Why does it crash?")],
        "tools": [read_file_tool()],
        "max_tokens": 5000,
    });
    let (status, c) = complete(&d, &first);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(c["model"], "local");
    assert_eq!(c["usage"], json!({"input_tokens": 40, "output_tokens": 9}));
    assert_eq!(
        c["message"]["tool_calls"],
        json!([{"id": "call_7", "name": "read_file", "arguments": "{\"path\":\"app.py\"}"}])
    );

    server.push(Reply::json(200, openai::text("It reads PORT=abc.", 60, 7)));
    let mut second = first.clone();
    let msgs = second["messages"].as_array_mut().unwrap();
    msgs.push(c["message"].clone());
    msgs.push(json!({"role": "tool", "tool_call_id": "call_7", "content": "port = int(os.environ['PORT'])"}));
    let (status, c2) = complete(&d, &second);
    assert_eq!(status, 200, "{c2}");
    assert_eq!(c2["message"]["content"], "It reads PORT=abc.");
    assert_eq!(c2["finish_reason"], "stop");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    let b = reqs[1].json();
    assert_eq!(b["model"], "scripted-model");
    // The per-call cap is the model's `max_tokens`, whatever the request asks.
    assert_eq!(b["max_tokens"], 300);
    assert!(b.get("stream").is_none(), "{b}");
    assert_eq!(
        b["tools"],
        json!([{"type": "function", "function": {"name": "read_file", "description": "Read a file of the project",
            "parameters": read_file_tool()["parameters"]}}])
    );
    let m = &b["messages"];
    assert_eq!(
        m[0],
        json!({"role": "system", "content": "You fix services."})
    );
    assert_eq!(
        m[2],
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_7", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"app.py\"}"}}]})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "content": "port = int(os.environ['PORT'])", "tool_call_id": "call_7"})
    );
}

#[test]
fn a_streamed_answer_split_anywhere_is_reassembled() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(
        &server,
        "max_tokens_field = \"max_completion_tokens\"",
    ));
    // CRLF line ends, keep-alive comments, an `event:` line, text, two tool calls whose pieces
    // interleave, the finish chunk, the usage chunk and `[DONE]`; re-split every 7 bytes.
    let mut pieces = vec![
        ": keep-alive\r\n\r\n".to_string(),
        openai::delta("Let me "),
        openai::delta("l\u{f6}ok."),
        openai::tool_delta(0, Some("call_a"), Some("read_file"), ""),
        openai::tool_delta(1, Some("call_b"), Some("grep"), "{\"pat"),
        openai::tool_delta(0, None, None, "{\"path\":"),
        ": still working\n\n".to_string(),
        openai::tool_delta(1, None, None, "tern\":\"PORT\"}"),
        openai::tool_delta(0, None, None, "\"app.py\"}"),
        openai::finish("tool_calls"),
        openai::usage(120, 31),
        openai::done(),
    ];
    pieces = pieces.iter().map(|p| p.replace('\n', "\r\n")).collect();
    pieces.insert(1, "event: message\r\n".into());
    server.push(Reply::sse(pieces).split_every(7).pause(Duration::ZERO));
    let body = json!({"messages": [user("look")], "tools": [read_file_tool(), grep_tool()]});
    let (status, deltas, end) = stream(&d, &body);
    assert_eq!(status, 200);
    let end = end.expect("a final event");
    assert_eq!(end.event, "done", "{}", end.data);
    let c = end.json();
    assert_eq!(deltas.concat(), "Let me l\u{f6}ok.");
    assert_eq!(c["message"]["content"], "Let me l\u{f6}ok.");
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(
        c["usage"],
        json!({"input_tokens": 120, "output_tokens": 31})
    );
    assert_eq!(
        c["message"]["tool_calls"],
        json!([
            {"id": "call_a", "name": "read_file", "arguments": "{\"path\":\"app.py\"}"},
            {"id": "call_b", "name": "grep", "arguments": "{\"pattern\":\"PORT\"}"},
        ])
    );
    let b = server.requests()[0].json();
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
    assert_eq!(b["max_completion_tokens"], 1024);
    assert!(b.get("max_tokens").is_none(), "{b}");

    // The same stream through the whole-answer form of the endpoint.
    server.push(Reply::sse(openai::sse(&["A", "B"], 3, 2)).split_every(3));
    let (status, c) = complete(&d, &json!({"messages": [user("again")]}));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["message"]["content"], "AB");
}

#[test]
fn a_429_is_retried_after_the_time_retry_after_asks() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false"));
    server.push(
        Reply::json(429, json!({"error": {"message": "slow down"}})).header("retry-after", "1"),
    );
    server.push(
        Reply::json(503, json!({"error": {"message": "warming up"}}))
            .header("retry-after-ms", "300"),
    );
    server.push(Reply::json(200, openai::text("fine", 5, 1)));
    let started = Instant::now();
    let (status, c) = complete(&d, &json!({"messages": [user("hi")]}));
    let took = started.elapsed();
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["message"]["content"], "fine");
    assert_eq!(server.requests().len(), 3);
    assert!(
        took >= Duration::from_millis(1300),
        "the retries waited what the server asked (1 s + 300 ms), took {took:?}"
    );

    // Still limited after `retries` (2) retries: rate_limited, as `unavailable`.
    for _ in 0..3 {
        server.push(
            Reply::json(429, json!({"error": {"message": "quota"}})).header("retry-after", "0"),
        );
    }
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 502, "{e}");
    assert_eq!(e["error"]["code"], "unavailable");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(msg.contains("429") && msg.contains("quota"), "{msg}");
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn a_model_without_tools_answers_tool_calls_through_checked_json() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false\ntools = false"));
    server.push(Reply::json(
        200,
        openai::text(
            "{\"tool\": \"grep\", \"arguments\": {\"pattern\": \"PORT\"}}",
            50,
            12,
        ),
    ));
    let body = json!({
        "messages": [user("find it"),
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "read_file", "arguments": "{\"path\":\"a\"}"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "no PORT here"}],
        "tools": [read_file_tool(), grep_tool()],
    });
    let (status, c) = complete(&d, &body);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["finish_reason"], "tool_calls");
    let calls = c["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["name"], "grep");
    assert_eq!(calls[0]["arguments"], "{\"pattern\":\"PORT\"}");
    // One call came before in the conversation: this one gets its own id.
    assert_eq!(calls[0]["id"], "call_1");

    let b = server.requests()[0].json();
    assert!(b.get("tools").is_none(), "no native tools: {b}");
    assert_eq!(b["response_format"]["type"], "json_schema");
    let schema = b["response_format"]["json_schema"]["schema"].to_string();
    assert!(
        schema.contains("read_file") && schema.contains("grep"),
        "{schema}"
    );
    // Earlier calls and results became text the model can read.
    let roles: Vec<&str> = b["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);

    // An answer naming no tool, or with arguments that do not fit, is invalid.
    for bad in [
        "{\"tool\": \"rm\", \"arguments\": {}}",
        "{\"tool\": \"grep\", \"arguments\": {\"pattern\": 3}}",
        "I would grep.",
    ] {
        server.push(Reply::json(200, openai::text(bad, 5, 5)));
        let (status, e) = complete(&d, &body);
        assert_eq!(status, 502, "{bad}: {e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("JSON") || msg.contains("does not match"),
            "{msg}"
        );
    }
}

#[test]
fn a_response_schema_is_sent_and_the_answer_checked() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false"));
    let schema = json!({"type": "object", "properties": {"confidence": {"type": "number", "maximum": 1}}, "required": ["confidence"]});
    server.push(Reply::json(
        200,
        openai::text("{\"confidence\": 0.8}", 5, 5),
    ));
    let body = json!({"messages": [user("sure?")], "response_schema": schema});
    let (status, c) = complete(&d, &body);
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["message"]["content"], "{\"confidence\":0.8}");
    let b = server.requests()[0].json();
    assert_eq!(b["response_format"]["json_schema"]["schema"], schema);

    server.push(Reply::json(200, openai::text("{\"confidence\": 7}", 5, 5)));
    let (status, e) = complete(&d, &body);
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/confidence"),
        "{e}"
    );
}

#[test]
fn a_client_leaving_a_stream_cancels_the_call_to_the_provider() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    server.push(Reply::sse(openai::sse(&words, 5, 200)).pause(Duration::from_millis(50)));
    let resp = d
        .request(Method::POST, "/api/llm/complete")
        .header("accept", "text/event-stream")
        .json(&json!({"messages": [user("talk")]}))
        .send()
        .unwrap();
    let sse = tend_tests::Sse::from_response(resp);
    let first = sse.next(secs(10)).expect("a first delta");
    assert_eq!(first.event, "delta");
    drop(sse);
    // The daemon closes its connection to the provider long before the 10 s the answer would take.
    wait_until(secs(5), "the provider's stream abandoned", || {
        server.abandoned() == 1
    })
    .unwrap();
    wait_until(secs(5), "the cancelled call counted as failed", || {
        let (_, s) = d.get("/api/llm");
        s["models"][0]["usage"][0]["errors"] == 1
    })
    .unwrap();
}
