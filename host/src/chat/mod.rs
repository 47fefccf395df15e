//! The chat's exchange: one person's message answered by a model through the LLM gateway (purpose
//! `chat`) in up to `MAX_ROUNDS` rounds, the last one offered no tools so that it answers (also
//! right after a round that only repeated calls already made). Each round is streamed (`complete_stream`; models configured
//! `tools = false` answer through the gateway's JSON fallback, a whole round at a time, their final
//! text through the `answer` tool); the tools the model calls run against live data (`tools.rs`,
//! read-only), their answers go back to it, and the next round starts. Everything the person sees is
//! a `ChatEvent` on a channel: `conversation`, `delta`s, `tool`s, `proposal`s, then `done` once the
//! answer is stored, or `error` (nothing stored as the answer). The receiver going away (the client
//! hung up) cancels the call to the provider at once and stores nothing. Validation and the stored
//! person's message are `ops/chat.rs`'s; this module changes no service: proposals are only handed
//! back.

mod prompt;
mod redact;
mod tools;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::llm::Delta;
use crate::ops::{self, Ops};
use crate::store::NewChatMessage;
use crate::wire::{
    ChatEvent, ChatMessage, ChatProposal, ChatRole, ChatToolUse, Code, Completion,
    CompletionRequest, Message, Purpose, Role, Tool, ToolCall, Usage,
};

/// Most model rounds in one exchange.
pub const MAX_ROUNDS: usize = 8;
/// How long a cancelled call may take to notice it was cancelled (so its usage is recorded as a
/// failed call) before it is dropped outright.
const CANCEL_GRACE: Duration = Duration::from_millis(200);

/// One exchange, validated and with the person's message stored; `run` answers it.
pub struct Exchange {
    pub ops: Ops,
    pub conversation: String,
    /// The `[llm.models]` name.
    pub model: String,
    /// The model has no tool support (`tools = false`): the gateway's JSON fallback.
    pub fallback: bool,
    /// The service the conversation is about.
    pub service: Option<String>,
    /// The stored messages, the person's new one last.
    pub history: Vec<ChatMessage>,
}

/// Why an exchange ended without an answer.
enum Stop {
    /// The client went away: nothing more is sent or stored.
    Gone,
    Failed(ops::Error),
}

impl From<ops::Error> for Stop {
    fn from(e: ops::Error) -> Stop {
        Stop::Failed(e)
    }
}

/// What an exchange has gathered over its rounds.
#[derive(Default)]
struct SoFar {
    /// Every `delta` sent: the answer once the exchange ends well.
    text: String,
    /// Summed over the rounds.
    usage: Usage,
    uses: Vec<ChatToolUse>,
    proposals: Vec<ChatProposal>,
    /// Calls made (name, arguments): a round that only repeats them is a loop.
    made: HashSet<(String, String)>,
}

/// A round's answer that asks for tools.
struct Round {
    content: String,
    calls: Vec<ToolCall>,
}

impl Exchange {
    /// Answers the exchange, sending its events to `out`; returns when it ended (or `out` closed).
    pub async fn run(self, out: mpsc::Sender<ChatEvent>) {
        let first = ChatEvent::Conversation {
            id: self.conversation.clone(),
        };
        if out.send(first).await.is_err() {
            return;
        }
        match self.answer(&out).await {
            Ok(()) | Err(Stop::Gone) => {}
            Err(Stop::Failed(e)) => {
                let _ = out
                    .send(ChatEvent::Error {
                        code: e.code.as_str().into(),
                        message: e.message,
                    })
                    .await;
            }
        }
    }

    async fn answer(&self, out: &mpsc::Sender<ChatEvent>) -> Result<(), Stop> {
        let redact = redact::Redactor::new(&self.ops);
        let mut messages = vec![prompt::message(Role::System, prompt::system(self.fallback))];
        if let Some(s) = &self.service {
            let context = prompt::context(&self.ops, s, &redact).await;
            messages.push(prompt::message(Role::System, context));
        }
        messages.extend(prompt::history(&self.history));
        let defs = tools::definitions(self.fallback);
        let mut so_far = SoFar::default();
        let mut answered = false;
        let mut looping = false;
        for round in 0..MAX_ROUNDS {
            let final_round = round == MAX_ROUNDS - 1 || looping;
            let req = self.request(&messages, &defs, final_round);
            let c = if self.fallback {
                self.whole_round(req, out).await?
            } else {
                self.streamed_round(req, out, &mut so_far.text).await?
            };
            so_far.usage.input_tokens = so_far
                .usage
                .input_tokens
                .saturating_add(c.usage.input_tokens);
            so_far.usage.output_tokens = so_far
                .usage
                .output_tokens
                .saturating_add(c.usage.output_tokens);
            let calls = c.message.tool_calls;
            if calls.is_empty() {
                if self.fallback && !c.message.content.is_empty() {
                    send_text(out, &mut so_far.text, &c.message.content, &mut true).await?;
                }
                answered = true;
                break;
            }
            if let Some(a) = calls.iter().find(|c| c.name == tools::ANSWER) {
                let args: Value = serde_json::from_str(&a.arguments).unwrap_or(Value::Null);
                let said = args["text"].as_str().unwrap_or_default();
                send_text(out, &mut so_far.text, said, &mut true).await?;
                answered = true;
                break;
            }
            let round = Round {
                content: c.message.content,
                calls,
            };
            looping = self
                .use_tools(round, &mut messages, &mut so_far, &redact, out)
                .await?;
        }
        if !answered {
            return Err(Stop::Failed(ops::Error::new(
                Code::Unavailable,
                format!(
                    "the model was still calling tools after {MAX_ROUNDS} rounds; nothing was stored as an answer"
                ),
            )));
        }
        // A client gone while the last round ended gets nothing stored.
        if out.is_closed() {
            return Err(Stop::Gone);
        }
        let id = self
            .ops
            .store
            .add_chat_message(&NewChatMessage {
                conversation: &self.conversation,
                role: ChatRole::Assistant,
                content: &so_far.text,
                tools: &so_far.uses,
                proposals: &so_far.proposals,
                usage: Some(so_far.usage),
                created_at: &crate::store::now_rfc3339(),
            })
            .await
            .map_err(ops::Error::from)?;
        let usage = so_far.usage;
        send(out, ChatEvent::Done { message: id, usage }).await
    }

    /// A round's request. The final round offers no tools (a model without tool support keeps
    /// `answer`), so it has to answer; the calls so far go as text then, as the gateway refuses
    /// calls to tools a request does not offer.
    fn request(&self, messages: &[Message], defs: &[Tool], final_round: bool) -> CompletionRequest {
        let (messages, tools) = if final_round {
            let mut flat = prompt::flatten(messages);
            flat.push(prompt::message(
                Role::System,
                "This is the last round: answer the person now with what you found; no more tools.",
            ));
            let answer = defs.iter().filter(|t| t.name == tools::ANSWER).cloned();
            (flat, answer.collect())
        } else {
            (messages.to_vec(), defs.to_vec())
        };
        CompletionRequest {
            model: Some(self.model.clone()),
            messages,
            tools,
            ..CompletionRequest::default()
        }
    }

    /// Runs a round's tool calls, adds them and their answers to `messages`, and sends the `tool`
    /// and `proposal` events. True when the round only repeated calls already made (a loop).
    async fn use_tools(
        &self,
        round: Round,
        messages: &mut Vec<Message>,
        so_far: &mut SoFar,
        redact: &redact::Redactor,
        out: &mpsc::Sender<ChatEvent>,
    ) -> Result<bool, Stop> {
        // The gateway refuses a conversation naming a tool it was not offered or carrying
        // arguments that are not JSON: such calls are kept out of what is sent back.
        let mut asked: Vec<(ToolCall, Result<Value, String>)> = Vec::new();
        let mut unknown = Vec::new();
        for mut call in round.calls {
            if !tools::known(&call.name) {
                unknown.push(call.name);
                continue;
            }
            let args = match serde_json::from_str::<Value>(&call.arguments) {
                Ok(v) if v.is_object() => Ok(v),
                _ => {
                    call.arguments = "{}".into();
                    Err("error: the arguments are not a JSON object".to_string())
                }
            };
            asked.push((call, args));
        }
        let looping = !asked.is_empty()
            && asked.iter().fold(true, |all, (c, _)| {
                !so_far.made.insert((c.name.clone(), c.arguments.clone())) && all
            });
        messages.push(Message {
            role: Role::Assistant,
            content: round.content,
            tool_calls: asked.iter().map(|(c, _)| c.clone()).collect(),
            tool_call_id: None,
        });
        for (call, args) in asked {
            let (answer, proposal) = match &args {
                Ok(args) => {
                    let o = tools::run(&self.ops, &call.name, args, redact).await;
                    (o.answer, o.proposal)
                }
                Err(m) => (m.clone(), None),
            };
            let used = ChatToolUse {
                name: call.name.clone(),
                arguments: call.arguments.clone(),
                result: tools::cap_chars(&answer, tools::MAX_SHOWN),
            };
            messages.push(Message {
                role: Role::Tool,
                content: answer,
                tool_calls: vec![],
                tool_call_id: Some(call.id),
            });
            send(out, ChatEvent::Tool(used.clone())).await?;
            so_far.uses.push(used);
            if let Some(p) = proposal {
                send(out, ChatEvent::Proposal(p.clone())).await?;
                so_far.proposals.push(p);
            }
        }
        if !unknown.is_empty() {
            let names: Vec<String> = tools::definitions(self.fallback)
                .into_iter()
                .map(|t| t.name)
                .collect();
            messages.push(prompt::message(
                Role::User,
                format!(
                    "(tend) There is no tool {}; the tools are: {}.",
                    unknown.join(", "),
                    names.join(", ")
                ),
            ));
        }
        Ok(looping)
    }

    /// A round of a model without tool support: whole, its text sent by the caller.
    async fn whole_round(
        &self,
        req: CompletionRequest,
        out: &mpsc::Sender<ChatEvent>,
    ) -> Result<Completion, Stop> {
        tokio::select! {
            r = self.ops.llm.complete(Purpose::Chat, req) => r.map_err(|e| Stop::Failed(e.into())),
            // Dropping the call closes the connection to the provider.
            _ = out.closed() => Err(Stop::Gone),
        }
    }

    /// A streamed round: its text passed on as `delta`s (and added to `text`) as it arrives.
    async fn streamed_round(
        &self,
        req: CompletionRequest,
        out: &mpsc::Sender<ChatEvent>,
        text: &mut String,
    ) -> Result<Completion, Stop> {
        let (dtx, mut deltas) = mpsc::channel::<Delta>(64);
        let call = self.ops.llm.complete_stream(Purpose::Chat, req, dtx);
        tokio::pin!(call);
        let mut new_round = true;
        let result = loop {
            tokio::select! {
                biased;
                d = deltas.recv() => match d {
                    Some(d) => {
                        if send_text(out, text, &d.text, &mut new_round).await.is_err() {
                            return Err(cancel(deltas, call).await);
                        }
                    }
                    // The gateway is done sending; its answer follows.
                    None => break (&mut call).await,
                },
                r = &mut call => break r,
                _ = out.closed() => return Err(cancel(deltas, call).await),
            }
        };
        // Deltas sent just before the call returned.
        while let Ok(d) = deltas.try_recv() {
            send_text(out, text, &d.text, &mut new_round).await?;
        }
        result.map_err(|e| Stop::Failed(e.into()))
    }
}

/// Cancels a streamed call: without its receiver the gateway stops reading and closes the
/// connection to the provider; it gets `CANCEL_GRACE` to record the failed call, then is dropped.
async fn cancel<F: Future>(deltas: mpsc::Receiver<Delta>, call: Pin<&mut F>) -> Stop {
    drop(deltas);
    let _ = tokio::time::timeout(CANCEL_GRACE, call).await;
    Stop::Gone
}

async fn send(out: &mpsc::Sender<ChatEvent>, ev: ChatEvent) -> Result<(), Stop> {
    out.send(ev).await.map_err(|_| Stop::Gone)
}

/// Sends a piece of the answer. The first text of a round (`new_round`, cleared here) is set off
/// from the text of earlier rounds by a blank line.
async fn send_text(
    out: &mpsc::Sender<ChatEvent>,
    text: &mut String,
    piece: &str,
    new_round: &mut bool,
) -> Result<(), Stop> {
    if piece.is_empty() {
        return Ok(());
    }
    let mut piece = piece.to_string();
    if std::mem::take(new_round)
        && text.ends_with(|c: char| !c.is_whitespace())
        && !piece.starts_with(char::is_whitespace)
    {
        piece.insert_str(0, "\n\n");
    }
    text.push_str(&piece);
    send(out, ChatEvent::Delta { text: piece }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_rounds_text_is_set_off_from_the_last() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut text = String::new();
        let mut round = true;
        send_text(&tx, &mut text, "Looking", &mut round).await.ok();
        send_text(&tx, &mut text, ".", &mut round).await.ok();
        send_text(&tx, &mut text, "", &mut true).await.ok();
        send_text(&tx, &mut text, "Found it.", &mut true).await.ok();
        let mut seen = Vec::new();
        while let Ok(ChatEvent::Delta { text }) = rx.try_recv() {
            seen.push(text);
        }
        assert_eq!(seen, ["Looking", ".", "\n\nFound it."]);
        assert_eq!(text, "Looking.\n\nFound it.");
    }
}
