//! Semantic validation of cron job specs (every error names its field) and the environment of an
//! execution. Pure apart from looking at the file system for `working_dir` and `env_file`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::schedule::Schedule;
use super::tz::parse_zone;
use crate::spec::{
    FieldError, env_file_path, read_env_file, validate_command, validate_environment, validate_name,
};
use crate::wire::{CronJobSpec, RESERVED_CRON_NAMES};

/// Longest accepted `timeout`: a week.
const MAX_TIMEOUT_S: u64 = 7 * 86_400;
const MAX_RETRIES: u32 = 100;

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// A spec's schedule and zone, ready to compute fire times.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub schedule: Schedule,
    pub tz: Tz,
}

/// Parses `schedule` and `timezone` (absent: `default_tz`).
pub fn compile(spec: &CronJobSpec, default_tz: Tz) -> Result<Compiled, FieldError> {
    let schedule = Schedule::parse(&spec.schedule).map_err(|e| err("schedule", e.0))?;
    let tz = match &spec.timezone {
        Some(name) => parse_zone(name).map_err(|m| err("timezone", m))?,
        None => default_tz,
    };
    Ok(Compiled { schedule, tz })
}

/// Everything `POST`/`PUT /api/cron` and the config file check before anything is stored.
pub fn validate(
    spec: &CronJobSpec,
    default_tz: Tz,
    now: DateTime<Utc>,
) -> Result<Compiled, FieldError> {
    validate_name(&spec.name)?;
    if RESERVED_CRON_NAMES.contains(&spec.name.as_str()) {
        return Err(err(
            "name",
            format!(
                "{:?} is reserved: /api/cron/{} is a fixed route, so a job so named could not be read, edited or deleted over REST; choose another name",
                spec.name, spec.name
            ),
        ));
    }
    validate_command(&spec.command)?;
    let compiled = compile(spec, default_tz)?;
    if compiled.schedule.next_after(compiled.tz, now).is_none() {
        return Err(err(
            "schedule",
            format!("{:?} never fires from now on", spec.schedule),
        ));
    }
    validate_environment(
        spec.working_dir.as_deref(),
        spec.env_vars.keys(),
        "env_vars",
        spec.env_file.as_deref(),
    )?;
    if spec.timeout == 0 || spec.timeout > MAX_TIMEOUT_S {
        return Err(err(
            "timeout",
            format!("must be between 1 and {MAX_TIMEOUT_S} seconds"),
        ));
    }
    if spec.jitter_s > 86_400 {
        return Err(err("jitter_s", "must not exceed 86400 seconds"));
    }
    if spec.retries > MAX_RETRIES {
        return Err(err("retries", format!("must not exceed {MAX_RETRIES}")));
    }
    if spec.retry_delay_s > 86_400 {
        return Err(err("retry_delay_s", "must not exceed 86400 seconds"));
    }
    Ok(compiled)
}

/// What an execution gets on top of the daemon's environment: `env_file`, then `env_vars`, then the
/// job's own variables.
pub fn job_env(
    spec: &CronJobSpec,
    execution_id: i64,
    scheduled_at: Option<&str>,
) -> Result<BTreeMap<String, String>, FieldError> {
    let mut env = BTreeMap::new();
    if let Some(file) = &spec.env_file {
        let path = env_file_path(spec.working_dir.as_deref(), file);
        env.extend(read_env_file(&path).map_err(|m| err("env_file", m))?);
    }
    env.extend(spec.env_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.insert("TEND_CRON_JOB".into(), spec.name.clone());
    env.insert("TEND_EXECUTION_ID".into(), execution_id.to_string());
    if let Some(at) = scheduled_at {
        env.insert("TEND_SCHEDULED_AT".into(), at.to_string());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> CronJobSpec {
        serde_json::from_value(json).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    #[test]
    fn defaults() {
        let s = spec(serde_json::json!({"name": "a", "command": "true", "schedule": "@daily"}));
        assert_eq!(s.timeout, 300);
        assert!(s.enabled);
        assert_eq!(s.overlap, crate::wire::Overlap::Skip);
        assert_eq!(s.catch_up, crate::wire::CatchUp::None);
        let c = validate(&s, chrono_tz::Europe::Paris, now()).unwrap();
        assert_eq!(c.tz, chrono_tz::Europe::Paris);
    }

    #[test]
    fn rejects_bad_fields_by_name() {
        let cases = [
            (
                serde_json::json!({"name": "A", "command": "x", "schedule": "@daily"}),
                "name",
            ),
            (
                serde_json::json!({"name": "a", "command": "", "schedule": "@daily"}),
                "command",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "61 * * * *"}),
                "schedule",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "0 0 30 2 *"}),
                "schedule",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "@daily", "timezone": "Nowhere/Land"}),
                "timezone",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "@daily", "working_dir": "/no/such"}),
                "working_dir",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "@daily", "env_file": "/no/such.env"}),
                "env_file",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "@daily", "env_vars": {"A=B": "1"}}),
                "env_vars",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "@daily", "timeout": 0}),
                "timeout",
            ),
            (
                serde_json::json!({"name": "a", "command": "x", "schedule": "@daily", "retries": 1000}),
                "retries",
            ),
        ];
        for (json, field) in cases {
            let e = validate(&spec(json.clone()), chrono_tz::UTC, now()).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
        }
    }

    #[test]
    fn env_file_then_env_vars_then_job_variables() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.env"),
            "# comment\nexport A=1\nB=\"two words\"\nC='single $quoted'\nD=from_file\n",
        )
        .unwrap();
        let s = spec(serde_json::json!({
            "name": "j", "command": "x", "schedule": "@daily",
            "working_dir": dir.path(), "env_file": "job.env", "env_vars": {"D": "from_vars"}
        }));
        validate(&s, chrono_tz::UTC, now()).unwrap();
        let env = job_env(&s, 7, Some("2024-01-01T00:00:00.000000Z")).unwrap();
        assert_eq!(env["A"], "1");
        assert_eq!(env["B"], "two words");
        assert_eq!(env["C"], "single $quoted");
        assert_eq!(env["D"], "from_vars");
        assert_eq!(env["TEND_CRON_JOB"], "j");
        assert_eq!(env["TEND_EXECUTION_ID"], "7");
    }
}
