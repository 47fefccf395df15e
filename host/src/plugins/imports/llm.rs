//! `tend:plugin/llm`: a plugin's completions, through the LLM gateway the daemon set
//! (`PluginHost::set_llm`). The WIT request becomes a `wire::CompletionRequest` (schemas, JSON text
//! in WIT, are parsed here: a bad one is `invalid-request`, and nothing is sent); the call's
//! purpose and default model (the incident's) come from the call, never from the plugin, which sees
//! neither keys nor URLs. Every completion asked for is counted in the call's tally, with the
//! tokens it used. The gateway's own timeouts apply; the call's wall-clock deadline bounds the
//! wait too, by cancelling the whole call (the plugin gets no answer to act on after its time).
//! Also the daemon's `crate::llm::Gateway` as the plugin host's `LlmGateway`.

use crate::plugins::LlmError;
use crate::plugins::agent::{Completing, LlmGateway};
use crate::plugins::bindings::host::tend::plugin::llm::{
    self, Error, FinishReason, Message, Request, Response, Role, Tool, ToolCall, Usage,
};
use crate::plugins::sandbox::CallState;
use crate::wire;

impl llm::Host for CallState {
    async fn complete(&mut self, request: Request) -> Result<Response, Error> {
        let Some(agent) = self.ctx.agent.as_ref().filter(|_| self.ctx.grants.llm) else {
            return Err(Error::NotConfigured(
                "llm is only offered during fixer and onboarder calls of plugins granted it".into(),
            ));
        };
        let Some(gateway) = agent.llm.clone() else {
            return Err(Error::NotConfigured(
                "no model is configured ([llm] in tend.toml)".into(),
            ));
        };
        let request = to_wire(request, agent.default_model.clone())?;
        let purpose = agent.purpose;
        let tally = agent.tally.clone();
        tally.lock().unwrap_or_else(|e| e.into_inner()).calls += 1;
        let answer = gateway
            .complete(purpose, request)
            .await
            .map_err(from_error)?;
        {
            let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
            t.usage.input_tokens = t
                .usage
                .input_tokens
                .saturating_add(answer.usage.input_tokens);
            t.usage.output_tokens = t
                .usage
                .output_tokens
                .saturating_add(answer.usage.output_tokens);
        }
        Ok(Response {
            message: message_from_wire(answer.message),
            finish_reason: match answer.finish_reason {
                wire::FinishReason::Stop => FinishReason::Stop,
                wire::FinishReason::ToolCalls => FinishReason::ToolCalls,
                wire::FinishReason::Length => FinishReason::Length,
                wire::FinishReason::Other => FinishReason::Other,
            },
            usage: Usage {
                input_tokens: answer.usage.input_tokens,
                output_tokens: answer.usage.output_tokens,
            },
            model: answer.model,
        })
    }
}

/// The plugin's request as the gateway takes it; `default_model` fills in a missing model.
pub fn to_wire(
    r: Request,
    default_model: Option<String>,
) -> Result<wire::CompletionRequest, Error> {
    let tools = r
        .tools
        .into_iter()
        .map(|t: Tool| {
            let parameters = serde_json::from_str(&t.parameters).map_err(|e| {
                Error::InvalidRequest(format!("tool {}: parameters are not JSON: {e}", t.name))
            })?;
            Ok(wire::Tool {
                name: t.name,
                description: t.description,
                parameters,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let response_schema = r
        .response_schema
        .map(|s| {
            serde_json::from_str(&s)
                .map_err(|e| Error::InvalidRequest(format!("response-schema is not JSON: {e}")))
        })
        .transpose()?;
    Ok(wire::CompletionRequest {
        model: r.model.or(default_model),
        messages: r.messages.into_iter().map(message_to_wire).collect(),
        tools,
        response_schema,
        max_tokens: r.max_tokens,
        temperature: r.temperature,
    })
}

fn message_to_wire(m: Message) -> wire::Message {
    wire::Message {
        role: match m.role {
            Role::System => wire::Role::System,
            Role::User => wire::Role::User,
            Role::Assistant => wire::Role::Assistant,
            Role::Tool => wire::Role::Tool,
        },
        content: m.content,
        tool_calls: m
            .tool_calls
            .into_iter()
            .map(|c| wire::ToolCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect(),
        tool_call_id: m.tool_call_id,
    }
}

fn message_from_wire(m: wire::Message) -> Message {
    Message {
        role: match m.role {
            wire::Role::System => Role::System,
            wire::Role::User => Role::User,
            wire::Role::Assistant => Role::Assistant,
            wire::Role::Tool => Role::Tool,
        },
        content: m.content,
        tool_calls: m
            .tool_calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                name: c.name,
                arguments: c.arguments,
            })
            .collect(),
        tool_call_id: m.tool_call_id,
    }
}

fn from_error(e: LlmError) -> Error {
    match e {
        LlmError::NotConfigured(m) => Error::NotConfigured(m),
        LlmError::BudgetExceeded(m) => Error::BudgetExceeded(m),
        LlmError::Timeout => Error::Timeout,
        LlmError::RateLimited(m) => Error::RateLimited(m),
        LlmError::Rejected(m) => Error::Rejected(m),
        LlmError::Provider(m) => Error::Provider(m),
        LlmError::InvalidAnswer(m) => Error::InvalidAnswer(m),
        LlmError::InvalidRequest(m) => Error::InvalidRequest(m),
    }
}

impl LlmGateway for crate::llm::Gateway {
    fn complete(&self, purpose: wire::Purpose, request: wire::CompletionRequest) -> Completing<'_> {
        Box::pin(async move {
            crate::llm::Gateway::complete(self, purpose, request)
                .await
                .map_err(|e| {
                    use crate::llm::Error as E;
                    match e {
                        E::NotConfigured(m) => LlmError::NotConfigured(m),
                        E::BudgetExceeded(m) => LlmError::BudgetExceeded(m),
                        E::Timeout(_) => LlmError::Timeout,
                        E::RateLimited(m) => LlmError::RateLimited(m),
                        E::Rejected(m) => LlmError::Rejected(m),
                        E::Provider(m) => LlmError::Provider(m),
                        E::InvalidAnswer(m) => LlmError::InvalidAnswer(m),
                        E::InvalidRequest(m) => LlmError::InvalidRequest(m),
                    }
                })
        })
    }
}
