//! Plans: the plugin's plan made into `wire::Plan` (paths absolute and inside the project root,
//! `DATA_DIR` for services that keep data), the checks every plan passes before anything is applied
//! (the plugin's and one a person edited), and the service and cron definitions a plan becomes.
//! Pure but for looking at the file system and binding ports; field paths name what is wrong
//! (`plan.services[1].port`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::failure::Failure;
use crate::plugins::{PlanCall, PluginPlan};
use crate::spec::FieldError;
use crate::wire::{
    CommandLine, CronJobSpec, Plan, PlannedCron, PlannedService, ServiceSpec, SetupStep,
    WorkflowCommand,
};

/// The variable a service that keeps data finds its data directory in.
pub const DATA_DIR_VAR: &str = "DATA_DIR";

fn field_err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// `rel` (the plugin's root-relative path, `""` for the root) under `root`; a path that is
/// absolute or climbs (`..`) is refused.
fn under(root: &Path, rel: &str, field: &str) -> Result<PathBuf, FieldError> {
    let p = Path::new(rel);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(field_err(
            field,
            format!("{rel:?} is not a path inside the project root"),
        ));
    }
    Ok(root.join(p))
}

/// Whether absolute `path` is inside `root` (canonical): lexically, and through symlinks when it
/// exists.
pub fn inside(root: &Path, path: &Path) -> bool {
    if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
        return false;
    }
    match std::fs::canonicalize(path) {
        Ok(real) => real.starts_with(root),
        Err(_) => path.starts_with(root),
    }
}

/// What a plan is made for.
pub struct Target<'a> {
    /// Canonical.
    pub root: &'a Path,
    pub project: &'a str,
    pub data_dir: &'a Path,
    pub plugin: &'a str,
}

/// The plugin's plan as the API shows it. Paths that leave the root reject the plan, naming the
/// service (or cron job, setup step) and the field.
pub fn to_wire(call: &PlanCall, p: PluginPlan, t: &Target<'_>) -> Result<Plan, FieldError> {
    let mut services = Vec::new();
    for (i, s) in p.services.into_iter().enumerate() {
        let at = format!("plan.services[{i}]");
        let working_dir = under(t.root, &s.working_dir, &format!("{at}.working_dir"))?;
        let env_file = s
            .env_file
            .map(|f| under(t.root, &f, &format!("{at}.env_file")))
            .transpose()?;
        let mut env: BTreeMap<String, String> = s.env.into_iter().collect();
        if s.data_dir {
            env.insert(
                DATA_DIR_VAR.into(),
                t.data_dir.to_string_lossy().into_owned(),
            );
        }
        services.push(PlannedService {
            name: s.name,
            command: CommandLine::Argv(s.argv),
            working_dir,
            port: s.port,
            env,
            env_file,
            health_path: s.health_path,
            data_dir: s.data_dir,
            confidence: s.confidence,
            evidence: s.evidence,
        });
    }
    let mut cron_jobs = Vec::new();
    for (i, c) in p.cron_jobs.into_iter().enumerate() {
        let at = format!("plan.cron_jobs[{i}]");
        cron_jobs.push(PlannedCron {
            working_dir: under(t.root, &c.working_dir, &format!("{at}.working_dir"))?,
            env_file: c
                .env_file
                .map(|f| under(t.root, &f, &format!("{at}.env_file")))
                .transpose()?,
            name: c.name,
            schedule: c.schedule,
            command: CommandLine::Argv(c.argv),
            env: c.env.into_iter().collect(),
            evidence: c.evidence,
        });
    }
    let mut setup = Vec::new();
    for (i, s) in p.setup.into_iter().enumerate() {
        setup.push(SetupStep {
            working_dir: under(
                t.root,
                &s.working_dir,
                &format!("plan.setup[{i}].working_dir"),
            )?,
            command: s.command,
        });
    }
    Ok(Plan {
        project: t.project.to_string(),
        root: t.root.to_path_buf(),
        data_dir: t.data_dir.to_path_buf(),
        services,
        cron_jobs,
        setup,
        confidence: p.confidence,
        evidence: p.evidence,
        notes: p.notes,
        author: p.author,
        source: p.source,
        plugin: t.plugin.to_string(),
        usage: (call.llm_calls > 0).then_some(call.usage),
    })
}

/// The service a planned one becomes (enabled: it starts now and with the daemon).
pub fn service_spec(plan: &Plan, s: &PlannedService) -> ServiceSpec {
    let mut env = s.env.clone();
    if s.data_dir {
        env.insert(
            DATA_DIR_VAR.into(),
            plan.data_dir.to_string_lossy().into_owned(),
        );
    }
    let health_check_url = match (&s.health_path, s.port) {
        (Some(path), Some(port)) => Some(health_url(port, path)),
        _ => None,
    };
    let mut spec: ServiceSpec = serde_json::from_value(serde_json::json!({
        "name": s.name,
        "command": s.command,
    }))
    .expect("a name and a command make a service spec");
    spec.working_dir = Some(s.working_dir.clone());
    spec.env = env;
    spec.env_file = s.env_file.clone();
    spec.port = s.port;
    spec.health_check_url = health_check_url;
    spec
}

/// Where a service's health path answers.
pub fn health_url(port: u16, path: &str) -> String {
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("http://127.0.0.1:{port}{slash}{path}")
}

pub fn cron_spec(c: &PlannedCron) -> CronJobSpec {
    let mut spec: CronJobSpec = serde_json::from_value(serde_json::json!({
        "name": c.name,
        "command": c.command,
        "schedule": c.schedule,
    }))
    .expect("a name, a command and a schedule make a cron spec");
    spec.working_dir = Some(c.working_dir.clone());
    spec.env_vars = c.env.clone();
    spec.env_file = c.env_file.clone();
    spec
}

/// A setup step as the policy and the runner take it.
pub fn setup_command(s: &SetupStep) -> WorkflowCommand {
    WorkflowCommand {
        command_type: s.command.command_type,
        command: s.command.command.clone(),
        is_safe: s.command.is_safe,
        allowed_in_production: s.command.allowed_in_production,
        timeout_s: s.command.timeout_s.map(u64::from),
    }
}

/// What is registered now, for the checks.
#[derive(Clone, Debug, Default)]
pub struct Registered {
    pub services: BTreeSet<String>,
    pub cron_jobs: BTreeSet<String>,
    /// Port -> the registered service that has it.
    pub ports: BTreeMap<u16, String>,
}

/// Checks a plan before anything of it is applied: its root is the project's, names are unique,
/// each service and cron job passes the validation of `POST /api/services` / `POST /api/cron`,
/// working dirs and env files are inside the root, ports are distinct, not a registered service's
/// and free now. Answers the names already registered (a conflict the caller reports its way).
pub fn validate(plan: &Plan, root: &Path, taken: &Registered) -> Result<Vec<String>, Failure> {
    if plan.root != root {
        return Err(field_err(
            "plan.root",
            format!(
                "{} is not the project's root {}",
                plan.root.display(),
                root.display()
            ),
        )
        .into());
    }
    if !plan.data_dir.is_absolute() {
        return Err(field_err("plan.data_dir", "must be an absolute path").into());
    }
    let mut conflicts = Vec::new();
    let mut names = BTreeMap::new();
    let mut ports: BTreeMap<u16, &str> = BTreeMap::new();
    for (i, s) in plan.services.iter().enumerate() {
        let at = format!("plan.services[{i}]");
        let spec = service_spec(plan, s);
        crate::spec::validate(&spec)
            .map_err(|e| field_err(format!("{at}.{}", e.field), e.message))?;
        check_inside(root, &s.working_dir, s.env_file.as_deref(), &at)?;
        if let Some(other) = names.insert(s.name.as_str(), i) {
            return Err(field_err(
                format!("{at}.name"),
                format!("{:?} is also the name of plan.services[{other}]", s.name),
            )
            .into());
        }
        if taken.services.contains(&s.name) {
            conflicts.push(format!("service {:?}", s.name));
        }
        if let Some(port) = s.port {
            let field = format!("{at}.port");
            if let Some(other) = ports.insert(port, &s.name) {
                return Err(field_err(
                    field,
                    format!("{port} is also the port of service {other:?} in this plan"),
                )
                .into());
            }
            if let Some(owner) = taken.ports.get(&port) {
                return Err(field_err(
                    field,
                    format!("{port} is the port of the registered service {owner:?}"),
                )
                .into());
            }
            if !super::ports::binds(port) {
                return Err(field_err(field, format!("{port} is in use on 127.0.0.1")).into());
            }
        }
    }
    let mut cron_names = BTreeMap::new();
    for (i, c) in plan.cron_jobs.iter().enumerate() {
        let at = format!("plan.cron_jobs[{i}]");
        crate::cron::validate_spec(&cron_spec(c))
            .map_err(|e| field_err(format!("{at}.{}", e.field), e.message))?;
        check_inside(root, &c.working_dir, c.env_file.as_deref(), &at)?;
        if let Some(other) = cron_names.insert(c.name.as_str(), i) {
            return Err(field_err(
                format!("{at}.name"),
                format!("{:?} is also the name of plan.cron_jobs[{other}]", c.name),
            )
            .into());
        }
        if taken.cron_jobs.contains(&c.name) {
            conflicts.push(format!("cron job {:?}", c.name));
        }
    }
    for (i, s) in plan.setup.iter().enumerate() {
        let at = format!("plan.setup[{i}]");
        crate::workflow::command_argv(&setup_command(s))
            .map_err(|e| field_err(format!("{at}.command"), e))?;
        if !inside(root, &s.working_dir) || !s.working_dir.is_dir() {
            return Err(field_err(
                format!("{at}.working_dir"),
                format!(
                    "{} is not a directory inside the project root",
                    s.working_dir.display()
                ),
            )
            .into());
        }
    }
    Ok(conflicts)
}

fn check_inside(
    root: &Path,
    working_dir: &Path,
    env_file: Option<&Path>,
    at: &str,
) -> Result<(), FieldError> {
    if !inside(root, working_dir) {
        return Err(field_err(
            format!("{at}.working_dir"),
            format!(
                "{} is outside the project root {}",
                working_dir.display(),
                root.display()
            ),
        ));
    }
    if let Some(f) = env_file {
        let f = crate::spec::env_file_path(Some(working_dir), f);
        if !inside(root, &f) {
            return Err(field_err(
                format!("{at}.env_file"),
                format!("{} is outside the project root", f.display()),
            ));
        }
    }
    Ok(())
}

/// The conflict error for names already registered.
pub fn conflict(names: &[String]) -> Failure {
    Failure::Conflict(format!(
        "already registered: {}; rename them in the plan (or remove the registered ones)",
        names.join(", ")
    ))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
