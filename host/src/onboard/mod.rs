//! Onboarding: the host side. A request names a project (`resolve.rs`: a bare name under
//! `[onboard] projects_root`, or an absolute path); the `[onboard] plugin` (an `onboarder`) is asked
//! for a plan with free ports offered (`ports.rs`); the plan is made absolute and checked
//! (`plan.rs`). A preview answers the plan and changes nothing. Applying it is a background job
//! (`job.rs`): data dir, setup steps judged by the command policy (origin `agent`, audited) and run,
//! services and cron jobs registered with the normal validation, services started and confirmed
//! listening (or healthy). Jobs are stored (`store/onboard.rs`) and every step is an `agent` event.
//! The plugin never writes or runs anything: only this module does, and it knows no HTTP.

mod job;
mod plan;
mod ports;
mod resolve;
mod settings;

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use settings::OnboardSettings;

use crate::cron::Scheduler;
use crate::events::Bus;
use crate::failure::Failure;
use crate::plugins::{PlanError, PluginHost};
use crate::policy::Policy;
use crate::spec::FieldError;
use crate::store::{Store, now_rfc3339};
use crate::supervisor::Supervisor;
use crate::wire::{AgentEvent, OnboardJob, OnboardRequest, OnboardStatus, Origin, Payload, Plan};

/// Why an onboarding request was refused: the supervisor's kinds of failure, or the onboarder
/// plugin failing (it trapped, timed out, is missing).
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    Failure(#[from] Failure),
    #[error("{0}")]
    Unavailable(String),
}

impl From<FieldError> for Problem {
    fn from(e: FieldError) -> Problem {
        Problem::Failure(Failure::Invalid(e))
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Problem {
        Problem::Failure(Failure::Store(e))
    }
}

pub(crate) struct Inner {
    settings: OnboardSettings,
    home: Option<PathBuf>,
    sup: Supervisor,
    cron: Scheduler,
    store: Store,
    bus: Bus,
    policy: Policy,
    plugins: PluginHost,
    /// Flushed before a service's last lines are read.
    hub: crate::logs::LogHub,
    /// Roots with a job in progress: one job per project at a time.
    active: Mutex<HashSet<PathBuf>>,
    closing: AtomicBool,
    /// Told `Shutdown` when the daemon stops: a running setup step's process tree is stopped
    /// rather than left behind.
    stop: tokio::sync::watch::Sender<Option<crate::workflow::step::Stop>>,
}

#[derive(Clone)]
pub struct Onboarding {
    inner: Arc<Inner>,
}

/// A project as a request names it, resolved.
pub(crate) struct Project {
    pub root: PathBuf,
    pub name: String,
    pub data_dir: PathBuf,
}

impl Onboarding {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: OnboardSettings,
        sup: Supervisor,
        cron: Scheduler,
        store: Store,
        bus: Bus,
        policy: Policy,
        plugins: PluginHost,
        hub: crate::logs::LogHub,
    ) -> Onboarding {
        Onboarding {
            inner: Arc::new(Inner {
                settings,
                home: dirs::home_dir(),
                sup,
                cron,
                store,
                bus,
                policy,
                plugins,
                hub,
                active: Mutex::new(HashSet::new()),
                closing: AtomicBool::new(false),
                stop: tokio::sync::watch::channel(None).0,
            }),
        }
    }

    /// At boot: jobs a previous daemon left queued or running end `failed`.
    pub async fn recover(&self) {
        let Ok(jobs) = self.inner.store.unfinished_onboard_jobs().await else {
            return;
        };
        for mut j in jobs {
            j.status = OnboardStatus::Failed;
            j.ended_at = Some(now_rfc3339());
            j.message = if j.registered.is_empty() {
                "interrupted by a daemon restart; nothing was registered".into()
            } else {
                format!(
                    "interrupted by a daemon restart; registered and still registered: {}",
                    j.registered.join(", ")
                )
            };
            let _ = self.inner.store.save_onboard_job(&j).await;
        }
    }

    pub fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.inner
            .stop
            .send_replace(Some(crate::workflow::step::Stop::Shutdown));
    }

    /// The project a request names: its canonical root, its name, its data dir.
    pub(crate) fn project(&self, project: &str, name: Option<&str>) -> Result<Project, Failure> {
        let s = &self.inner.settings;
        let root = resolve::resolve(project, &s.projects_root, self.inner.home.as_deref())?;
        let name = resolve::project_name(&root, name)?;
        let data_dir = s.data_root.join(format!(".{name}"));
        Ok(Project {
            root,
            name,
            data_dir,
        })
    }

    /// The plan for a project; registers and writes nothing. Names already registered are told in
    /// the plan's notes (applying it as it is would be refused).
    pub async fn preview(
        &self,
        project: &str,
        model: Option<String>,
        name: Option<&str>,
    ) -> Result<Plan, Problem> {
        let p = self.project(project, name)?;
        let plan = self.inner.analyze(&p, model).await?;
        let conflicts = plan::validate(&plan, &p.root, &self.inner.registered())?;
        let mut plan = plan;
        if !conflicts.is_empty() {
            plan.notes.push(format!(
                "already registered: {}; rename them before applying",
                conflicts.join(", ")
            ));
        }
        Ok(plan)
    }

    /// Starts applying a plan (the request's, checked now, or one made by the job's first step);
    /// answers the queued job.
    pub async fn start(&self, req: OnboardRequest, origin: Origin) -> Result<OnboardJob, Problem> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::SeqCst) {
            return Err(Failure::ShuttingDown.into());
        }
        let name = match &req.plan {
            Some(plan) => Some(plan.project.as_str()),
            None => req.name.as_deref(),
        };
        let p = self
            .project(&req.project, name)
            .map_err(|e| match (e, &req.plan) {
                // The name came from the plan: say so.
                (Failure::Invalid(f), Some(_)) if f.field == "name" => {
                    Failure::Invalid(FieldError {
                        field: "plan.project".into(),
                        message: f.message,
                    })
                }
                (e, _) => e,
            })?;
        // Without a model the analysis is quick and deterministic: it is made now, so that a project
        // with nothing found or names already taken is refused at once (4xx, nothing stored), and
        // recorded as the job's first step. A model's refinement may take minutes: the job makes it.
        let mut plan = req.plan.clone();
        let mut analyzed = None;
        if plan.is_none() && req.model.is_none() {
            let made = inner.analyze(&p, None).await?;
            analyzed = Some(job::analyzed(&made));
            plan = Some(made);
        }
        if let Some(plan) = &plan {
            let conflicts = plan::validate(plan, &p.root, &inner.registered())?;
            if !conflicts.is_empty() {
                return Err(plan::conflict(&conflicts).into());
            }
        }
        if !inner.active().insert(p.root.clone()) {
            return Err(Failure::Conflict(format!(
                "an onboarding job of {} is in progress; wait for it",
                p.root.display()
            ))
            .into());
        }
        let mut job = OnboardJob {
            id: String::new(),
            project: p.name.clone(),
            root: p.root.clone(),
            status: OnboardStatus::Queued,
            created_at: now_rfc3339(),
            ended_at: None,
            plan,
            steps: analyzed.into_iter().collect(),
            registered: Vec::new(),
            message: format!("queued ({origin})"),
        };
        if let Some(plan) = &job.plan {
            job.steps.extend(job::steps_of(plan));
        }
        match inner.store.insert_onboard_job(&job).await {
            Ok(id) => job.id = id,
            Err(e) => {
                inner.active().remove(&p.root);
                return Err(e.into());
            }
        }
        inner.event(&job, None, &job.message);
        let me = inner.clone();
        let answer = job.clone();
        tokio::spawn(job::run(me, job, p, req.model));
        Ok(answer)
    }

    pub async fn job(&self, id: &str) -> Result<OnboardJob, Failure> {
        self.inner
            .store
            .get_onboard_job(id)
            .await?
            .ok_or_else(|| Failure::NotFound(format!("no onboarding job with id {id:?}")))
    }

    /// Newest first.
    pub async fn jobs(&self, limit: u32) -> Result<Vec<OnboardJob>, Failure> {
        Ok(self.inner.store.list_onboard_jobs(limit).await?)
    }
}

impl Inner {
    fn active(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is registered now: names and claimed ports.
    fn registered(&self) -> plan::Registered {
        let mut r = plan::Registered::default();
        for v in self.sup.list() {
            if let Some(port) = v.spec.port {
                r.ports.insert(port, v.spec.name.clone());
            }
            r.services.insert(v.spec.name);
        }
        r.cron_jobs = self.cron.list().into_iter().map(|v| v.spec.name).collect();
        r
    }

    /// Asks the plugin for the project's plan (free ports offered) and makes it absolute.
    async fn analyze(&self, p: &Project, model: Option<String>) -> Result<Plan, Problem> {
        let claimed: BTreeSet<u16> = self.registered().ports.into_keys().collect();
        let offered = tokio::task::spawn_blocking(move || ports::offer(&claimed))
            .await
            .unwrap_or_default();
        let plugin = &self.settings.plugin;
        let call = self
            .plugins
            .plan_project(plugin, &p.root, &p.name, offered, model)
            .await;
        let found = match call.plan.clone() {
            Ok(found) => found,
            Err(PlanError::Refused(m)) => {
                return Err(FieldError {
                    field: "project".into(),
                    message: m,
                }
                .into());
            }
            Err(PlanError::Failed(m)) => return Err(Problem::Unavailable(m)),
        };
        let target = plan::Target {
            root: &p.root,
            project: &p.name,
            data_dir: &p.data_dir,
            plugin,
        };
        Ok(plan::to_wire(&call, found, &target)?)
    }

    /// An `agent` event about job `j` (and service `service`).
    fn event(&self, j: &OnboardJob, service: Option<&str>, what: &str) {
        self.bus.publish(Payload::Agent(AgentEvent {
            time: now_rfc3339(),
            agent: "onboard".into(),
            service: service.map(str::to_string),
            message: format!("onboarding {} of {:?}: {what}", j.id, j.project),
        }));
    }
}
