//! The OpenAI-compatible chat completions protocol (`POST <base_url>/chat/completions`; OpenAI,
//! llama.cpp's `llama-server`, Ollama, vLLM): the request body, the whole answer, and the stream's
//! assembly: text deltas, tool calls reassembled by `index` from their pieces, the finish reason,
//! usage from the final chunk (`stream_options.include_usage`), `[DONE]`, and an `error` object
//! mid-stream. Pure; `transport.rs` does the I/O.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Error;
use super::prepare::{Answer, Prepared};
use super::settings::ModelSettings;
use super::sse::SseEvent;
use super::transport::{Assembler, provider_message};
use crate::wire::{FinishReason, Message, Role, ToolCall, Usage};

pub fn body(model: &ModelSettings, p: &Prepared, stream: bool) -> Value {
    let messages: Vec<Value> = p.messages.iter().map(message).collect();
    let mut b = Map::new();
    b.insert("model".into(), json!(model.model));
    b.insert("messages".into(), Value::Array(messages));
    b.insert(model.max_tokens_field.clone(), json!(p.max_tokens));
    if let Some(t) = p.temperature {
        b.insert("temperature".into(), json!(t));
    }
    if !p.tools.is_empty() {
        let tools: Vec<Value> = p
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": { "name": t.name, "description": t.description, "parameters": t.parameters },
                })
            })
            .collect();
        b.insert("tools".into(), Value::Array(tools));
    }
    if let Some(s) = &p.schema {
        // Not `strict`: OpenAI's strict mode refuses schemas with optional properties; the gateway
        // checks the answer itself.
        b.insert(
            "response_format".into(),
            json!({ "type": "json_schema", "json_schema": { "name": "answer", "schema": s, "strict": false } }),
        );
    }
    if stream {
        b.insert("stream".into(), json!(true));
        b.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    Value::Object(b)
}

fn message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut o = Map::new();
    o.insert("role".into(), json!(role));
    if m.content.is_empty() && !m.tool_calls.is_empty() {
        o.insert("content".into(), Value::Null);
    } else {
        o.insert("content".into(), json!(m.content));
    }
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments } })
            })
            .collect();
        o.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        o.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(o)
}

fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "length" => FinishReason::Length,
        _ => FinishReason::Other,
    }
}

fn usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    let n = |k: &str| {
        u.get(k)
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .unwrap_or(0)
    };
    Some(Usage {
        input_tokens: n("prompt_tokens"),
        output_tokens: n("completion_tokens"),
    })
}

fn call_id(id: Option<&str>, i: usize) -> String {
    match id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("call_{i}"),
    }
}

/// The whole (non-streamed) answer.
pub fn parse_answer(bytes: &[u8]) -> Result<Answer, Error> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Provider(format!("the answer is not JSON: {e}")))?;
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(Error::Provider(provider_message(bytes)));
    }
    let choice = v
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or_else(|| Error::Provider("the answer has no choices".into()))?;
    let msg = &choice["message"];
    let tool_calls = msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, c)| ToolCall {
                    id: call_id(c["id"].as_str(), i),
                    name: c["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    arguments: arguments_text(&c["function"]["arguments"]),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Answer {
        content: msg["content"].as_str().unwrap_or_default().to_string(),
        tool_calls,
        finish: choice["finish_reason"].as_str().map(finish_reason),
        usage: usage(&v),
    })
}

/// Arguments as text: some servers send an object instead of the JSON string the protocol says.
fn arguments_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// The streamed answer, chunk by chunk.
#[derive(Debug, Default)]
pub struct Stream {
    content: String,
    calls: BTreeMap<u64, PartialCall>,
    /// The index the last piece without one continues.
    last_index: Option<u64>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
}

impl Assembler for Stream {
    fn event(&mut self, ev: SseEvent) -> Result<Option<String>, Error> {
        if self.done {
            return Ok(None);
        }
        if ev.event.as_deref() == Some("error") {
            return Err(Error::Provider(format!(
                "the provider reported an error mid-stream: {}",
                provider_message(ev.data.as_bytes())
            )));
        }
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|_| Error::Provider("the stream carried an unreadable chunk".into()))?;
        if v.get("error").is_some_and(|e| !e.is_null()) {
            return Err(Error::Provider(format!(
                "the provider reported an error mid-stream: {}",
                provider_message(data.as_bytes())
            )));
        }
        if let Some(u) = usage(&v) {
            self.usage = Some(u);
        }
        let Some(choice) = v.get("choices").and_then(|c| c.get(0)) else {
            return Ok(None);
        };
        if let Some(f) = choice["finish_reason"].as_str() {
            self.finish = Some(finish_reason(f));
        }
        let delta = &choice["delta"];
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for c in calls {
                let index = match c["index"].as_u64() {
                    Some(i) => i,
                    // No index (some servers): a piece with an id starts a new call.
                    None if c["id"].as_str().is_some_and(|s| !s.is_empty()) => {
                        self.calls.keys().next_back().map_or(0, |k| k + 1)
                    }
                    None => self.last_index.unwrap_or(0),
                };
                self.last_index = Some(index);
                let call = self.calls.entry(index).or_default();
                if let Some(id) = c["id"].as_str().filter(|s| !s.is_empty()) {
                    call.id = Some(id.to_string());
                }
                if let Some(name) = c["function"]["name"].as_str() {
                    call.name.push_str(name);
                }
                match &c["function"]["arguments"] {
                    Value::String(s) => call.arguments.push_str(s),
                    Value::Null => {}
                    other => call.arguments.push_str(&other.to_string()),
                }
            }
        }
        match delta.get("content").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => {
                self.content.push_str(t);
                Ok(Some(t.to_string()))
            }
            _ => Ok(None),
        }
    }

    fn finish(self: Box<Self>) -> Result<Answer, Error> {
        if !self.done {
            return Err(Error::Provider(
                "the stream ended before [DONE]: the answer is incomplete".into(),
            ));
        }
        let tool_calls = self
            .calls
            .into_values()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: call_id(c.id.as_deref(), i),
                name: c.name,
                arguments: if c.arguments.trim().is_empty() {
                    "{}".into()
                } else {
                    c.arguments
                },
            })
            .collect();
        Ok(Answer {
            content: self.content,
            tool_calls,
            finish: self.finish,
            usage: self.usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::sse::SseParser;

    fn run(body: &str) -> Result<(Answer, String), Error> {
        let mut p = SseParser::default();
        let mut s: Box<Stream> = Box::default();
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

    #[test]
    fn tool_calls_are_reassembled_by_index() {
        let body = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Let me \"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"look.\"}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"function\":{\"name\":\"grep\",\"arguments\":\"{\\\"pat\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"path\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"tern\\\":\\\"x\\\"}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"a.py\\\"}\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7}}\n\n",
            "data: [DONE]\n\n",
        );
        let (a, text) = run(body).unwrap();
        assert_eq!(text, "Let me look.");
        assert_eq!(a.content, "Let me look.");
        assert_eq!(a.finish, Some(FinishReason::ToolCalls));
        assert_eq!(
            a.usage,
            Some(Usage {
                input_tokens: 12,
                output_tokens: 7
            })
        );
        assert_eq!(
            a.tool_calls,
            vec![
                ToolCall {
                    id: "call_a".into(),
                    name: "read_file".into(),
                    arguments: "{\"path\":\"a.py\"}".into()
                },
                ToolCall {
                    id: "call_b".into(),
                    name: "grep".into(),
                    arguments: "{\"pattern\":\"x\"}".into()
                },
            ]
        );
    }

    #[test]
    fn a_stream_without_done_or_with_an_error_fails() {
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"hal\"}}]}\n\n";
        assert!(matches!(run(cut), Err(Error::Provider(m)) if m.contains("[DONE]")));
        let err = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"error\":{\"message\":\"out of memory\"}}\n\n";
        assert!(matches!(run(err), Err(Error::Provider(m)) if m.contains("out of memory")));
        let llama = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\nerror: {\"code\":500,\"message\":\"slot died\"}\n\n";
        assert!(matches!(run(llama), Err(Error::Provider(m)) if m.contains("slot died")));
        let half = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"choi";
        assert!(matches!(run(half), Err(Error::Provider(_))));
    }

    #[test]
    fn the_whole_answer_is_read() {
        let a = parse_answer(br#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#).unwrap();
        assert_eq!(a.tool_calls[0].name, "f");
        assert_eq!(a.finish, Some(FinishReason::ToolCalls));
        assert_eq!(a.usage.unwrap().input_tokens, 3);
    }
}
