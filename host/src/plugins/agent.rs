//! What agent worlds (`fixer`, `onboarder`) get that other worlds do not: their own pool of calls
//! and long deadlines, so that a health probe or a policy decision never waits behind a model, and
//! the seam to the LLM gateway (`LlmGateway`), which the daemon hands to the plugin host once
//! `[llm]` is configured. Plain data and constants; the `llm` and `project` imports use them.

use std::future::Future;
use std::pin::Pin;

use super::bindings::World;
use crate::wire::{Completion, CompletionRequest, Purpose};

/// Agent calls in flight at once; further ones wait for a slot. They never take one of the pool
/// the other worlds share (`engine::POOLED_CALLS` minus these).
pub const AGENT_CALLS: u32 = 8;

/// An agent plugin's `limits.timeout_ms` when its manifest names none: long enough for a few model
/// round trips.
pub const AGENT_DEFAULT_TIMEOUT_MS: u64 = 300_000;

/// The most an agent plugin's `limits.timeout_ms` may be (the daemon's `max_timeout_ms` bounds the
/// other worlds).
pub const AGENT_MAX_TIMEOUT_MS: u64 = 600_000;

/// True for the worlds that run agents: their own pool, long deadlines, `llm` and `project` grants.
pub fn is_agent(world: World) -> bool {
    matches!(world, World::Fixer | World::Onboarder)
}

/// Why a completion failed, as the WIT `llm.error` says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmError {
    NotConfigured(String),
    BudgetExceeded(String),
    Timeout,
    RateLimited(String),
    Rejected(String),
    Provider(String),
    InvalidAnswer(String),
    InvalidRequest(String),
}

/// A boxed completion in flight.
pub type Completing<'a> = Pin<Box<dyn Future<Output = Result<Completion, LlmError>> + Send + 'a>>;

/// The LLM gateway as the plugin host sees it: keys, URLs, budgets and retries are its business;
/// a plugin only ever sees the request it made and the answer.
pub trait LlmGateway: Send + Sync + 'static {
    fn complete(&self, purpose: Purpose, request: CompletionRequest) -> Completing<'_>;
}
