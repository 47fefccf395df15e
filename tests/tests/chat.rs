//! The chat (`POST /api/chat`, Server-Sent Events) against the scripted OpenAI server (real HTTP on
//! loopback): streamed tokens relayed in order, the stored conversations (list, read, continue,
//! delete), tool calls answered from a really running service, usage under the purpose `chat`,
//! proposals that change nothing, a client hanging up cancelling the provider's stream, and no key or
//! env value in any output. Helpers shared with `chat_edges.rs` (validation, failures, other
//! providers, the CLI) are here.

use std::time::Duration;

use reqwest::Method;
use tend_tests::llm_script::{Reply, ScriptedLlm, openai};
use tend_tests::{Daemon, SseEvent, Value, json, secs, wait_until};

use crate::llm_gateway::{KEY, openai_config, start};

/// An env value of the service under discussion; no answer, request or log may contain it.
pub const SECRET: &str = "pw-7c1e93d0-not-for-models";
/// A value from the service's `env_file`; the same rule.
pub const FILE_SECRET: &str = "tok-41d8cd98-from-a-file";

/// `POST /api/chat` read to its end: the status, the events and the raw body (an error's JSON body
/// when the status is not 200).
pub fn chat(d: &Daemon, body: &Value) -> (u16, Vec<SseEvent>, String) {
    let resp = d
        .request(Method::POST, "/api/chat")
        .timeout(Duration::from_secs(60))
        .json(body)
        .send()
        .expect("POST /api/chat");
    let status = resp.status().as_u16();
    let is_sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let text = resp.text().expect("the chat's body");
    if status != 200 {
        return (status, vec![], text);
    }
    assert!(is_sse, "not an event stream: {text}");
    (status, parse(&text), text)
}

fn parse(text: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut ev = SseEvent::default();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                ev.event = v.trim_start().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !ev.event.is_empty() {
            out.push(ev);
        }
    }
    out
}

/// The event names in order, deltas folded into one `delta`.
pub fn shape(events: &[SseEvent]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if e.event == "delta" && out.last().is_some_and(|l| l == "delta") {
            continue;
        }
        out.push(e.event.clone());
    }
    out
}

pub fn deltas(events: &[SseEvent]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event == "delta")
        .map(|e| e.json()["text"].as_str().unwrap().to_string())
        .collect()
}

pub fn last(events: &[SseEvent]) -> Value {
    let e = events.last().expect("at least one event");
    let mut v = e.json();
    v["event"] = json!(e.event);
    v
}

/// The service `web`: prints its secrets (an env value, an env file's value and the LLM key, should it inherit the daemon's env) and a
/// known line, then sleeps; running when this returns, with its pid.
pub fn web(d: &Daemon) -> u64 {
    let env_file = d.scratch().join("web.env");
    std::fs::write(&env_file, format!("API_TOKEN={FILE_SECRET}\n")).unwrap();
    let spec = d.service_with(
        "web",
        "echo \"db password $DB_PASSWORD token $API_TOKEN key $TEND_TEST_LLM_KEY\"; echo hello-from-web; exec sleep 600",
        json!({"env": {"DB_PASSWORD": SECRET}, "env_file": env_file, "port": 18431}),
    );
    d.create(&spec);
    let v = d.wait_status("web", "running", secs(10));
    wait_until(secs(10), "web's lines stored", || {
        d.tail_text("web", 10).iter().any(|l| l == "hello-from-web")
    })
    .unwrap();
    v["pid"].as_u64().unwrap()
}

/// No key and no env value in `text`.
pub fn clean(what: &str, text: &str) {
    assert!(!text.contains(KEY), "the LLM key in {what}: {text}");
    assert!(!text.contains(SECRET), "an env value in {what}: {text}");
    assert!(
        !text.contains(FILE_SECRET),
        "an env file's value in {what}: {text}"
    );
}

#[test]
fn streamed_tokens_are_relayed_in_order_and_the_conversation_kept() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    server.push(
        Reply::sse(openai::sse(
            &["All ", "quiet: ", "n\u{f6}thing ", "runs."],
            21,
            6,
        ))
        .split_every(9),
    );
    let (status, events, raw) = chat(&d, &json!({"message": "What runs here?"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(shape(&events), ["conversation", "delta", "done"], "{raw}");
    assert_eq!(deltas(&events).concat(), "All quiet: n\u{f6}thing runs.");
    assert!(deltas(&events).len() >= 2, "one delta per piece: {raw}");
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let done = last(&events);
    assert_eq!(
        done["usage"],
        json!({"input_tokens": 21, "output_tokens": 6})
    );

    // What the model was sent: the system prompt, the person's message, the tools, streamed.
    let b = server.requests()[0].json();
    assert_eq!(b["stream"], true);
    assert_eq!(b["messages"][0]["role"], "system");
    assert!(
        b["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("propose_action"),
        "{b}"
    );
    assert_eq!(
        b["messages"][1],
        json!({"role": "user", "content": "What runs here?"})
    );
    let tools: Vec<&str> = b["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        [
            "list_services",
            "service_status",
            "service_logs",
            "service_events",
            "service_metrics",
            "cron_jobs",
            "cron_history",
            "plugin_stats",
            "propose_action"
        ]
    );

    // Stored: the person's message and the answer with its usage.
    let (status, c) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["title"], "What runs here?");
    assert_eq!(c["model"], "local");
    assert_eq!(c["messages"].as_array().unwrap().len(), 2, "{c}");
    assert_eq!(c["messages"][0]["role"], "user");
    assert_eq!(c["messages"][1]["role"], "assistant");
    assert_eq!(c["messages"][1]["content"], "All quiet: n\u{f6}thing runs.");
    assert_eq!(c["messages"][1]["id"], done["message"]);
    assert_eq!(
        c["messages"][1]["usage"],
        json!({"input_tokens": 21, "output_tokens": 6})
    );

    // Continuing it sends the conversation so far.
    server.push(Reply::sse(openai::sse(&["Still ", "nothing."], 40, 3)));
    let (status, events, raw) = chat(&d, &json!({"conversation": id, "message": "Sure?"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(events[0].json()["id"], json!(id));
    let m = server.requests()[1].json()["messages"].clone();
    let turns: Vec<(String, String)> = m
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        turns,
        [
            ("user".into(), "What runs here?".into()),
            ("assistant".into(), "All quiet: n\u{f6}thing runs.".into()),
            ("user".into(), "Sure?".into()),
        ]
    );

    // A second conversation is listed first; deleting one removes it.
    server.push(Reply::sse(openai::sse(&["Hi."], 5, 1)));
    let (_, events, _) = chat(&d, &json!({"message": "hello\nsecond line"}));
    let second = events[0].json()["id"].as_str().unwrap().to_string();
    let (status, list) = d.get("/api/chat/conversations");
    assert_eq!(status, 200);
    let listed: Vec<(&str, &str, u64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["title"].as_str().unwrap(),
                c["message_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (second.as_str(), "hello", 2),
            (id.as_str(), "What runs here?", 4)
        ]
    );
    let (status, _) = d.delete(&format!("/api/chat/conversations/{id}"));
    assert_eq!(status, 204);
    let (status, e) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(status, 404, "{e}");
    let (status, _) = d.delete(&format!("/api/chat/conversations/{id}"));
    assert_eq!(status, 404);
    let (_, list) = d.get("/api/chat/conversations");
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn a_tool_call_is_answered_from_the_running_service() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    let pid = web(&d);
    // Round 1: two tool calls, streamed in pieces; round 2: the answer.
    server.push(Reply::sse(vec![
        openai::delta("Looking. "),
        openai::tool_delta(0, Some("c1"), Some("service_status"), "{\"name\":"),
        openai::tool_delta(
            1,
            Some("c2"),
            Some("service_logs"),
            "{\"name\":\"web\",\"lines\":5}",
        ),
        openai::tool_delta(0, None, None, "\"web\"}"),
        openai::finish("tool_calls"),
        openai::usage(100, 20),
        openai::done(),
    ]));
    server.push(Reply::sse(openai::sse(
        &[&format!("web runs as pid {pid}.")],
        300,
        9,
    )));
    let (status, events, raw) = chat(&d, &json!({"message": "Is web up?"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        shape(&events),
        ["conversation", "delta", "tool", "tool", "delta", "done"],
        "{raw}"
    );
    assert_eq!(
        deltas(&events).concat(),
        format!("Looking. web runs as pid {pid}.")
    );
    let status_tool = events[2].json();
    assert_eq!(status_tool["name"], "service_status");
    assert_eq!(status_tool["arguments"], "{\"name\":\"web\"}");
    let logs_tool = events[3].json();
    assert_eq!(logs_tool["name"], "service_logs");
    assert!(
        logs_tool["result"]
            .as_str()
            .unwrap()
            .contains("hello-from-web"),
        "{logs_tool}"
    );
    assert_eq!(
        last(&events)["usage"],
        json!({"input_tokens": 400, "output_tokens": 29})
    );

    // The second request carried the live answers: the real pid, status and log line.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let m = reqs[1].json()["messages"].clone();
    let m = m.as_array().unwrap();
    let answers: Vec<&Value> = m.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(answers.len(), 2, "{m:?}");
    assert_eq!(answers[0]["tool_call_id"], "c1");
    let view: Value = serde_json::from_str(answers[0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(view["pid"], json!(pid));
    assert_eq!(view["status"], "running");
    // Env names only, never values.
    assert_eq!(
        view["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| *n == "DB_PASSWORD")
            .count(),
        1
    );
    let logs = answers[1]["content"].as_str().unwrap();
    assert!(logs.contains("hello-from-web"), "{logs}");
    assert!(
        logs.contains("db password <redacted> token <redacted>"),
        "{logs}"
    );
    for r in &reqs {
        clean(
            "a request to the provider",
            &String::from_utf8_lossy(&r.body),
        );
    }
    clean("the chat's stream", &raw);
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let (_, stored) = d.get(&format!("/api/chat/conversations/{id}"));
    clean("the stored conversation", &stored.to_string());
    assert_eq!(stored["messages"][1]["tools"].as_array().unwrap().len(), 2);
    let mut shown = status_tool.clone();
    shown.as_object_mut().unwrap().remove("type");
    assert_eq!(stored["messages"][1]["tools"][0], shown);

    // Usage under `chat`: the API and /metrics.
    let (_, llm) = d.get("/api/llm");
    assert_eq!(
        llm["models"][0]["usage"][0],
        json!({"purpose": "chat", "calls": 2, "errors": 0, "input_tokens": 400, "output_tokens": 29,
               "latency_ms": llm["models"][0]["usage"][0]["latency_ms"]})
    );
    let metrics = d
        .request(Method::GET, "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "tend_llm_requests_total{model=\"local\",purpose=\"chat\",outcome=\"ok\"} 2",
        "tend_llm_tokens_total{model=\"local\",purpose=\"chat\",direction=\"input\"} 400",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
    let log = std::fs::read_to_string(d.data_dir().join("tend.log")).unwrap_or_default();
    clean("the daemon log", &format!("{log}{}", d.stderr()));
}

#[test]
fn a_proposed_action_is_only_proposed() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, "stream = false"));
    let pid = web(&d);
    let before = d.events("web").len();
    server.push(Reply::json(
        200,
        openai::tool_calls(
            &[
                (
                    "p1",
                    "propose_action",
                    "{\"action\":\"restart\",\"service\":\"web\",\"reason\":\"it leaks\"}",
                ),
                (
                    "p2",
                    "propose_action",
                    "{\"action\":\"restart\",\"service\":\"ghost\",\"reason\":\"x\"}",
                ),
                (
                    "p3",
                    "propose_action",
                    "{\"action\":\"delete\",\"service\":\"web\",\"reason\":\"x\"}",
                ),
            ],
            50,
            10,
        ),
    ));
    server.push(Reply::json(
        200,
        openai::text("I suggest a restart.", 80, 5),
    ));
    let (status, events, raw) = chat(&d, &json!({"message": "Fix web", "service": "web"}));
    assert_eq!(status, 200, "{raw}");
    assert_eq!(
        shape(&events),
        [
            "conversation",
            "tool",
            "proposal",
            "tool",
            "tool",
            "delta",
            "done"
        ],
        "{raw}"
    );
    assert_eq!(
        events[2].json(),
        json!({"type": "proposal", "action": "restart", "service": "web", "reason": "it leaks"})
    );
    assert!(
        events[1].json()["result"]
            .as_str()
            .unwrap()
            .contains("the person decides")
    );
    assert!(
        events[3].json()["result"]
            .as_str()
            .unwrap()
            .contains("ghost"),
        "{raw}"
    );
    assert!(
        events[4].json()["result"]
            .as_str()
            .unwrap()
            .starts_with("error: action"),
        "{raw}"
    );
    // The model was told the same.
    let m = server.requests()[1].json()["messages"].clone();
    let told: Vec<&str> = m
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(
        told[1].starts_with("error: ") && told[2].starts_with("error: "),
        "{told:?}"
    );
    // The context block about web went first, without the env value.
    let context = m[1]["content"].as_str().unwrap();
    assert!(
        context.contains("hello-from-web") && context.contains("DB_PASSWORD"),
        "{context}"
    );
    clean("the context block", context);
    // Nothing changed.
    let v = d.view("web");
    assert_eq!(v["pid"], json!(pid));
    assert_eq!(v["status"], "running");
    assert_eq!(v["restart_count"], 0);
    assert_eq!(d.events("web").len(), before);
    let id = events[0].json()["id"].as_str().unwrap().to_string();
    let (_, c) = d.get(&format!("/api/chat/conversations/{id}"));
    assert_eq!(c["service"], "web");
    assert_eq!(
        c["messages"][1]["proposals"].as_array().unwrap().len(),
        1,
        "{c}"
    );
}

#[test]
fn a_client_hanging_up_cancels_the_call_and_stores_no_answer() {
    let server = ScriptedLlm::start();
    let d = start(&openai_config(&server, ""));
    let words: Vec<String> = (0..200).map(|i| format!("w{i} ")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    server.push(Reply::sse(openai::sse(&words, 5, 200)).pause(Duration::from_millis(50)));
    let resp = d
        .request(Method::POST, "/api/chat")
        .json(&json!({"message": "talk"}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let sse = tend_tests::Sse::from_response(resp);
    let first = sse.next(secs(10)).expect("the conversation event");
    assert_eq!(first.event, "conversation");
    let id = first.json()["id"].as_str().unwrap().to_string();
    let delta = sse.next(secs(10)).expect("a first delta");
    assert_eq!(delta.event, "delta");
    drop(sse);
    // The provider's stream is closed long before the 10 s it would take.
    wait_until(secs(5), "the provider's stream abandoned", || {
        server.abandoned() == 1
    })
    .unwrap();
    wait_until(secs(5), "the cancelled call counted as failed", || {
        let (_, s) = d.get("/api/llm");
        s["models"][0]["usage"][0]["errors"] == 1
    })
    .unwrap();
    let (_, c) = d.get(&format!("/api/chat/conversations/{id}"));
    let roles: Vec<&str> = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user"], "{c}");
}
