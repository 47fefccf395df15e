//! Custom-restart workflows, run as background jobs: pre-commands (each asked of the policy first),
//! a restart with extra args for that run only, post-commands; every step reported.
//!
//! INTERFACE SKELETON (owned by the workflow work).

use crate::policy::Policy;
use crate::store::Store;
use crate::supervisor::Supervisor;
use crate::wire::CustomRestartRequest;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("no service named {0:?}")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not implemented yet")]
    Unavailable,
}

#[derive(Clone)]
pub struct Workflows {
    #[allow(dead_code)]
    sup: Supervisor,
    #[allow(dead_code)]
    policy: Policy,
    #[allow(dead_code)]
    store: Store,
}

impl Workflows {
    pub fn new(sup: Supervisor, policy: Policy, store: Store) -> Workflows {
        Workflows { sup, policy, store }
    }

    /// Validates the request, records a job and starts it in the background; returns the job's id
    /// at once. `origin` is who asks (`rest`, `tcp`, `cli`).
    pub async fn submit(
        &self,
        _service: &str,
        _request: CustomRestartRequest,
        _origin: &str,
    ) -> Result<String, WorkflowError> {
        Err(WorkflowError::Unavailable)
    }
}
