//! `tend cron ls | add | rm | run | stop | history | validate`: client commands for cron jobs and
//! their human renderings (pure functions of the wire types, tested below). The body of `add` is built
//! in `cron/add.rs`.

mod add;

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use reqwest::Method;
use serde_json::Map;

pub use add::CronAddArgs;
use add::build_job;

use super::add::read_spec_file;
use super::client::{Answer, CliError};
use super::commands::Ctx;
use super::render::{relative, table};
use crate::wire::{
    CronActionResponse, CronJobView, Execution, ExecutionStatus, ExecutionsPage, ValidateResponse,
};

// Parsed once per process: the size of the `add` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// List cron jobs: schedule, next fire time, last result
    #[command(visible_alias = "list")]
    Ls,
    /// Register a cron job: `tend cron add NAME --schedule EXPR [FLAGS] -- PROGRAM [ARGS...]`
    Add(CronAddArgs),
    /// Stop a job's executions and remove it (its history is kept)
    #[command(visible_alias = "remove")]
    Rm {
        /// Job name
        name: String,
    },
    /// Run a job now (its overlap policy applies)
    Run {
        /// Job name
        name: String,
    },
    /// Stop a job's running executions (and cancel queued ones)
    Stop {
        /// Job name
        name: String,
    },
    /// A job's executions, newest first
    History {
        /// Job name
        name: String,
        /// How many executions
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: u32,
        /// Only executions with an id below this one (the next page)
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        /// Print each execution's captured stdout and stderr too
        #[arg(long)]
        output: bool,
    },
    /// Check a schedule: a description and its next fire times; exits 1 when it is invalid
    Validate {
        /// The expression, e.g. "*/5 * * * *", "0 30 9 * * MON-FRI", "@daily"
        schedule: String,
        /// IANA time zone [default: the daemon's]
        #[arg(long, value_name = "TZ")]
        timezone: Option<String>,
        /// How many fire times
        #[arg(short = 'n', long, value_name = "N")]
        count: Option<usize>,
    },
}
pub async fn run(ctx: &Ctx, command: &CronCommand) -> Result<(), CliError> {
    let now = Utc::now();
    let c = &ctx.client;
    match command {
        CronCommand::Ls => {
            let answer = c.get(&["api", "cron"], &[]).await?;
            show(ctx, &answer, |a| {
                let jobs: Vec<CronJobView> = a.parse()?;
                Ok(if jobs.is_empty() {
                    "no cron jobs\n".into()
                } else {
                    jobs_table(&jobs, now)
                })
            })
        }
        CronCommand::Add(args) => {
            let base = match &args.file {
                Some(f) => read_spec_file(f)?,
                None => Map::new(),
            };
            let cwd = std::env::current_dir()?;
            let body = build_job(args, base, &cwd)?;
            let answer = c.send(Method::POST, &["api", "cron"], Some(&body)).await?;
            show(ctx, &answer, |a| {
                let v: CronJobView = a.parse()?;
                Ok(format!(
                    "added cron job {}{}\n",
                    v.spec.name,
                    next_note(&v, now)
                ))
            })
        }
        CronCommand::Rm { name } => {
            let answer = c.send(Method::DELETE, &["api", "cron", name], None).await?;
            show(ctx, &answer, |a| {
                let r: CronActionResponse = a.parse()?;
                Ok(format!("removed cron job {}{}\n", r.name, stopped_note(&r)))
            })
        }
        CronCommand::Run { name } => {
            let answer = c
                .send(Method::POST, &["api", "cron", name, "run"], None)
                .await?;
            show(ctx, &answer, |a| Ok(run_line(&a.parse()?)))
        }
        CronCommand::Stop { name } => {
            let answer = c
                .send(Method::POST, &["api", "cron", name, "stop"], None)
                .await?;
            show(ctx, &answer, |a| {
                let r: CronActionResponse = a.parse()?;
                Ok(match r.executions.len() {
                    0 => format!("nothing of {} was running\n", r.name),
                    n => format!(
                        "stopped {n} execution(s) of {}: {:?}\n",
                        r.name, r.executions
                    ),
                })
            })
        }
        CronCommand::History {
            name,
            limit,
            before,
            output,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(b) = before {
                query.push(("before_id", b.to_string()));
            }
            let answer = c.get(&["api", "cron", name, "executions"], &query).await?;
            show(ctx, &answer, |a| {
                let page: ExecutionsPage = a.parse()?;
                Ok(history(&page, *output))
            })
        }
        CronCommand::Validate {
            schedule,
            timezone,
            count,
        } => {
            let mut query = vec![("schedule", schedule.clone())];
            if let Some(tz) = timezone {
                query.push(("timezone", tz.clone()));
            }
            if let Some(n) = count {
                query.push(("count", n.to_string()));
            }
            let answer = c.get(&["api", "cron", "validate"], &query).await?;
            show(ctx, &answer, |a| Ok(validation(&a.parse()?)))
        }
    }
}

/// The JSON as received with `--json`, else the rendering.
fn show(
    ctx: &Ctx,
    answer: &Answer,
    render: impl FnOnce(&Answer) -> Result<String, CliError>,
) -> Result<(), CliError> {
    let text = if ctx.json {
        format!("{}\n", answer.text.trim_end())
    } else {
        render(answer)?
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

fn next_note(v: &CronJobView, now: DateTime<Utc>) -> String {
    match &v.state.next_run_at {
        Some(t) => format!(", next run {} ({t})", relative(t, now)),
        None if !v.spec.enabled => " (disabled)".into(),
        None => " (it will not fire again)".into(),
    }
}

fn stopped_note(r: &CronActionResponse) -> String {
    if r.executions.is_empty() {
        String::new()
    } else {
        format!("; stopped executions {:?}", r.executions)
    }
}

/// `tend cron ls`.
pub fn jobs_table(jobs: &[CronJobView], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let state = if !j.state.running.is_empty() {
                format!("running ({})", j.state.running.len())
            } else if j.spec.enabled {
                "enabled".into()
            } else {
                "disabled".into()
            };
            let last = j.state.last_run.as_ref().map_or_else(
                || "-".to_string(),
                |l| {
                    let at = l
                        .ended_at
                        .as_deref()
                        .or(l.started_at.as_deref())
                        .unwrap_or("");
                    format!("{} {}", l.status.as_str(), relative(at, now))
                },
            );
            vec![
                j.spec.name.clone(),
                j.spec.schedule.clone(),
                j.state.effective_timezone.clone(),
                j.state
                    .next_run_at
                    .as_deref()
                    .map_or_else(|| "-".into(), |t| relative(t, now)),
                last,
                state,
                j.spec.command.display(),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "SCHEDULE", "TIMEZONE", "NEXT", "LAST", "STATE", "COMMAND",
        ],
        &rows,
    )
}

fn exit_text(e: &Execution) -> String {
    match (&e.exit_code, &e.signal) {
        (_, Some(sig)) => sig.clone(),
        (Some(code), None) => code.to_string(),
        (None, None) => "-".into(),
    }
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "-".into(),
        |b| format!("{:.1} MiB", b as f64 / 1048576.0),
    )
}

/// `tend cron history`.
pub fn history(page: &ExecutionsPage, output: bool) -> String {
    if page.executions.is_empty() {
        return "no executions\n".into();
    }
    let rows: Vec<Vec<String>> = page
        .executions
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.trigger.as_str().into(),
                e.status.as_str().into(),
                e.scheduled_at.clone().unwrap_or_else(|| "-".into()),
                e.started_at.clone().unwrap_or_else(|| "-".into()),
                e.duration_ms
                    .map_or_else(|| "-".into(), |ms| format!("{:.3}s", ms as f64 / 1000.0)),
                exit_text(e),
                mib(e.max_rss_bytes),
                e.cpu_time_ms
                    .map_or_else(|| "-".into(), |ms| format!("{ms}ms")),
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = table(
        &[
            "ID",
            "TRIGGER",
            "STATUS",
            "SCHEDULED",
            "STARTED",
            "DURATION",
            "EXIT",
            "MAX RSS",
            "CPU",
            "NOTE",
        ],
        &rows,
    );
    if output {
        for e in &page.executions {
            out.push_str(&format!(
                "\n== execution {} ({})\n",
                e.id,
                e.status.as_str()
            ));
            for (label, o) in [("stdout", &e.stdout), ("stderr", &e.stderr)] {
                if o.bytes == 0 {
                    continue;
                }
                out.push_str(&format!("-- {label} ({} bytes)\n{}", o.bytes, o.text));
                if o.truncated {
                    out.push_str(&format!(
                        "\n[... middle omitted; whole output in the log file ...]\n{}",
                        o.tail
                    ));
                }
                if !out.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    if let Some(before) = page.next_before_id {
        out.push_str(&format!("(more: --before {before})\n"));
    }
    out
}

/// `tend cron run`.
pub fn run_line(e: &Execution) -> String {
    match e.status {
        ExecutionStatus::Running => format!(
            "started execution {} of {}{}\n",
            e.id,
            e.job,
            e.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ),
        ExecutionStatus::Queued => format!("queued execution {} of {}\n", e.id, e.job),
        status => format!(
            "execution {} of {}: {}{}\n",
            e.id,
            e.job,
            status.as_str(),
            e.message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
    }
}

/// `tend cron validate`.
pub fn validation(v: &ValidateResponse) -> String {
    let mut out = format!(
        "{}\n  {} (as 6/7 fields: {})\nnext fire times ({}):\n",
        v.description, v.schedule, v.normalized, v.timezone
    );
    for t in &v.next {
        out.push_str(&format!("  {t}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn execution(json: Value) -> Execution {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn renderings() {
        let e = execution(json!({
            "id": 7, "job": "j", "trigger": "schedule", "status": "failed", "attempt": 0,
            "scheduled_at": "2024-01-01T00:00:00.000000Z", "created_at": "2024-01-01T00:00:00.001Z",
            "started_at": "2024-01-01T00:00:00.002Z", "duration_ms": 1500, "exit_code": 3,
            "stdout": {"text": "hello\n", "bytes": 6, "truncated": false},
            "stderr": {"text": "", "bytes": 0, "truncated": false},
            "max_rss_bytes": 2097152, "cpu_time_ms": 12, "message": "exited with code 3"
        }));
        let page = ExecutionsPage {
            executions: vec![e.clone()],
            next_before_id: Some(7),
        };
        let text = history(&page, true);
        assert!(text.starts_with("ID  TRIGGER   STATUS"), "{text}");
        assert!(
            text.contains("1.500s    3     2.0 MiB  12ms  exited with code 3"),
            "{text}"
        );
        assert!(text.contains("-- stdout (6 bytes)\nhello\n"), "{text}");
        assert!(text.ends_with("(more: --before 7)\n"), "{text}");
        let running = execution(json!({
            "id": 8, "job": "j", "trigger": "manual", "status": "running", "attempt": 0,
            "created_at": "x", "pid": 42,
            "stdout": {"text": "", "bytes": 0, "truncated": false},
            "stderr": {"text": "", "bytes": 0, "truncated": false}
        }));
        assert_eq!(run_line(&running), "started execution 8 of j (pid 42)\n");
        let v = ValidateResponse {
            schedule: "0 9 * * 1".into(),
            normalized: "0 0 9 * * 1".into(),
            timezone: "UTC".into(),
            description: "At 09:00, on Monday".into(),
            next: vec!["2024-01-01T09:00:00+00:00".into()],
        };
        assert_eq!(
            validation(&v),
            "At 09:00, on Monday\n  0 9 * * 1 (as 6/7 fields: 0 0 9 * * 1)\nnext fire times (UTC):\n  2024-01-01T09:00:00+00:00\n"
        );
    }
}
