//! One tend cron job -> a CronJob (with its env ConfigMap): the schedule at minute resolution,
//! `timeZone`, `concurrencyPolicy` from the overlap, `startingDeadlineSeconds` from the catch-up,
//! `suspend`, and per execution `activeDeadlineSeconds` and `backoffLimit`.

use serde_json::{Value, json};

use crate::common::{self, Lost};
use crate::model::{CatchUp, CronJob, DEFAULT_RETRY_DELAY_S, Options, Overlap};

/// How late (seconds) the CronJob controller may start a run before it counts as missed: tend's
/// `catch_up = "none"` drops missed fire times, and the controller checks every 10 s.
pub const STARTING_DEADLINE_S: u64 = 60;

/// The longest CronJob name Kubernetes accepts.
pub const MAX_CRONJOB_NAME: usize = 52;

/// The macros Kubernetes reads.
const MACROS: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

pub fn render(j: &CronJob, image: &str, options: &Options, lost: &mut Lost) -> Vec<Value> {
    let name = common::object_name(&j.name, lost);
    if name.len() > MAX_CRONJOB_NAME {
        lost.warn(
            "name",
            format!(
                "Kubernetes refuses CronJob names longer than {MAX_CRONJOB_NAME} characters \
                 (it appends 11 to name the Jobs): rename the cron job"
            ),
        );
    }
    let ns = options.namespace.as_deref();
    let base = format!("cron-{name}");
    let env = common::env(&base, &name, ns, &j.env_vars, j.env_file.as_deref(), lost);
    let mut objects = env.config_maps.clone();
    let c = common::container(
        &name,
        image,
        &j.command,
        j.working_dir.as_deref(),
        &env.env_from,
    );
    let schedule = schedule(&j.schedule, lost);
    let mut spec = json!({"schedule": schedule});
    match &j.timezone {
        Some(zone) => spec["timeZone"] = json!(zone),
        None => lost.warn(
            "timezone",
            "no zone set: tend reads the schedule in the daemon's zone, Kubernetes in the \
             kube-controller-manager's (usually UTC); set timezone",
        ),
    }
    spec["concurrencyPolicy"] = json!(match j.overlap {
        Overlap::Skip => "Forbid",
        Overlap::Allow => "Allow",
        Overlap::Replace => "Replace",
        Overlap::Queue => {
            lost.warn(
                "overlap",
                "Kubernetes cannot queue a run behind the running one: it skips it (Forbid)",
            );
            "Forbid"
        }
    });
    match j.catch_up {
        CatchUp::None => spec["startingDeadlineSeconds"] = json!(STARTING_DEADLINE_S),
        CatchUp::Latest => lost.warn(
            "catch_up",
            "Kubernetes runs the latest missed time only while fewer than 100 fire times were \
             missed (and without tend's catch_up trigger)",
        ),
    }
    if !j.enabled {
        spec["suspend"] = json!(true);
    }
    if j.jitter_s > 0 {
        lost.warn(
            "jitter_s",
            "a CronJob starts on time: it has no random delay",
        );
    }
    if j.retries > 0 || j.retry_delay_s != DEFAULT_RETRY_DELAY_S {
        lost.warn(
            "retry_delay_s",
            "Kubernetes retries a failed run after 10 s, 20 s, 40 s, ... (not a fixed delay), and \
             activeDeadlineSeconds bounds all attempts together",
        );
    }
    if j.autofix.as_ref().is_some_and(|m| m != "off") {
        lost.warn(
            "autofix",
            "auto-fix is tend's own (the daemon's fixer runs commands on the host); nothing in the cluster does it",
        );
    }
    let labels = common::labels(&name);
    spec["jobTemplate"] = json!({
        "metadata": {"labels": labels},
        "spec": {
            "backoffLimit": j.retries,
            "activeDeadlineSeconds": j.timeout.max(1),
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [c]},
            },
        },
    });
    let mut o = json!({"apiVersion": "batch/v1", "kind": "CronJob"});
    o["metadata"] = Value::Object(common::metadata(&name, &name, ns));
    o["spec"] = spec;
    common::annotate(&mut o, lost);
    objects.push(o);
    objects
}

/// tend's schedule as Kubernetes reads it: 5 fields. A seconds field (6 or 7 fields) of `0` is
/// dropped as is (same fire times); any other is dropped with a warning (the job runs at second 0
/// of each matching minute). A year field (7 fields) of `*` is dropped; any other is a warning.
pub fn schedule(s: &str, lost: &mut Lost) -> String {
    let s = s.trim();
    if s.starts_with('@') {
        if !MACROS.contains(&s.to_ascii_lowercase().as_str()) {
            lost.warn(
                "schedule",
                format!("Kubernetes does not read the macro {s}: passed on unchanged"),
            );
        }
        return s.to_string();
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    let (seconds, five, year) = match fields.len() {
        5 => (None, &fields[..], None),
        6 => (Some(fields[0]), &fields[1..], None),
        7 => (Some(fields[0]), &fields[1..6], Some(fields[6])),
        n => {
            lost.warn(
                "schedule",
                format!("{n} fields: Kubernetes reads 5; passed on unchanged"),
            );
            return s.to_string();
        }
    };
    if let Some(sec) = seconds.filter(|sec| *sec != "0" && *sec != "00") {
        lost.warn(
            "schedule",
            format!(
                "Kubernetes schedules have no seconds: the seconds field {sec:?} is dropped, the \
                 job runs at second 0 of each matching minute"
            ),
        );
    }
    if let Some(y) = year.filter(|y| *y != "*") {
        lost.warn(
            "schedule",
            format!("Kubernetes schedules have no year: the year field {y:?} is dropped"),
        );
    }
    five.join(" ")
}
