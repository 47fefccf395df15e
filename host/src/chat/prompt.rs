//! What the model is told besides the tools: the system prompt (what tend is, that the tools only
//! read, that actions are only proposed), the context block of a conversation about one service
//! (its definition without env values, state, recent events, log tail and latest metrics, each part
//! capped and scrubbed), the conversation so far rebuilt from the stored messages (tool answers as
//! stored: short), and the same flattened to text for the last round, which is offered no tools.

use serde_json::Value;

use super::redact::{self, Redactor};
use super::tools::{self, cap};
use crate::ops::Ops;
use crate::wire::{ChatMessage, ChatRole, EventParams, LogParams, Message, Role, ToolCall};

/// Longest part of the context block (definition, events, logs, metrics), bytes.
const MAX_PART: usize = 3072;
/// Log lines in the context block.
const CONTEXT_LOG_LINES: u32 = 50;
const CONTEXT_EVENTS: u32 = 15;
/// Stored messages of earlier exchanges sent again.
const MAX_HISTORY: usize = 40;

pub fn message(role: Role, content: impl Into<String>) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: vec![],
        tool_call_id: None,
    }
}

/// The system prompt.
pub fn system(fallback: bool) -> String {
    let mut s = String::from(
        "You are the assistant built into tend, a service supervisor: it starts the services a \
         person registers (long-running processes), restarts them under their restart policy, \
         checks their health, keeps their logs, events and resource metrics, runs cron jobs and \
         hosts WebAssembly plugins (health probes, fixers, onboarding).\n\
         Answer questions about these services. Use the tools to look at live data before you \
         answer; do not guess pids, states or log lines. The tools only read: you cannot change \
         anything. When an action would help (start, stop, restart, fix, edit a service), call \
         propose_action: the person sees it as a suggestion and decides; never claim you did it.\n\
         Environment variable values and keys are never shown to you; do not ask for them. \
         Be brief and concrete.",
    );
    if fallback {
        s.push_str(&format!(
            "\nWhen you know the answer, give it with the tool {:?}.",
            tools::ANSWER
        ));
    }
    s
}

/// The context block about `name`, gathered now; a part that cannot be read says why.
pub async fn context(ops: &Ops, name: &str, redact: &Redactor) -> String {
    let part = |title: &str, body: String| {
        format!("## {title}\n{}\n", cap(&redact.scrub(&body), MAX_PART))
    };
    let mut out = format!(
        "The person is asking about the service {name:?}. What tend knows about it now:\n\n"
    );
    match ops.service(name) {
        Ok(view) => {
            let v = redact::service_view(&view);
            out.push_str(&part(
                "Definition and state (environment: names only)",
                serde_json::to_string_pretty(&v).unwrap_or_default(),
            ));
        }
        Err(e) => out.push_str(&part("Definition", format!("unavailable: {}", e.message))),
    }
    let events = match ops
        .events(
            name,
            &EventParams {
                limit: Some(CONTEXT_EVENTS),
            },
        )
        .await
    {
        Ok(p) => p
            .events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("unavailable: {}", e.message),
    };
    out.push_str(&part("Recent events (newest first)", events));
    let logs = match ops
        .logs(
            name,
            &LogParams {
                tail: Some(CONTEXT_LOG_LINES),
                ..LogParams::default()
            },
        )
        .await
    {
        // The newest lines matter most: cut from the front.
        Ok(p) => tail_bytes(&tools::log_lines(&p.lines), MAX_PART - 64),
        Err(e) => format!("unavailable: {}", e.message),
    };
    out.push_str(&part("Last log lines (oldest first)", logs));
    let metrics = tools::metrics(ops, name)
        .await
        .unwrap_or_else(|m| format!("unavailable: {m}"));
    out.push_str(&part("Latest metrics", metrics));
    out
}

/// The last `max` bytes of `text`, from a line start where possible.
fn tail_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let rest = &text[start..];
    match rest.find('\n') {
        Some(i) => format!("[... earlier lines cut]\n{}", &rest[i + 1..]),
        None => rest.to_string(),
    }
}

/// `messages` with tool calls and their answers as plain text, for a round offered no tools (the
/// gateway refuses a conversation calling tools its request does not offer).
pub fn flatten(messages: &[Message]) -> Vec<Message> {
    messages
        .iter()
        .map(|m| match m.role {
            Role::Assistant if !m.tool_calls.is_empty() => {
                let mut text = m.content.clone();
                for c in &m.tool_calls {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&format!("(called the tool {}({}))", c.name, c.arguments));
                }
                message(Role::Assistant, text)
            }
            Role::Tool => message(Role::User, format!("The tool answered:\n{}", m.content)),
            _ => m.clone(),
        })
        .collect()
}

/// The stored conversation as model messages: the last `MAX_HISTORY`, starting with a person's
/// message; an answer's tool uses become the calls and (short) answers they were.
pub fn history(stored: &[ChatMessage]) -> Vec<Message> {
    let mut from = stored.len().saturating_sub(MAX_HISTORY);
    while from < stored.len() && stored[from].role != ChatRole::User {
        from += 1;
    }
    let mut out = Vec::new();
    for m in &stored[from..] {
        match m.role {
            ChatRole::User => out.push(message(Role::User, m.content.clone())),
            ChatRole::Assistant => {
                let calls: Vec<ToolCall> = m
                    .tools
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| tools::known(&t.name))
                    .map(|(i, t)| ToolCall {
                        id: format!("m{}_{i}", m.id),
                        name: t.name.clone(),
                        arguments: if serde_json::from_str::<Value>(&t.arguments).is_ok() {
                            t.arguments.clone()
                        } else {
                            "{}".into()
                        },
                    })
                    .collect();
                if !calls.is_empty() {
                    let answers: Vec<Message> = calls
                        .iter()
                        .zip(m.tools.iter().filter(|t| tools::known(&t.name)))
                        .map(|(c, t)| Message {
                            role: Role::Tool,
                            content: t.result.clone(),
                            tool_calls: vec![],
                            tool_call_id: Some(c.id.clone()),
                        })
                        .collect();
                    out.push(Message {
                        role: Role::Assistant,
                        content: String::new(),
                        tool_calls: calls,
                        tool_call_id: None,
                    });
                    out.extend(answers);
                }
                // Some providers refuse an empty text turn.
                if !m.content.is_empty() {
                    out.push(message(Role::Assistant, m.content.clone()));
                }
            }
            // Not stored by the chat; nothing to replay.
            ChatRole::Tool => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ChatToolUse;

    fn stored(id: i64, role: ChatRole, content: &str, tools: Vec<ChatToolUse>) -> ChatMessage {
        ChatMessage {
            id,
            role,
            content: content.into(),
            tools,
            proposals: vec![],
            created_at: String::new(),
            usage: None,
        }
    }

    #[test]
    fn an_answer_with_tools_replays_as_calls_and_answers() {
        let use_ = ChatToolUse {
            name: "list_services".into(),
            arguments: "{}".into(),
            result: "[]".into(),
        };
        let h = history(&[
            stored(1, ChatRole::User, "what runs?", vec![]),
            stored(2, ChatRole::Assistant, "nothing", vec![use_]),
            stored(3, ChatRole::User, "sure?", vec![]),
        ]);
        let roles: Vec<Role> = h.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Assistant,
                Role::User
            ]
        );
        assert_eq!(h[1].tool_calls[0].id, "m2_0");
        assert_eq!(h[2].tool_call_id.as_deref(), Some("m2_0"));
        assert_eq!(h[3].content, "nothing");
    }

    #[test]
    fn flattened_calls_and_answers_become_text() {
        let h = history(&[
            stored(
                1,
                ChatRole::Assistant,
                "",
                vec![ChatToolUse {
                    name: "plugin_stats".into(),
                    arguments: "{}".into(),
                    result: "[]".into(),
                }],
            ),
            stored(2, ChatRole::User, "and?", vec![]),
        ]);
        // A history starts with the person.
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].content, "and?");
        let calls = history(&[
            stored(1, ChatRole::User, "q", vec![]),
            stored(
                2,
                ChatRole::Assistant,
                "",
                vec![ChatToolUse {
                    name: "plugin_stats".into(),
                    arguments: "{}".into(),
                    result: "[]".into(),
                }],
            ),
        ]);
        let flat = flatten(&calls);
        assert!(
            flat.iter()
                .all(|m| m.tool_calls.is_empty() && m.tool_call_id.is_none())
        );
        assert_eq!(flat[1].content, "(called the tool plugin_stats({}))");
        assert_eq!(flat[2].role, Role::User);
        assert_eq!(flat[2].content, "The tool answered:\n[]");
    }

    #[test]
    fn the_log_tail_keeps_the_newest_lines() {
        let text = (0..100)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let t = tail_bytes(&text, 40);
        assert!(t.ends_with("line 99") && !t.contains("line 1\n"), "{t}");
    }
}
