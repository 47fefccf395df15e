//! From what the detectors found to a plan: duplicates merged (the detector listed first in
//! `DETECTORS` wins: a Procfile over a framework guess, a framework over a compose or Makefile
//! hint), services and cron jobs named, free ports handed out, `.env` files attached, everything
//! sorted. Pure: no `Project` calls, so the same findings always give the same plan.

use std::collections::{BTreeMap, BTreeSet};

use super::{DETECTORS, Detected, Found, PORT, text, with_port};
use crate::model::{Cron, Evidence, Plan, Service, Setup};

/// Longest service or cron job name tend registers (`^[a-z0-9][a-z0-9_-]{0,62}$`, stricter than
/// the WIT's `[A-Za-z0-9_.-]{1,64}`, so a plan's names register as they are).
pub const MAX_NAME: usize = 63;

/// A service found in a directory, with the detector that found it.
struct Candidate {
    source: &'static str,
    found: Found,
}

pub fn assemble(
    project: &str,
    free_ports: &[u16],
    found: Vec<(String, Detected)>,
    env_files: &BTreeMap<String, String>,
) -> Plan {
    let mut notes: Vec<String> = Vec::new();
    let mut evidence: Vec<Evidence> = Vec::new();
    let mut sources: BTreeSet<&str> = BTreeSet::new();
    let mut setup: Vec<Setup> = Vec::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut crons = Vec::new();
    let venvs = venvs(&found);
    for (_, d) in found {
        sources.insert(d.source);
        evidence.extend(d.evidence);
        notes.extend(d.notes);
        for s in d.setup {
            if !setup
                .iter()
                .any(|o| o.command == s.command && o.working_dir == s.working_dir)
            {
                setup.push(s);
            }
        }
        for mut c in d.cron_jobs {
            if let Some(v) = venvs.get(&c.working_dir) {
                in_venv(&mut c.argv, &mut c.evidence, v);
            }
            crons.push(c);
        }
        candidates.extend(d.services.into_iter().map(|mut found| {
            if d.source != "python"
                && let Some(v) = venvs.get(&found.working_dir)
            {
                in_venv(&mut found.argv, &mut found.evidence, v);
            }
            Candidate {
                source: d.source,
                found,
            }
        }));
    }
    // Installs before builds before the rest (a Procfile's `release` migrates with what was
    // installed), in the order found within each phase.
    setup.sort_by_key(|s| phase(&s.command));

    let kept = merge(candidates, &mut notes);
    let project = sanitise(project);
    let names = service_names(&project, &kept);
    let mut services: Vec<Service> = kept
        .into_iter()
        .zip(names)
        .map(|(c, name)| {
            let f = c.found;
            let mut ev = f.evidence;
            ev.sort();
            ev.dedup();
            Service {
                name,
                env_file: f
                    .env_file
                    .or_else(|| env_files.get(&f.working_dir).cloned()),
                argv: f.argv,
                working_dir: f.working_dir,
                port: if f.listens { Some(0) } else { None },
                env: f.env,
                health_path: f.health_path,
                data_dir: f.data_dir,
                confidence: f.confidence,
                evidence: ev,
            }
        })
        .collect();
    services.sort_by(|a, b| a.name.cmp(&b.name));
    hand_out_ports(&mut services, free_ports, &mut notes);

    let mut cron_names = BTreeSet::new();
    let mut cron_jobs: Vec<Cron> = crons
        .into_iter()
        .map(|c| {
            let base = if c.process.is_empty() {
                text::short_name(&c.argv)
            } else {
                c.process.clone()
            };
            let name = unique(&format!("{project}-{base}"), &mut cron_names);
            let mut ev = c.evidence;
            ev.sort();
            Cron {
                name,
                schedule: c.schedule,
                env_file: c
                    .env_file
                    .or_else(|| env_files.get(&c.working_dir).cloned()),
                argv: c.argv,
                working_dir: c.working_dir,
                env: c.env,
                evidence: ev,
            }
        })
        .collect();
    cron_jobs.sort_by(|a, b| a.name.cmp(&b.name));

    evidence.sort();
    evidence.dedup();
    let mut seen = BTreeSet::new();
    notes.retain(|n| seen.insert(n.clone()));
    let confidence = services
        .iter()
        .map(|s| s.confidence)
        .reduce(f32::min)
        .unwrap_or(if cron_jobs.is_empty() { 0.0 } else { 0.5 });
    Plan {
        services,
        cron_jobs,
        setup,
        confidence,
        evidence,
        notes,
        author: Default::default(),
        source: sources.into_iter().collect::<Vec<_>>().join(","),
    }
}

/// Programs a Python project installs into its virtualenv and other detectors' commands name.
const PY_PROGRAMS: &[&str] = &[
    "python",
    "python3",
    "gunicorn",
    "uvicorn",
    "hypercorn",
    "daphne",
    "waitress-serve",
    "flask",
    "celery",
    "django-admin",
    "pip",
];

/// Directory -> its virtualenv (root-relative), from the Python detector's evidence.
fn venvs(found: &[(String, Detected)]) -> BTreeMap<String, String> {
    found
        .iter()
        .filter(|(_, d)| d.source == "python")
        .flat_map(|(dir, d)| {
            d.evidence
                .iter()
                .filter(|e| e.reason.starts_with(super::python::VENV_EVIDENCE))
                .map(move |e| (dir.clone(), e.path.clone()))
        })
        .collect()
}

/// A command of another detector (a Procfile's `gunicorn app:app`, a crontab's `python3 x.py`)
/// run from the directory's virtualenv, where setup installs the dependencies; `sh -c` lines are
/// left alone (a shell line's words are not ours to rewrite).
fn in_venv(argv: &mut [String], evidence: &mut Vec<Evidence>, venv: &str) {
    let Some(program) = argv.first_mut() else {
        return;
    };
    if !PY_PROGRAMS.contains(&program.as_str()) {
        return;
    }
    let name = text::base_name(venv);
    evidence.push(Evidence::new(
        venv,
        format!("runs {program} from the project's virtualenv"),
    ));
    *program = format!("{name}/bin/{program}");
}

/// 0: installs dependencies (or the environment they go into), 1: builds, 2: the rest.
fn phase(command: &str) -> u8 {
    let c = format!(" {command} ");
    if [" install ", " ci ", " venv ", " sync "]
        .iter()
        .any(|w| c.contains(w))
    {
        0
    } else if c.contains("build") {
        1
    } else {
        2
    }
}

/// Where a detector stands in `DETECTORS`: earlier wins.
fn rank(source: &str) -> usize {
    DETECTORS
        .iter()
        .position(|(n, _)| *n == source)
        .unwrap_or(usize::MAX)
}

/// Two detectors describe the same process: in the same directory, both serve a port (one
/// directory, one web process), or they give it the same name or the same command.
fn same_process(a: &Found, b: &Found) -> bool {
    a.working_dir == b.working_dir
        && ((a.listens && b.listens)
            || (!a.process.is_empty() && a.process == b.process)
            || a.argv == b.argv)
}

/// The findings with duplicates across detectors dropped, each drop explained in `notes`.
fn merge(mut candidates: Vec<Candidate>, notes: &mut Vec<String>) -> Vec<Candidate> {
    candidates.sort_by_key(|c| rank(c.source));
    let mut kept: Vec<Candidate> = Vec::new();
    for c in candidates {
        let twin = kept
            .iter()
            .find(|k| k.source != c.source && same_process(&k.found, &c.found));
        match twin {
            Some(k) => {
                let why = if k.source == "procfile" {
                    "the Procfile is the project's own declaration".to_string()
                } else {
                    format!("{} is more specific than {}", k.source, c.source)
                };
                notes.push(format!(
                    "{}: {} found `{}` and {} `{}` for the same process; kept {} ({why})",
                    shown_dir(&c.found.working_dir),
                    k.source,
                    k.found.argv.join(" "),
                    c.source,
                    c.found.argv.join(" "),
                    k.source,
                ));
            }
            None => kept.push(c),
        }
    }
    kept
}

fn shown_dir(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

/// One service: the project's name. Several: `<project>-<process>`, the process being what the
/// project calls it (a Procfile type), else its directory, else the detector; with the directory
/// in front when two would share a name.
fn service_names(project: &str, kept: &[Candidate]) -> Vec<String> {
    if kept.len() == 1 {
        return vec![truncate(project).to_string()];
    }
    let part = |c: &Candidate| -> String {
        let f = &c.found;
        if !f.process.is_empty() {
            f.process.clone()
        } else if !f.working_dir.is_empty() {
            text::base_name(&f.working_dir).to_string()
        } else {
            c.source.to_string()
        }
    };
    let parts: Vec<String> = kept.iter().map(part).collect();
    let mut taken = BTreeSet::new();
    kept.iter()
        .zip(&parts)
        .map(|(c, p)| {
            let shared = parts.iter().filter(|q| *q == p).count() > 1;
            let wd = &c.found.working_dir;
            let part = if shared && !wd.is_empty() && text::base_name(wd) != p {
                format!("{}-{p}", wd.replace('/', "-"))
            } else {
                p.clone()
            };
            unique(&sanitise(&format!("{project}-{part}")), &mut taken)
        })
        .collect()
}

/// A name tend registers: lowercase `[a-z0-9_-]` (anything else becomes `-`, runs of `-` one),
/// starting and ending with a letter or digit, at most `MAX_NAME` bytes, never empty.
pub fn sanitise(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            c
        } else {
            '-'
        };
        if !(c == '-' && s.ends_with('-')) {
            s.push(c);
        }
    }
    let s = s.trim_matches(['-', '_']);
    let s = if s.is_empty() { "project" } else { s };
    truncate(s).trim_end_matches(['-', '_']).to_string()
}

fn truncate(s: &str) -> &str {
    // ASCII only after `sanitise`; a project name given raw may not be.
    let mut end = s.len().min(MAX_NAME);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `name`, or `name-2`, `name-3`... (still at most `MAX_NAME` bytes), not yet in `taken`.
fn unique(name: &str, taken: &mut BTreeSet<String>) -> String {
    let name = sanitise(name);
    let mut candidate = name.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        let suffix = format!("-{n}");
        candidate = format!(
            "{}{suffix}",
            &name[..name.len().min(MAX_NAME - suffix.len())]
        );
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// The free ports in order to the services that listen (sorted by name), as `PORT` and in place
/// of the `{port}` placeholder; a service beyond the offered ports gets none and a note, and its
/// port flag is dropped rather than left as a placeholder.
fn hand_out_ports(services: &mut [Service], free_ports: &[u16], notes: &mut Vec<String>) {
    let mut ports = free_ports.iter().copied();
    for s in services.iter_mut() {
        let port = if s.port.is_some() { ports.next() } else { None };
        match port {
            Some(p) => {
                s.port = Some(p);
                s.argv = s.argv.iter().map(|a| with_port(a, p)).collect();
                for v in s.env.values_mut() {
                    *v = with_port(v, p);
                }
                s.env.insert("PORT".into(), p.to_string());
            }
            None => {
                if s.port.is_some() {
                    notes.push(format!(
                        "{} listens on a port but the host offered no more free ports: it has no \
                         port; give it one before starting it",
                        s.name
                    ));
                }
                s.port = None;
                s.argv = strip_port(&s.argv);
                s.env.retain(|_, v| !v.contains(PORT));
            }
        }
    }
}

/// `argv` without the words that hold the placeholder (and the flag before such a word).
fn strip_port(argv: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in argv {
        if a.contains(PORT) {
            if out.last().is_some_and(|f| f.starts_with('-')) {
                out.pop();
            }
        } else {
            out.push(a.clone());
        }
    }
    out
}
