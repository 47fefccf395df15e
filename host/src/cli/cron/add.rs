//! `tend cron add`: flags (or a spec file plus flags) to the JSON body of `POST /api/cron`. Only the
//! fields the user gave are sent, so the daemon's defaults apply to the rest.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::super::add::parse_env_pair;
use super::super::client::CliError;

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
}
