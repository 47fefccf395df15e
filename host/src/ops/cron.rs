//! Cron jobs: registration, manual runs and stops, execution history, the compat tick, the overview
//! and schedule validation. Behaviour is `cron::Scheduler`'s; this checks the request.

use serde_json::Value;

use super::{Error, Ops, Result, replace_body};
use crate::wire::{
    CRON_VIEW_ONLY_FIELDS, CronActionResponse, CronJobSpec, CronJobView, CronStatus, Execution,
    ExecutionParams, ExecutionsPage, TickResponse, ValidateParams, ValidateResponse,
};

const DEFAULT_EXECUTIONS: u32 = 20;
const MAX_EXECUTIONS: u32 = 500;
/// Most fire times `validate_schedule` lists.
const MAX_COUNT: usize = 100;

impl Ops {
    pub fn cron_jobs(&self) -> Vec<CronJobView> {
        self.cron.list()
    }

    pub fn cron_job(&self, name: &str) -> Result<CronJobView> {
        Ok(self.cron.get(name)?)
    }

    pub async fn create_cron_job(&self, spec: CronJobSpec) -> Result<CronJobView> {
        Ok(self.cron.create(spec).await?)
    }

    /// Replaces a job's spec with `body` (a spec or an edited view; see `replace_body`). Ownership
    /// first: 404, or 409 for a job from the config file, whatever the body.
    pub async fn replace_cron_job(&self, name: &str, body: Value) -> Result<CronJobView> {
        self.cron.check_editable(name)?;
        let spec: CronJobSpec = replace_body(name, body, CRON_VIEW_ONLY_FIELDS, "cron jobs")?;
        Ok(self.cron.update(spec).await?)
    }

    pub async fn remove_cron_job(&self, name: &str) -> Result<CronActionResponse> {
        Ok(self.cron.remove(name).await?)
    }

    /// Fires the job now: the execution running, queued, or skipped under the overlap policy.
    pub async fn run_cron_job(&self, name: &str) -> Result<Execution> {
        Ok(self.cron.run(name).await?)
    }

    /// Answers once every stopped execution's process tree is gone.
    pub async fn stop_cron_job(&self, name: &str) -> Result<CronActionResponse> {
        Ok(self.cron.stop(name).await?)
    }

    pub async fn cron_executions(&self, name: &str, p: &ExecutionParams) -> Result<ExecutionsPage> {
        let limit = p.limit.unwrap_or(DEFAULT_EXECUTIONS);
        if limit == 0 || limit > MAX_EXECUTIONS {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_EXECUTIONS}"),
            ));
        }
        Ok(self.cron.executions(name, p.before_id, limit).await?)
    }

    /// One execution of the job; while it runs, its output so far (the log file's, bounded).
    pub async fn cron_execution(&self, name: &str, id: i64) -> Result<Execution> {
        Ok(self.cron.execution_of(name, id).await?)
    }

    pub async fn cron_tick(&self) -> Result<TickResponse> {
        Ok(TickResponse {
            fired: self.cron.tick().await?,
        })
    }

    pub fn cron_status(&self) -> CronStatus {
        self.cron.status()
    }

    /// The next fire times of a schedule and its description; `invalid` naming `schedule`,
    /// `timezone` or `count` when one is wrong.
    pub fn validate_schedule(&self, p: &ValidateParams) -> Result<ValidateResponse> {
        let Some(schedule) = &p.schedule else {
            return Err(Error::invalid("schedule", "required"));
        };
        let count = p.count.unwrap_or(5);
        if count == 0 || count > MAX_COUNT {
            return Err(Error::invalid(
                "count",
                format!("must be between 1 and {MAX_COUNT}"),
            ));
        }
        Ok(self.cron.validate(schedule, p.timezone.as_deref(), count)?)
    }
}
