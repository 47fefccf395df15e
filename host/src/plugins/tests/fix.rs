//! Calls through `PluginHost::propose_fix` with real fixer components: the incident and the answer
//! crossing the boundary field for field, how failures come back (a sentence), the `llm`/`project`
//! grants refused at load, the `llm` import (no gateway; a scripted one), and the agent pool and
//! deadlines: fixers blocked on a model never hold up probes, and are not cut off by the probes'
//! time ceiling, while their own wall-clock deadline still holds.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{Harness, set_key, target, wait_until};
use crate::plugins::agent::AGENT_CALLS;
use crate::plugins::agent::Completing;
use crate::plugins::{LlmError, LlmGateway, Outcome, PluginSettings};
use crate::wire::{self, PluginState};

pub fn incident(name: &str, dir: &Path) -> wire::Incident {
    wire::Incident {
        kind: wire::IncidentKind::CrashLoop,
        target: wire::TargetKind::Service,
        name: name.into(),
        command: "python3 app.py".into(),
        argv: vec!["python3".into(), "app.py".into()],
        working_dir: dir.display().to_string(),
        exit_code: Some(1),
        signal: None,
        restarts: 4,
        log_tail: vec!["Traceback".into(), "ValueError: PORT".into()],
        env_names: vec!["PORT".into()],
        env_file: Some(".env".into()),
        port: Some(8080),
        port_holder: Some(wire::PortHolder {
            pid: 42,
            command: "python3 old.py".into(),
            leftover: true,
        }),
        health_message: Some("connection refused".into()),
        previous: vec![wire::Attempt {
            diagnosis: "tried".into(),
            outcome: "verify-failed".into(),
            detail: "still crashing".into(),
        }],
        model: Some("opus".into()),
    }
}

fn proposal(answer: &Result<wire::FixAnswer, String>) -> &wire::Proposal {
    match answer {
        Ok(wire::FixAnswer::Fix { proposal }) => proposal,
        other => panic!("expected a proposal, got {other:?}"),
    }
}

fn diagnosis(answer: &Result<wire::FixAnswer, String>) -> Value {
    serde_json::from_str(&proposal(answer).diagnosis).expect("the fixture's diagnosis is JSON")
}

#[tokio::test]
async fn propose_fix_round_trips_the_incident_and_the_answer() {
    let h = Harness::new().await;
    h.install("fixer-echo", "echo");
    let host = h.start().await;
    let call = host
        .propose_fix("echo", incident("web", h.dir.path()), h.dir.path())
        .await;
    let seen = diagnosis(&call.answer);
    assert_eq!(
        seen,
        json!({
            "kind": "IncidentKind::CrashLoop", "target": "TargetKind::Service", "name": "web",
            "command": "python3 app.py", "argv": ["python3", "app.py"],
            "working_dir": h.dir.path().display().to_string(),
            "exit_code": 1, "signal": null, "restarts": 4,
            "log_tail": ["Traceback", "ValueError: PORT"], "env_names": ["PORT"],
            "env_file": ".env", "port": 8080, "port_holder": [42, "python3 old.py", true],
            "health_message": "connection refused",
            "previous": [["tried", "verify-failed", "still crashing"]], "model": "opus",
        })
    );
    let p = proposal(&call.answer);
    assert_eq!(
        (p.confidence, p.restart, p.author, p.source.as_str()),
        (0.75, true, wire::Author::Rule, "echo")
    );
    assert_eq!(
        p.edits,
        [
            wire::Edit::Replace {
                path: "app.py".into(),
                base_sha256: "00".repeat(32),
                old: "PORT = 'abc'".into(),
                new: "PORT = 8080".into()
            },
            wire::Edit::Create {
                path: "logs/.keep".into(),
                content: String::new(),
                executable: false
            },
            wire::Edit::CreateDir {
                path: "data".into()
            },
            wire::Edit::SetExecutable {
                path: "run.sh".into(),
                base_sha256: "11".repeat(32),
                executable: true
            },
        ]
    );
    assert_eq!(
        p.commands,
        [wire::FixCommand {
            command_type: wire::CommandType::Shell,
            command: "pip install -r requirements.txt".into(),
            is_safe: true,
            allowed_in_production: false,
            timeout_s: Some(120),
            reason: "install what requirements.txt declares".into(),
        }]
    );
    assert_eq!((call.llm_calls, call.usage), (0, wire::Usage::default()));
    let info = host.info("echo").unwrap();
    assert_eq!((info.world.as_str(), info.stats.ok), ("fixer", 1));
    assert!(!info.grants.llm && !info.grants.project);

    let none = host
        .propose_fix("echo", incident("none", h.dir.path()), h.dir.path())
        .await;
    assert_eq!(
        none.answer,
        Ok(wire::FixAnswer::NoSafeFix {
            reason: "fixer-echo: nothing is safe".into()
        })
    );
}

#[tokio::test]
async fn a_failed_fixer_call_is_an_error_sentence() {
    let h = Harness::new().await;
    h.install("fixer-echo", "echo");
    h.install_with("fixer-echo", "slow", |m| set_key(m, "timeout_ms", "300"));
    h.install("trivial", "probe");
    let host = h
        .start_with(PluginSettings {
            suspend_after_traps: 0,
            ..Default::default()
        })
        .await;
    let root = h.dir.path();
    let err = |call: crate::plugins::FixCall| call.answer.expect_err("an error");
    let trapped = err(host.propose_fix("echo", incident("trap", root), root).await);
    assert!(
        trapped.starts_with("fixer plugin echo: plugin trapped:"),
        "{trapped}"
    );
    let failed = err(host.propose_fix("echo", incident("err", root), root).await);
    assert_eq!(
        failed,
        "fixer plugin echo found no answer: fixer-echo: asked to fail"
    );
    let started = Instant::now();
    let spun = err(host.propose_fix("slow", incident("spin", root), root).await);
    assert_eq!(spun, "fixer plugin slow: plugin timed out");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        err(host.propose_fix("nope", incident("web", root), root).await),
        "no plugin named nope is loaded"
    );
    let wrong = err(host.propose_fix("probe", incident("web", root), root).await);
    assert!(
        wrong.contains("implements world `probe`, not `fixer`"),
        "{wrong}"
    );
    let stats = host.info("echo").unwrap().stats;
    assert_eq!(
        (
            stats.failures.get("trap"),
            stats.failures.get("plugin_error")
        ),
        (Some(&1), Some(&1))
    );
}

#[tokio::test]
async fn llm_and_project_imports_need_their_grants() {
    let h = Harness::new().await;
    h.install("fixer-jail", "jail");
    h.install("fixer-llm", "asker");
    h.install_with("fixer-jail", "nosy", |m| set_key(m, "project", "false"));
    h.install_with("fixer-llm", "chatter", |m| set_key(m, "llm", "false"));
    h.install_with("trivial", "probe-llm", |m| {
        m.replace("env = []", "env = []\nllm = true")
    });
    let host = h.start().await;
    for (name, needle) in [
        (
            "nosy",
            "imports tend:plugin/project@0.2.3 beyond its grants: the manifest does not grant it ([grants] project = true",
        ),
        (
            "chatter",
            "imports tend:plugin/llm@0.2.3 beyond its grants: the manifest does not grant it ([grants] llm = true",
        ),
        (
            "probe-llm",
            "grants.llm is for fixer and onboarder plugins, not world `probe`",
        ),
    ] {
        let info = host.info(name).unwrap();
        assert_eq!(info.state, PluginState::Rejected, "{name}");
        let reason = info.rejected.unwrap().reason;
        assert!(reason.contains(needle), "{name}: {reason}");
    }
    let jail = host.info("jail").unwrap();
    assert_eq!((jail.grants.project, jail.grants.llm), (true, false));
    let asker = host.info("asker").unwrap();
    assert_eq!((asker.grants.project, asker.grants.llm), (false, true));
    assert_eq!(
        asker.limits.timeout_ms, 300_000,
        "agent worlds may wait long"
    );
}

#[tokio::test]
async fn without_a_gateway_the_plugin_is_told_no_model_is_configured() {
    let h = Harness::new().await;
    h.install("fixer-llm", "asker");
    let host = h.start().await;
    let root = h.dir.path();
    let call = host.propose_fix("asker", incident("web", root), root).await;
    assert_eq!(
        diagnosis(&call.answer),
        json!({ "err": "not-configured: no model is configured ([llm] in tend.toml)" })
    );
    assert_eq!(call.llm_calls, 0, "no model was asked");
    assert_eq!(proposal(&call.answer).author, wire::Author::Rule);
}

/// A scripted gateway: records every request; answers once a permit is available in `gate` (after
/// `delay`, when set), or fails as told.
struct Scripted {
    seen: Mutex<Vec<(wire::Purpose, wire::CompletionRequest)>>,
    gate: Semaphore,
    delay: Option<Duration>,
    fail: Option<LlmError>,
}

impl Scripted {
    fn new(open: bool) -> Arc<Scripted> {
        Scripted::with(open, None, None)
    }

    fn with(open: bool, delay: Option<Duration>, fail: Option<LlmError>) -> Arc<Scripted> {
        Arc::new(Scripted {
            seen: Mutex::default(),
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
            delay,
            fail,
        })
    }

    fn seen(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl LlmGateway for Scripted {
    fn complete(&self, purpose: wire::Purpose, request: wire::CompletionRequest) -> Completing<'_> {
        Box::pin(async move {
            self.seen.lock().unwrap().push((purpose, request));
            let _permit = self.gate.acquire().await.expect("gate open");
            if let Some(d) = self.delay {
                // tidy:allow-sleep: a slow model, not synchronisation
                tokio::time::sleep(d).await;
            }
            if let Some(e) = &self.fail {
                return Err(e.clone());
            }
            Ok(wire::Completion {
                message: wire::Message {
                    role: wire::Role::Assistant,
                    content: "look at app.py".into(),
                    tool_calls: vec![wire::ToolCall {
                        id: "c1".into(),
                        name: "read_file".into(),
                        arguments: "{\"path\":\"app.py\"}".into(),
                    }],
                    tool_call_id: None,
                },
                finish_reason: wire::FinishReason::ToolCalls,
                usage: wire::Usage {
                    input_tokens: 30,
                    output_tokens: 7,
                },
                model: "opus".into(),
                latency_ms: 5,
            })
        })
    }
}

#[tokio::test]
async fn llm_requests_reach_the_gateway_with_the_calls_purpose_and_model() {
    let h = Harness::new().await;
    h.install("fixer-llm", "asker");
    let host = h.start().await;
    let gateway = Scripted::new(true);
    host.set_llm(Some(gateway.clone()));
    let root = h.dir.path();
    let call = host.propose_fix("asker", incident("web", root), root).await;
    assert_eq!(
        diagnosis(&call.answer),
        json!({ "ok": {
            "content": "look at app.py", "model": "opus", "finish": "tool-calls",
            "tool_calls": [["c1", "read_file", "{\"path\":\"app.py\"}"]], "usage": [30, 7],
        }})
    );
    assert_eq!(
        (call.llm_calls, call.usage),
        (
            1,
            wire::Usage {
                input_tokens: 30,
                output_tokens: 7
            }
        )
    );
    assert_eq!(
        proposal(&call.answer).author,
        wire::Author::Model,
        "a plugin that asked a model made a model-written proposal, whatever it says"
    );
    let (purpose, request) = gateway.seen.lock().unwrap()[0].clone();
    assert_eq!(purpose, wire::Purpose::Fix);
    assert_eq!(
        request.model.as_deref(),
        Some("opus"),
        "the incident's model"
    );
    assert_eq!(
        request.messages[1],
        wire::Message {
            role: wire::Role::User,
            content: "web crashed".into(),
            tool_calls: vec![],
            tool_call_id: None
        }
    );
    assert_eq!(
        request.tools[0].parameters,
        json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        "schemas are parsed"
    );
    assert_eq!(
        (request.max_tokens, request.temperature),
        (Some(64), Some(0.0))
    );

    let mut no_model = incident("web", root);
    no_model.model = None;
    host.propose_fix("asker", no_model, root).await;
    assert_eq!(
        gateway.seen.lock().unwrap()[1].1.model,
        None,
        "the gateway's default"
    );

    let bad = host
        .propose_fix("asker", incident("bad-schema", root), root)
        .await;
    let seen = diagnosis(&bad.answer);
    assert!(
        seen["err"]
            .as_str()
            .unwrap()
            .starts_with("invalid-request: tool read_file: parameters are not JSON"),
        "{seen}"
    );
    assert_eq!((gateway.seen(), bad.llm_calls), (2, 0), "nothing was sent");

    let failing = Scripted::with(
        true,
        None,
        Some(LlmError::RateLimited("429 after 3 tries".into())),
    );
    host.set_llm(Some(failing));
    let limited = host.propose_fix("asker", incident("web", root), root).await;
    assert_eq!(
        diagnosis(&limited.answer),
        json!({ "err": "rate-limited: 429 after 3 tries" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixers_waiting_on_a_model_never_hold_up_probes() {
    let h = Harness::new().await;
    h.install("fixer-llm", "asker");
    h.install("trivial", "probe");
    let host = h.start().await;
    let gateway = Scripted::new(false);
    host.set_llm(Some(gateway.clone()));
    let root = h.dir.path().to_path_buf();
    // One more fixer than the agent pool holds: the last one waits for a slot.
    let fixers: Vec<_> = (0..=AGENT_CALLS)
        .map(|_| {
            let (host, root) = (host.clone(), root.clone());
            tokio::spawn(async move {
                host.propose_fix("asker", incident("web", &root), &root)
                    .await
            })
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(10), || gateway.seen()
            == AGENT_CALLS as usize)
        .await,
        "every agent slot is taken by a fixer waiting on the model ({} seen)",
        gateway.seen()
    );
    for _ in 0..20 {
        let started = Instant::now();
        let outcome = host.check("probe", target(json!({}))).await;
        assert!(matches!(outcome, Outcome::Ok(_)), "{outcome:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a probe took {:?} while fixers wait on the model",
            started.elapsed()
        );
    }
    assert!(fixers.iter().all(|f| !f.is_finished()));
    assert_eq!(
        host.inner.slots.available_permits(),
        (crate::plugins::engine::POOLED_CALLS - AGENT_CALLS) as usize,
        "the fixers hold none of the slots probes use"
    );
    assert_eq!(
        gateway.seen(),
        AGENT_CALLS as usize,
        "the extra fixer waits"
    );
    gateway.gate.add_permits(Semaphore::MAX_PERMITS);
    for f in fixers {
        let call = f.await.unwrap();
        assert_eq!(call.llm_calls, 1);
        proposal(&call.answer);
    }
    assert_eq!(gateway.seen(), AGENT_CALLS as usize + 1);
}

#[tokio::test]
async fn a_fixer_outlives_the_probe_ceiling_but_not_its_own_deadline() {
    let h = Harness::new().await;
    h.install("fixer-llm", "asker");
    h.install_with("fixer-llm", "hasty", |m| set_key(m, "timeout_ms", "300"));
    let host = h
        .start_with(PluginSettings {
            max_timeout_ms: 100,
            ..Default::default()
        })
        .await;
    let slow = Scripted::with(true, Some(Duration::from_millis(600)), None);
    host.set_llm(Some(slow));
    let root = h.dir.path();
    let call = host.propose_fix("asker", incident("web", root), root).await;
    assert!(
        diagnosis(&call.answer)["ok"].is_object(),
        "waiting 600 ms on the model is fine for a fixer although probes get 100 ms: {:?}",
        call.answer
    );
    assert!(call.duration_ms >= 600, "{}", call.duration_ms);

    host.set_llm(Some(Scripted::new(false)));
    let started = Instant::now();
    let cut = host.propose_fix("hasty", incident("web", root), root).await;
    assert_eq!(
        cut.answer,
        Err("fixer plugin hasty: plugin timed out".into())
    );
    assert_eq!(cut.llm_calls, 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// A one-shot OpenAI-compatible server on loopback: answers one `POST .../chat/completions` with
/// `answer` (plain JSON) and hands back the request it got, head and body.
async fn one_answer_server(answer: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
        conn.write_all(reply.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&got).to_string()
    });
    (port, task)
}

#[tokio::test]
async fn the_real_gateway_answers_a_plugin_which_never_sees_the_key_or_the_url() {
    let h = Harness::new().await;
    h.install("fixer-llm", "asker");
    let host = h.start().await;
    let (port, server) = one_answer_server(
        r#"{"choices":[{"message":{"role":"assistant","content":"the port is not a number"},"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"completion_tokens":6}}"#,
    )
    .await;
    let key_file = h.dir.path().join("llm.key");
    std::fs::write(&key_file, "sk-plugin-test-secret\n").unwrap();
    let file: crate::llm::LlmFile = toml::from_str(&format!(
        "[models.local]\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n\
         model = \"tiny-model\"\napi_key_file = \"{}\"\nstream = false\nretries = 0\n",
        key_file.display()
    ))
    .unwrap();
    let gateway = crate::llm::Gateway::new(file.resolve().unwrap(), h.store.clone()).unwrap();
    host.set_llm(Some(Arc::new(gateway)));
    let root = h.dir.path();
    let mut asked = incident("web", root);
    asked.model = None;
    let call = host.propose_fix("asker", asked, root).await;
    assert_eq!(
        diagnosis(&call.answer),
        json!({ "ok": {
            "content": "the port is not a number", "model": "local", "finish": "stop",
            "tool_calls": [], "usage": [21, 6],
        }})
    );
    assert_eq!(
        (
            call.llm_calls,
            call.usage.input_tokens,
            call.usage.output_tokens
        ),
        (1, 21, 6)
    );
    let request = server.await.unwrap();
    assert!(
        request.contains("sk-plugin-test-secret"),
        "the provider got the key"
    );
    assert!(request.contains("tiny-model"));
    let seen = proposal(&call.answer).diagnosis.clone();
    assert!(
        !seen.contains("sk-plugin-test-secret") && !seen.contains("127.0.0.1"),
        "{seen}"
    );

    // An incident naming a model that is not configured: the gateway's own refusal reaches the plugin.
    let call = host.propose_fix("asker", incident("web", root), root).await;
    let err = diagnosis(&call.answer)["err"].as_str().unwrap().to_string();
    assert!(err.starts_with("not-configured: "), "{err}");
}
