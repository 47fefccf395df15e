//! The agent loop against a scripted model: read then submit, recovery from malformed and invalid
//! calls, give_up, the step limit, budget exhaustion, no model configured, and what the model is
//! told.

use super::fakes::*;
use crate::agent::MAX_STEPS;
use crate::model::*;
use crate::propose;

const APP: &str = "import os\nport = int(os.environ.get('PORT', '8000'))\n";

fn project() -> FakeProject {
    FakeProject::new()
        .file("app.py", APP)
        .file(".env", "PORT=abc\nTOKEN=s3cret\n")
}

fn crash() -> Incident {
    incident(&["ValueError: invalid literal for int() with base 10: 'abc'"])
}

fn run(llm: &mut ScriptedLlm) -> Answer {
    propose(&crash(), &project(), llm, &Lines::default()).unwrap()
}

fn submit(old: &str, new: &str, sha: &str) -> String {
    serde_json::json!({
        "diagnosis": "PORT is not a number",
        "confidence": 0.7,
        "edits": [{"type": "replace", "path": "app.py", "base_sha256": sha, "old": old, "new": new}],
        "commands": [{"type": "exec", "command": "true", "is_safe": true, "reason": "none"}],
    })
    .to_string()
}

fn tool_replies(llm: &ScriptedLlm, request: usize) -> Vec<String> {
    llm.requests[request]
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.clone())
        .collect()
}

#[test]
fn read_then_submit_becomes_a_model_proposal() {
    let sha = FakeProject::sha(APP);
    let mut llm = ScriptedLlm::new(vec![
        calls(&[("list_dir", r#"{"path": ""}"#)]),
        calls(&[("read_file", r#"{"path": "app.py"}"#)]),
        calls(&[("submit_fix", &submit("'8000'))", "'8000') or 8000)", &sha))]),
    ]);
    let Answer::Fix(p) = run(&mut llm) else {
        panic!("expected a fix")
    };
    assert_eq!(p.author, Author::Model);
    assert_eq!(p.source, "scripted");
    assert!(p.restart);
    assert_eq!(p.confidence, 0.7);
    assert_eq!(
        p.edits,
        vec![Edit::Replace {
            path: "app.py".into(),
            base_sha256: sha.clone(),
            old: "'8000'))".into(),
            new: "'8000') or 8000)".into(),
        }]
    );
    assert_eq!(p.commands[0].command_type, CommandType::Exec);
    assert!(!p.commands[0].allowed_in_production);
    // What the model saw: the system rules, the incident, its tools, the listing and the file.
    let first = &llm.requests[0];
    assert_eq!(first.messages[0].role, Role::System);
    assert!(
        first.messages[1]
            .content
            .contains("invalid literal for int()")
    );
    assert!(
        first.messages[1]
            .content
            .contains("Service `web` keeps crashing")
    );
    let names: Vec<&str> = first.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["list_dir", "read_file", "grep", "submit_fix", "give_up"]
    );
    for t in &first.tools {
        serde_json::from_str::<serde_json::Value>(&t.parameters).unwrap();
    }
    let replies = tool_replies(&llm, 2);
    assert!(
        replies[0].contains(".env (") && replies[0].contains("app.py ("),
        "{}",
        replies[0]
    );
    assert!(
        replies[1].contains(&format!("sha256: {sha}")),
        "{}",
        replies[1]
    );
    // Each tool answer names the call it answers.
    let tool_msg = llm.requests[1].messages.last().unwrap();
    assert_eq!(tool_msg.tool_call_id.as_deref(), Some("call_0_list_dir"));
}

#[test]
fn malformed_and_invalid_calls_are_answered_with_errors_and_the_loop_recovers() {
    let sha = FakeProject::sha(APP);
    let mut llm = ScriptedLlm::new(vec![
        calls(&[("read_file", "{not json")]),
        calls(&[("read_file", r#"["app.py"]"#)]),
        calls(&[("read_file", r#"{"path": "../etc/passwd"}"#)]),
        calls(&[("read_file", r#"{"path": "/etc/passwd"}"#)]),
        calls(&[("frobnicate", "{}")]),
        // Editing a file it has not read.
        calls(&[("submit_fix", &submit("'8000'))", "x", &sha))]),
        calls(&[("read_file", r#"{"path": "./app.py"}"#)]),
        // A wrong base, then an `old` that does not occur, then one missing is_safe.
        calls(&[("submit_fix", &submit("'8000'))", "x", "abc"))]),
        calls(&[("submit_fix", &submit("nope", "x", &sha))]),
        calls(&[(
            "submit_fix",
            r#"{"diagnosis": "d", "confidence": 0.5, "commands": [{"type": "exec", "command": "true", "reason": "r"}]}"#,
        )]),
        prose("I think the port is wrong."),
        calls(&[("submit_fix", &submit("'8000'))", "'8000') or 8000)", &sha))]),
    ]);
    let answer = run(&mut llm);
    assert!(matches!(answer, Answer::Fix(_)), "{answer:?}");
    assert_eq!(llm.requests.len(), 12);
    let replies = tool_replies(&llm, 11);
    let expect = [
        "not valid JSON",
        "must be a JSON object",
        "inside the project",
        "relative to the project root",
        "unknown tool `frobnicate`",
        "`app.py` was not read",
        "sha256: ",
        "not the sha256 read_file gave",
        "`old` does not occur",
        "`is_safe` is missing",
    ];
    assert_eq!(replies.len(), expect.len());
    for (reply, want) in replies.iter().zip(expect) {
        assert!(reply.contains(want), "{want:?} not in {reply:?}");
    }
    // The prose answer was followed by a nudge to call a tool.
    let last = &llm.requests[11].messages;
    assert_eq!(last[last.len() - 1].role, Role::User);
}

#[test]
fn redacted_secrets_never_go_into_an_edit() {
    let mut llm = ScriptedLlm::new(vec![
        calls(&[("read_file", r#"{"path": ".env"}"#)]),
        calls(&[(
            "submit_fix",
            &serde_json::json!({
                "diagnosis": "d", "confidence": 0.5,
                "edits": [{"type": "replace", "path": ".env",
                    "base_sha256": FakeProject::sha("PORT=abc\nTOKEN=s3cret\n"),
                    "old": "PORT=<redacted>", "new": "PORT=8000"}],
            })
            .to_string(),
        )]),
        calls(&[("give_up", r#"{"reason": "the value is hidden"}"#)]),
    ]);
    assert_eq!(
        run(&mut llm),
        Answer::NoSafeFix("the model found no safe fix: the value is hidden".into())
    );
    let replies = tool_replies(&llm, 2);
    assert!(replies[0].contains("secrets redacted") && !replies[0].contains("s3cret"));
    assert!(replies[1].contains("<redacted>"), "{}", replies[1]);
}

#[test]
fn the_step_limit_ends_in_no_safe_fix() {
    let mut llm = ScriptedLlm::new(
        (0..MAX_STEPS + 3)
            .map(|_| calls(&[("grep", r#"{"pattern": "PORT"}"#)]))
            .collect(),
    );
    let Answer::NoSafeFix(reason) = run(&mut llm) else {
        panic!("expected no safe fix")
    };
    assert!(
        reason.contains(&format!("within {MAX_STEPS} steps")),
        "{reason}"
    );
    assert_eq!(llm.requests.len(), MAX_STEPS);
    assert!(tool_replies(&llm, 1)[0].contains("app.py:2: port = int"));
}

#[test]
fn budget_exhaustion_is_no_safe_fix_and_provider_failure_an_error() {
    let mut llm = ScriptedLlm::new(vec![
        calls(&[("list_dir", r#"{"path": ""}"#)]),
        Err(LlmError::BudgetExceeded(
            "per-day budget of 100000 tokens".into(),
        )),
    ]);
    let Answer::NoSafeFix(reason) = run(&mut llm) else {
        panic!("expected no safe fix")
    };
    assert!(reason.contains("token budget"), "{reason}");
    let mut llm = ScriptedLlm::new(vec![Err(LlmError::Timeout)]);
    let err = propose(&crash(), &project(), &mut llm, &Lines::default()).unwrap_err();
    assert!(err.contains("did not answer in time"), "{err}");
}

#[test]
fn without_a_model_the_answer_is_the_rules_reason() {
    let lines = Lines::default();
    let a = propose(&crash(), &project(), &mut NoLlm, &lines).unwrap();
    assert_eq!(
        a,
        Answer::NoSafeFix(
            "no built-in rule recognises this failure, and no model is configured for the agent"
                .into()
        )
    );
    assert!(lines.0.borrow().iter().any(|l| l.contains("rules only")));
}

#[test]
fn a_submission_with_nothing_to_do_or_a_bad_path_is_refused() {
    let mut llm = ScriptedLlm::new(vec![
        calls(&[(
            "submit_fix",
            r#"{"diagnosis": "d", "confidence": 0.5, "restart": false}"#,
        )]),
        calls(&[(
            "submit_fix",
            r#"{"diagnosis": "d", "confidence": 0.5, "edits": [{"type": "create", "path": "../outside", "content": "x"}]}"#,
        )]),
        calls(&[(
            "submit_fix",
            r#"{"diagnosis": "d", "confidence": 0.5, "edits": [{"type": "create_dir", "path": "logs"}]}"#,
        )]),
    ]);
    let Answer::Fix(p) = run(&mut llm) else {
        panic!("expected a fix")
    };
    assert_eq!(p.edits, vec![Edit::CreateDir("logs".into())]);
    let replies = tool_replies(&llm, 2);
    assert!(replies[0].contains("changes nothing"), "{}", replies[0]);
    assert!(replies[1].contains("edits[0]") && replies[1].contains("inside the project"));
}

#[test]
fn an_answer_that_fit_no_tool_is_told_and_the_loop_goes_on() {
    let mut llm = ScriptedLlm::new(vec![
        Err(LlmError::InvalidAnswer("missing field `tool`".into())),
        calls(&[("give_up", r#"{"reason": "no idea"}"#)]),
    ]);
    assert_eq!(
        run(&mut llm),
        Answer::NoSafeFix("the model found no safe fix: no idea".into())
    );
    let told = llm.requests[1].messages.last().unwrap();
    assert_eq!(told.role, Role::User);
    assert!(
        told.content.contains("missing field `tool`"),
        "{}",
        told.content
    );
}

#[test]
fn old_tool_answers_are_elided_when_the_conversation_grows() {
    let big = "x = 1\n".repeat(3000);
    let project = FakeProject::new().file("big.py", &big).file("app.py", APP);
    let mut replies: Vec<_> = (0..6)
        .map(|_| calls(&[("read_file", r#"{"path": "big.py"}"#)]))
        .collect();
    replies.push(calls(&[("give_up", r#"{"reason": "r"}"#)]));
    let mut llm = ScriptedLlm::new(replies);
    propose(&crash(), &project, &mut llm, &Lines::default()).unwrap();
    let last = &llm.requests[6].messages;
    let total: usize = last.iter().map(|m| m.content.len()).sum();
    assert!(total <= 60_000 + 20_000, "{total}");
    assert!(last.iter().any(|m| m.content.contains("elided")));
    // The newest answer is whole.
    assert!(last[last.len() - 1].content.contains("sha256: "));
}
