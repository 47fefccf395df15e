//! `tend onboard PATH|NAME [--preview] [--model M] [--name N]`: onboarding from the command line.
//! `--preview` prints the plan (`GET /api/onboard/preview`); without it the plan is applied
//! (`POST /api/onboard`) and the job followed by polling `GET /api/onboard/jobs/{id}` until it ends,
//! each step printed once it is done. A relative path (`.`, `./x`, `../x`, `a/b`) is made absolute
//! here, where it means something; a bare name is looked up by the daemon under `projects_root`.
//! The renderings are pure functions of the wire types.

use std::time::Duration;

use reqwest::Method;

use super::client::CliError;
use super::commands::{Ctx, out, out_raw};
use crate::wire::{
    OnboardJob, OnboardRequest, OnboardStatus, OnboardStep, OnboardStepKind, OnboardStepStatus,
    Plan,
};

const POLL: Duration = Duration::from_millis(300);

#[derive(Clone, Debug, clap::Args)]
pub struct OnboardArgs {
    /// A project directory (absolute or relative path) or a bare name under [onboard] projects_root
    #[arg(value_name = "PATH|NAME")]
    project: String,
    /// Print the plan; register nothing
    #[arg(long)]
    preview: bool,
    /// Refine the detected plan with this model of [llm.models]
    #[arg(long, value_name = "M")]
    model: Option<String>,
    /// The project's name, when it should differ from the directory's
    #[arg(long, value_name = "N")]
    name: Option<String>,
}

/// What the daemon should be told: a path as an absolute path, a bare name as it is.
fn project_arg(arg: &str) -> String {
    let is_path = arg == "." || arg == ".." || arg.contains('/');
    if is_path
        && !arg.starts_with('/')
        && !arg.starts_with('~')
        && let Ok(abs) = std::path::absolute(arg)
    {
        return abs.to_string_lossy().into_owned();
    }
    arg.to_string()
}

pub async fn onboard(ctx: &Ctx, args: &OnboardArgs) -> Result<(), CliError> {
    let project = project_arg(&args.project);
    if args.preview {
        let mut query = vec![("project", project)];
        if let Some(m) = &args.model {
            query.push(("model", m.clone()));
        }
        if let Some(n) = &args.name {
            query.push(("name", n.clone()));
        }
        let answer = ctx
            .client
            .get(&["api", "onboard", "preview"], &query)
            .await?;
        if ctx.json {
            return out_raw(&answer);
        }
        return out(&render_plan(&answer.parse()?));
    }
    let body = serde_json::to_value(OnboardRequest {
        project,
        model: args.model.clone(),
        name: args.name.clone(),
        plan: None,
    })
    .map_err(|e| CliError::Other(anyhow::anyhow!("cannot encode the request: {e}")))?;
    let mut job: OnboardJob = ctx
        .client
        .send(Method::POST, &["api", "onboard"], Some(&body))
        .await?
        .parse()?;
    if !ctx.json {
        out(&format!(
            "onboarding job {} of {}\n",
            job.id,
            job.root.display()
        ))?;
    }
    let mut printed = 0;
    loop {
        if !ctx.json {
            // Steps are printed once done, in order; the ones still to come wait.
            while let Some(step) = job.steps.get(printed)
                && !matches!(
                    step.status,
                    OnboardStepStatus::Pending | OnboardStepStatus::Running
                )
            {
                out(&format!("{}\n", step_line(step)))?;
                printed += 1;
            }
        }
        if matches!(job.status, OnboardStatus::Succeeded | OnboardStatus::Failed) {
            break;
        }
        // tidy:allow-sleep: the CLI follows an onboarding job by polling its record.
        tokio::time::sleep(POLL).await;
        job = ctx
            .client
            .get(&["api", "onboard", "jobs", &job.id], &[])
            .await?
            .parse()?;
    }
    if ctx.json {
        out(&format!(
            "{}\n",
            serde_json::to_string(&job).unwrap_or_default()
        ))?;
    } else if job.status == OnboardStatus::Succeeded {
        out(&format!("{}\n", job.message))?;
    }
    match job.status {
        OnboardStatus::Succeeded => Ok(()),
        _ => Err(CliError::Other(anyhow::anyhow!(
            "onboarding job {} {}",
            job.id,
            job.message
        ))),
    }
}

fn kind(k: OnboardStepKind) -> &'static str {
    match k {
        OnboardStepKind::Analyze => "analyze",
        OnboardStepKind::DataDir => "data-dir",
        OnboardStepKind::Setup => "setup",
        OnboardStepKind::Register => "register",
        OnboardStepKind::Start => "start",
        OnboardStepKind::Confirm => "confirm",
    }
}

/// `  ok       register  shop-web: service registered`.
pub fn step_line(s: &OnboardStep) -> String {
    let status = match s.status {
        OnboardStepStatus::Pending => "pending",
        OnboardStepStatus::Running => "running",
        OnboardStepStatus::Ok => "ok",
        OnboardStepStatus::Failed => "FAILED",
        OnboardStepStatus::Skipped => "skipped",
    };
    let mut line = format!("  {status:<8} {:<9} {}", kind(s.kind), s.target);
    if !s.message.is_empty() {
        line.push_str(": ");
        line.push_str(&s.message);
    }
    line
}

fn command_text(c: &crate::wire::CommandLine) -> String {
    match c {
        crate::wire::CommandLine::Shell(s) => s.clone(),
        crate::wire::CommandLine::Argv(v) => shell_words(v),
    }
}

/// An argv as a person would type it (words with spaces or quotes quoted).
fn shell_words(v: &[String]) -> String {
    v.iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `tend onboard --preview`: the plan, readably.
pub fn render_plan(p: &Plan) -> String {
    let mut s = format!(
        "project {} at {}\n  data dir: {}\n  plan by {} ({}, {:?}), confidence {:.2}\n",
        p.project,
        p.root.display(),
        p.data_dir.display(),
        if p.plugin.is_empty() { "?" } else { &p.plugin },
        p.source,
        p.author,
        p.confidence
    );
    if let Some(u) = &p.usage {
        s.push_str(&format!(
            "  model: {} tokens in, {} out\n",
            u.input_tokens, u.output_tokens
        ));
    }
    s.push_str(&format!("\nservices ({}):\n", p.services.len()));
    for svc in &p.services {
        s.push_str(&format!(
            "  {}  (confidence {:.2})\n    command: {}\n    dir:     {}\n",
            svc.name,
            svc.confidence,
            command_text(&svc.command),
            svc.working_dir.display()
        ));
        if let Some(port) = svc.port {
            s.push_str(&format!("    port:    {port}\n"));
        }
        if let Some(h) = &svc.health_path {
            s.push_str(&format!("    health:  {h}\n"));
        }
        if !svc.env.is_empty() {
            let names: Vec<&str> = svc.env.keys().map(String::as_str).collect();
            s.push_str(&format!("    env:     {}\n", names.join(", ")));
        }
        if let Some(f) = &svc.env_file {
            s.push_str(&format!("    env file: {}\n", f.display()));
        }
        for e in &svc.evidence {
            s.push_str(&format!("    because: {}: {}\n", e.path, e.reason));
        }
    }
    if !p.cron_jobs.is_empty() {
        s.push_str(&format!("\ncron jobs ({}):\n", p.cron_jobs.len()));
        for c in &p.cron_jobs {
            s.push_str(&format!(
                "  {}  {}\n    command: {}\n    dir:     {}\n",
                c.name,
                c.schedule,
                command_text(&c.command),
                c.working_dir.display()
            ));
            for e in &c.evidence {
                s.push_str(&format!("    because: {}: {}\n", e.path, e.reason));
            }
        }
    }
    if !p.setup.is_empty() {
        s.push_str(&format!(
            "\nsetup steps ({}), run in order:\n",
            p.setup.len()
        ));
        for (i, st) in p.setup.iter().enumerate() {
            s.push_str(&format!(
                "  {}. [{:?}] {}  (in {})\n",
                i + 1,
                st.command.command_type,
                st.command.command,
                st.working_dir.display()
            ));
            if !st.command.reason.is_empty() {
                s.push_str(&format!("     why: {}\n", st.command.reason));
            }
        }
    }
    if !p.evidence.is_empty() {
        s.push_str("\nevidence:\n");
        for e in &p.evidence {
            s.push_str(&format!("  {}: {}\n", e.path, e.reason));
        }
    }
    if !p.notes.is_empty() {
        s.push_str("\nnotes:\n");
        for n in &p.notes {
            s.push_str(&format!("  - {n}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_absolute_and_names_stay() {
        assert_eq!(project_arg("shop"), "shop");
        assert_eq!(project_arg("/srv/shop"), "/srv/shop");
        assert_eq!(project_arg("~/Code/shop"), "~/Code/shop");
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            project_arg("."),
            std::path::absolute(".").unwrap().to_string_lossy()
        );
        assert!(project_arg("./shop").starts_with(here.to_str().unwrap()));
        assert_eq!(shell_words(&["a b".into(), "c".into()]), "'a b' c");
    }
}
