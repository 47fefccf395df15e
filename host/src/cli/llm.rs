//! `tend llm` (the configured models, budgets and today's usage) and `tend llm test [--model M]
//! [--stream] PROMPT` (one completion with purpose `test`, to check a configuration by hand), and
//! their renderings (pure functions of the wire types, tested below).

use std::fmt::Write as _;

use clap::Subcommand;
use reqwest::Method;

use super::client::CliError;
use super::commands::{Ctx, out};
use super::render;
use super::sse::SseEvent;
use crate::wire::{Completion, CompletionDelta, ErrorDetail, LlmStatus};

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Send PROMPT as one user message and print the answer (purpose `test`, counted in the usage
    /// and the budgets like any call)
    Test {
        /// A model named in `[llm.models]` (default: the configured default)
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// Print the answer's text as it arrives
        #[arg(long)]
        stream: bool,
        /// The user message
        prompt: String,
    },
}

pub async fn run(ctx: &Ctx, command: Option<&LlmCommand>) -> Result<(), CliError> {
    match command {
        None => {
            let answer = ctx.client.get(&["api", "llm"], &[]).await?;
            if ctx.json {
                return out(&format!("{}\n", answer.text.trim_end()));
            }
            out(&status(&answer.parse()?))
        }
        Some(LlmCommand::Test {
            model,
            stream,
            prompt,
        }) => {
            let mut body =
                serde_json::json!({ "messages": [{ "role": "user", "content": prompt }] });
            if let Some(m) = model {
                body["model"] = serde_json::json!(m);
            }
            let segments = ["api", "llm", "complete"];
            if !*stream {
                let answer = ctx
                    .client
                    .send(Method::POST, &segments, Some(&body))
                    .await?;
                if ctx.json {
                    return out(&format!("{}\n", answer.text.trim_end()));
                }
                return out(&completion(&answer.parse()?, true));
            }
            let mut end: Option<Result<Completion, ErrorDetail>> = None;
            ctx.client
                .post_stream(&segments, &body, |ev| {
                    match ev.event.as_str() {
                        "delta" => {
                            let d: CompletionDelta = parse(&ev)?;
                            if !ctx.json {
                                out(&d.text)?;
                            }
                        }
                        "done" => end = Some(Ok(parse(&ev)?)),
                        "error" => end = Some(Err(parse(&ev)?)),
                        _ => {}
                    }
                    Ok(())
                })
                .await?;
            match end {
                Some(Ok(c)) if ctx.json => out(&format!(
                    "{}\n",
                    serde_json::to_string(&c).unwrap_or_default()
                )),
                Some(Ok(c)) => out(&format!("\n{}", completion(&c, false))),
                Some(Err(e)) => Err(CliError::Other(anyhow::anyhow!(
                    "\nthe call failed ({}): {}",
                    e.code,
                    e.message
                ))),
                None => Err(CliError::Other(anyhow::anyhow!(
                    "\nthe stream ended without an answer"
                ))),
            }
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(ev: &SseEvent) -> Result<T, CliError> {
    serde_json::from_str(&ev.data)
        .map_err(|e| CliError::Other(anyhow::anyhow!("unreadable {} event: {e}", ev.event)))
}

fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

/// The models table and the day's totals.
pub fn status(s: &LlmStatus) -> String {
    if !s.configured {
        return "no LLM is configured (add a model under [llm.models.<name>] in tend.toml)\n"
            .into();
    }
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .map(|m| {
            let calls: u64 = m.usage.iter().map(|u| u.calls).sum();
            let errors: u64 = m.usage.iter().map(|u| u.errors).sum();
            let key = match (&m.key, m.key_present) {
                (None, _) => "none".to_string(),
                (Some(k), true) => k.clone(),
                (Some(k), false) => format!("{k} (missing)"),
            };
            let name = if s.default.as_deref() == Some(m.name.as_str()) {
                format!("{} *", m.name)
            } else {
                m.name.clone()
            };
            vec![
                name,
                m.provider.clone(),
                m.model.clone(),
                key,
                if m.tools { "native" } else { "json" }.into(),
                m.used_today.to_string(),
                opt(m.daily_token_budget),
                calls.to_string(),
                errors.to_string(),
            ]
        })
        .collect();
    let mut text = render::table(
        &[
            "NAME", "PROVIDER", "MODEL", "KEY", "TOOLS", "TOKENS", "BUDGET", "CALLS", "ERRORS",
        ],
        &rows,
    );
    let _ = writeln!(
        text,
        "today ({} UTC): {} tokens, all models budget {} (* = default; TOKENS in + out today)",
        s.day,
        s.used_today,
        opt(s.daily_token_budget)
    );
    text
}

/// An answer: its text (unless already streamed), its tool calls, and a summary line.
pub fn completion(c: &Completion, with_text: bool) -> String {
    let mut text = String::new();
    if with_text && !c.message.content.is_empty() {
        let _ = writeln!(text, "{}", c.message.content);
    }
    for call in &c.message.tool_calls {
        let _ = writeln!(
            text,
            "tool call {} {}({})",
            call.id, call.name, call.arguments
        );
    }
    let _ = writeln!(
        text,
        "-- {}: {} in / {} out tokens, {} ms, finish {}",
        c.model,
        c.usage.input_tokens,
        c.usage.output_tokens,
        c.latency_ms,
        serde_json::to_value(c.finish_reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{FinishReason, LlmModelView, LlmUsage, Message, Role, ToolCall, Usage};

    #[test]
    fn the_table_shows_models_usage_and_where_keys_come_from() {
        let s = LlmStatus {
            configured: true,
            default: Some("local".into()),
            daily_token_budget: Some(1000),
            day: "2026-12-06".into(),
            used_today: 15,
            models: vec![LlmModelView {
                name: "local".into(),
                provider: "openai".into(),
                base_url: "http://127.0.0.1:8080/v1".into(),
                model: "smollm2".into(),
                key: Some("env:K".into()),
                key_present: false,
                timeout_s: 120,
                max_tokens: 1024,
                max_tokens_field: "max_tokens".into(),
                daily_token_budget: None,
                tools: false,
                retries: 3,
                stream: true,
                used_today: 15,
                usage: vec![LlmUsage {
                    purpose: "test".into(),
                    calls: 2,
                    errors: 1,
                    input_tokens: 11,
                    output_tokens: 4,
                    latency_ms: 30,
                }],
            }],
        };
        let t = status(&s);
        for needle in [
            "local *",
            "env:K (missing)",
            "json",
            "15",
            "1000",
            "2026-12-06",
        ] {
            assert!(t.contains(needle), "{needle:?} in\n{t}");
        }
    }

    #[test]
    fn an_answer_lists_its_tool_calls() {
        let c = Completion {
            message: Message {
                role: Role::Assistant,
                content: "hi".into(),
                tool_calls: vec![ToolCall {
                    id: "c1".into(),
                    name: "grep".into(),
                    arguments: "{}".into(),
                }],
                tool_call_id: None,
            },
            finish_reason: FinishReason::ToolCalls,
            usage: Usage {
                input_tokens: 3,
                output_tokens: 2,
            },
            model: "local".into(),
            latency_ms: 12,
        };
        let t = completion(&c, true);
        assert!(t.starts_with("hi\ntool call c1 grep({})\n"), "{t}");
        assert!(t.contains("finish tool_calls"), "{t}");
    }
}
