//! `Failure`: what an operation of the supervisor, the cron scheduler or the custom-restart workflows can
//! fail with. One enum for all three, so each kind of failure maps to one error code in one place
//! (`ops/error.rs`); the message names the thing (`service "web" not found`). Knows no HTTP and no codes.

use crate::spec::FieldError;
use crate::store::StoreError;
use crate::wire::Source;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No such service, cron job or job; the message says which.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the state (a name taken, a definition owned by the config file, a job
    /// already running or already ended).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The daemon is shutting down and takes no new work.
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

impl Failure {
    /// The one ownership rule of services and cron jobs: a `what` named `name` may be changed through
    /// the API only if it exists (`source` is its source) and the config file does not define it.
    pub fn check_editable(what: &str, name: &str, source: Option<Source>) -> Result<(), Failure> {
        match source {
            None => Err(Failure::not_found(what, name)),
            Some(Source::Config) => Err(Failure::Conflict(format!(
                "{what} {name:?} is defined in the config file; change it there"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// `NotFound` of a `what` (`service`, `cron job`) by name.
    pub fn not_found(what: &str, name: &str) -> Failure {
        Failure::NotFound(format!("{what} {name:?} not found"))
    }
}
