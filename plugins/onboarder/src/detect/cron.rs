//! Scheduled work the project declares: a `crontab` file or `*.cron` files in the directory, one
//! cron job per schedule line (five fields, or an `@daily`-style macro, then the command). The
//! user crontab format: no user column. Variable lines (`MAILTO=...`) and `@reboot` are noted,
//! not planned. Schedules declared for a platform in a file with a fixed shape count too: the cron
//! services of a `render.yaml` blueprint (`type: cron`, `schedule`, `startCommand`, `rootDir`).
//! Prose schedules (a README's "runs nightly") are left out on purpose: no rule reads them the
//! same way every time.

use super::{Detected, Dir, FoundCron, text, yaml};
use crate::model::{EntryKind, Evidence};

/// `@macro` schedules in the five-field form.
const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

pub fn detect(dir: &Dir) -> Detected {
    let mut files: Vec<String> = dir
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| text::base_name(&e.path).to_string())
        .filter(|n| n == "crontab" || (n.ends_with(".cron") && !n.starts_with('.')))
        .collect();
    files.sort();
    let mut d = Detected {
        source: "cron",
        ..Detected::default()
    };
    for file in files {
        let Some(content) = dir.read(&file) else {
            continue;
        };
        let path = dir.join(&file);
        for (n, line) in content.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{path}:{}", n + 1);
            match parse_line(line) {
                Line::Job { schedule, command } => {
                    let argv = text::argv_of(command);
                    d.cron_jobs.push(FoundCron {
                        process: text::short_name(&argv),
                        schedule,
                        argv,
                        working_dir: dir.path.clone(),
                        evidence: vec![Evidence::new(&path, format!("line {}: {line}", n + 1))],
                        ..FoundCron::default()
                    });
                }
                Line::Variable(name) => d.notes.push(format!(
                    "{at}: sets {name} for the jobs; not carried over (set it in the job's env)"
                )),
                Line::Reboot => d.notes.push(format!(
                    "{at}: an @reboot job is not a schedule; run it as a service or setup step"
                )),
                Line::Invalid => d.notes.push(format!(
                    "{at}: not a cron line (five fields and a command); skipped"
                )),
            }
        }
        if !d.cron_jobs.is_empty() {
            d.evidence
                .push(Evidence::new(&path, "declares scheduled jobs (cron jobs)"));
        }
    }
    render(dir, &mut d);
    if d.cron_jobs.is_empty() && d.notes.is_empty() {
        return Detected::default();
    }
    d
}

/// The cron services of a Render blueprint (`render.yaml`).
fn render(dir: &Dir, d: &mut Detected) {
    let Some(content) = dir
        .has("render.yaml")
        .then(|| dir.read("render.yaml"))
        .flatten()
    else {
        return;
    };
    let path = dir.join("render.yaml");
    let doc = yaml::parse(&content);
    let services = match doc.get("services") {
        Some(yaml::Value::List(l)) => l.as_slice(),
        _ => &[],
    };
    for svc in services {
        let field = |k: &str| svc.get(k).and_then(|v| v.as_str()).unwrap_or("");
        if field("type") != "cron" {
            continue;
        }
        let (name, schedule, command) = (field("name"), field("schedule"), field("startCommand"));
        let fields = schedule.split_whitespace().collect::<Vec<_>>();
        if fields.len() != 5 || !fields.iter().all(|f| valid_field(f)) || command.is_empty() {
            d.notes.push(format!(
                "{path}: cron service `{name}` has no five-field schedule and start command; skipped"
            ));
            continue;
        }
        let root = field("rootDir").trim_matches('/');
        let working_dir = if root.is_empty() || root.split('/').any(|c| c == ".." || c == ".") {
            dir.path.clone()
        } else {
            dir.join(root)
        };
        let argv = text::argv_of(command);
        d.cron_jobs.push(FoundCron {
            process: if name.is_empty() {
                text::short_name(&argv)
            } else {
                name.to_string()
            },
            schedule: fields.join(" "),
            argv,
            working_dir,
            evidence: vec![Evidence::new(
                &path,
                format!("cron service `{name}`: {schedule} {command}"),
            )],
            ..FoundCron::default()
        });
    }
}

/// Day and month names a field may use instead of numbers.
const NAMES: &[&str] = &[
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", "jan", "feb", "mar", "apr", "may", "jun",
    "jul", "aug", "sep", "oct", "nov", "dec",
];

/// A schedule field: `*`, numbers and day or month names, joined by `,` `-` `/`.
fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.split([',', '-', '/']).all(|part| {
            part == "*"
                || (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
                || NAMES.contains(&part.to_ascii_lowercase().as_str())
        })
}

enum Line<'a> {
    Job { schedule: String, command: &'a str },
    Variable(String),
    Reboot,
    Invalid,
}

fn parse_line(line: &str) -> Line<'_> {
    if let Some(rest) = line.strip_prefix('@') {
        let (word, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if word == "reboot" {
            return Line::Reboot;
        }
        return match MACROS.iter().find(|(m, _)| m[1..] == *word) {
            Some((_, five)) if !command.trim().is_empty() => Line::Job {
                schedule: (*five).to_string(),
                command: command.trim(),
            },
            _ => Line::Invalid,
        };
    }
    if let Some((name, _)) = line.split_once('=')
        && text::is_env_name(name.trim())
    {
        return Line::Variable(name.trim().to_string());
    }
    let mut rest = line;
    let mut fields = Vec::new();
    for _ in 0..5 {
        let r = rest.trim_start();
        let end = r.find(char::is_whitespace).unwrap_or(r.len());
        let field = &r[..end];
        if !valid_field(field) {
            return Line::Invalid;
        }
        fields.push(field);
        rest = &r[end..];
    }
    let command = rest.trim();
    if command.is_empty() {
        return Line::Invalid;
    }
    Line::Job {
        schedule: fields.join(" "),
        command,
    }
}
