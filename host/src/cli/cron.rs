//! `tend cron ls | add | rm | run | stop | history | validate`: client commands for cron jobs, the
//! request body of `add`, and the human renderings (pure functions of the wire types, tested below).

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::add::{parse_env_pair, read_spec_file};
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

#[derive(Clone, Debug, Default, clap::Args)]
#[command(
    group(clap::ArgGroup::new("program").required(true).args(["argv", "shell", "file"])),
    override_usage = "tend cron add NAME --schedule EXPR [OPTIONS] -- PROGRAM [ARGS]...\n       \
                      tend cron add NAME --schedule EXPR [OPTIONS] --shell CMD\n       \
                      tend cron add [NAME] [OPTIONS] --file FILE"
)]
pub struct CronAddArgs {
    /// Job name (1-63 of a-z, 0-9, '_', '-'); may be left out with --file when the file has one.
    #[arg(required_unless_present = "file")]
    pub name: Option<String>,
    /// Cron expression: 5 fields, 6 with seconds first, 7 with a year, or @hourly/@daily/...
    #[arg(long, value_name = "EXPR", required_unless_present = "file")]
    pub schedule: Option<String>,
    /// Working directory (relative paths are taken from the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Environment variable (repeatable); overrides --env-file.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,
    /// dotenv file read at each execution.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Seconds an execution may run before its process tree is stopped (default 300).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// IANA time zone of the schedule (default: the daemon's).
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// What a fire does while an earlier execution runs.
    #[arg(long, value_parser = ["skip", "queue", "allow", "replace"])]
    pub overlap: Option<String>,
    /// Run the latest fire time missed while the daemon was down.
    #[arg(long, value_parser = ["none", "latest"])]
    pub catch_up: Option<String>,
    /// Delay each fire by a random 0..=SECS seconds.
    #[arg(long, value_name = "SECS")]
    pub jitter: Option<u64>,
    /// Run a failed or timed-out execution again up to N times.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Seconds between a failure and its retry (default 10).
    #[arg(long, value_name = "SECS")]
    pub retry_delay: Option<u64>,
    /// Register the job without scheduling it.
    #[arg(long)]
    pub disabled: bool,
    /// Run this command line through /bin/sh -c instead of an argv.
    #[arg(long, value_name = "CMD", conflicts_with = "argv")]
    pub shell: Option<String>,
    /// Read the spec from a JSON or TOML file; flags given as well override its fields.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["argv", "shell"])]
    pub file: Option<PathBuf>,
    /// The program and its arguments, after `--`.
    #[arg(last = true, value_name = "PROGRAM")]
    pub argv: Vec<String>,
}

/// The body of `POST /api/cron`: `base` (from --file) with every given flag laid over it.
pub fn build_job(
    args: &CronAddArgs,
    base: Map<String, Value>,
    cwd: &Path,
) -> Result<Value, CliError> {
    let mut spec = base;
    let abs = |p: &Path| std::path::absolute(cwd.join(p)).unwrap_or_else(|_| cwd.join(p));
    let mut set = |k: &str, v: Value| {
        spec.insert(k.into(), v);
    };
    if let Some(name) = &args.name {
        set("name", json!(name));
    }
    if let Some(s) = &args.schedule {
        set("schedule", json!(s));
    }
    if let Some(shell) = &args.shell {
        set("command", json!(shell));
    } else if !args.argv.is_empty() {
        set("command", json!(args.argv));
    }
    if let Some(dir) = &args.cwd {
        set("working_dir", json!(abs(dir)));
    }
    if let Some(f) = &args.env_file {
        set("env_file", json!(abs(f)));
    }
    let numbers = [
        ("timeout", args.timeout),
        ("jitter_s", args.jitter),
        ("retry_delay_s", args.retry_delay),
        ("retries", args.retries.map(u64::from)),
    ];
    for (k, v) in numbers {
        if let Some(v) = v {
            set(k, json!(v));
        }
    }
    for (k, v) in [
        ("timezone", &args.timezone),
        ("overlap", &args.overlap),
        ("catch_up", &args.catch_up),
    ] {
        if let Some(v) = v {
            set(k, json!(v));
        }
    }
    if args.disabled {
        set("enabled", json!(false));
    }
    if !args.env.is_empty() {
        let vars = spec.entry("env_vars").or_insert_with(|| json!({}));
        let Some(vars) = vars.as_object_mut() else {
            return Err(CliError::Usage(
                "`env_vars` in the spec file must be a table of strings".into(),
            ));
        };
        for (k, v) in &args.env {
            vars.insert(k.clone(), json!(v));
        }
    }
    for field in ["name", "schedule"] {
        if !spec.contains_key(field) {
            return Err(CliError::Usage(format!("the job has no {field}")));
        }
    }
    Ok(Value::Object(spec))
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
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        add: CronAddArgs,
    }

    fn build(args: &[&str]) -> Result<Value, String> {
        let w = Wrap::try_parse_from(std::iter::once("add").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        build_job(&w.add, Map::new(), Path::new("/home/me")).map_err(|e| e.to_string())
    }

    #[test]
    fn add_sends_only_what_was_given() {
        assert_eq!(
            build(&[
                "backup",
                "--schedule",
                "0 2 * * *",
                "--",
                "tar",
                "c",
                "/srv"
            ])
            .unwrap(),
            json!({"name": "backup", "schedule": "0 2 * * *", "command": ["tar", "c", "/srv"]})
        );
        assert_eq!(
            build(&[
                "j",
                "--schedule",
                "@hourly",
                "--shell",
                "echo hi",
                "--cwd",
                "w",
                "--env",
                "A=1",
                "--env-file",
                ".env",
                "--timeout",
                "5",
                "--timezone",
                "UTC",
                "--overlap",
                "queue",
                "--catch-up",
                "latest",
                "--jitter",
                "3",
                "--retries",
                "2",
                "--retry-delay",
                "1",
                "--disabled",
            ])
            .unwrap(),
            json!({
                "name": "j", "schedule": "@hourly", "command": "echo hi", "working_dir": "/home/me/w",
                "env_vars": {"A": "1"}, "env_file": "/home/me/.env", "timeout": 5, "timezone": "UTC",
                "overlap": "queue", "catch_up": "latest", "jitter_s": 3, "retries": 2,
                "retry_delay_s": 1, "enabled": false,
            })
        );
        assert!(build(&["j", "--", "true"]).is_err(), "no schedule");
        assert!(
            build(&[
                "j",
                "--schedule",
                "@daily",
                "--overlap",
                "sometimes",
                "--",
                "x"
            ])
            .is_err()
        );
    }

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
