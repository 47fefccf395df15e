//! `tend custom-restart`, `tend job ID [--cancel]` and `tend jobs`: custom-restart workflows and the
//! background jobs they run as. `custom-restart` follows its job (polling `GET /api/jobs/{id}`) and
//! prints each step as it completes, unless `--detach`; Ctrl-C stops following (the job goes on) and
//! says how to cancel it. The renderings are pure functions of the wire types.
//!
//! The `--pre*`/`--post*` flags of different kinds keep the order they were typed in, which clap's
//! derive cannot express; so the arguments' `Args` impl is written out here around a derived `Raw`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{ArgMatches, FromArgMatches};
use reqwest::Method;

use super::client::{Answer, CliError};
use super::commands::Ctx;
use super::render::{relative, table};
use crate::wire::{
    CommandType, CustomRestartRequest, JobStatus, JobStep, JobView, JobsPage, StepPhase,
    StepStatus, WorkflowCommand,
};

/// Between two looks at a followed job.
const POLL: Duration = Duration::from_millis(200);

#[derive(Clone, Debug, clap::Args)]
pub struct Raw {
    /// Service name
    name: String,
    /// Run CMD through `sh -c` before the restart (repeatable; all pre-commands run in the order given)
    #[arg(long = "pre", value_name = "CMD")]
    pre: Vec<String>,
    /// Run `make TARGETS` before the restart
    #[arg(long = "pre-make", value_name = "TARGETS")]
    pre_make: Vec<String>,
    /// Run ARGV (split with shell quoting, no shell) before the restart
    #[arg(long = "pre-exec", value_name = "ARGV")]
    pre_exec: Vec<String>,
    /// Run CMD through `sh -c` after the restart (repeatable)
    #[arg(long = "post", value_name = "CMD")]
    post: Vec<String>,
    /// Run `make TARGETS` after the restart
    #[arg(long = "post-make", value_name = "TARGETS")]
    post_make: Vec<String>,
    /// Run ARGV (split with shell quoting, no shell) after the restart
    #[arg(long = "post-exec", value_name = "ARGV")]
    post_exec: Vec<String>,
    /// Declare the commands NOT safe (`is_safe: false`); by default the CLI declares them safe
    #[arg(long = "unsafe")]
    not_safe: bool,
    /// Declare the commands allowed in production (`allowed_in_production: true`)
    #[arg(long)]
    production: bool,
    /// Seconds before a command's process tree is killed and the job fails [daemon default: 600]
    #[arg(long, value_name = "S")]
    timeout: Option<u64>,
    /// Print the job id and return at once instead of following the job
    #[arg(short, long)]
    detach: bool,
    /// Extra arguments for the service's command, for this run only
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// `tend custom-restart NAME [--pre CMD]... [--post CMD]... [-- ARGS...]`.
#[derive(Clone, Debug)]
pub struct CustomRestartArgs {
    raw: Raw,
    pre: Vec<WorkflowCommand>,
    post: Vec<WorkflowCommand>,
}

impl CustomRestartArgs {
    /// The body of `POST /api/services/{name}/custom-restart`.
    pub fn request(&self) -> CustomRestartRequest {
        CustomRestartRequest {
            pre_commands: self.pre.clone(),
            post_commands: self.post.clone(),
            args: self.raw.args.clone(),
        }
    }
}

/// The commands of one phase in the order they were typed, whatever their flag.
fn ordered(m: &ArgMatches, flags: [(&str, CommandType); 3], raw: &Raw) -> Vec<WorkflowCommand> {
    let mut found: Vec<(usize, CommandType, String)> = Vec::new();
    for (id, kind) in flags {
        let (Some(values), Some(indices)) = (m.get_many::<String>(id), m.indices_of(id)) else {
            continue;
        };
        found.extend(indices.zip(values).map(|(i, v)| (i, kind, v.clone())));
    }
    found.sort_by_key(|(i, _, _)| *i);
    found
        .into_iter()
        .map(|(_, command_type, command)| WorkflowCommand {
            command_type,
            command,
            is_safe: !raw.not_safe,
            allowed_in_production: raw.production,
            timeout_s: raw.timeout,
        })
        .collect()
}

impl FromArgMatches for CustomRestartArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let raw = Raw::from_arg_matches(m)?;
        let pre = ordered(
            m,
            [
                ("pre", CommandType::Shell),
                ("pre_make", CommandType::Make),
                ("pre_exec", CommandType::Exec),
            ],
            &raw,
        );
        let post = ordered(
            m,
            [
                ("post", CommandType::Shell),
                ("post_make", CommandType::Make),
                ("post_exec", CommandType::Exec),
            ],
            &raw,
        );
        Ok(CustomRestartArgs { raw, pre, post })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = CustomRestartArgs::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for CustomRestartArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Raw::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Raw::augment_args_for_update(cmd)
    }
}

/// `tend jobs` filters.
#[derive(Clone, Debug, clap::Args)]
pub struct JobsArgs {
    /// Only this service's jobs
    #[arg(long)]
    service: Option<String>,
    /// Only jobs with this status
    #[arg(long, value_parser = ["queued", "running", "succeeded", "failed", "interrupted", "cancelled"])]
    status: Option<String>,
    /// How many jobs (newest first)
    #[arg(short = 'n', long, default_value_t = 20)]
    limit: u32,
}

fn print(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn raw(answer: &Answer) -> Result<(), CliError> {
    print(&format!("{}\n", answer.text.trim_end()))
}

/// Exit status of a finished job: 0 when it succeeded, else 1 with its error.
fn outcome(job: &JobView) -> Result<(), CliError> {
    match job.status {
        JobStatus::Succeeded => Ok(()),
        status => Err(CliError::Other(anyhow::anyhow!(
            "custom restart of {} (job {}) {}: {}",
            job.service,
            job.id,
            status.as_str(),
            job.error.as_deref().unwrap_or("no reason recorded")
        ))),
    }
}

pub async fn custom_restart(ctx: &Ctx, args: &CustomRestartArgs) -> Result<(), CliError> {
    let body = serde_json::to_value(args.request())
        .map_err(|e| CliError::Other(anyhow::anyhow!("cannot encode the request: {e}")))?;
    let name = args.raw.name.as_str();
    let mut answer = ctx
        .client
        .send(
            Method::POST,
            &["api", "services", name, "custom-restart"],
            Some(&body),
        )
        .await?;
    let mut job: JobView = answer.parse()?;
    if args.raw.detach {
        return if ctx.json {
            raw(&answer)
        } else {
            print(&format!(
                "job {} queued: custom restart of {}; follow it with `tend job {}`\n",
                job.id, job.service, job.id
            ))
        };
    }
    if !ctx.json {
        print(&format!(
            "job {}: custom restart of {}\n",
            job.id, job.service
        ))?;
    }
    let mut shown = 0;
    // One listener for the whole follow, so a Ctrl-C during a request is not missed.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        while let Some(step) = job.steps.get(shown).filter(|s| s.status.is_final()) {
            if !ctx.json {
                print(&step_block(step))?;
            }
            shown += 1;
        }
        if job.status.is_final() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut ctrl_c => {
                return Err(CliError::Other(anyhow::anyhow!(
                    "stopped following job {id}; it keeps running (`tend job {id}` shows it, `tend job {id} --cancel` cancels it)",
                    id = job.id
                )));
            }
        }
        answer = ctx.client.get(&["api", "jobs", &job.id], &[]).await?;
        job = answer.parse()?;
    }
    if ctx.json {
        raw(&answer)?;
    } else if job.status == JobStatus::Succeeded {
        print(&format!("job {} succeeded\n", job.id))?;
    }
    outcome(&job)
}

pub async fn show_job(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let answer = ctx.client.get(&["api", "jobs", id], &[]).await?;
    if ctx.json {
        return raw(&answer);
    }
    print(&job_details(&answer.parse()?, Utc::now()))
}

/// `tend job ID --cancel`: prints the job as the cancel left it (ended, or still stopping).
pub async fn cancel_job(ctx: &Ctx, id: &str) -> Result<(), CliError> {
    let answer = ctx
        .client
        .send(Method::POST, &["api", "jobs", id, "cancel"], None)
        .await?;
    if ctx.json {
        return raw(&answer);
    }
    let job: JobView = answer.parse()?;
    let head = if job.status.is_final() {
        format!("job {} cancelled\n", job.id)
    } else {
        format!(
            "job {} is being cancelled (a restart in progress runs to its end); `tend job {}` shows it\n",
            job.id, job.id
        )
    };
    print(&format!("{head}{}", job_details(&job, Utc::now())))
}

pub async fn list_jobs(ctx: &Ctx, args: &JobsArgs) -> Result<(), CliError> {
    let mut query = vec![("limit", args.limit.to_string())];
    if let Some(s) = &args.service {
        query.push(("service", s.clone()));
    }
    if let Some(s) = &args.status {
        query.push(("status", s.clone()));
    }
    let answer = ctx.client.get(&["api", "jobs"], &query).await?;
    if ctx.json {
        return raw(&answer);
    }
    let page: JobsPage = answer.parse()?;
    print(&jobs_table(&page.jobs, Utc::now()))
}

/// `pre[0]`, `restart`, `post[1]`.
fn step_label(s: &JobStep) -> String {
    match s.phase {
        StepPhase::Restart => "restart".into(),
        p => format!("{}[{}]", p.as_str(), s.index),
    }
}

/// What to say after a step's status: exit, pid, policy reason, duration.
fn step_note(s: &JobStep) -> String {
    let mut parts: Vec<String> = Vec::new();
    match s.status {
        StepStatus::Denied => parts.push(format!(
            "policy: {}",
            s.reason.as_deref().unwrap_or("denied")
        )),
        StepStatus::Pending | StepStatus::Running | StepStatus::Skipped => {}
        _ if s.phase == StepPhase::Restart && s.status == StepStatus::Ok => {
            parts.push(format!("pid {}", s.pid.unwrap_or_default()))
        }
        _ => {
            if let Some(m) = &s.message {
                parts.push(m.clone());
            }
        }
    }
    if let Some(ms) = s.duration_ms.filter(|_| s.status != StepStatus::Denied) {
        parts.push(if ms < 10_000 {
            format!("{ms} ms")
        } else {
            format!("{:.1} s", ms as f64 / 1000.0)
        });
    }
    parts.join(", ")
}

/// One step, with its output tail indented below it.
pub fn step_block(s: &JobStep) -> String {
    let mut out = format!(
        "  {:<8} {:<9} {}",
        step_label(s),
        s.status.as_str(),
        s.command
    );
    let note = step_note(s);
    if !note.is_empty() {
        out.push_str(&format!("  ({note})"));
    }
    out.push('\n');
    for line in s.output_tail.lines() {
        out.push_str(&format!("      | {line}\n"));
    }
    out
}

pub fn job_details(job: &JobView, now: DateTime<Utc>) -> String {
    let mut out = format!(
        "job {}: {} of {} ({})\n  status   {}\n  created  {} ({})\n",
        job.id,
        job.kind,
        job.service,
        job.origin,
        job.status.as_str(),
        job.created_at,
        relative(&job.created_at, now),
    );
    if let Some(t) = &job.finished_at {
        out.push_str(&format!("  finished {t}\n"));
    }
    if !job.request.args.is_empty() {
        out.push_str(&format!("  args     {}\n", job.request.args.join(" ")));
    }
    if let Some(e) = &job.error {
        out.push_str(&format!("  error    {e}\n"));
    }
    out.push_str("steps:\n");
    for s in &job.steps {
        out.push_str(&step_block(s));
    }
    out
}

pub fn jobs_table(jobs: &[JobView], now: DateTime<Utc>) -> String {
    if jobs.is_empty() {
        return "no jobs\n".into();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let ok = j
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Ok)
                .count();
            vec![
                j.id.clone(),
                j.service.clone(),
                j.status.as_str().into(),
                j.origin.to_string(),
                relative(&j.created_at, now),
                format!("{ok}/{}", j.steps.len()),
                j.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "SERVICE", "STATUS", "ORIGIN", "CREATED", "STEPS OK", "ERROR",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: CustomRestartArgs,
    }

    fn parse(args: &[&str]) -> CustomRestartArgs {
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn commands_keep_the_typed_order_and_declarations() {
        let a = parse(&[
            "web",
            "--pre-exec",
            "touch 'a b'",
            "--pre",
            "make clean",
            "--post",
            "echo done",
            "--pre-make",
            "all",
            "--timeout",
            "9",
            "--",
            "--config",
            "production.yaml",
        ]);
        let r = a.request();
        let pre: Vec<_> = r
            .pre_commands
            .iter()
            .map(|c| (c.command_type, c.command.as_str()))
            .collect();
        assert_eq!(
            pre,
            [
                (CommandType::Exec, "touch 'a b'"),
                (CommandType::Shell, "make clean"),
                (CommandType::Make, "all")
            ]
        );
        assert_eq!(r.post_commands[0].command, "echo done");
        assert!(
            r.pre_commands
                .iter()
                .all(|c| c.is_safe && !c.allowed_in_production && c.timeout_s == Some(9))
        );
        assert_eq!(r.args, ["--config", "production.yaml"]);

        let a = parse(&["web", "--pre", "x", "--unsafe", "--production"]);
        let c = &a.request().pre_commands[0];
        assert!(!c.is_safe && c.allowed_in_production && c.timeout_s.is_none());
        assert!(a.request().args.is_empty());
    }

    #[test]
    fn steps_render_with_their_outcome() {
        let step = JobStep {
            phase: StepPhase::Pre,
            index: 1,
            command: "make clean".into(),
            command_type: Some(CommandType::Shell),
            argv: vec![],
            decision: None,
            reason: None,
            status: StepStatus::Failed,
            exit_code: Some(3),
            signal: None,
            pid: Some(7),
            started_at: None,
            duration_ms: Some(12),
            output_tail: "no rule\n".into(),
            message: Some("exited with code 3".into()),
        };
        assert_eq!(
            step_block(&step),
            "  pre[1]   failed    make clean  (exited with code 3, 12 ms)\n      | no rule\n"
        );
        let denied = JobStep {
            status: StepStatus::Denied,
            reason: Some("rm -rf is never allowed".into()),
            output_tail: String::new(),
            ..step.clone()
        };
        assert_eq!(
            step_block(&denied),
            "  pre[1]   denied    make clean  (policy: rm -rf is never allowed)\n"
        );
        let restart = JobStep {
            phase: StepPhase::Restart,
            index: 0,
            status: StepStatus::Ok,
            command: "app --x".into(),
            pid: Some(42),
            duration_ms: Some(15_300),
            output_tail: String::new(),
            ..step
        };
        assert_eq!(
            step_block(&restart),
            "  restart  ok        app --x  (pid 42, 15.3 s)\n"
        );
    }
}
