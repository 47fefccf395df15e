//! Anthropic's messages protocol (`POST <base_url>/v1/messages`, also served by llama.cpp): the
//! request body (system text as a top-level field, `tool_use` / `tool_result` blocks, consecutive
//! same-role turns merged as the API requires), the whole answer, and the stream's assembly
//! (`message_start`, `content_block_start`/`_delta` (`text_delta`, `input_json_delta`)/`_stop`,
//! `message_delta`, `message_stop`, `error`; usage from `message_start` + `message_delta`). A
//! `response_schema` becomes a forced tool named `answer` whose input is the answer. Pure.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Error;
use super::prepare::{Answer, Prepared};
use super::settings::ModelSettings;
use super::sse::SseEvent;
use super::transport::{Assembler, provider_message};
use crate::wire::{FinishReason, Role, ToolCall, Usage};

/// The forced tool carrying a schema-checked answer.
const ANSWER_TOOL: &str = "answer";

/// How the answer to a `response_schema` comes back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnswerMode {
    /// As text (no schema, or a schema with tools: then it is asked for in the system text).
    #[default]
    Text,
    /// As the input of the forced `answer` tool (an object schema).
    Tool,
    /// As `input.answer` of the forced tool (a schema that is not an object's: tool inputs are).
    Wrapped,
}

pub fn answer_mode(p: &Prepared) -> AnswerMode {
    match &p.schema {
        Some(s) if p.tools.is_empty() => {
            if s.get("type").and_then(Value::as_str) == Some("object") {
                AnswerMode::Tool
            } else {
                AnswerMode::Wrapped
            }
        }
        _ => AnswerMode::Text,
    }
}

pub fn body(model: &ModelSettings, p: &Prepared, stream: bool) -> Value {
    let mut system: Vec<&str> = p
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let mode = answer_mode(p);
    let schema_note;
    if let (AnswerMode::Text, Some(s)) = (mode, &p.schema) {
        schema_note = format!("Answer with only a JSON value matching this JSON Schema: {s}");
        system.push(&schema_note);
    }
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &p.messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", vec![json!({ "type": "text", "text": m.content })]),
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content,
                })],
            ),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({ "type": "text", "text": m.content }));
                }
                for c in &m.tool_calls {
                    let input: Value =
                        serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!({}));
                    blocks.push(
                        json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": input }),
                    );
                }
                if blocks.is_empty() {
                    blocks.push(json!({ "type": "text", "text": "" }));
                }
                ("assistant", blocks)
            }
        };
        match turns.last_mut() {
            Some((r, b)) if *r == role => b.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, content)| json!({ "role": role, "content": content }))
        .collect();
    let mut b = Map::new();
    b.insert("model".into(), json!(model.model));
    b.insert("max_tokens".into(), json!(p.max_tokens));
    b.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        b.insert("system".into(), json!(system.join("\n\n")));
    }
    if let Some(t) = p.temperature {
        b.insert("temperature".into(), json!(t));
    }
    let mut tools: Vec<Value> = p
        .tools
        .iter()
        .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters }))
        .collect();
    if let (Some(s), AnswerMode::Tool | AnswerMode::Wrapped) = (&p.schema, mode) {
        let input_schema = if mode == AnswerMode::Tool {
            s.clone()
        } else {
            json!({ "type": "object", "properties": { "answer": s }, "required": ["answer"] })
        };
        tools.push(json!({ "name": ANSWER_TOOL, "description": "Give your answer.", "input_schema": input_schema }));
        b.insert(
            "tool_choice".into(),
            json!({ "type": "tool", "name": ANSWER_TOOL }),
        );
    }
    if !tools.is_empty() {
        b.insert("tools".into(), Value::Array(tools));
    }
    if stream {
        b.insert("stream".into(), json!(true));
    }
    Value::Object(b)
}

fn stop_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" => FinishReason::Length,
        _ => FinishReason::Other,
    }
}

fn tokens(u: &Value, k: &str) -> u32 {
    u.get(k)
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

fn input_tokens(u: &Value) -> u32 {
    tokens(u, "input_tokens")
        .saturating_add(tokens(u, "cache_creation_input_tokens"))
        .saturating_add(tokens(u, "cache_read_input_tokens"))
}

/// Moves the forced `answer` tool's input into the content.
fn unwrap_answer(mut a: Answer, mode: AnswerMode) -> Answer {
    if mode == AnswerMode::Text {
        return a;
    }
    if let Some(i) = a.tool_calls.iter().position(|c| c.name == ANSWER_TOOL) {
        let call = a.tool_calls.remove(i);
        let input: Value = serde_json::from_str(&call.arguments).unwrap_or(Value::Null);
        let value = if mode == AnswerMode::Wrapped {
            input.get("answer").cloned().unwrap_or(Value::Null)
        } else {
            input
        };
        a.content = value.to_string();
        if a.finish == Some(FinishReason::ToolCalls) {
            a.finish = Some(FinishReason::Stop);
        }
    }
    a
}

/// The whole (non-streamed) answer.
pub fn parse_answer(bytes: &[u8], mode: AnswerMode) -> Result<Answer, Error> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Provider(format!("the answer is not JSON: {e}")))?;
    if v["type"] == "error" {
        return Err(Error::Provider(provider_message(bytes)));
    }
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| Error::Provider("the answer has no content".into()))?;
    let mut a = Answer::default();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => a.content.push_str(b["text"].as_str().unwrap_or_default()),
            Some("tool_use") => a.tool_calls.push(ToolCall {
                id: b["id"].as_str().unwrap_or_default().to_string(),
                name: b["name"].as_str().unwrap_or_default().to_string(),
                arguments: b["input"].to_string(),
            }),
            _ => {}
        }
    }
    a.finish = v["stop_reason"].as_str().map(stop_reason);
    if v["usage"].is_object() {
        a.usage = Some(Usage {
            input_tokens: input_tokens(&v["usage"]),
            output_tokens: tokens(&v["usage"], "output_tokens"),
        });
    }
    Ok(unwrap_answer(a, mode))
}

#[derive(Debug)]
enum Block {
    Text,
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// The streamed answer, event by event.
#[derive(Debug, Default)]
pub struct Stream {
    mode: AnswerMode,
    content: String,
    blocks: BTreeMap<u64, Block>,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    finish: Option<FinishReason>,
    done: bool,
}

impl Stream {
    pub fn new(mode: AnswerMode) -> Stream {
        Stream {
            mode,
            ..Default::default()
        }
    }
}

impl Assembler for Stream {
    fn event(&mut self, ev: SseEvent) -> Result<Option<String>, Error> {
        if self.done {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&ev.data)
            .map_err(|_| Error::Provider("the stream carried an unreadable event".into()))?;
        let kind = v["type"]
            .as_str()
            .map(str::to_string)
            .or(ev.event)
            .unwrap_or_default();
        match kind.as_str() {
            "message_start" => {
                let u = &v["message"]["usage"];
                self.input_tokens = Some(input_tokens(u));
                self.output_tokens = Some(tokens(u, "output_tokens"));
            }
            "content_block_start" => {
                let index = v["index"].as_u64().unwrap_or(0);
                let b = &v["content_block"];
                let block = match b["type"].as_str() {
                    Some("text") => {
                        let t = b["text"].as_str().unwrap_or_default();
                        self.blocks.insert(index, Block::Text);
                        if !t.is_empty() {
                            self.content.push_str(t);
                            return Ok(Some(t.to_string()));
                        }
                        return Ok(None);
                    }
                    Some("tool_use") => Block::ToolUse {
                        id: b["id"].as_str().unwrap_or_default().to_string(),
                        name: b["name"].as_str().unwrap_or_default().to_string(),
                        // A non-empty `input` at the start is the whole input (no deltas follow).
                        json: match &b["input"] {
                            Value::Object(o) if !o.is_empty() => b["input"].to_string(),
                            _ => String::new(),
                        },
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let index = v["index"].as_u64().unwrap_or(0);
                let d = &v["delta"];
                match (d["type"].as_str(), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), Some(Block::Text)) => {
                        let t = d["text"].as_str().unwrap_or_default();
                        self.content.push_str(t);
                        if !t.is_empty() {
                            return Ok(Some(t.to_string()));
                        }
                    }
                    (Some("input_json_delta"), Some(Block::ToolUse { json, .. })) => {
                        json.push_str(d["partial_json"].as_str().unwrap_or_default());
                    }
                    (Some("text_delta" | "input_json_delta"), _) => {
                        return Err(Error::Provider(format!(
                            "the stream sent a delta for block {index}, which was never started"
                        )));
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(s) = v["delta"]["stop_reason"].as_str() {
                    self.finish = Some(stop_reason(s));
                }
                if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                    self.output_tokens = Some(u32::try_from(n).unwrap_or(u32::MAX));
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                return Err(Error::Provider(format!(
                    "the provider reported an error mid-stream: {}",
                    provider_message(ev.data.as_bytes())
                )));
            }
            _ => {} // ping, content_block_stop, unknown events
        }
        Ok(None)
    }

    fn finish(self: Box<Self>) -> Result<Answer, Error> {
        if !self.done {
            return Err(Error::Provider(
                "the stream ended before message_stop: the answer is incomplete".into(),
            ));
        }
        let mut tool_calls = Vec::new();
        for (i, b) in self.blocks.into_values().enumerate() {
            if let Block::ToolUse { id, name, json } = b {
                let arguments = if json.trim().is_empty() {
                    "{}".to_string()
                } else {
                    json
                };
                if serde_json::from_str::<Value>(&arguments).is_err() {
                    return Err(Error::Provider(format!(
                        "the arguments of tool call {name:?} are not JSON"
                    )));
                }
                tool_calls.push(ToolCall {
                    id: if id.is_empty() {
                        format!("call_{i}")
                    } else {
                        id
                    },
                    name,
                    arguments,
                });
            }
        }
        let usage = match (self.input_tokens, self.output_tokens) {
            (None, None) => None,
            (i, o) => Some(Usage {
                input_tokens: i.unwrap_or(0),
                output_tokens: o.unwrap_or(0),
            }),
        };
        let a = Answer {
            content: self.content,
            tool_calls,
            finish: self.finish,
            usage,
        };
        Ok(unwrap_answer(a, self.mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::sse::SseParser;

    fn run(body: &str, mode: AnswerMode) -> Result<(Answer, String), Error> {
        let mut p = SseParser::default();
        let mut s = Box::new(Stream::new(mode));
        let mut text = String::new();
        let mut events = p.push(body.as_bytes()).unwrap();
        events.extend(p.finish().unwrap());
        for ev in events {
            if let Some(t) = s.event(ev)? {
                text.push_str(&t);
            }
        }
        Ok((s.finish()?, text))
    }

    const TOOL_STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Reading.\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"read_file\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"path\\\": \"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"app.py\\\"}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":40}}\n\n",
    );

    #[test]
    fn tool_use_is_assembled_from_input_json_deltas() {
        let body =
            format!("{TOOL_STREAM}event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n");
        let (a, text) = run(&body, AnswerMode::Text).unwrap();
        assert_eq!(text, "Reading.");
        assert_eq!(a.finish, Some(FinishReason::ToolCalls));
        assert_eq!(
            a.usage,
            Some(Usage {
                input_tokens: 25,
                output_tokens: 40
            })
        );
        assert_eq!(a.tool_calls[0].id, "toolu_1");
        assert_eq!(a.tool_calls[0].arguments, "{\"path\": \"app.py\"}");
    }

    #[test]
    fn a_stream_without_message_stop_fails() {
        assert!(
            matches!(run(TOOL_STREAM, AnswerMode::Text), Err(Error::Provider(m)) if m.contains("message_stop"))
        );
        let err = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert!(
            matches!(run(err, AnswerMode::Text), Err(Error::Provider(m)) if m.contains("Overloaded"))
        );
    }

    #[test]
    fn the_forced_answer_tool_becomes_the_content() {
        let a = parse_answer(
            br#"{"type":"message","content":[{"type":"tool_use","id":"t","name":"answer","input":{"answer":[1,2]}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}}"#,
            AnswerMode::Wrapped,
        )
        .unwrap();
        assert_eq!(a.content, "[1,2]");
        assert!(a.tool_calls.is_empty());
        assert_eq!(a.finish, Some(FinishReason::Stop));
    }
}
