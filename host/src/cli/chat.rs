//! `tend chat MESSAGE [--service S] [--model M] [--conversation ID]`: one exchange of the chat
//! (`POST /api/chat`), the answer printed as it arrives, then the tools the model used, the actions
//! it proposes (never carried out here) and the conversation to continue with `--conversation`.
//! `--json`: every event as one JSON line. The summary is a pure function, tested below.

use std::fmt::Write as _;

use super::client::CliError;
use super::commands::{Ctx, out};
use super::sse::SseEvent;
use crate::wire::{ChatEvent, ChatProposal, ChatRequest, ChatToolUse};

#[derive(Clone, Debug, clap::Args)]
pub struct ChatArgs {
    /// What to ask
    message: String,
    /// Talk about this service (its definition, events, logs and metrics go with the question)
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
    /// A model named in `[llm.models]` (default: the configured default)
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Continue this conversation
    #[arg(long, value_name = "ID")]
    conversation: Option<String>,
}

pub async fn run(ctx: &Ctx, a: &ChatArgs) -> Result<(), CliError> {
    let req = ChatRequest {
        conversation: a.conversation.clone(),
        message: a.message.clone(),
        service: a.service.clone(),
        model: a.model.clone(),
    };
    let body = serde_json::to_value(&req).map_err(|e| CliError::Other(e.into()))?;
    let mut seen = Seen::default();
    ctx.client
        .post_stream(&["api", "chat"], &body, |ev: SseEvent| {
            if ctx.json {
                return out(&format!("{}\n", ev.data));
            }
            let ev: ChatEvent = serde_json::from_str(&ev.data).map_err(|e| {
                CliError::Other(anyhow::anyhow!("unreadable {} event: {e}", ev.event))
            })?;
            if let ChatEvent::Delta { text } = &ev {
                out(text)?;
            }
            seen.take(ev);
            Ok(())
        })
        .await?;
    if ctx.json {
        return Ok(());
    }
    out(&summary(&seen))?;
    match seen.end {
        Some(Ok(())) => Ok(()),
        Some(Err(m)) => Err(CliError::Other(anyhow::anyhow!("{m}"))),
        None => Err(CliError::Other(anyhow::anyhow!(
            "the stream ended without an answer"
        ))),
    }
}

/// What an exchange showed, for the summary.
#[derive(Debug, Default)]
struct Seen {
    conversation: String,
    tools: Vec<ChatToolUse>,
    proposals: Vec<ChatProposal>,
    tokens: Option<(u32, u32)>,
    end: Option<Result<(), String>>,
}

impl Seen {
    fn take(&mut self, ev: ChatEvent) {
        match ev {
            ChatEvent::Conversation { id } => self.conversation = id,
            ChatEvent::Delta { .. } => {}
            ChatEvent::Tool(t) => self.tools.push(t),
            ChatEvent::Proposal(p) => self.proposals.push(p),
            ChatEvent::Done { usage, .. } => {
                self.tokens = Some((usage.input_tokens, usage.output_tokens));
                self.end = Some(Ok(()));
            }
            ChatEvent::Error { code, message } => {
                self.end = Some(Err(format!("the chat failed ({code}): {message}")));
            }
        }
    }
}

fn summary(s: &Seen) -> String {
    let mut text = String::from("\n");
    for t in &s.tools {
        let _ = writeln!(text, "-- used {}({})", t.name, t.arguments);
    }
    for p in &s.proposals {
        let _ = writeln!(
            text,
            "-- proposes: {} {} ({}); run `tend {} {}` yourself if you agree",
            p.action, p.service, p.reason, p.action, p.service
        );
    }
    if let Some((i, o)) = s.tokens {
        let _ = writeln!(text, "-- {i} in / {o} out tokens");
    }
    if !s.conversation.is_empty() {
        let _ = writeln!(
            text,
            "-- conversation {0} (continue with --conversation {0})",
            s.conversation
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Usage;

    #[test]
    fn the_summary_lists_tools_proposals_and_the_conversation() {
        let mut s = Seen::default();
        for ev in [
            ChatEvent::Conversation { id: "ab12".into() },
            ChatEvent::Delta { text: "hi".into() },
            ChatEvent::Tool(ChatToolUse {
                name: "list_services".into(),
                arguments: "{}".into(),
                result: "[]".into(),
            }),
            ChatEvent::Proposal(ChatProposal {
                action: "restart".into(),
                service: "web".into(),
                reason: "it leaks".into(),
                changes: None,
            }),
            ChatEvent::Done {
                message: 2,
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 3,
                },
            },
        ] {
            s.take(ev);
        }
        assert_eq!(
            summary(&s),
            "\n-- used list_services({})\n-- proposes: restart web (it leaks); run `tend restart web` yourself if you agree\n\
             -- 10 in / 3 out tokens\n-- conversation ab12 (continue with --conversation ab12)\n"
        );
        assert_eq!(s.end, Some(Ok(())));
    }
}
