//! Onboarding (`GET /api/onboard/preview`, `POST /api/onboard`, `GET /api/onboard/jobs[/{id}]`,
//! `tend onboard`): the plan an onboarder plugin makes of a project, as the API shows it (paths made
//! absolute, ports assigned, names final), and the background job that applies it. Mirrors the WIT
//! interface `tend:plugin/onboarding` where the plan comes from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use super::{Author, CommandLine, FixCommand, Usage};

/// A file that led to a choice, and which choice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct Evidence {
    /// Relative to the project root.
    pub path: String,
    pub reason: String,
}

/// A service the plan would register. `name`..`health_path` become the service's definition (with
/// `DATA_DIR` pointing at the plan's `data_dir` when `data_dir` is set); the rest explains it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct PlannedService {
    pub name: String,
    pub command: CommandLine,
    /// Absolute.
    #[schema(value_type = String)]
    pub working_dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// What the plan sets (`PORT`, the framework's variables); never values of the project's
    /// `.env` files.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Absolute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub env_file: Option<PathBuf>,
    /// An HTTP path answering 2xx when the service is up: becomes an `http` health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_path: Option<String>,
    /// The service keeps data: `DATA_DIR` is set to the plan's `data_dir`.
    #[serde(default)]
    pub data_dir: bool,
    /// 0.0 to 1.0.
    #[serde(default)]
    pub confidence: f32,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A cron job the plan would register.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct PlannedCron {
    pub name: String,
    pub schedule: String,
    pub command: CommandLine,
    /// Absolute.
    #[schema(value_type = String)]
    pub working_dir: PathBuf,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub env_file: Option<PathBuf>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

/// A setup step, run before anything is registered, judged by the command policy (origin `agent`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupStep {
    pub command: FixCommand,
    /// Absolute.
    #[schema(value_type = String)]
    pub working_dir: PathBuf,
}

/// What `GET /api/onboard/preview` answers and `POST /api/onboard` takes back (edited or not).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The project's name: the root's directory name unless given.
    pub project: String,
    /// Absolute, canonical.
    #[schema(value_type = String)]
    pub root: PathBuf,
    /// Created when the plan is applied (`~/.{project}/` by default, `[onboard] data_root`).
    #[schema(value_type = String)]
    pub data_dir: PathBuf,
    pub services: Vec<PlannedService>,
    #[serde(default)]
    pub cron_jobs: Vec<PlannedCron>,
    #[serde(default)]
    pub setup: Vec<SetupStep>,
    #[serde(default)]
    pub confidence: f32,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    #[serde(default)]
    pub notes: Vec<String>,
    pub author: Author,
    /// The detectors (`python,procfile`) or the model.
    #[serde(default)]
    pub source: String,
    /// The plugin that made it.
    #[serde(default)]
    pub plugin: String,
    /// Model calls made for it, when a model refined it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Query of `GET /api/onboard/preview`.
#[derive(Clone, Debug, Default, Deserialize, TS, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct PreviewParams {
    /// A bare name (under `[onboard] projects_root`) or an absolute path.
    pub project: String,
    /// Refine the detected plan with this model (`[llm.models]`); without it no model is asked.
    pub model: Option<String>,
    /// The project's name when it should differ from the directory's.
    pub name: Option<String>,
}

/// Query of `GET /api/onboard/jobs`.
#[derive(Clone, Debug, Default, Deserialize, TS, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct OnboardJobParams {
    /// At most this many jobs, newest first (default 50, at most 500).
    pub limit: Option<u32>,
}

/// `GET /api/onboard/jobs`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
pub struct OnboardJobsPage {
    pub jobs: Vec<OnboardJob>,
}

/// Body of `POST /api/onboard`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields)]
pub struct OnboardRequest {
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The plan to apply (from the preview, possibly edited); absent: analyse now and apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnboardStatus {
    Queued,
    Running,
    /// Everything registered is running and answering.
    Succeeded,
    /// A step failed; `steps` says which and what is registered.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnboardStepKind {
    /// Plan the project (when the request carried no plan).
    Analyze,
    /// Create the data directory.
    DataDir,
    /// One setup step.
    Setup,
    /// Register one service or cron job.
    Register,
    /// Start one service.
    Start,
    /// Confirm one service listens on its port (or is healthy).
    Confirm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnboardStepStatus {
    Pending,
    Running,
    Ok,
    Failed,
    Skipped,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct OnboardStep {
    pub kind: OnboardStepKind,
    /// The service, cron job or command it is about.
    pub target: String,
    pub status: OnboardStepStatus,
    /// What happened, in a sentence (a policy denial's reason, the last log lines of a service that
    /// did not come up).
    pub message: String,
}

/// An onboarding job as `POST /api/onboard` (202) and `GET /api/onboard/jobs/{id}` answer it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS, ToSchema)]
#[ts(optional_fields)]
pub struct OnboardJob {
    pub id: String,
    pub project: String,
    #[schema(value_type = String)]
    pub root: PathBuf,
    pub status: OnboardStatus,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// The plan being applied (absent while it is being made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    pub steps: Vec<OnboardStep>,
    /// Names registered by this job (they stay registered when a later step fails).
    pub registered: Vec<String>,
    /// The outcome in a sentence.
    pub message: String,
}
