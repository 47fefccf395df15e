//! More of the chat (`POST /api/chat`) against the scripted servers: requests refused before any
//! stream (naming the field, storing nothing), a provider failing before or during the answer, a
//! model that keeps calling tools (the final round is offered none), an Anthropic model, a model
//! without tool support (the gateway's JSON fallback), `tend chat`, and the daemon stopping during a
//! chat. Helpers are `chat.rs`'s.

use tend_tests::llm_script::{Reply, ScriptedLlm, anthropic, openai};
use tend_tests::{Daemon, Value, json, secs, wait_until};

use crate::chat::{chat, clean, deltas, last, shape};
use crate::llm_gateway::{KEY, openai_config, start};

#[test]
fn bad_requests_name_the_field_and_store_nothing() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    let cases = [
        (json!({"message": "  "}), 422, "message"),
        (json!({"message": "x".repeat(16_385)}), 422, "message"),
        (
            json!({"message": "hi", "conversation": "0123456789abcdef"}),
            404,
            "conversation",
        ),
        (json!({"message": "hi", "service": "ghost"}), 404, "service"),
        (json!({"message": "hi", "model": "gpt-9"}), 422, "model"),
        (
            json!({"message": "hi", "temperature": 1}),
            422,
            "temperature",
        ),
    ];
    for (body, code, field) in cases {
        let (status, _, raw) = chat(&d, &body);
        assert_eq!(status, code, "{body}: {raw}");
        let e: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(e["error"]["field"], field, "{body}: {raw}");
    }
    let (_, list) = d.get("/api/chat/conversations");
    assert_eq!(list, json!([]));
    assert!(server.requests().is_empty());

    // A provider failing: `error` last, the person's message kept, no answer stored.
    server.push(Reply::json(
        400,
        json!({"error": {"message": "bad things"}}),
    ));
    let (status, events, raw) = chat(&d, &json!({"message": "hi"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(shape(&events), ["conversation", "error"], "{raw}");
    assert_eq!(last(&events)["code"], "unavailable");
    assert!(
        last(&events)["message"]
            .as_str()
            .unwrap()
            .contains("bad things"),
        "{raw}"
    );
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let (_, c) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(c["messages"].as_array().unwrap().len(), 1, "{c}");

    // No [llm] at all: refused before a stream, nothing stored.
    let bare = Daemon::start();
    let (status, _, raw) = chat(&bare, &json!({"message": "hi"}));
    assert_eq!(status, 409, "{raw}");
    assert!(raw.contains("no LLM is configured"), "{raw}");
    assert_eq!(bare.get("/api/chat/conversations").1, json!([]));
}

#[test]
fn an_anthropic_model_answers_too() {
    let server = ScriptedLlm::start();
    let d = start(&format!(
        "[llm.models.claude]\nprovider = \"anthropic\"\nbase_url = \"{}\"\nmodel = \"claude-scripted\"\n\
         api_key_env = \"TEND_TEST_LLM_KEY\"\n",
        server.url()
    ));
    server.push(
        Reply::sse(vec![
            anthropic::message_start(70),
            anthropic::tool_start(0, "tu_1", "list_services"),
            anthropic::json_delta(0, "{}"),
            anthropic::block_stop(0),
            anthropic::message_delta("tool_use", 8),
            anthropic::message_stop(),
        ])
        .split_every(11),
    );
    server.push(Reply::sse(anthropic::sse(
        &["No ", "services ", "yet."],
        90,
        4,
    )));
    let (status, events, raw) = chat(&d, &json!({"message": "list", "model": "claude"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        shape(&events),
        ["conversation", "tool", "delta", "done"],
        "{raw}"
    );
    assert_eq!(events[1].json()["result"], "[]");
    assert_eq!(deltas(&events).concat(), "No services yet.");
    assert_eq!(
        last(&events)["usage"],
        json!({"input_tokens": 160, "output_tokens": 12})
    );
    let reqs = server.requests();
    assert_eq!(reqs[1].path, "/v1/messages");
    assert_eq!(reqs[1].header("x-api-key"), Some(KEY));
    let b = reqs[1].json();
    assert!(b["system"].to_string().contains("tend"), "{b}");
    assert!(b["messages"].to_string().contains("tool_result"), "{b}");
    clean("the chat's stream", &raw);
}

#[test]
fn a_model_without_tools_answers_through_the_json_fallback() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "tools = false"));
    server.push(Reply::json(
        200,
        openai::text("{\"tool\":\"list_services\",\"arguments\":{}}", 30, 8),
    ));
    server.push(Reply::json(
        200,
        openai::text(
            "```json\n{\"tool\":\"answer\",\"arguments\":{\"text\":\"Nothing is registered.\"}}\n```",
            50,
            12,
        ),
    ));
    let (status, events, raw) = chat(&d, &json!({"message": "What runs?"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        shape(&events),
        ["conversation", "tool", "delta", "done"],
        "{raw}"
    );
    assert_eq!(deltas(&events), ["Nothing is registered."]);
    let b = server.requests()[1].json();
    assert!(b.get("tools").is_none(), "{b}");
    assert!(
        b["messages"].to_string().contains("The tool answered"),
        "{b}"
    );
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let (_, c) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(c["messages"][1]["content"], "Nothing is registered.");
}

#[test]
fn the_cli_prints_the_answer_as_it_comes_and_what_to_continue_with() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    server.push(Reply::sse(vec![
        openai::tool_delta(0, Some("c1"), Some("list_services"), "{}"),
        openai::finish("tool_calls"),
        openai::usage(10, 2),
        openai::done(),
    ]));
    server.push(Reply::sse(openai::sse(&["Nothing ", "runs."], 20, 3)));
    let o = d.cli(&["chat", "What runs?"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.starts_with("Nothing runs.\n"), "{stdout}");
    assert!(stdout.contains("-- used list_services({})"), "{stdout}");
    assert!(stdout.contains("-- 30 in / 5 out tokens"), "{stdout}");
    let (_, list) = d.get("/api/chat/conversations");
    let id = list[0]["id"].as_str().unwrap();
    assert!(
        stdout.contains(&format!("continue with --conversation {id}")),
        "{stdout}"
    );
    // A refused request fails with the reason.
    let o = d.cli(&["chat", "hi", "--service", "ghost"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ghost"),
        "{o:?}"
    );
}

#[test]
fn a_stream_cut_midway_ends_in_an_error_and_no_answer() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    server.push(Reply::sse(openai::sse(&["Half ", "an ", "answer"], 5, 3)).cut_after(2));
    let (status, events, raw) = chat(&d, &json!({"message": "talk"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(shape(&events), ["conversation", "delta", "error"], "{raw}");
    assert_eq!(last(&events)["code"], "unavailable", "{raw}");
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let (_, c) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(c["messages"].as_array().unwrap().len(), 1, "{c}");

    // A round that only repeats a call already made is followed by the final round.
    let before = server.requests().len();
    for i in 0..2 {
        server.push(Reply::json(
            200,
            openai::tool_calls(&[(&format!("e{i}"), "plugin_stats", "{}")], 10, 1),
        ));
    }
    server.push(Reply::json(200, openai::text("Done looking.", 10, 2)));
    let (_, events, raw) = chat(&d, &json!({"message": "plugins?"}));
    assert_eq!(last(&events)["event"], "done", "{raw}");
    let reqs = server.requests();
    assert_eq!(reqs.len() - before, 3);
    assert!(reqs[before + 1].json()["tools"].is_array());
    assert!(reqs[before + 2].json().get("tools").is_none());
}

#[test]
fn the_last_round_is_offered_no_tools_and_answers() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false"));
    // Each round asks something new (a round repeating earlier calls ends the tools: below).
    for i in 0..7 {
        server.push(Reply::json(
            200,
            openai::tool_calls(
                &[(
                    &format!("c{i}"),
                    "cron_history",
                    &format!("{{\"job\":\"j{i}\"}}"),
                )],
                10,
                1,
            ),
        ));
    }
    server.push(Reply::json(200, openai::text("Plugins look fine.", 10, 4)));
    let (status, events, raw) = chat(&d, &json!({"message": "loop"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        events.iter().filter(|e| e.event == "tool").count(),
        7,
        "{raw}"
    );
    assert_eq!(last(&events)["event"], "done", "{raw}");
    assert_eq!(deltas(&events).concat(), "Plugins look fine.");
    assert_eq!(
        last(&events)["usage"],
        json!({"input_tokens": 80, "output_tokens": 11})
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 8);
    assert!(reqs[6].json()["tools"].is_array());
    // The last round: no tools, the calls so far as text, told to answer.
    let b = reqs[7].json();
    assert!(b.get("tools").is_none(), "{b}");
    let text = b["messages"].to_string();
    assert!(
        text.contains("last round") && text.contains("The tool answered"),
        "{b}"
    );
    assert!(
        !reqs[6].json()["messages"]
            .to_string()
            .contains("last round")
    );
    // A model that calls tools even then gets an error and no answer is stored.
    for i in 0..8 {
        server.push(Reply::json(
            200,
            openai::tool_calls(
                &[(
                    &format!("d{i}"),
                    "cron_history",
                    &format!("{{\"job\":\"k{i}\"}}"),
                )],
                10,
                1,
            ),
        ));
    }
    let (_, events, raw) = chat(&d, &json!({"message": "loop again"}));
    let end = last(&events);
    assert_eq!(end["event"], "error", "{raw}");
    assert!(
        end["message"].as_str().unwrap().contains("8 rounds"),
        "{raw}"
    );
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let (_, c) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(c["messages"].as_array().unwrap().len(), 1, "{c}");

    // A round that only repeats a call already made is followed by the final round.
    let before = server.requests().len();
    for i in 0..2 {
        server.push(Reply::json(
            200,
            openai::tool_calls(&[(&format!("e{i}"), "plugin_stats", "{}")], 10, 1),
        ));
    }
    server.push(Reply::json(200, openai::text("Done looking.", 10, 2)));
    let (_, events, raw) = chat(&d, &json!({"message": "plugins?"}));
    assert_eq!(last(&events)["event"], "done", "{raw}");
    let reqs = server.requests();
    assert_eq!(reqs.len() - before, 3);
    assert!(reqs[before + 1].json()["tools"].is_array());
    assert!(reqs[before + 2].json().get("tools").is_none());
}

#[test]
fn the_daemon_stopping_ends_a_chat_with_shutting_down() {
    let server = ScriptedLlm::start();
    let mut d = start(&openai_config(&server, ""));
    server.push(Reply::hang());
    let resp = d
        .request(reqwest::Method::POST, "/api/chat")
        .json(&json!({"message": "hi"}))
        .send()
        .unwrap();
    let sse = tend_tests::Sse::from_response(resp);
    assert_eq!(
        sse.next(secs(10)).expect("conversation").event,
        "conversation"
    );
    wait_until(secs(10), "the call reached the provider", || {
        server.requests().len() == 1
    })
    .unwrap();
    let started = std::time::Instant::now();
    assert!(d.stop().success());
    assert!(
        started.elapsed() < secs(10),
        "stopping took {:?}",
        started.elapsed()
    );
    let end = sse.next(secs(5)).expect("a last event");
    assert_eq!(end.event, "error", "{}", end.data);
    assert_eq!(end.json()["code"], "shutting_down");
}
