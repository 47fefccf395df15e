//! The error body every front end answers with, and the one table of error codes. REST sends
//! `{"error": ErrorDetail}` with the code's HTTP status (`api/error.rs` holds that mapping); the
//! control port sends `{"ok": false, "error": ErrorDetail}`. The same failure has the same code, field
//! and message on both.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// Why a request failed. Every code means one thing on every front end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// No such service, cron job, job, plugin or route.
    NotFound,
    /// The request contradicts the current state: a name already taken, something owned by the
    /// config file, a job already running or already ended, the Caddy integration disabled.
    Conflict,
    /// A value fails validation, or the body, a query parameter or a path segment has the wrong
    /// shape. Always names the field (`body` when the whole body is to blame).
    Invalid,
    /// Missing or wrong token.
    Unauthorized,
    /// Refused whoever asks: on the control port a verb this port does not serve
    /// (`allowed_commands`); over HTTP a request with a foreign `Host` (DNS rebinding) or a
    /// cookie-authenticated change without a same-origin `Origin` (CSRF). Names the header in `field`.
    Forbidden,
    /// Too many failed sign-ins in a minute (HTTP only; `Retry-After` says when to try again), or an
    /// LLM token budget used up for today (nothing was sent to the provider).
    TooManyRequests,
    /// A body (REST) or a line (control port) over the size limit.
    TooLarge,
    /// The daemon is shutting down and takes no new work.
    ShuttingDown,
    /// Something tend relies on failed or cannot be reached (Caddy's admin API, a generator plugin,
    /// an LLM provider: its failure, refusal, rate limit or an answer that does not fit).
    Unavailable,
    /// Something tend relies on did not answer in time (an LLM provider within `timeout_s`).
    Timeout,
    /// The disk holding tend's database is full: nothing of the request was stored (HTTP 507).
    InsufficientStorage,
    /// A bug or an I/O failure in the daemon; the details are in the daemon log, never in the answer.
    Internal,
    /// HTTP only: the route exists, the method does not.
    MethodNotAllowed,
    /// HTTP only: a body without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// Control port only: the connection sent nothing for `idle_timeout_s` and is being closed.
    IdleTimeout,
    /// Control port only: the connection is over `max_connections` and is being closed.
    TooManyConnections,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotFound => "not_found",
            Code::Conflict => "conflict",
            Code::Invalid => "invalid",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::TooLarge => "too_large",
            Code::ShuttingDown => "shutting_down",
            Code::Unavailable => "unavailable",
            Code::Timeout => "timeout",
            Code::InsufficientStorage => "insufficient_storage",
            Code::Internal => "internal",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::IdleTimeout => "idle_timeout",
            Code::TooManyConnections => "too_many_connections",
            Code::TooManyRequests => "too_many_requests",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every REST error answer: `{"error":{"code","message","field"}}`.
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// One error. `message` is a sentence about the value, never prefixed by the field's name; `field`
/// is set for every `invalid` (a dotted path into the body, a query parameter, `name` for a path
/// segment, `body` for the body as a whole).
#[derive(Clone, Debug, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct ErrorDetail {
    pub code: Code,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_names() {
        for code in [
            Code::NotFound,
            Code::Conflict,
            Code::Invalid,
            Code::Unauthorized,
            Code::Forbidden,
            Code::TooLarge,
            Code::ShuttingDown,
            Code::Unavailable,
            Code::Timeout,
            Code::InsufficientStorage,
            Code::Internal,
            Code::MethodNotAllowed,
            Code::UnsupportedMediaType,
            Code::IdleTimeout,
            Code::TooManyConnections,
            Code::TooManyRequests,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
