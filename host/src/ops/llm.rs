//! The LLM gateway's operations: `llm_status` (the configured models without their keys, the
//! budgets and today's usage: `GET /api/llm`, `tend llm`) and `llm_complete` (a completion with
//! purpose `test`, whole or streamed: `POST /api/llm/complete`, `tend llm test`).

use tokio::sync::mpsc;

use super::{Ops, Result};
use crate::llm::{self, Delta};
use crate::wire::{Completion, CompletionRequest, LlmModelView, LlmStatus, LlmUsage, Purpose};

impl Ops {
    pub async fn llm_status(&self) -> Result<LlmStatus> {
        let settings = self.llm.settings();
        let rows = self.llm.usage_today().await?;
        let mut models = Vec::new();
        for m in settings.models.values() {
            // In the order of `Purpose::ALL`, whatever the store's.
            let usage: Vec<LlmUsage> = Purpose::ALL
                .iter()
                .filter_map(|p| {
                    rows.iter()
                        .find(|r| r.model == m.name && r.purpose == p.as_str())
                })
                .map(|r| LlmUsage {
                    purpose: r.purpose.clone(),
                    calls: r.calls,
                    errors: r.errors,
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    latency_ms: r.latency_ms,
                })
                .collect();
            models.push(LlmModelView {
                name: m.name.clone(),
                provider: m.provider.as_str().into(),
                base_url: m.base_url.clone(),
                model: m.model.clone(),
                key: m.key.as_ref().map(|k| k.describe()),
                // Read and dropped at once: only whether it is there is answered.
                key_present: m.key.as_ref().is_some_and(|k| k.read().is_ok()),
                timeout_s: m.timeout_s,
                max_tokens: m.max_tokens,
                max_tokens_field: m.max_tokens_field.clone(),
                daily_token_budget: m.daily_token_budget,
                tools: m.tools,
                retries: m.retries,
                stream: m.stream,
                used_today: usage.iter().map(|u| u.input_tokens + u.output_tokens).sum(),
                usage,
            });
        }
        Ok(LlmStatus {
            configured: !settings.models.is_empty(),
            default: settings.default.clone(),
            daily_token_budget: settings.daily_token_budget,
            day: llm::today(),
            used_today: rows.iter().map(|r| r.input_tokens + r.output_tokens).sum(),
            models,
        })
    }

    /// A completion asked for by hand (purpose `test`); with `tx`, its text streams there too.
    pub async fn llm_complete(
        &self,
        req: CompletionRequest,
        tx: Option<mpsc::Sender<Delta>>,
    ) -> Result<Completion> {
        let answer = match tx {
            Some(tx) => self.llm.complete_stream(Purpose::Test, req, tx).await,
            None => self.llm.complete(Purpose::Test, req).await,
        };
        Ok(answer?)
    }
}
