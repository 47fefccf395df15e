//! The LLM gateway: every model call the daemon makes (a fixer plugin's `llm.complete`,
//! `POST /api/llm/complete`, the chat) goes through `Gateway::complete`. It owns the `[llm]`
//! settings, reads a model's key when a call needs it (never stored, logged, answered or handed to a
//! plugin), enforces the per-call and per-day token budgets before anything is sent, speaks the two
//! provider protocols (`openai.rs`, `anthropic.rs`) with retries and one deadline (`transport.rs`),
//! turns tool calls into a checked JSON answer for models without tool support (`prepare.rs`), checks
//! answers against `response_schema` (`schema.rs`), and records usage per UTC day, model and purpose
//! (`usage.rs`: the store for budgets, counters for `/metrics`). Agent plugins' `llm` imports reach it
//! through `plugins::LlmGateway` (implemented in `plugins/imports/llm.rs`). **No wasmtime here, no HTTP server
//! types**: plugins and the API are adapters over it.

mod anthropic;
mod openai;
mod prepare;
mod schema;
mod settings;
mod sse;
mod transport;
mod usage;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

pub use settings::{LlmFile, LlmSettings, ModelSettings};
pub use usage::today;

use crate::store::Store;
use crate::wire::{Completion, CompletionDelta, CompletionRequest, Purpose};

/// Why a call failed; mirrors the WIT `llm` interface's `error` variant case for case, so plugin
/// host code maps it one to one. Messages never contain a key or a provider URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No model is configured, or the named one is not (or its key is missing).
    #[error("{0}")]
    NotConfigured(String),
    /// The per-call or per-day token budget is used up; nothing was sent.
    #[error("{0}")]
    BudgetExceeded(String),
    /// The provider did not answer within the model's `timeout_s`.
    #[error("{0}")]
    Timeout(String),
    /// Still rate-limited (429) or unavailable (503) after the retries.
    #[error("{0}")]
    RateLimited(String),
    /// The provider refused the request (bad key, context too long, another 4xx).
    #[error("{0}")]
    Rejected(String),
    /// The provider failed (5xx, a broken or cut stream, an unreadable answer).
    #[error("{0}")]
    Provider(String),
    /// The answer did not match `response_schema` (or, for the JSON fallback, a tool's schema).
    #[error("{0}")]
    InvalidAnswer(String),
    /// The request itself is malformed.
    #[error("{0}")]
    InvalidRequest(String),
}

impl Error {
    /// The outcome label of `tend_llm_requests_total` (and the WIT case's name, snake_case).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotConfigured(_) => "not_configured",
            Error::BudgetExceeded(_) => "budget_exceeded",
            Error::Timeout(_) => "timeout",
            Error::RateLimited(_) => "rate_limited",
            Error::Rejected(_) => "rejected",
            Error::Provider(_) => "provider",
            Error::InvalidAnswer(_) => "invalid_answer",
            Error::InvalidRequest(_) => "invalid_request",
        }
    }
}

/// A piece of the answer's text as it streams in.
pub type Delta = CompletionDelta;

/// The gateway; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    settings: LlmSettings,
    client: reqwest::Client,
    usage: usage::Usage,
}

impl Gateway {
    pub fn new(settings: LlmSettings, store: Store) -> anyhow::Result<Gateway> {
        let client = reqwest::Client::builder()
            // The whole call has its own deadline (`timeout_s`); this only bounds a dead address.
            .connect_timeout(std::time::Duration::from_secs(10))
            // A fresh connection per call: llama.cpp's server closes the connection after each
            // streamed answer without saying `Connection: close`, so a pooled one can be dead by the
            // time the next call is written ("error sending request", ~1 call in 10 back to back),
            // and a written POST is not safe to retry. One handshake is nothing next to a completion.
            .pool_max_idle_per_host(0)
            .no_proxy()
            .build()?;
        Ok(Gateway {
            inner: Arc::new(Inner {
                settings,
                client,
                usage: usage::Usage::new(store),
            }),
        })
    }

    pub fn settings(&self) -> &LlmSettings {
        &self.inner.settings
    }

    /// The `[llm.models]` entry `name` names, else the default: what a call would use (the chat
    /// checks it before its stream starts).
    pub fn model(&self, name: Option<&str>) -> Result<&ModelSettings, Error> {
        prepare::resolve_model(&self.inner.settings, name)
    }

    /// Every configured key that can be read now, to scrub from text sent anywhere (the chat's tool
    /// answers). Never logged.
    pub fn keys(&self) -> Vec<String> {
        self.inner
            .settings
            .models
            .values()
            .filter_map(|m| m.key.as_ref()?.read().ok())
            .map(|k| k.expose().to_string())
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// One completion, the answer whole.
    pub async fn complete(
        &self,
        purpose: Purpose,
        req: CompletionRequest,
    ) -> Result<Completion, Error> {
        self.run(purpose, req, None).await
    }

    /// One completion whose text is also sent to `tx` as it arrives (when the model streams; a
    /// model configured `stream = false` sends its whole text as one delta). The answer is only
    /// complete when this returns `Ok`: after an error the deltas sent were not an answer.
    /// Dropping the receiver cancels the call.
    pub async fn complete_stream(
        &self,
        purpose: Purpose,
        req: CompletionRequest,
        tx: mpsc::Sender<Delta>,
    ) -> Result<Completion, Error> {
        self.run(purpose, req, Some(tx)).await
    }

    async fn run(
        &self,
        purpose: Purpose,
        req: CompletionRequest,
        tx: Option<mpsc::Sender<Delta>>,
    ) -> Result<Completion, Error> {
        let settings = &self.inner.settings;
        let model = prepare::resolve_model(settings, req.model.as_deref())?;
        let started = Instant::now();
        let result = self.run_model(model, req, tx).await;
        let (input, output) = match &result {
            Ok(c) => (c.usage.input_tokens, c.usage.output_tokens),
            Err(_) => (0, 0),
        };
        self.inner
            .usage
            .record(
                &model.name,
                purpose,
                result.as_ref().err().map(Error::kind),
                input,
                output,
                started.elapsed(),
            )
            .await;
        if let Err(e) = &result {
            tracing::warn!(model = %model.name, purpose = purpose.as_str(), kind = e.kind(), error = %e, "LLM call failed");
        }
        result
    }

    async fn run_model(
        &self,
        model: &ModelSettings,
        req: CompletionRequest,
        tx: Option<mpsc::Sender<Delta>>,
    ) -> Result<Completion, Error> {
        let settings = &self.inner.settings;
        let mut prepared = prepare::prepare(model, req)?;
        let budget = self
            .inner
            .usage
            .reserve(settings, model, prepared.max_tokens)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot read today's LLM usage");
                Error::BudgetExceeded(
                    "today's token usage could not be read, so the budget cannot be checked; nothing was sent"
                        .into(),
                )
            })?;
        // Held until this call returns (its usage is then recorded by `run`).
        let _reservation = match budget {
            usage::Budget::Unlimited => None,
            usage::Budget::Granted(tokens, r) => {
                prepared.max_tokens = tokens;
                Some(r)
            }
            usage::Budget::Exhausted => {
                return Err(Error::BudgetExceeded(format!(
                    "the daily token budget of model {:?} (or of all models) is used up for today (UTC); nothing was sent",
                    model.name
                )));
            }
        };
        let key = match &model.key {
            Some(source) => Some(
                source
                    .read()
                    .map_err(|m| Error::NotConfigured(format!("model {:?}: {m}", model.name)))?,
            ),
            None => None,
        };
        let deadline =
            tokio::time::Instant::now() + std::time::Duration::from_secs(model.timeout_s);
        let call = transport::call(
            &self.inner.client,
            model,
            key.as_ref(),
            &prepared,
            tx.as_ref(),
            deadline,
        );
        let (answer, latency) = match tokio::time::timeout_at(deadline, call).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Timeout(format!(
                    "model {:?} did not answer within {} s (timeout_s)",
                    model.name, model.timeout_s
                )));
            }
        };
        prepare::finish(model, &prepared, answer, latency)
    }

    /// The `tend_llm_*` families of `GET /metrics`.
    pub fn prometheus(&self) -> String {
        self.inner.usage.prometheus()
    }

    /// Today's (UTC) usage rows and the tokens used per model.
    pub async fn usage_today(
        &self,
    ) -> Result<Vec<crate::store::LlmUsageRow>, crate::store::StoreError> {
        self.inner.usage.today_rows().await
    }
}
