//! Calling `onboarder` plugins: `PluginHost::plan_project` (as `propose_fix` is for fixers) and the
//! plain data its callers see (`PlanCall`, `PluginPlan`), so that nothing outside `plugins` names a
//! WIT type. An onboarder call is an agent call: it runs in the agent pool under the plugin's long
//! deadline, with the project's root as the `project` root and the LLM gateway (purpose `onboard`,
//! the requested model as the default) behind `llm`. The plan keeps the plugin's root-relative paths;
//! `onboard/plan.rs` makes them absolute and checks them.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::PluginHost;
use super::bindings::World;
use super::bindings::host::tend::plugin::fixing as wit_fix;
use super::bindings::host::tend::plugin::onboarding as wit;
use super::loader::Exports;
use super::outcome::Outcome;
use super::sandbox::{AgentCtx, CallState, LlmTally};
use crate::wire;

/// What an `onboarder` call came to.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanCall {
    /// The plugin's plan, or why there is none as a sentence: the plugin is missing, not an
    /// onboarder, suspended, trapped, timed out, or answered `err` (`PlanError::Refused`, e.g.
    /// "nothing found: ...").
    pub plan: Result<PluginPlan, PlanError>,
    /// `llm` completions the plugin made.
    pub llm_calls: u32,
    /// Tokens those completions used.
    pub usage: wire::Usage,
    pub duration_ms: u64,
}

/// Why a call has no plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The plugin ran and answered `err` with this sentence ("nothing found: ...").
    Refused(String),
    /// The call itself failed (no such plugin, wrong world, trap, timeout, suspended).
    Failed(String),
}

/// An environment variable as the plugin set it.
pub type EnvPair = (String, String);

/// The plugin's plan as plain data; paths are relative to the project root as the plugin gave them.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginPlan {
    pub services: Vec<PluginService>,
    pub cron_jobs: Vec<PluginCron>,
    pub setup: Vec<PluginSetup>,
    pub confidence: f32,
    pub evidence: Vec<wire::Evidence>,
    pub notes: Vec<String>,
    pub author: wire::Author,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PluginService {
    pub name: String,
    pub argv: Vec<String>,
    pub working_dir: String,
    pub port: Option<u16>,
    pub env: Vec<EnvPair>,
    pub env_file: Option<String>,
    pub health_path: Option<String>,
    pub data_dir: bool,
    pub confidence: f32,
    pub evidence: Vec<wire::Evidence>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PluginCron {
    pub name: String,
    pub schedule: String,
    pub argv: Vec<String>,
    pub working_dir: String,
    pub env: Vec<EnvPair>,
    pub env_file: Option<String>,
    pub evidence: Vec<wire::Evidence>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PluginSetup {
    pub command: wire::FixCommand,
    pub working_dir: String,
}

impl PluginHost {
    /// Calls `analyze` of an `onboarder` plugin about the project at `root` (canonical), named
    /// `name`, offering `free_ports`; `model` asks for refinement by that model (and is the default
    /// of its `llm` calls). Never blocks the async runtime; never panics.
    pub async fn plan_project(
        &self,
        plugin: &str,
        root: &Path,
        name: &str,
        free_ports: Vec<u16>,
        model: Option<String>,
    ) -> PlanCall {
        let started = Instant::now();
        let tally = Arc::new(Mutex::new(LlmTally::default()));
        let agent = AgentCtx {
            project: Some(crate::project::Project::new(root)),
            purpose: wire::Purpose::Onboard,
            default_model: model.clone(),
            llm: self.llm(),
            tally: tally.clone(),
        };
        // The plugin sees its root as `.`-relative through `project`; the string is informative.
        let root_arg = root.to_string_lossy().into_owned();
        let name = name.to_string();
        let (outcome, _) = self
            .call_export(
                plugin,
                World::Onboarder,
                Duration::MAX,
                None,
                Some(agent),
                |p, _| {
                    let Exports::Onboarder(pre) = &p.exports else {
                        return None;
                    };
                    let pre = pre.clone();
                    Some(move |mut store: Store<CallState>| async move {
                        let onboarder = pre.instantiate_async(&mut store).await?;
                        Ok(
                            match onboarder
                                .call_analyze(
                                    &mut store,
                                    &root_arg,
                                    &name,
                                    &free_ports,
                                    model.as_deref(),
                                )
                                .await?
                            {
                                Ok(plan) => Outcome::Ok(plan),
                                Err(message) => Outcome::PluginError(message),
                            },
                        )
                    })
                },
            )
            .await;
        let tally = *tally.lock().unwrap_or_else(|e| e.into_inner());
        let plan = match outcome {
            Outcome::Ok(plan) => Ok(from_wit(plan)),
            Outcome::NotFound => Err(PlanError::Failed(format!(
                "no plugin named {plugin} is loaded"
            ))),
            Outcome::PluginError(m) => Err(PlanError::Refused(m)),
            other => Err(PlanError::Failed(format!(
                "onboarder plugin {plugin}: {other}"
            ))),
        };
        PlanCall {
            plan,
            llm_calls: tally.calls,
            usage: tally.usage,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// A confidence a caller can compare: NaN is 0, the rest clamped to 0..=1.
fn unit(c: f32) -> f32 {
    if c.is_nan() { 0.0 } else { c.clamp(0.0, 1.0) }
}

fn evidence(e: Vec<wit::Evidence>) -> Vec<wire::Evidence> {
    e.into_iter()
        .map(|e| wire::Evidence {
            path: e.path,
            reason: e.reason,
        })
        .collect()
}

fn env(e: Vec<wit::EnvVar>) -> Vec<EnvPair> {
    e.into_iter().map(|v| (v.name, v.value)).collect()
}

/// The plugin's plan as plain data. Its `author` is taken as said: unlike a fix, a plan the plugin
/// asked a model to refine may still be the rules' (the model's answer failed validation and the
/// plugin fell back), and `llm_calls` tells that a model was asked either way.
fn from_wit(p: wit::Plan) -> PluginPlan {
    PluginPlan {
        services: p
            .services
            .into_iter()
            .map(|s| PluginService {
                name: s.name,
                argv: s.argv,
                working_dir: s.working_dir,
                port: s.port,
                env: env(s.env),
                env_file: s.env_file,
                health_path: s.health_path,
                data_dir: s.data_dir,
                confidence: unit(s.confidence),
                evidence: evidence(s.evidence),
            })
            .collect(),
        cron_jobs: p
            .cron_jobs
            .into_iter()
            .map(|c| PluginCron {
                name: c.name,
                schedule: c.schedule,
                argv: c.argv,
                working_dir: c.working_dir,
                env: env(c.env),
                env_file: c.env_file,
                evidence: evidence(c.evidence),
            })
            .collect(),
        setup: p
            .setup
            .into_iter()
            .map(|s| PluginSetup {
                command: command(s.command),
                working_dir: s.working_dir,
            })
            .collect(),
        confidence: unit(p.confidence),
        evidence: evidence(p.evidence),
        notes: p.notes,
        author: match p.author {
            wit_fix::Author::Rule => wire::Author::Rule,
            wit_fix::Author::Model => wire::Author::Model,
        },
        source: p.source,
    }
}

fn command(c: wit_fix::Command) -> wire::FixCommand {
    wire::FixCommand {
        command_type: match c.command_type {
            wit_fix::CommandType::Shell => wire::CommandType::Shell,
            wit_fix::CommandType::Make => wire::CommandType::Make,
            wit_fix::CommandType::Exec => wire::CommandType::Exec,
        },
        command: c.command,
        is_safe: c.is_safe,
        allowed_in_production: c.allowed_in_production,
        timeout_s: c.timeout_s,
        reason: c.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_convert_field_for_field() {
        let plan = wit::Plan {
            services: vec![wit::PlannedService {
                name: "web".into(),
                argv: vec!["python3".into(), "app.py".into()],
                working_dir: "web".into(),
                port: Some(20001),
                env: vec![wit::EnvVar {
                    name: "PORT".into(),
                    value: "20001".into(),
                }],
                env_file: Some(".env".into()),
                health_path: Some("/health".into()),
                data_dir: true,
                confidence: 3.0,
                evidence: vec![wit::Evidence {
                    path: "web/app.py".into(),
                    reason: "r".into(),
                }],
            }],
            cron_jobs: vec![wit::PlannedCron {
                name: "nightly".into(),
                schedule: "0 3 * * *".into(),
                argv: vec!["sh".into(), "x.sh".into()],
                working_dir: String::new(),
                env: vec![],
                env_file: None,
                evidence: vec![],
            }],
            setup: vec![wit::SetupStep {
                command: wit_fix::Command {
                    command_type: wit_fix::CommandType::Make,
                    command: "build".into(),
                    is_safe: true,
                    allowed_in_production: true,
                    timeout_s: Some(60),
                    reason: "build".into(),
                },
                working_dir: String::new(),
            }],
            confidence: f32::NAN,
            evidence: vec![],
            notes: vec!["n".into()],
            author: wit_fix::Author::Rule,
            source: "python".into(),
        };
        let p = from_wit(plan);
        assert_eq!(p.author, wire::Author::Rule);
        assert_eq!(p.confidence, 0.0);
        let s = &p.services[0];
        assert_eq!(
            (s.port, s.data_dir, s.confidence, s.working_dir.as_str()),
            (Some(20001), true, 1.0, "web")
        );
        assert_eq!(s.env, [("PORT".to_string(), "20001".to_string())]);
        assert_eq!(s.env_file.as_deref(), Some(".env"));
        assert_eq!(p.cron_jobs[0].schedule, "0 3 * * *");
        assert_eq!(p.setup[0].command.command_type, wire::CommandType::Make);
    }
}
