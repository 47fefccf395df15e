//! Custom restarts and the jobs they run. Behaviour is `workflow::Workflows`'.

use super::{Error, Ops, Result};
use crate::store::JobQuery;
use crate::wire::{CustomRestartRequest, JobParams, JobStatus, JobView, JobsPage, Origin};
use crate::workflow::Cancelled;

/// Jobs listed when no `limit` is given, and the most one page may hold.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1000;

impl Ops {
    /// Validates the request and queues the job; answers the job as queued.
    pub async fn custom_restart(
        &self,
        name: &str,
        request: CustomRestartRequest,
        origin: Origin,
    ) -> Result<JobView> {
        Ok(self.workflows.start(name, request, origin).await?)
    }

    pub async fn job(&self, id: &str) -> Result<JobView> {
        self.workflows
            .get(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("no job with id {id:?}")))
    }

    /// Cancels a job: `Ended` once it ended `cancelled`, `Stopping` while a restart in progress
    /// runs to its end; `conflict` when it had already ended.
    pub async fn cancel_job(&self, id: &str) -> Result<Cancelled> {
        Ok(self.workflows.cancel(id).await?)
    }

    /// Newest first.
    pub async fn jobs(&self, p: &JobParams) -> Result<JobsPage> {
        let status = match p.status.as_deref() {
            None => None,
            Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
                let all: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
                Error::invalid("status", format!("one of {}", all.join(", ")))
            })?),
        };
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", format!("must be 1..={MAX_LIMIT}")));
        }
        let jobs = self
            .workflows
            .list(&JobQuery {
                service: p.service.clone(),
                status,
                limit,
            })
            .await?;
        Ok(JobsPage { jobs })
    }
}
