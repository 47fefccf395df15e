//! `ops::Error`: the one error every operation returns, a `Code` from the table in `wire/error.rs`
//! plus a message and, for `invalid`, the field. Each domain error (`Failure` of the supervisor, cron
//! and workflows, `FieldError`, `StoreError`, ...) is mapped to a code here, once. Front ends only
//! translate the code (`api/error.rs`: HTTP status; `control`: the code on the line). Internal errors
//! are logged here and answered with a fixed sentence, never with their details.

use crate::caddy::ReloadError;
use crate::failure::Failure;
use crate::llm;
use crate::spec::FieldError;
use crate::store::StoreError;
use crate::wire::{Code, ErrorDetail};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: Code,
    pub message: String,
    /// Set for every `invalid`; may be set for others (`not_found` of a referenced service).
    pub field: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// A value that fails validation; `message` says what is wrong with it, without the field's name.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            code: Code::Invalid,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(Code::NotFound, message)
    }

    pub fn unauthorized() -> Error {
        Error::new(
            Code::Unauthorized,
            "missing or wrong bearer token (see the `token` file in the data dir)",
        )
    }

    /// Logs `cause` and answers without it.
    pub fn internal(cause: impl std::fmt::Display) -> Error {
        tracing::error!(error = %cause, "internal error");
        Error::new(Code::Internal, "internal error; see the daemon log")
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Error {
        self.field = Some(field.into());
        self
    }

    pub fn detail(self) -> ErrorDetail {
        ErrorDetail {
            code: self.code,
            message: self.message,
            field: self.field,
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Error {
        Error::invalid(e.field, e.message)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        if e.is_full() {
            tracing::error!(error = %e, "a request could not be stored: the disk is full");
            return Error::new(
                Code::InsufficientStorage,
                "the disk holding tend's database is full; nothing was stored (free some space and retry)",
            );
        }
        Error::internal(format_args!("store: {e}"))
    }
}

impl From<Failure> for Error {
    fn from(e: Failure) -> Error {
        match e {
            Failure::Invalid(f) => f.into(),
            Failure::Store(s) => s.into(),
            Failure::NotFound(m) => Error::not_found(m),
            Failure::Conflict(m) => Error::new(Code::Conflict, m),
            Failure::ShuttingDown => Error::new(Code::ShuttingDown, e.to_string()),
        }
    }
}

impl From<crate::onboard::Problem> for Error {
    fn from(e: crate::onboard::Problem) -> Error {
        match e {
            crate::onboard::Problem::Failure(f) => f.into(),
            crate::onboard::Problem::Unavailable(m) => Error::new(Code::Unavailable, m),
        }
    }
}

impl From<ReloadError> for Error {
    fn from(e: ReloadError) -> Error {
        match e {
            ReloadError::Disabled => Error::new(Code::Conflict, e.to_string()),
            ReloadError::Failed(m) => Error::new(Code::Unavailable, m),
        }
    }
}

impl From<llm::Error> for Error {
    fn from(e: llm::Error) -> Error {
        match e {
            // "no model \"x\" in [llm.models]": the request named it; nothing configured: the state.
            llm::Error::NotConfigured(m) if m.starts_with("no model ") => {
                Error::invalid("model", m)
            }
            llm::Error::NotConfigured(m) => Error::new(Code::Conflict, m),
            llm::Error::BudgetExceeded(m) => Error::new(Code::TooManyRequests, m),
            llm::Error::Timeout(m) => Error::new(Code::Timeout, m),
            llm::Error::RateLimited(m)
            | llm::Error::Rejected(m)
            | llm::Error::Provider(m)
            | llm::Error::InvalidAnswer(m) => Error::new(Code::Unavailable, m),
            // "tools[0].name: ...": the field, then what is wrong with it.
            llm::Error::InvalidRequest(m) => match m.split_once(": ") {
                Some((field, rest)) if !field.contains(' ') => Error::invalid(field, rest),
                _ => Error::invalid("body", m),
            },
        }
    }
}
