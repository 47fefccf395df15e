//! Conversations with a model through the LLM gateway (`llm`): what a caller (a plugin through the WIT
//! `llm` interface, `POST /api/llm/complete`, the chat later) asks and what it gets back. Mirrors the
//! WIT interface `tend:plugin/llm` field for field, except that schemas are JSON values here.
#![allow(dead_code)] // The gateway using these types arrives with the rest of issue 13 (P9).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The answer to a tool call (`tool_call_id` names the call).
    Tool,
}

/// A tool the model asked to call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments: a JSON object, as text (as the model wrote it).
    pub arguments: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// On `assistant` messages: the calls the model asked for, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional = nullable)]
    pub tool_calls: Vec<ToolCall>,
    /// On `tool` messages: the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    #[ts(type = "unknown")]
    pub parameters: serde_json::Value,
}

/// One completion. `model`: a name from `[llm.models]`, else the configured default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct CompletionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(optional = nullable)]
    pub tools: Vec<Tool>,
    /// JSON Schema the answer's content must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(type = "unknown")]
    pub response_schema: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    Other,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// A model's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Completion {
    /// Role `assistant`.
    pub message: Message,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The `[llm.models]` name that answered.
    pub model: String,
    /// From sending the (last, after retries) request to the end of the answer.
    pub latency_ms: u64,
}

/// What an LLM call is for: usage is recorded and budgeted per purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A fixer plugin's call (auto-fix).
    Fix,
    /// An onboarder plugin's call.
    Onboard,
    /// The chat.
    Chat,
    /// `POST /api/llm/complete`, `tend llm test`: checking the configuration by hand.
    Test,
}

impl Purpose {
    pub const ALL: [Purpose; 4] = [Purpose::Fix, Purpose::Onboard, Purpose::Chat, Purpose::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Fix => "fix",
            Purpose::Onboard => "onboard",
            Purpose::Chat => "chat",
            Purpose::Test => "test",
        }
    }
}
