//! SQL of the chat (`chat_conversations`, `chat_messages`): create a conversation, add a message
//! (touching the conversation's `updated_at`), list conversations newest first, read one with its
//! messages, delete one (its messages go with it). Tool uses and proposals are stored as JSON. Knows
//! nothing of models or of what the messages say.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Result, Store, StoreError};
use crate::wire::{ChatMessage, ChatProposal, ChatRole, ChatToolUse, ConversationSummary, Usage};

/// A message to add to a conversation.
#[derive(Clone, Debug)]
pub struct NewChatMessage<'a> {
    pub conversation: &'a str,
    pub role: ChatRole,
    pub content: &'a str,
    pub tools: &'a [ChatToolUse],
    pub proposals: &'a [ChatProposal],
    pub usage: Option<Usage>,
    pub created_at: &'a str,
}

fn role_str(r: ChatRole) -> &'static str {
    match r {
        ChatRole::User => "user",
        ChatRole::Assistant => "assistant",
        ChatRole::Tool => "tool",
    }
}

fn parse_role(s: &str) -> Result<ChatRole> {
    match s {
        "user" => Ok(ChatRole::User),
        "assistant" => Ok(ChatRole::Assistant),
        "tool" => Ok(ChatRole::Tool),
        other => Err(StoreError::Corrupt(format!("chat message role {other:?}"))),
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a chat message: {e}")))
}

fn summary(r: &SqliteRow) -> ConversationSummary {
    ConversationSummary {
        id: r.get("id"),
        title: r.get("title"),
        service: r.get("service"),
        model: r.get("model"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        messages: u32::try_from(r.get::<i64, _>("messages")).unwrap_or(0),
    }
}

fn message(r: &SqliteRow) -> Result<ChatMessage> {
    let id: i64 = r.get("id");
    let corrupt = |what: &str, e: serde_json::Error| {
        StoreError::Corrupt(format!("chat message {id}: {what}: {e}"))
    };
    let usage = match (
        r.get::<Option<i64>, _>("input_tokens"),
        r.get::<Option<i64>, _>("output_tokens"),
    ) {
        (Some(i), Some(o)) => Some(Usage {
            input_tokens: u32::try_from(i).unwrap_or(u32::MAX),
            output_tokens: u32::try_from(o).unwrap_or(u32::MAX),
        }),
        _ => None,
    };
    Ok(ChatMessage {
        id,
        role: parse_role(r.get("role"))?,
        content: r.get("content"),
        tools: serde_json::from_str(r.get("tools")).map_err(|e| corrupt("tools", e))?,
        proposals: serde_json::from_str(r.get("proposals")).map_err(|e| corrupt("proposals", e))?,
        created_at: r.get("created_at"),
        usage,
    })
}

const SUMMARY: &str = "SELECT c.id, c.title, c.service, c.model, c.created_at, c.updated_at,
        (SELECT COUNT(*) FROM chat_messages m WHERE m.conversation = c.id) AS messages
     FROM chat_conversations c";

impl Store {
    pub async fn create_conversation(&self, c: &ConversationSummary) -> Result<()> {
        sqlx::query(
            "INSERT INTO chat_conversations (id, title, service, model, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(&c.title)
        .bind(&c.service)
        .bind(&c.model)
        .bind(&c.created_at)
        .bind(&c.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Adds a message and makes it the conversation's latest activity; answers its id.
    pub async fn add_chat_message(&self, m: &NewChatMessage<'_>) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO chat_messages (conversation, role, content, tools, proposals,
                 input_tokens, output_tokens, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(m.conversation)
        .bind(role_str(m.role))
        .bind(m.content)
        .bind(encode(&m.tools)?)
        .bind(encode(&m.proposals)?)
        .bind(m.usage.map(|u| i64::from(u.input_tokens)))
        .bind(m.usage.map(|u| i64::from(u.output_tokens)))
        .bind(m.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE chat_conversations SET updated_at = ? WHERE id = ?")
            .bind(m.created_at)
            .bind(m.conversation)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.last_insert_rowid())
    }

    /// Newest activity first.
    pub async fn list_conversations(&self, limit: u32) -> Result<Vec<ConversationSummary>> {
        let rows = sqlx::query(&format!(
            "{SUMMARY} ORDER BY c.updated_at DESC, c.created_at DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(summary).collect())
    }

    pub async fn get_conversation(&self, id: &str) -> Result<Option<ConversationSummary>> {
        let row = sqlx::query(&format!("{SUMMARY} WHERE c.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(summary))
    }

    /// A conversation's messages, oldest first.
    pub async fn chat_messages(&self, id: &str) -> Result<Vec<ChatMessage>> {
        let rows = sqlx::query(
            "SELECT id, role, content, tools, proposals, input_tokens, output_tokens, created_at
             FROM chat_messages WHERE conversation = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message).collect()
    }

    /// Deletes a conversation and its messages; false when there was none.
    pub async fn delete_conversation(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM chat_conversations WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
