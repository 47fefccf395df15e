//! Chat (`POST /api/chat` as Server-Sent Events, `GET /api/chat/conversations[/{id}]`,
//! `DELETE /api/chat/conversations/{id}`): a conversation with a configured model about tend's
//! services, answered with read-only tools over the operations. What the model suggests doing comes
//! back as proposals the person confirms; the chat itself changes nothing.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use super::Usage;

/// Body of `POST /api/chat`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// Continue this conversation; absent: start one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    /// The person's message (1 to 16,384 bytes).
    pub message: String,
    /// Talk about this service: its definition, recent events, log tail and metrics go with the
    /// first message as context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A model of `[llm.models]`; absent: the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    User,
    Assistant,
    /// A tool's answer the model asked for.
    Tool,
}

/// An action the model suggests; the dashboard offers it as a button, the person confirms, and the
/// dashboard calls the matching API itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ChatProposal {
    /// `start`, `stop`, `restart`, `fix`, `edit`.
    pub action: String,
    pub service: String,
    /// Why, in the model's words.
    pub reason: String,
    /// For `edit`: the fields of the service's definition to change; the dashboard merges them into
    /// the definition it has and sends it whole (`PUT /api/services/{name}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<serde_json::Value>,
}

/// A tool call the model made and what it was answered (shortened).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ChatToolUse {
    pub name: String,
    /// JSON.
    pub arguments: String,
    /// The answer given to the model, at most 2,000 characters.
    pub result: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ChatMessage {
    pub id: i64,
    pub role: ChatRole,
    pub content: String,
    #[serde(default)]
    pub tools: Vec<ChatToolUse>,
    #[serde(default)]
    pub proposals: Vec<ChatProposal>,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ConversationSummary {
    pub id: String,
    /// The first message, shortened.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// How many messages the conversation holds. `message_count` on the wire: `Conversation`
    /// flattens this summary next to its own `messages` list, and one JSON object cannot carry two
    /// `messages` keys (the TypeScript type would not even compile).
    #[serde(rename = "message_count")]
    pub messages: u32,
}

/// `GET /api/chat/conversations/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct Conversation {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    pub messages: Vec<ChatMessage>,
}

/// The `data:` of one SSE event of `POST /api/chat`; the SSE `event:` is the variant's name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// First: the conversation the exchange belongs to.
    Conversation { id: String },
    /// A piece of the answer's text, in order.
    Delta { text: String },
    /// The model used a tool and got this answer.
    Tool(ChatToolUse),
    /// The model suggests an action.
    Proposal(ChatProposal),
    /// Last on success: the stored assistant message id and the tokens of the exchange.
    Done { message: i64, usage: Usage },
    /// Last on failure (`code` as in the error body); nothing partial is stored as the answer.
    Error { code: String, message: String },
}
