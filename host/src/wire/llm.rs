//! Conversations with a model through the LLM gateway (`llm`): what a caller (a plugin through the WIT
//! `llm` interface, `POST /api/llm/complete`, the chat later) asks and what it gets back. Mirrors the
//! WIT interface `tend:plugin/llm` field for field, except that schemas are JSON values here. Also
//! what `GET /api/llm` shows of the configuration and today's usage, and the streamed deltas of
//! `POST /api/llm/complete`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The answer to a tool call (`tool_call_id` names the call).
    Tool,
}

/// A tool the model asked to call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments: a JSON object, as text (as the model wrote it).
    pub arguments: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    ToolCalls,
    Length,
    Other,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

/// A model's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
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

/// A piece of an answer's text as it streams in (the `delta` events of `POST /api/llm/complete`
/// with `Accept: text/event-stream`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CompletionDelta {
    pub text: String,
}

/// `GET /api/llm`: the configured models (never a key), the budgets and today's (UTC) usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct LlmStatus {
    /// Whether any model is configured (`[llm.models]`).
    pub configured: bool,
    /// The model used when a request names none.
    pub default: Option<String>,
    /// Tokens (in + out) all models may use per UTC day; `null`: no global budget.
    pub daily_token_budget: Option<u64>,
    /// Today, `YYYY-MM-DD` (UTC): what `used_today` and `usage` count.
    pub day: String,
    /// Tokens (in + out) all models used today.
    pub used_today: u64,
    pub models: Vec<LlmModelView>,
}

/// One `[llm.models.<name>]` entry as configured, without its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct LlmModelView {
    pub name: String,
    /// `openai` or `anthropic`.
    pub provider: String,
    pub base_url: String,
    /// The provider's model name.
    pub model: String,
    /// Where the key comes from: `env:NAME` or `file:PATH`; `null`: no key (a local server).
    pub key: Option<String>,
    /// Whether that variable is set, or that file readable and not empty, now.
    pub key_present: bool,
    pub timeout_s: u64,
    pub max_tokens: u32,
    pub max_tokens_field: String,
    pub daily_token_budget: Option<u64>,
    pub tools: bool,
    pub retries: u32,
    pub stream: bool,
    /// Tokens (in + out) this model used today.
    pub used_today: u64,
    /// Today's usage by purpose.
    pub usage: Vec<LlmUsage>,
}

/// One model's usage for one purpose on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct LlmUsage {
    pub purpose: String,
    /// Calls, failed ones included.
    pub calls: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Summed over the calls.
    pub latency_ms: u64,
}
