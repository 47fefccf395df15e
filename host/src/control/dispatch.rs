//! Carries out a parsed request with the same operations the REST handlers call, and maps their
//! errors to the same codes (`not_found`, `conflict`, `invalid`, `shutting_down`, ...). Session verbs
//! (`auth`, `help`, `quit`) belong to the connection, not here.

use tokio::sync::mpsc;

use crate::api::ApiError;
use crate::metrics::Metrics;
use crate::store::{LogQuery, Store};
use crate::supervisor::{Action, Supervisor, SupervisorError};
use crate::wire::{ActionResponse, ControlBody, ControlRequest, ControlResponse};
use crate::workflow::{Cancelled, WorkflowError, Workflows};

/// Everything requests act on; cheap to clone (handles).
#[derive(Clone)]
pub struct Ops {
    pub sup: Supervisor,
    pub store: Store,
    pub metrics: Metrics,
    pub workflows: Workflows,
    /// The daemon's shutdown trigger, shared with `POST /api/supervisor/shutdown`.
    pub shutdown: mpsc::Sender<()>,
}

impl Ops {
    pub async fn run(&self, request: ControlRequest) -> ControlResponse {
        match self.body(request).await {
            Ok(body) => ControlResponse::new(body),
            Err(e) => e,
        }
    }

    async fn body(&self, request: ControlRequest) -> Result<ControlBody, ControlResponse> {
        Ok(match request {
            ControlRequest::Status { name: None } => {
                let mut status = self.sup.status();
                if let Some((memory_mb, cpu_percent)) = self.metrics.own_usage() {
                    status.supervisor.memory_mb = Some(memory_mb);
                    status.supervisor.cpu_percent = Some(cpu_percent);
                }
                ControlBody::Status(status)
            }
            ControlRequest::Status { name: Some(name) } => {
                ControlBody::Service(Box::new(self.sup.get(&name).map_err(supervisor_error)?))
            }
            ControlRequest::Start { name } => self.act(name, Action::Start, "start").await?,
            ControlRequest::Stop { name } => self.act(name, Action::Stop, "stop").await?,
            ControlRequest::Restart { name } => self.act(name, Action::Restart, "restart").await?,
            ControlRequest::Logs { name, n } => {
                self.sup.get(&name).map_err(supervisor_error)?;
                let mut q = LogQuery::new(name);
                q.tail = Some(n);
                q.limit = n;
                let lines = self.store.query_logs(&q).await.map_err(|e| {
                    tracing::error!(error = %e, "log query failed");
                    internal()
                })?;
                ControlBody::Lines(lines)
            }
            ControlRequest::CustomRestart { name, request } => {
                let job = self
                    .workflows
                    .start(&name, request, "tcp")
                    .await
                    .map_err(workflow_error)?;
                ControlBody::Job(Box::new(job))
            }
            ControlRequest::Job { id } => match self.workflows.get(&id).await {
                Ok(Some(job)) => ControlBody::Job(Box::new(job)),
                Ok(None) => {
                    return Err(from_api(ApiError::not_found(format!(
                        "no job with id {id:?}"
                    ))));
                }
                Err(e) => return Err(workflow_error(e)),
            },
            ControlRequest::Cancel { id } => {
                let job = match self.workflows.cancel(&id).await.map_err(workflow_error)? {
                    Cancelled::Ended(job) | Cancelled::Stopping(job) => job,
                };
                ControlBody::Job(Box::new(job))
            }
            ControlRequest::Shutdown => {
                // Full means a shutdown is already under way: the answer is the same.
                let _ = self.shutdown.try_send(());
                ControlBody::Message(
                    "shutting down: every service is being stopped; the connection closes when the \
                     daemon is done"
                        .into(),
                )
            }
            ControlRequest::Auth { .. } | ControlRequest::Help | ControlRequest::Quit => {
                // Handled by the connection; reaching here is a bug, answered rather than panicked on.
                return Err(internal());
            }
        })
    }

    async fn act(
        &self,
        name: String,
        action: Action,
        label: &str,
    ) -> Result<ControlBody, ControlResponse> {
        let state = self
            .sup
            .act(&name, action)
            .await
            .map_err(supervisor_error)?;
        Ok(ControlBody::Result(ActionResponse {
            name,
            action: label.into(),
            state,
        }))
    }
}

fn internal() -> ControlResponse {
    ControlResponse::error("internal", "internal error; see the daemon log")
}

/// The REST mapping of an error (`ApiError`), without its HTTP status: both interfaces answer the same
/// code, message and field for the same failure.
fn supervisor_error(e: SupervisorError) -> ControlResponse {
    from_api(ApiError::from(e))
}

fn workflow_error(e: WorkflowError) -> ControlResponse {
    from_api(ApiError::from(e))
}

fn from_api(e: ApiError) -> ControlResponse {
    ControlResponse::error_field(e.code, e.message, e.field)
}
