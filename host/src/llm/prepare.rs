//! Before and after a provider call, the parts that do not depend on the provider: which model,
//! whether the request makes sense, the output cap, the JSON fallback for models configured
//! `tools = false` (tools become a `{"tool", "arguments"}` answer checked against their schemas and
//! turned back into one tool call), and the check of the answer against `response_schema`. Pure.

use serde_json::{Value, json};

use super::settings::{LlmSettings, ModelSettings};
use super::{Error, schema};
use crate::wire::{
    Completion, CompletionRequest, FinishReason, Message, Role, Tool, ToolCall, Usage,
};

/// What a provider answered, before the gateway's checks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish: Option<FinishReason>,
    /// `None`: the provider did not say (estimated from the text's length then).
    pub usage: Option<Usage>,
}

/// The request as a provider module turns it into its own body.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    /// The schema the answer's content must match.
    pub schema: Option<Value>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Set for the JSON fallback: the tools the answer names, turned back into a tool call.
    pub fallback: bool,
    /// Tool calls earlier in the conversation: the fallback's call is `call_<n>`, so each call of
    /// an agent loop has its own id.
    pub earlier_calls: usize,
}

const MAX_MESSAGES: usize = 1000;
const MAX_TOOLS: usize = 128;

/// The `[llm.models]` entry a request names, else the default.
pub fn resolve_model<'a>(
    settings: &'a LlmSettings,
    name: Option<&str>,
) -> Result<&'a ModelSettings, Error> {
    if settings.models.is_empty() {
        return Err(Error::NotConfigured(
            "no LLM is configured: add a model under [llm.models.<name>] in tend.toml".into(),
        ));
    }
    let name = match name {
        Some(n) => n,
        None => settings.default.as_deref().unwrap_or_default(),
    };
    settings.models.get(name).ok_or_else(|| {
        Error::NotConfigured(format!(
            "no model {name:?} in [llm.models] (configured: {})",
            settings
                .models
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks the request and shapes it for `model`.
pub fn prepare(model: &ModelSettings, req: CompletionRequest) -> Result<Prepared, Error> {
    let bad = |m: String| Err(Error::InvalidRequest(m));
    if req.messages.is_empty() {
        return bad("messages: at least one message is needed".into());
    }
    if req.messages.len() > MAX_MESSAGES {
        return bad(format!("messages: at most {MAX_MESSAGES}"));
    }
    if req.tools.len() > MAX_TOOLS {
        return bad(format!("tools: at most {MAX_TOOLS}"));
    }
    for (i, t) in req.tools.iter().enumerate() {
        if !valid_tool_name(&t.name) {
            return bad(format!(
                "tools[{i}].name: {:?} is not a tool name ([a-zA-Z0-9_-], 1 to 64)",
                t.name
            ));
        }
        if req.tools[..i].iter().any(|o| o.name == t.name) {
            return bad(format!("tools[{i}].name: {:?} is listed twice", t.name));
        }
        if !t.parameters.is_object() {
            return bad(format!(
                "tools[{i}].parameters: must be a JSON Schema object"
            ));
        }
        schema::check(&t.parameters)
            .map_err(|m| Error::InvalidRequest(format!("tools[{i}].parameters: {m}")))?;
    }
    for (i, m) in req.messages.iter().enumerate() {
        for (j, c) in m.tool_calls.iter().enumerate() {
            if m.role != Role::Assistant {
                return bad(format!(
                    "messages[{i}].tool_calls: only assistant messages carry tool calls"
                ));
            }
            if !req.tools.iter().any(|t| t.name == c.name) {
                return bad(format!(
                    "messages[{i}].tool_calls[{j}].name: {:?} is not one of the request's tools",
                    c.name
                ));
            }
            if serde_json::from_str::<Value>(&c.arguments).is_err() {
                return bad(format!("messages[{i}].tool_calls[{j}].arguments: not JSON"));
            }
        }
        match (m.role, &m.tool_call_id) {
            (Role::Tool, None) => {
                return bad(format!(
                    "messages[{i}].tool_call_id: a tool message names the call it answers"
                ));
            }
            (Role::Tool, Some(id)) => {
                let asked = req.messages[..i]
                    .iter()
                    .any(|p| p.tool_calls.iter().any(|c| &c.id == id));
                if !asked {
                    return bad(format!(
                        "messages[{i}].tool_call_id: no earlier assistant message made call {id:?}"
                    ));
                }
            }
            (_, Some(_)) => {
                return bad(format!(
                    "messages[{i}].tool_call_id: only tool messages answer a call"
                ));
            }
            _ => {}
        }
    }
    if let Some(s) = &req.response_schema {
        if !s.is_object() {
            return bad("response_schema: must be a JSON Schema object".into());
        }
        schema::check(s).map_err(|m| Error::InvalidRequest(format!("response_schema: {m}")))?;
    }
    if let Some(t) = req.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return bad("temperature: between 0 and 2".into());
    }
    let max_tokens = match req.max_tokens {
        Some(0) => return bad("max_tokens: at least 1".into()),
        Some(n) => n.min(model.max_tokens),
        None => model.max_tokens,
    };
    let earlier_calls = req.messages.iter().map(|m| m.tool_calls.len()).sum();
    let mut p = Prepared {
        earlier_calls,
        messages: req.messages,
        tools: req.tools,
        schema: req.response_schema,
        max_tokens,
        temperature: req.temperature,
        fallback: false,
    };
    if !model.tools && !p.tools.is_empty() {
        fallback(&mut p);
    }
    Ok(p)
}

/// The JSON fallback: the tools become a schema (one alternative per tool) and an instruction; the
/// conversation's earlier tool calls and results become text, which any chat model reads.
fn fallback(p: &mut Prepared) {
    let alternatives: Vec<Value> = p
        .tools
        .iter()
        .map(|t| {
            json!({
                "type": "object",
                "properties": { "tool": { "const": t.name }, "arguments": t.parameters },
                "required": ["tool", "arguments"],
            })
        })
        .collect();
    let mut listing = String::new();
    for t in &p.tools {
        listing.push_str(&format!(
            "- {}: {}\n  arguments (JSON Schema): {}\n",
            t.name, t.description, t.parameters
        ));
    }
    let instruction = format!(
        "You can call one of these tools:\n{listing}\nAnswer with only a JSON object \
         {{\"tool\": <tool name>, \"arguments\": {{...}}}} naming one tool and its arguments."
    );
    let mut messages = Vec::with_capacity(p.messages.len() + 1);
    messages.push(Message {
        role: Role::System,
        content: instruction,
        tool_calls: vec![],
        tool_call_id: None,
    });
    for m in std::mem::take(&mut p.messages) {
        let m = match m.role {
            Role::Assistant if !m.tool_calls.is_empty() => {
                let mut text = m.content;
                for c in &m.tool_calls {
                    let args: Value = serde_json::from_str(&c.arguments).unwrap_or(Value::Null);
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&json!({ "tool": c.name, "arguments": args }).to_string());
                }
                Message {
                    role: Role::Assistant,
                    content: text,
                    tool_calls: vec![],
                    tool_call_id: None,
                }
            }
            Role::Tool => Message {
                role: Role::User,
                content: format!("The tool answered:\n{}", m.content),
                tool_calls: vec![],
                tool_call_id: None,
            },
            _ => m,
        };
        messages.push(m);
    }
    p.messages = messages;
    p.schema = Some(json!({ "type": "object", "anyOf": alternatives }));
    p.tools.clear();
    p.fallback = true;
}

/// The answer's content as JSON: the text itself, or inside a Markdown code fence.
fn parse_json_answer(content: &str) -> Option<Value> {
    let t = content.trim();
    if let Ok(v) = serde_json::from_str(t) {
        return Some(v);
    }
    let inner = t.strip_prefix("```")?.strip_suffix("```")?;
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    serde_json::from_str(inner.trim()).ok()
}

/// Rough token count when a provider reports none: about four bytes a token.
fn estimate(text_len: usize) -> u32 {
    u32::try_from(text_len.div_ceil(4)).unwrap_or(u32::MAX)
}

/// Checks the answer and makes the `Completion`.
pub fn finish(
    model: &ModelSettings,
    p: &Prepared,
    answer: Answer,
    latency: std::time::Duration,
) -> Result<Completion, Error> {
    let usage = answer.usage.unwrap_or_else(|| Usage {
        input_tokens: estimate(p.messages.iter().map(|m| m.content.len()).sum()),
        output_tokens: estimate(
            answer.content.len()
                + answer
                    .tool_calls
                    .iter()
                    .map(|c| c.arguments.len())
                    .sum::<usize>(),
        ),
    });
    let mut content = answer.content;
    let mut tool_calls = answer.tool_calls;
    let mut finish = answer.finish.unwrap_or(FinishReason::Other);
    if !tool_calls.is_empty() && finish != FinishReason::Length {
        finish = FinishReason::ToolCalls;
    }
    if let Some(s) = &p.schema
        && finish != FinishReason::ToolCalls
    {
        let value = parse_json_answer(&content).ok_or_else(|| {
            Error::InvalidAnswer(if finish == FinishReason::Length {
                "the answer is not JSON: it was cut at the output cap (max_tokens)".into()
            } else {
                "the answer is not JSON".into()
            })
        })?;
        schema::validate(s, &value).map_err(|m| {
            Error::InvalidAnswer(format!(
                "the answer does not match {}: {m}",
                if p.fallback {
                    "any tool's schema"
                } else {
                    "response_schema"
                }
            ))
        })?;
        if p.fallback {
            let name = value["tool"].as_str().unwrap_or_default().to_string();
            tool_calls = vec![ToolCall {
                id: format!("call_{}", p.earlier_calls),
                name,
                arguments: value["arguments"].to_string(),
            }];
            content = String::new();
            finish = FinishReason::ToolCalls;
        } else {
            content = value.to_string();
        }
    }
    Ok(Completion {
        message: Message {
            role: Role::Assistant,
            content,
            tool_calls,
            tool_call_id: None,
        },
        finish_reason: finish,
        usage,
        model: model.name.clone(),
        latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::settings::LlmFile;

    fn model(tools: bool) -> ModelSettings {
        let text = format!(
            "[models.m]\nprovider = \"openai\"\nbase_url = \"http://h/v1\"\nmodel = \"x\"\ntools = {tools}\nmax_tokens = 100\n"
        );
        let f: LlmFile = toml::from_str(&text).unwrap();
        f.resolve().unwrap().models["m"].clone()
    }

    fn user(text: &str) -> Message {
        Message {
            role: Role::User,
            content: text.into(),
            tool_calls: vec![],
            tool_call_id: None,
        }
    }

    fn tool(name: &str) -> Tool {
        Tool {
            name: name.into(),
            description: "d".into(),
            parameters: json!({"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}),
        }
    }

    #[test]
    fn the_output_cap_is_lowered_to_the_models() {
        let req = CompletionRequest {
            messages: vec![user("hi")],
            max_tokens: Some(5000),
            ..Default::default()
        };
        assert_eq!(prepare(&model(true), req).unwrap().max_tokens, 100);
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cases: Vec<(CompletionRequest, &str)> = vec![
            (CompletionRequest::default(), "messages"),
            (
                CompletionRequest {
                    messages: vec![user("x")],
                    tools: vec![tool("a b")],
                    ..Default::default()
                },
                "tools[0].name",
            ),
            (
                CompletionRequest {
                    messages: vec![
                        user("x"),
                        Message {
                            role: Role::Tool,
                            content: "r".into(),
                            tool_calls: vec![],
                            tool_call_id: Some("nope".into()),
                        },
                    ],
                    ..Default::default()
                },
                "messages[1].tool_call_id",
            ),
            (
                CompletionRequest {
                    messages: vec![user("x")],
                    response_schema: Some(json!("string")),
                    ..Default::default()
                },
                "response_schema",
            ),
        ];
        for (req, field) in cases {
            match prepare(&model(true), req) {
                Err(Error::InvalidRequest(m)) => assert!(m.starts_with(field), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_fallback_turns_a_json_answer_into_one_tool_call() {
        let req = CompletionRequest {
            messages: vec![user("read it")],
            tools: vec![tool("read_file"), tool("grep")],
            ..Default::default()
        };
        let m = model(false);
        let p = prepare(&m, req).unwrap();
        assert!(p.tools.is_empty() && p.fallback && p.schema.is_some());
        let answer = Answer {
            content: "```json\n{\"tool\":\"grep\",\"arguments\":{\"path\":\"a\"}}\n```".into(),
            finish: Some(FinishReason::Stop),
            ..Default::default()
        };
        let c = finish(&m, &p, answer, Default::default()).unwrap();
        assert_eq!(c.finish_reason, FinishReason::ToolCalls);
        assert_eq!(c.message.tool_calls[0].name, "grep");
        assert_eq!(c.message.tool_calls[0].arguments, "{\"path\":\"a\"}");
        let wrong = Answer {
            content: "{\"tool\":\"rm\",\"arguments\":{}}".into(),
            ..Default::default()
        };
        assert!(matches!(
            finish(&m, &p, wrong, Default::default()),
            Err(Error::InvalidAnswer(_))
        ));
    }
}
