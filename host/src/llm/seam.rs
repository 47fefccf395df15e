//! The gateway as the plugin host sees it (`plugins::LlmGateway`): agent plugins' `llm.complete`
//! calls land here, and the gateway's errors become the WIT `llm.error` cases one to one.

use crate::plugins::{Completing, LlmError, LlmGateway};
use crate::wire::{CompletionRequest, Purpose};

use super::{Error, Gateway};

impl From<Error> for LlmError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotConfigured(m) => LlmError::NotConfigured(m),
            Error::BudgetExceeded(m) => LlmError::BudgetExceeded(m),
            Error::Timeout(_) => LlmError::Timeout,
            Error::RateLimited(m) => LlmError::RateLimited(m),
            Error::Rejected(m) => LlmError::Rejected(m),
            Error::Provider(m) => LlmError::Provider(m),
            Error::InvalidAnswer(m) => LlmError::InvalidAnswer(m),
            Error::InvalidRequest(m) => LlmError::InvalidRequest(m),
        }
    }
}

impl LlmGateway for Gateway {
    fn complete(&self, purpose: Purpose, request: CompletionRequest) -> Completing<'_> {
        Box::pin(async move {
            Gateway::complete(self, purpose, request)
                .await
                .map_err(LlmError::from)
        })
    }
}
