//! One tend cron job -> one periodic batch job (`cron-<name>.nomad.json`, ID `cron-<name>`, so that
//! it cannot clash with a service of the same name). `Periodic` is a job-level object with one
//! schedule, which is why every cron job is a job of its own (api-docs/json-jobs, "Periodic").

use serde_json::{Map, Value, json};

use crate::common::{
    NS_PER_S, Options, Report, command_line, raw_exec_config, str_at, u64_at, warn_interpolation,
};

/// Nomad's smallest restart `Interval` (nomad/structs: `RestartPolicyMinInterval`).
const MIN_RESTART_INTERVAL_NS: u64 = 5 * NS_PER_S;

pub fn render(spec: &Value, options: &Options) -> Result<(String, Value, Report), String> {
    let name = str_at(spec, "name")
        .ok_or("a cron job without a name")?
        .to_string();
    let mut report = Report::new(format!("cron/{name}"));
    for key in ["name", "command", "k8s"] {
        report.mapped(key);
    }
    let schedule = str_at(spec, "schedule").ok_or("schedule is missing")?;
    let spec_expr = nomad_cron(schedule).map_err(|e| format!("cron job {name}: {e}"))?;
    report.mapped("schedule");

    let mut periodic = Map::new();
    periodic.insert(
        "Enabled".into(),
        json!(spec.get("enabled").and_then(Value::as_bool).unwrap_or(true)),
    );
    report.mapped("enabled");
    periodic.insert("SpecType".into(), json!("cron"));
    periodic.insert("Specs".into(), json!([spec_expr]));
    match str_at(spec, "timezone") {
        Some(zone) => {
            periodic.insert("TimeZone".into(), json!(zone));
            report.mapped("timezone");
        }
        None => report.warn(
            "timezone",
            "absent: tend reads the schedule in the daemon's zone, Nomad in UTC; set timezone",
        ),
    }
    let overlap = str_at(spec, "overlap").unwrap_or("skip");
    // Nomad either launches alongside (`allow`) or skips while one runs (`skip`).
    periodic.insert(
        "ProhibitOverlap".into(),
        json!(overlap != "allow" && overlap != "replace"),
    );
    match overlap {
        "skip" | "allow" => report.mapped("overlap"),
        "queue" => report.warn(
            "overlap",
            "queue: Nomad cannot queue a launch; it skips it while one runs (ProhibitOverlap)",
        ),
        other => report.warn(
            "overlap",
            format!("{other}: Nomad cannot stop the running launch first; it runs alongside"),
        ),
    }
    match str_at(spec, "catch_up").unwrap_or("none") {
        "none" => report.mapped("catch_up"),
        mode => report.warn(
            "catch_up",
            format!("{mode}: Nomad does not run launches missed while its servers were down"),
        ),
    }
    if u64_at(spec, "jitter_s").unwrap_or(0) > 0 {
        report.warn("jitter_s", "Nomad's periodic launches have no random delay");
    } else {
        report.mapped("jitter_s");
    }
    report.warn(
        "timeout",
        format!(
            "Nomad has no run-time limit for a task: an execution is not stopped after {} s",
            u64_at(spec, "timeout").unwrap_or(300)
        ),
    );
    if let Some(file) = str_at(spec, "env_file") {
        report.warn(
            "env_file",
            format!(
                "Nomad reads a file into the environment only through a template, which may not \
                 read {file} outside the allocation by default; put its variables in env_vars"
            ),
        );
    }
    if let Some(mode) = str_at(spec, "autofix") {
        report.warn(
            "autofix",
            format!("tend's fixer ({mode}) does not run under Nomad"),
        );
    }

    // A failed execution runs again up to `retries` times after `retry_delay_s`: a batch task is
    // restarted on failure only (exit 0 completes it).
    let retries = u64_at(spec, "retries").unwrap_or(0);
    let delay = u64_at(spec, "retry_delay_s").unwrap_or(10) * NS_PER_S;
    let run = u64_at(spec, "timeout").unwrap_or(300) * NS_PER_S;
    let interval = ((retries + 1) * (delay + run)).max(MIN_RESTART_INTERVAL_NS);
    report.mapped("retries");
    report.mapped("retry_delay_s");

    let (program, args) = command_line(spec.get("command").ok_or("command is missing")?)?;
    warn_interpolation(&mut report, "command", &args);
    let work_dir = str_at(spec, "working_dir");
    report.mapped("working_dir");
    let mut task = Map::new();
    task.insert("Name".into(), json!(name));
    task.insert("Driver".into(), json!("raw_exec"));
    task.insert("Config".into(), raw_exec_config(program, args, work_dir));
    if let Some(env) = spec
        .get("env_vars")
        .and_then(Value::as_object)
        .filter(|e| !e.is_empty())
    {
        task.insert("Env".into(), Value::Object(env.clone()));
    }
    report.mapped("env_vars");
    unknown_keys(spec, &mut report);

    let group = json!({
        "Name": name,
        "Count": 1,
        "RestartPolicy": {"Attempts": retries, "Interval": interval, "Delay": delay, "Mode": "fail"},
        "ReschedulePolicy": {"Attempts": 0, "Unlimited": false},
        "Tasks": [Value::Object(task)],
    });
    let id = format!("cron-{name}");
    let mut job = Map::new();
    job.insert("ID".into(), json!(id));
    job.insert("Name".into(), json!(id));
    job.insert("Type".into(), json!("batch"));
    if let Some(ns) = &options.namespace {
        job.insert("Namespace".into(), json!(ns));
    }
    job.insert("Datacenters".into(), options.datacenters());
    job.insert("Periodic".into(), Value::Object(periodic));
    let mut meta = Map::new();
    meta.insert("tend.dev/source".into(), json!(report.object));
    if let Some(unmapped) = report.unmapped_meta() {
        meta.insert("tend.dev/unmapped".into(), json!(unmapped));
    }
    job.insert("Meta".into(), Value::Object(meta));
    job.insert("TaskGroups".into(), json!([group]));
    Ok((format!("{id}.nomad.json"), Value::Object(job), report))
}

/// tend's schedule in the syntax Nomad's parser (hashicorp/cronexpr) reads. Both take 5 fields,
/// 7 fields (seconds first, year last) and the same day-of-week numbering (0 or 7 = Sunday) and
/// names; but cronexpr reads 6 fields as *year last* ("If only six fields are present, a 0 second
/// field is prepended"), while tend's 6 fields are *seconds first*: those get a `*` year appended.
/// cronexpr knows `@yearly @annually @monthly @weekly @daily @hourly`, not `@midnight`.
pub fn nomad_cron(schedule: &str) -> Result<String, String> {
    let text = schedule.trim();
    if let Some(name) = text.strip_prefix('@') {
        return Ok(match name.to_ascii_lowercase().as_str() {
            "midnight" => "@daily".into(),
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "hourly" => {
                format!("@{}", name.to_ascii_lowercase())
            }
            _ => return Err(format!("unknown schedule macro {text:?}")),
        });
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    match fields.len() {
        5 | 7 => Ok(fields.join(" ")),
        6 => Ok(format!("{} *", fields.join(" "))),
        n => Err(format!(
            "schedule {text:?} has {n} fields (5, 6 or 7 expected)"
        )),
    }
}

fn unknown_keys(spec: &Value, report: &mut Report) {
    const KNOWN: &[&str] = &[
        "name",
        "command",
        "schedule",
        "working_dir",
        "enabled",
        "timeout",
        "env_file",
        "env_vars",
        "timezone",
        "overlap",
        "catch_up",
        "jitter_s",
        "retries",
        "retry_delay_s",
        "autofix",
        "k8s",
    ];
    report.warn_unknown_keys(spec, KNOWN);
}
