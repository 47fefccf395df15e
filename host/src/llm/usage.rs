//! What the gateway has used: every call added to the store's row of its UTC day, model and
//! purpose (so the daily budgets hold across restarts), what is left of today's budgets for a call
//! (`reserve`: the output tokens granted are held in memory while the call runs, so concurrent calls
//! share the rest), and the counters behind the `tend_llm_*` families of `GET /metrics` (since the
//! daemon started).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use super::settings::{LlmSettings, ModelSettings};
use crate::metrics::prometheus::{Exposition, Type};
use crate::store::{LlmCall, LlmUsageRow, Store, StoreError};
use crate::wire::Purpose;

/// Today as the budgets count it: the UTC date, `YYYY-MM-DD`.
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[derive(Debug, Default)]
struct Counters {
    /// Calls by outcome: `ok` or the error's kind.
    outcomes: BTreeMap<&'static str, u64>,
    input_tokens: u64,
    output_tokens: u64,
    seconds: f64,
    calls: u64,
}

pub struct Usage {
    store: Store,
    /// By model and purpose (`Purpose::as_str`).
    counters: Mutex<BTreeMap<(String, &'static str), Counters>>,
    /// Output tokens granted to calls in progress, by model: counted against the budgets until the
    /// call ends, so concurrent calls cannot together spend more than is left.
    in_flight: Mutex<BTreeMap<String, u64>>,
}

/// What today's budgets allow a call.
pub enum Budget<'a> {
    /// No budget applies: the call's own cap stands.
    Unlimited,
    /// At most this many output tokens, held for the call until the `Reservation` is dropped.
    Granted(u32, Reservation<'a>),
    /// Nothing is left.
    Exhausted,
}

/// Output tokens held for a call in progress; released when dropped.
pub struct Reservation<'a> {
    usage: &'a Usage,
    model: String,
    tokens: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut held = self
            .usage
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.model) {
            *n = n.saturating_sub(self.tokens);
        }
    }
}

impl Usage {
    pub fn new(store: Store) -> Usage {
        Usage {
            store,
            counters: Mutex::default(),
            in_flight: Mutex::default(),
        }
    }

    /// Adds one call (failed when `error` names its kind). A store failure is logged: the call
    /// already happened, and its answer is not withheld for want of a row.
    pub async fn record(
        &self,
        model: &str,
        purpose: Purpose,
        error: Option<&'static str>,
        input_tokens: u32,
        output_tokens: u32,
        elapsed: Duration,
    ) {
        {
            let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            let c = counters
                .entry((model.to_string(), purpose.as_str()))
                .or_default();
            *c.outcomes.entry(error.unwrap_or("ok")).or_default() += 1;
            c.input_tokens += u64::from(input_tokens);
            c.output_tokens += u64::from(output_tokens);
            c.seconds += elapsed.as_secs_f64();
            c.calls += 1;
        }
        let day = today();
        let call = LlmCall {
            day: &day,
            model,
            purpose: purpose.as_str(),
            failed: error.is_some(),
            input_tokens: u64::from(input_tokens),
            output_tokens: u64::from(output_tokens),
            latency_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        };
        if let Err(e) = self.store.record_llm_call(&call).await {
            tracing::error!(error = %e, model, "cannot record LLM usage");
        }
    }

    /// What is left today for a call of `model` wanting `want` output tokens: the smaller of its
    /// own budget's and the global budget's rest, less what calls in progress hold.
    pub async fn reserve<'a>(
        &'a self,
        settings: &LlmSettings,
        model: &ModelSettings,
        want: u32,
    ) -> Result<Budget<'a>, StoreError> {
        if model.daily_token_budget.is_none() && settings.daily_token_budget.is_none() {
            return Ok(Budget::Unlimited);
        }
        let day = today();
        let model_used = match model.daily_token_budget {
            Some(_) => self.store.llm_tokens_used(&day, Some(&model.name)).await?,
            None => 0,
        };
        let all_used = match settings.daily_token_budget {
            Some(_) => self.store.llm_tokens_used(&day, None).await?,
            None => 0,
        };
        // Under the lock from reading what others hold to holding our own: two calls cannot both
        // take the same rest.
        let mut held = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let mut left = u64::MAX;
        if let Some(budget) = model.daily_token_budget {
            let mine = held.get(&model.name).copied().unwrap_or(0);
            left = left.min(budget.saturating_sub(model_used + mine));
        }
        if let Some(budget) = settings.daily_token_budget {
            let all: u64 = held.values().sum();
            left = left.min(budget.saturating_sub(all_used + all));
        }
        if left == 0 {
            return Ok(Budget::Exhausted);
        }
        let tokens = u32::try_from(left).unwrap_or(u32::MAX).min(want);
        *held.entry(model.name.clone()).or_default() += u64::from(tokens);
        Ok(Budget::Granted(
            tokens,
            Reservation {
                usage: self,
                model: model.name.clone(),
                tokens: u64::from(tokens),
            },
        ))
    }

    pub async fn today_rows(&self) -> Result<Vec<LlmUsageRow>, StoreError> {
        self.store.llm_usage(&today()).await
    }

    pub fn prometheus(&self) -> String {
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut e = Exposition::default();
        let mut f = e.family(
            "tend_llm_requests_total",
            Type::Counter,
            "LLM gateway calls by model, purpose and outcome (ok or the error's kind).",
        );
        for ((model, purpose), c) in counters.iter() {
            for (outcome, n) in &c.outcomes {
                f.sample(
                    &[("model", model), ("purpose", purpose), ("outcome", outcome)],
                    *n as f64,
                );
            }
        }
        let mut f = e.family(
            "tend_llm_tokens_total",
            Type::Counter,
            "Tokens the LLM providers counted, by model, purpose and direction (input, output).",
        );
        for ((model, purpose), c) in counters.iter() {
            for (direction, n) in [("input", c.input_tokens), ("output", c.output_tokens)] {
                f.sample(
                    &[
                        ("model", model),
                        ("purpose", purpose),
                        ("direction", direction),
                    ],
                    n as f64,
                );
            }
        }
        let mut f = e.family(
            "tend_llm_request_seconds",
            Type::Summary,
            "Time LLM gateway calls took, retries and streaming included.",
        );
        for ((model, purpose), c) in counters.iter() {
            f.summary(
                &[("model", model), ("purpose", purpose)],
                c.seconds,
                c.calls,
            );
        }
        e.finish()
    }
}
