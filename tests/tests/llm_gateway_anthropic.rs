//! The LLM gateway against a scripted Anthropic messages server: the request as Anthropic wants it
//! (`x-api-key`, `anthropic-version`, system text at the top, `tool_use` / `tool_result` blocks), a
//! streamed answer with text and a `tool_use` whose input arrives in `input_json_delta` pieces, a
//! `response_schema` through the forced `answer` tool, and a stream that stops before
//! `message_stop`.

use tend_tests::json;
use tend_tests::llm_script::{Reply, ScriptedLlm, anthropic};

use crate::llm_gateway::{KEY, complete, start, stream, user};

fn config(server: &ScriptedLlm, extra: &str) -> String {
    format!(
        "[llm.models.claude]\nprovider = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-scripted\"\n\
         api_key_file = \"{{KEYFILE}}\"\nanthropic_version = \"2023-06-01\"\n{extra}\n",
        server.url()
    )
}

/// A daemon whose `claude` model reads its key from a file in the test's scratch dir.
fn start_with_key_file(
    server: &ScriptedLlm,
    extra: &str,
) -> (tend_tests::Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("anthropic.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let text = config(server, extra).replace("{KEYFILE}", key_file.to_str().unwrap());
    (start(&text), dir)
}

#[test]
fn a_streamed_tool_use_is_assembled_from_input_json_deltas() {
    let server = ScriptedLlm::start();
    let (d, _keys) = start_with_key_file(&server, "");
    server.push(
        Reply::sse(vec![
            anthropic::message_start(310),
            anthropic::text_start(0),
            ": ping comment\n\n".into(),
            anthropic::event("ping", &json!({"type": "ping"})),
            anthropic::text_delta(0, "I'll read "),
            anthropic::text_delta(0, "the file."),
            anthropic::block_stop(0),
            anthropic::tool_start(1, "toolu_01", "read_file"),
            anthropic::json_delta(1, ""),
            anthropic::json_delta(1, "{\"pa"),
            anthropic::json_delta(1, "th\": \"app"),
            anthropic::json_delta(1, ".py\"}"),
            anthropic::block_stop(1),
            anthropic::message_delta("tool_use", 44),
            anthropic::message_stop(),
        ])
        .split_every(11),
    );
    let body = json!({
        "messages": [
            {"role": "system", "content": "You fix services."},
            user("Why?"),
            {"role": "assistant", "content": "Looking.", "tool_calls": [{"id": "toolu_00", "name": "read_file", "arguments": "{\"path\":\"a\"}"}]},
            {"role": "tool", "tool_call_id": "toolu_00", "content": "print(1)"},
        ],
        "tools": [{"name": "read_file", "description": "Read a file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}],
        "temperature": 0.2,
    });
    let (status, deltas, end) = stream(&d, &body);
    assert_eq!(status, 200);
    let end = end.expect("a final event");
    assert_eq!(end.event, "done", "{}", end.data);
    let c = end.json();
    assert_eq!(deltas.concat(), "I'll read the file.");
    assert_eq!(c["model"], "claude");
    assert_eq!(c["finish_reason"], "tool_calls");
    assert_eq!(
        c["usage"],
        json!({"input_tokens": 310, "output_tokens": 44})
    );
    assert_eq!(
        c["message"]["tool_calls"],
        json!([{"id": "toolu_01", "name": "read_file", "arguments": "{\"path\": \"app.py\"}"}])
    );

    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    let b = r.json();
    assert_eq!(b["model"], "claude-scripted");
    assert_eq!(b["system"], "You fix services.");
    assert_eq!(b["stream"], true);
    assert_eq!(b["max_tokens"], 1024);
    assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Why?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "toolu_00", "name": "read_file", "input": {"path": "a"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_00", "content": "print(1)"}]},
        ])
    );
}

#[test]
fn a_schema_answer_comes_through_the_forced_tool_and_a_cut_stream_fails() {
    let server = ScriptedLlm::start();
    let (d, _keys) = start_with_key_file(&server, "stream = false");
    server.push(Reply::json(
        200,
        anthropic::tool_use(
            "toolu_9",
            "answer",
            json!({"diagnosis": "PORT is not a number"}),
            30,
            12,
        ),
    ));
    let schema = json!({"type": "object", "properties": {"diagnosis": {"type": "string"}}, "required": ["diagnosis"]});
    let (status, c) = complete(
        &d,
        &json!({"messages": [user("diagnose")], "response_schema": schema}),
    );
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["finish_reason"], "stop");
    assert_eq!(
        c["message"]["content"],
        "{\"diagnosis\":\"PORT is not a number\"}"
    );
    assert!(c["message"].get("tool_calls").is_none(), "{c}");
    let b = server.requests()[0].json();
    assert_eq!(b["tool_choice"], json!({"type": "tool", "name": "answer"}));
    assert_eq!(b["tools"][0]["input_schema"], schema);

    server.push(Reply::json(
        401,
        json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
    ));
    let (status, e) = complete(&d, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refused the key"),
        "{e}"
    );

    // Streamed, stopping before `message_stop`.
    let (d2, _keys2) = start_with_key_file(&server, "");
    let mut pieces = anthropic::sse(&["par", "tial"], 5, 5);
    pieces.pop();
    server.push(Reply::sse(pieces));
    let (status, deltas, end) = stream(&d2, &json!({"messages": [user("hi")]}));
    assert_eq!(status, 200);
    assert_eq!(deltas.concat(), "partial");
    let end = end.expect("a final event");
    assert_eq!(end.event, "error", "{}", end.data);
    assert!(end.data.contains("message_stop"), "{}", end.data);
}
