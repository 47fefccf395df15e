//! Onboarding operations: the preview, starting a job that applies a plan, and the jobs. Behaviour
//! is `onboard::Onboarding`'s; here the request's model is checked against `[llm.models]` and the
//! listing's limit bounded.

use super::{Error, Ops, Result};
use crate::wire::{
    OnboardJob, OnboardJobParams, OnboardJobsPage, OnboardRequest, Origin, Plan, PreviewParams,
};

const DEFAULT_JOBS: u32 = 50;
const MAX_JOBS: u32 = 500;

impl Ops {
    /// A model named by a request must be one of `[llm.models]`.
    fn check_model(&self, model: Option<&str>) -> Result<()> {
        let Some(m) = model else { return Ok(()) };
        let models = &self.llm.settings().models;
        if models.contains_key(m) {
            return Ok(());
        }
        let configured = if models.is_empty() {
            "none".to_string()
        } else {
            models.keys().cloned().collect::<Vec<_>>().join(", ")
        };
        Err(Error::invalid(
            "model",
            format!("no model {m:?} in [llm.models] (configured: {configured})"),
        ))
    }

    /// `GET /api/onboard/preview`: the plan; nothing is registered or written.
    pub async fn onboard_preview(&self, p: PreviewParams) -> Result<Plan> {
        self.check_model(p.model.as_deref())?;
        Ok(self
            .onboarding
            .preview(&p.project, p.model, p.name.as_deref())
            .await?)
    }

    /// `POST /api/onboard`: the queued job (the request's plan, when it has one, is checked first).
    pub async fn onboard(&self, req: OnboardRequest, origin: Origin) -> Result<OnboardJob> {
        self.check_model(req.model.as_deref())?;
        Ok(self.onboarding.start(req, origin).await?)
    }

    pub async fn onboard_job(&self, id: &str) -> Result<OnboardJob> {
        Ok(self.onboarding.job(id).await?)
    }

    pub async fn onboard_jobs(&self, p: &OnboardJobParams) -> Result<OnboardJobsPage> {
        let limit = p.limit.unwrap_or(DEFAULT_JOBS);
        if !(1..=MAX_JOBS).contains(&limit) {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_JOBS}"),
            ));
        }
        Ok(OnboardJobsPage {
            jobs: self.onboarding.jobs(limit).await?,
        })
    }
}
