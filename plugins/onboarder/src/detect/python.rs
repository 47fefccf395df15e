//! Python: the declared dependencies (`requirements.txt`, `pyproject.toml`, `Pipfile`), the
//! project's virtualenv as the interpreter, and what runs, first match wins: Django (`manage.py`,
//! the settings module it names, the WSGI module that settings module names), FastAPI and Flask
//! (the module that really creates the app, found by grep, never assumed to be `main`), plain
//! scripts (`app.py`, `main.py`, `server.py` with an `if __name__` block), pyproject scripts.
//! Each framework's own port flag carries the `{port}` placeholder and binds 127.0.0.1. Django
//! lives in `django`, FastAPI/Flask in `web`, the dependency files in `deps`.

mod deps;
mod django;
mod web;

use std::collections::BTreeMap;

use super::{Detected, Dir, Found, text};
use crate::model::{CommandType, Evidence, Setup};
use deps::Deps;

/// The files whose presence makes a directory a Python project.
const MARKERS: &[&str] = &[
    "requirements.txt",
    "pyproject.toml",
    "Pipfile",
    "setup.py",
    "manage.py",
];

/// Plain scripts, in the order one is preferred.
const SCRIPTS: &[&str] = &["app.py", "main.py", "server.py"];

/// How the plan-level evidence naming the directory's virtualenv starts: `assemble` reads it to run
/// other detectors' Python commands of that directory (a Procfile's `gunicorn`) from it.
pub const VENV_EVIDENCE: &str = "the project's virtualenv";

/// What the interpreter and the setup steps are.
struct Env {
    /// argv[0] of every Python service, relative to the service's directory.
    python: String,
}

pub fn detect(dir: &Dir) -> Detected {
    let has_py = dir.entries.iter().any(|e| e.path.ends_with(".py"));
    if !MARKERS.iter().any(|m| dir.has(m)) && !has_py {
        return Detected::default();
    }
    let mut d = Detected {
        source: "python",
        ..Detected::default()
    };
    let deps = Deps::read(dir);
    d.evidence.extend(deps.evidence.iter().cloned());
    let env = environment(dir, &deps, &mut d);

    let found = django::django(dir, &deps, &env, &mut d)
        .or_else(|| web::web_app(dir, &deps, &env, &mut d))
        .or_else(|| script(dir, &env, &mut d))
        .or_else(|| pyproject_script(dir, &env, &mut d));
    match found {
        Some(f) => d.services.push(f),
        None if MARKERS.iter().any(|m| dir.has(m)) => d.notes.push(format!(
            "{}: a Python project, but no app, manage.py or entry script was found",
            shown(&dir.path)
        )),
        None => return Detected::default(),
    }
    d
}

fn shown(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

/// The interpreter (the project's virtualenv when there is one, or one setup creates when
/// dependencies must be installed) and the install steps.
fn environment(dir: &Dir, deps: &Deps, d: &mut Detected) -> Env {
    let existing = [".venv", "venv", "env"].into_iter().find(|v| {
        dir.has_dir(v)
            && dir
                .project
                .list_dir(&dir.join(&format!("{v}/bin")), 1)
                .is_ok_and(|es| {
                    es.iter()
                        .any(|e| matches!(text::base_name(&e.path), "python" | "python3"))
                })
    });
    let install = if dir.has("uv.lock") {
        Some((
            "uv sync --frozen".to_string(),
            "uv.lock pins the dependencies",
        ))
    } else if dir.has("requirements.txt") {
        Some((
            "-m pip install -r requirements.txt".to_string(),
            "requirements.txt declares the dependencies",
        ))
    } else if deps.pyproject_deps {
        Some((
            "-m pip install -e .".to_string(),
            "pyproject.toml declares the dependencies",
        ))
    } else {
        None
    };
    if dir.has("Pipfile") && !dir.has("requirements.txt") {
        d.notes.push(format!(
            "{}: Pipfile found; install with `pipenv install` yourself (pipenv is not planned)",
            shown(&dir.path)
        ));
    }
    let venv = match (existing, &install) {
        (Some(v), _) => {
            d.evidence.push(Evidence::new(
                dir.join(v),
                format!("{VENV_EVIDENCE}: its python runs the services"),
            ));
            Some(v.to_string())
        }
        (None, Some(_)) => {
            if !dir.has("uv.lock") {
                d.setup.push(setup(
                    dir,
                    "python3 -m venv .venv",
                    "no virtualenv in the project: one is created for its dependencies",
                ));
            }
            d.evidence.push(Evidence::new(
                dir.join(".venv"),
                format!("{VENV_EVIDENCE} (made by setup): its python runs the services"),
            ));
            Some(".venv".to_string())
        }
        (None, None) => None,
    };
    if let Some((cmd, why)) = install {
        let command = match (&venv, cmd.starts_with("-m")) {
            (Some(v), true) => format!("{v}/bin/python {cmd}"),
            _ => cmd,
        };
        d.setup.push(setup(dir, &command, why));
    }
    Env {
        python: match venv {
            Some(v) => format!("{v}/bin/python"),
            None => "python3".into(),
        },
    }
}

/// An install step into the project's own virtualenv: safe.
fn setup(dir: &Dir, command: &str, reason: &str) -> Setup {
    Setup {
        command_type: CommandType::Exec,
        command: command.to_string(),
        is_safe: true,
        allowed_in_production: true,
        timeout_s: Some(900),
        reason: reason.to_string(),
        working_dir: dir.path.clone(),
    }
}

/// A plain script with an `if __name__` block; it listens when it mentions a port or a server.
fn script(dir: &Dir, env: &Env, d: &mut Detected) -> Option<Found> {
    let runnable: Vec<(&str, String)> = SCRIPTS
        .iter()
        .filter(|s| dir.has(s))
        .filter_map(|s| dir.read(s).map(|c| (*s, c)))
        .filter(|(_, c)| c.contains("if __name__"))
        .collect();
    let (file, content) = runnable.first()?;
    if runnable.len() > 1 {
        d.notes.push(format!(
            "{}: several scripts can run ({}); {file} was chosen",
            shown(&dir.path),
            runnable
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let reads_port = content.contains("PORT");
    let listens = reads_port
        || [
            "http.server",
            "socketserver",
            "socket",
            "serve_forever",
            ".run(",
        ]
        .iter()
        .any(|w| content.contains(w));
    let mut evidence = vec![Evidence::new(
        dir.join(file),
        format!(
            "a script with an `if __name__` block{}",
            if reads_port { " reading PORT" } else { "" }
        ),
    )];
    let confidence = if listens && !reads_port {
        d.notes.push(format!(
            "{} seems to serve but does not read PORT: it may ignore the port given",
            dir.join(file)
        ));
        0.4
    } else {
        0.6
    };
    if listens {
        evidence.push(Evidence::new(dir.join(file), "it serves on a port"));
    }
    Some(Found {
        argv: vec![env.python.clone(), (*file).to_string()],
        working_dir: dir.path.clone(),
        listens,
        confidence,
        evidence,
        ..Found::default()
    })
}

/// A `[project.scripts]` entry point, run through the interpreter (no install needed).
fn pyproject_script(dir: &Dir, env: &Env, d: &mut Detected) -> Option<Found> {
    let content = dir.read("pyproject.toml")?;
    let scripts = deps::scripts(&content);
    let preferred = ["serve", "server", "web", "api", "app", "start", "run"];
    let (name, target) = scripts
        .iter()
        .find(|(n, _)| preferred.iter().any(|p| n.contains(p)))
        .or(scripts.first())?;
    let (module, func) = target.split_once(':')?;
    if scripts.len() > 1 {
        d.notes.push(format!(
            "pyproject.toml declares several scripts ({}); {name} was chosen",
            scripts
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let listens = preferred.iter().any(|p| name.contains(p));
    let mut env_vars = BTreeMap::new();
    if dir.has_dir("src") {
        env_vars.insert("PYTHONPATH".to_string(), "src".to_string());
    }
    d.notes.push(format!(
        "{name} ({target}) is a guess from pyproject.toml's scripts{}",
        if listens {
            "; it is assumed to serve on PORT"
        } else {
            ""
        }
    ));
    Some(Found {
        process: name.clone(),
        argv: vec![
            env.python.clone(),
            "-c".into(),
            format!("import sys; from {module} import {func}; sys.exit({func}())"),
        ],
        working_dir: dir.path.clone(),
        listens,
        env: env_vars,
        confidence: 0.4,
        evidence: vec![Evidence::new(
            dir.join("pyproject.toml"),
            format!("[project.scripts] {name} = {target}"),
        )],
        ..Found::default()
    })
}
