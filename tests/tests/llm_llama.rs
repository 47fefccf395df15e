//! The LLM gateway against a real llama.cpp server (tests/llm/serve.py: PyPI `xllamacpp` serving
//! SmolLM2-135M on one thread; see `tend_tests::llama`): `POST /api/llm/complete`, plain and
//! streamed, through the OpenAI-compatible provider and through the Anthropic one (the server's
//! `/v1/messages`), upstream `:` keep-alive comments, an upstream error mid-stream (either protocol)
//! without its end marker, a context overflow, a client going away, the schema-constrained JSON
//! answer of a model without tools, and calls back to back on connections the server closes. The
//! model's answers are poor: these tests assert on the protocol (what was sent, counted, streamed and
//! closed), never on what it says. A [`Tap`] between the daemon and the server shows what really went
//! over the wire. Answers are kept short (max_tokens 2-64, 256 where grammar-bound JSON may carry
//! whitespace; a JSON object needs ~30): one thread makes ~40 tokens a second.

use std::io::Read;
use std::time::Duration;

use reqwest::Method;
use tend_tests::llama::{self, LlamaOptions, LlamaServer, Tap};
use tend_tests::{Daemon, Value, json, secs, wait_until};

const COMPLETE: &str = "/api/llm/complete";

/// A daemon whose only model, `local`, is the server behind `base_url` (`provider`: `openai` with
/// `.../v1`, `anthropic` with the server's root). `extra`: more lines of that model's table.
fn daemon(provider: &str, base_url: &str, extra: &str) -> Daemon {
    Daemon::builder()
        .config_toml(&format!(
            "[llm]\ndefault = \"local\"\n\n[llm.models.local]\nprovider = \"{provider}\"\n\
             base_url = \"{base_url}\"\nmodel = \"smollm2\"\ntools = false\n{extra}\n"
        ))
        .start()
}

fn user(text: &str) -> Value {
    json!({ "role": "user", "content": text })
}

/// One server-sent event of the gateway's stream.
#[derive(Debug)]
struct Event {
    event: String,
    data: String,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event {} is not JSON ({e}): {}", self.event, self.data))
    }
}

/// `POST /api/llm/complete` with `Accept: text/event-stream`, read to the end: the status, the
/// content type and the events (none when the call failed before its first delta: then the answer is
/// a JSON error, in the fourth element).
fn stream(d: &Daemon, body: &Value) -> (u16, String, Vec<Event>, String) {
    let resp = d
        .request(Method::POST, COMPLETE)
        .header("accept", "text/event-stream")
        .timeout(Duration::from_secs(120))
        .json(body)
        .send()
        .unwrap_or_else(|e| panic!("POST {COMPLETE}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp
        .text()
        .unwrap_or_else(|e| panic!("reading the stream: {e}"));
    (status, content_type, parse_sse(&text), text)
}

fn parse_sse(text: &str) -> Vec<Event> {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = String::from("message");
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            (!data.is_empty()).then(|| Event {
                event,
                data: data.join("\n"),
            })
        })
        .collect()
}

fn describe(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| format!("{}: {}", e.event, e.data))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The protocol facts of a completion, whatever the model said.
fn assert_completion(c: &Value, max_tokens: u64) {
    assert_eq!(c["model"], "local", "{c}");
    assert_eq!(c["message"]["role"], "assistant", "{c}");
    let content = c["message"]["content"].as_str().unwrap_or("");
    assert!(!content.is_empty(), "an empty answer: {c}");
    let (input, output) = (
        c["usage"]["input_tokens"].as_u64().unwrap_or(0),
        c["usage"]["output_tokens"].as_u64().unwrap_or(0),
    );
    assert!(input > 0, "input tokens not counted: {c}");
    assert!(
        (1..=max_tokens).contains(&output),
        "output tokens {output} not in 1..={max_tokens}: {c}"
    );
    let finish = c["finish_reason"].as_str().unwrap_or("");
    assert!(["stop", "length"].contains(&finish), "finish {finish}: {c}");
}

/// What a streamed completion looks like: deltas, then one `done` carrying the completion whose
/// content is the deltas joined; nothing after it.
fn assert_streamed(events: &[Event], max_tokens: u64) -> Value {
    let all = describe(events);
    let (last, deltas) = events.split_last().unwrap_or_else(|| panic!("no events"));
    assert_eq!(last.event, "done", "the stream must end with done:\n{all}");
    assert!(!deltas.is_empty(), "no delta before done:\n{all}");
    let mut text = String::new();
    for d in deltas {
        assert_eq!(d.event, "delta", "only deltas before done:\n{all}");
        text.push_str(d.json()["text"].as_str().unwrap_or(""));
    }
    let completion = last.json();
    assert_completion(&completion, max_tokens);
    assert_eq!(
        completion["message"]["content"].as_str(),
        Some(text.as_str()),
        "the deltas joined are the answer:\n{all}"
    );
    completion
}

/// The (de-chunked) bodies of every upstream response the tap saw.
fn upstream_bodies(tap: &Tap) -> Vec<String> {
    tap.exchanges()
        .iter()
        .flat_map(|x| x.responses())
        .map(|(_, body)| body)
        .collect()
}

#[test]
fn a_plain_completion_through_the_openai_provider_counts_its_tokens() {
    let server = llama::shared();
    let tap = Tap::start(server.base_url());
    let d = daemon("openai", &tap.openai_url(), "");
    let (status, c) = d.post(
        COMPLETE,
        &json!({ "messages": [user("Say hello.")], "max_tokens": 16 }),
    );
    assert_eq!(status, 200, "{c}\n{}", server.stderr());
    assert_completion(&c, 16);
    // What went upstream: one chat completion asking for at most those tokens.
    let requests: Vec<String> = tap.exchanges().iter().map(|x| x.request_text()).collect();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("POST /v1/chat/completions ")),
        "{requests:?}"
    );
}

#[test]
fn a_streamed_completion_sends_deltas_then_done() {
    let server = llama::shared();
    let d = daemon("openai", &server.openai_url(), "");
    let (status, content_type, events, _) = stream(
        &d,
        &json!({ "messages": [user("Count to five.")], "max_tokens": 16 }),
    );
    assert_eq!(status, 200, "{}", describe(&events));
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    assert_streamed(&events, 16);
}

#[test]
fn upstream_keep_alive_comments_do_not_disturb_a_stream() {
    let server = llama::shared();
    let tap = Tap::start(server.base_url());
    let d = daemon("openai", &tap.openai_url(), "");
    // ~1200 prompt tokens keep the server busy for several seconds before its first token (about 7 s
    // at the 166 tokens/s one thread managed here); it sends a `:` comment every second meanwhile
    // (serve.py --ping 1). ~300 tokens were too few on an idle machine: done in 1.9 s, no comment.
    let prompt = format!(
        "{}\nSummarise.",
        "the quick brown fox jumps over the lazy dog. ".repeat(120)
    );
    let (status, _, events, _) =
        stream(&d, &json!({ "messages": [user(&prompt)], "max_tokens": 8 }));
    assert_eq!(status, 200, "{}", describe(&events));
    assert_streamed(&events, 8);
    let bodies = upstream_bodies(&tap);
    assert!(
        bodies
            .iter()
            .any(|b| b.starts_with(":\n\n") || b.contains("\n\n:\n\n")),
        "the server sent no keep-alive comment, so this test proves nothing: {bodies:?}"
    );
}

#[test]
fn an_upstream_error_mid_stream_ends_the_stream_with_an_error() {
    upstream_error_mid_stream("openai");
}

#[test]
fn an_anthropic_error_event_mid_stream_ends_the_stream_with_an_error() {
    upstream_error_mid_stream("anthropic");
}

/// One cache of 256 tokens for both slots: two prompts of ~170 tokens each fit alone, not together,
/// and llama.cpp ends both streams with an error and no end marker (one possibly after some text):
/// OpenAI `data: {"error":...}` without `[DONE]`, Anthropic `event: error` without `message_stop`.
fn upstream_error_mid_stream(provider: &str) {
    let server = LlamaServer::start(LlamaOptions {
        ctx: 256,
        kv_unified: true,
        ..LlamaOptions::default()
    });
    let tap = Tap::start(server.base_url());
    let (url, error, end, text_delta) = match provider {
        "openai" => (
            tap.openai_url(),
            "data: {\"error\"",
            "[DONE]",
            "\"delta\":{\"content\":\"",
        ),
        _ => (
            tap.base_url().to_string(),
            "event: error",
            "message_stop",
            "\"text_delta\"",
        ),
    };
    let d = daemon(provider, &url, "");
    let words = ["alpha", "beta"];
    let prompts = words.map(|word| format!("{word} ").repeat(130));
    let results: [(u16, String, Vec<Event>, String); 2] = std::thread::scope(|s| {
        let handles = prompts.each_ref().map(|prompt| {
            let d = &d;
            s.spawn(move || stream(d, &json!({ "messages": [user(prompt)], "max_tokens": 32 })))
        });
        handles.map(|h| h.join().expect("stream thread"))
    });
    let exchanges = tap.exchanges();
    let mut broken = 0;
    for (word, (status, _, events, text)) in words.iter().zip(&results) {
        // What the server sent for this prompt (each call has its own connection).
        let upstream: String = exchanges
            .iter()
            .filter(|x| x.request_text().contains(&format!("{word} {word} ")))
            .flat_map(|x| x.responses())
            .map(|(_, body)| body)
            .collect();
        let all = format!("upstream:\n{upstream}\nhere ({status}):\n{text}");
        if !upstream.contains(error) || upstream.contains(end) {
            continue;
        }
        broken += 1;
        assert!(
            !events.iter().any(|e| e.event == "done"),
            "a stream the server broke off ended with done:\n{all}"
        );
        if upstream.contains(text_delta) {
            // Text first, then the error: the stream was under way, so it ends with an error event.
            assert_eq!(*status, 200, "{all}");
            assert!(events.iter().any(|e| e.event == "delta"), "{all}");
            let last = events.last().unwrap_or_else(|| panic!("no events:\n{all}"));
            assert_eq!(last.event, "error", "{all}");
            assert_eq!(last.json()["code"], "unavailable", "{all}");
        } else {
            // The error before any text: that error is the answer.
            assert_eq!(*status, 502, "{all}");
            let body: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {all}"));
            assert_eq!(body["error"]["code"], "unavailable", "{all}");
        }
    }
    assert!(
        broken >= 1,
        "the server broke off no stream, so this test proves nothing: {exchanges:?}\n{}",
        server.stderr()
    );
}

#[test]
fn a_prompt_over_the_context_is_a_clear_error() {
    let server = llama::shared();
    let d = daemon("openai", &server.openai_url(), "");
    // ~2550 tokens against 2048 per slot: llama.cpp answers 400 exceed_context_size_error.
    let prompt = "lorem ipsum dolor sit amet ".repeat(250);
    let (status, body) = d.post(
        COMPLETE,
        &json!({ "messages": [user(&prompt)], "max_tokens": 8 }),
    );
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("exceeds the available context size"),
        "the error must pass on why the server refused: {body}"
    );
    // Asked for a stream, the same: it failed before any text, so the answer is that error, not
    // a stream.
    let (status, _, events, text) =
        stream(&d, &json!({ "messages": [user(&prompt)], "max_tokens": 8 }));
    assert_eq!(status, 502, "{text}");
    assert!(events.is_empty(), "{text}");
    let streamed: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(streamed, body);
}

#[test]
fn the_anthropic_provider_talks_to_the_servers_messages_endpoint() {
    let server = llama::shared();
    let tap = Tap::start(server.base_url());
    let d = daemon("anthropic", tap.base_url(), "");
    // A prompt no other test sends: the server shared by the tests caches prompts, and its
    // `/v1/messages` counts as `input_tokens` only what it did not take from that cache (without a
    // `cache_read_input_tokens` of its own), so a prompt it has seen whole would count 0.
    let (status, c) = d.post(
        COMPLETE,
        &json!({ "messages": [user("Say hello to Claude's protocol.")], "max_tokens": 16 }),
    );
    assert_eq!(status, 200, "{c}");
    assert_completion(&c, 16);
    let (status, _, events, _) = stream(
        &d,
        &json!({ "messages": [user("Name a colour.")], "max_tokens": 12 }),
    );
    assert_eq!(status, 200, "{}", describe(&events));
    assert_streamed(&events, 12);
    let requests: Vec<String> = tap.exchanges().iter().map(|x| x.request_text()).collect();
    assert!(
        requests.iter().all(|r| r.starts_with("POST /v1/messages ")),
        "{requests:?}"
    );
    let bodies = upstream_bodies(&tap);
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("event: content_block_delta")),
        "no Anthropic stream upstream: {bodies:?}"
    );
}

#[test]
fn a_client_going_away_cancels_the_generation() {
    // Its own server, where every answer runs to max_tokens: a generation that went on would make
    // all 1500 tokens (~40 s); a cancelled one stops within a few.
    let server = LlamaServer::start(LlamaOptions {
        parallel: 1,
        ignore_eos: true,
        ..LlamaOptions::default()
    });
    let d = daemon("openai", &server.openai_url(), "max_tokens = 2000\n");
    let mut resp = d
        .request(Method::POST, COMPLETE)
        .header("accept", "text/event-stream")
        .timeout(Duration::from_secs(120))
        .json(&json!({ "messages": [user("Tell a long story.")], "max_tokens": 1500 }))
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 200);
    // Read until the first delta arrived: the server is generating.
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains("event: delta") {
        let n = resp.read(&mut buf).expect("read the stream");
        assert!(
            n > 0,
            "stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    assert_eq!(server.busy_slots(), 1, "the server is not generating");
    drop(resp);
    wait_until(secs(60), "the server's slot is free again", || {
        server.busy_slots() == 0
    })
    .unwrap();
    let made = server.metric("llamacpp:tokens_predicted_total");
    assert!(
        made < 1500.0,
        "the server made all {made} tokens: the generation was not cancelled"
    );
}

/// A schema the model can always finish within the test's max_tokens (bounded strings).
fn verdict_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "verdict": { "type": "string", "enum": ["fixed", "not fixed"] },
            "confidence": { "type": "integer", "minimum": 0, "maximum": 100 }
        },
        "required": ["verdict", "confidence"],
        "additionalProperties": false
    })
}

fn assert_verdict(content: &str) {
    let v: Value = serde_json::from_str(content)
        .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {content:?}"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    assert!(
        ["fixed", "not fixed"].contains(&obj["verdict"].as_str().unwrap_or("")),
        "{v}"
    );
    let c = obj["confidence"].as_i64().unwrap_or(-1);
    assert!((0..=100).contains(&c), "{v}");
    assert_eq!(obj.len(), 2, "{v}");
}

#[test]
fn a_response_schema_gets_an_answer_that_validates() {
    let server = llama::shared();
    let tap = Tap::start(server.base_url());
    let d = daemon("openai", &tap.openai_url(), "");
    let (status, c) = d.post(
        COMPLETE,
        &json!({
            "messages": [user("Was the service fixed? Answer in JSON.")],
            "response_schema": verdict_schema(),
            "max_tokens": 64,
        }),
    );
    assert_eq!(status, 200, "{c}");
    assert_verdict(c["message"]["content"].as_str().unwrap_or(""));
    let requests: Vec<String> = tap.exchanges().iter().map(|x| x.request_text()).collect();
    assert!(
        requests.iter().any(|r| r.contains("json_schema")),
        "the schema was not sent for the server to enforce: {requests:?}"
    );
}

#[test]
fn a_model_without_tools_answers_a_tool_call_as_checked_json() {
    let server = llama::shared();
    let tap = Tap::start(server.base_url());
    let d = daemon("openai", &tap.openai_url(), "");
    let parameters = json!({
        "type": "object",
        "properties": { "path": { "type": "string", "maxLength": 40 } },
        "required": ["path"],
        "additionalProperties": false
    });
    let (status, c) = d.post(
        COMPLETE,
        &json!({
            "messages": [user("The service crashed. Read its main file.")],
            "tools": [{ "name": "read_file", "description": "Read a file of the project.", "parameters": parameters }],
            // The grammar bounds the answer, but lets the model put whitespace between its tokens:
            // 64 tokens were once too few for `{"tool": ..., "arguments": {"path": ...}}`.
            "max_tokens": 256,
        }),
    );
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["finish_reason"], "tool_calls", "{c}");
    let calls = c["message"]["tool_calls"].as_array().expect("tool_calls");
    assert_eq!(calls.len(), 1, "{c}");
    assert_eq!(calls[0]["name"], "read_file", "{c}");
    let args: Value = serde_json::from_str(calls[0]["arguments"].as_str().unwrap_or(""))
        .unwrap_or_else(|e| panic!("arguments not JSON ({e}): {c}"));
    let path = args["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no path: {c}"));
    assert!(path.chars().count() <= 40, "{c}");
    assert_eq!(args.as_object().map(|o| o.len()), Some(1), "{c}");
    // Upstream: no native tools, a grammar-enforced schema instead.
    let request = tap
        .exchanges()
        .iter()
        .map(|x| x.request_text())
        .collect::<String>();
    assert!(request.contains("\"json_schema\""), "{request}");
    assert!(!request.contains("\"tools\""), "{request}");
}

#[test]
fn calls_back_to_back_all_reach_the_server() {
    // llama.cpp's server closes the connection after each streamed answer without saying so
    // (`Connection: close`). With the close arriving a little late (the tap delays it), a gateway
    // that reused connections wrote the next call onto the dead one ("cannot reach the provider";
    // without the delay, about one call in ten back to back on this machine).
    let server = llama::shared();
    let tap = Tap::start_with_close_lag(server.base_url(), Duration::from_millis(500));
    for (provider, url) in [
        ("openai", tap.openai_url()),
        ("anthropic", tap.base_url().to_string()),
    ] {
        let d = daemon(provider, &url, "");
        for i in 0..4 {
            let (status, c) = d.post(
                COMPLETE,
                &json!({ "messages": [user("Hi.")], "max_tokens": 2 }),
            );
            assert_eq!(status, 200, "{provider}, call {i}: {c}");
        }
    }
}
