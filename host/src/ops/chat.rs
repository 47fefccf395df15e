//! The chat's operations: `chat` (check a `ChatRequest` — the message, the conversation, the service,
//! the model — before anything is stored or streamed, then store the person's message, starting a
//! conversation if needed, and hand back the `chat::Exchange` that answers it), and the stored
//! conversations (list newest first, read one, delete one).

use super::{Error, Ops, Result};
use crate::chat::Exchange;
use crate::store::NewChatMessage;
use crate::wire::{ChatRequest, ChatRole, Conversation, ConversationSummary};

/// Longest message, bytes.
pub const MAX_MESSAGE: usize = 16_384;
/// Longest conversation title, characters.
const MAX_TITLE: usize = 80;
/// Most conversations `chat_conversations` lists.
const MAX_LISTED: u32 = 500;

fn title(message: &str) -> String {
    let line = message.trim().lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(MAX_TITLE) {
        None => line.to_string(),
        Some((end, _)) => format!("{}…", &line[..end]),
    }
}

fn unknown_conversation(id: &str) -> Error {
    Error::not_found(format!("no conversation {id:?}")).with_field("conversation")
}

impl Ops {
    /// Checks the request, stores the person's message and answers the exchange to run. Nothing is
    /// stored when the request is refused.
    pub async fn chat(&self, req: ChatRequest) -> Result<Exchange> {
        if req.message.trim().is_empty() {
            return Err(Error::invalid(
                "message",
                "write a message (1 to 16384 bytes)",
            ));
        }
        if req.message.len() > MAX_MESSAGE {
            return Err(Error::invalid(
                "message",
                format!(
                    "at most {MAX_MESSAGE} bytes (this one has {})",
                    req.message.len()
                ),
            ));
        }
        let existing = match &req.conversation {
            Some(id) => Some(
                self.store
                    .get_conversation(id)
                    .await?
                    .ok_or_else(|| unknown_conversation(id))?,
            ),
            None => None,
        };
        if let Some(s) = &req.service {
            self.service(s).map_err(|e| e.with_field("service"))?;
        }
        let asked = req
            .model
            .as_deref()
            .or(existing.as_ref().and_then(|c| c.model.as_deref()));
        let model = self.llm.model(asked).map_err(Error::from)?;
        let (model_name, fallback) = (model.name.clone(), !model.tools);
        let now = crate::store::now_rfc3339();
        let (id, service) = match existing {
            Some(c) => (c.id, req.service.or(c.service)),
            None => {
                let c = ConversationSummary {
                    id: new_id(),
                    title: title(&req.message),
                    service: req.service.clone(),
                    model: Some(model_name.clone()),
                    created_at: now.clone(),
                    updated_at: now.clone(),
                    messages: 0,
                };
                self.store.create_conversation(&c).await?;
                (c.id, req.service)
            }
        };
        self.store
            .add_chat_message(&NewChatMessage {
                conversation: &id,
                role: ChatRole::User,
                content: &req.message,
                tools: &[],
                proposals: &[],
                usage: None,
                created_at: &now,
            })
            .await?;
        let history = self.store.chat_messages(&id).await?;
        Ok(Exchange {
            ops: self.clone(),
            conversation: id,
            model: model_name,
            fallback,
            service,
            history,
        })
    }

    /// Newest activity first.
    pub async fn chat_conversations(&self) -> Result<Vec<ConversationSummary>> {
        Ok(self.store.list_conversations(MAX_LISTED).await?)
    }

    pub async fn chat_conversation(&self, id: &str) -> Result<Conversation> {
        let summary = self
            .store
            .get_conversation(id)
            .await?
            .ok_or_else(|| unknown_conversation(id))?;
        let messages = self.store.chat_messages(id).await?;
        Ok(Conversation { summary, messages })
    }

    pub async fn delete_chat_conversation(&self, id: &str) -> Result<()> {
        if !self.store.delete_conversation(id).await? {
            return Err(unknown_conversation(id));
        }
        Ok(())
    }
}

/// 16 random hex digits.
fn new_id() -> String {
    rand::random::<[u8; 8]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_is_the_first_line_shortened() {
        assert_eq!(title("  why is web down?\nmore"), "why is web down?");
        let long = "x".repeat(200);
        assert_eq!(title(&long).chars().count(), MAX_TITLE + 1);
    }
}
