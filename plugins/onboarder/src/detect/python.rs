//! Python: the declared dependencies (`requirements.txt`, `pyproject.toml`, `Pipfile`), the
//! project's virtualenv as the interpreter, and what runs, first match wins: Django (`manage.py`,
//! the settings module it names, the WSGI module that settings module names), FastAPI and Flask
//! (the module that really creates the app, found by grep, never assumed to be `main`), plain
//! scripts (`app.py`, `main.py`, `server.py` with an `if __name__` block), pyproject scripts.
//! Each framework's own port flag carries the `{port}` placeholder and binds 127.0.0.1.

mod deps;

use std::collections::BTreeMap;

use super::{Detected, Dir, Found, PORT, text};
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

/// App creations and the routes a health check can use, in one grep.
const GREP: &str =
    r#"(FastAPI|Flask)\(|\.(get|route|api_route)\(\s*["']/(health|healthz|ping)?["']"#;

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

    let found = django(dir, &deps, &env, &mut d)
        .or_else(|| web_app(dir, &deps, &env, &mut d))
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
                "the project's virtualenv: its python runs the services",
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

fn django(dir: &Dir, deps: &Deps, env: &Env, d: &mut Detected) -> Option<Found> {
    let manage = dir.read("manage.py")?;
    let manage_path = dir.join("manage.py");
    let settings = manage
        .lines()
        .find(|l| l.contains("DJANGO_SETTINGS_MODULE"))
        .and_then(|l| {
            quoted_all(l)
                .into_iter()
                .find(|q| *q != "DJANGO_SETTINGS_MODULE")
        })
        .map(String::from);
    let mut evidence = vec![Evidence::new(&manage_path, "a Django project (manage.py)")];
    let mut confidence = 0.85;
    let Some(settings) = settings else {
        d.notes.push(format!(
            "{manage_path} names no DJANGO_SETTINGS_MODULE: the settings module is unknown"
        ));
        return None;
    };
    evidence.push(Evidence::new(
        &manage_path,
        format!("DJANGO_SETTINGS_MODULE = {settings}"),
    ));
    let wsgi = wsgi_of(dir, &settings, &mut evidence).or_else(|| {
        let guess = format!("{}.wsgi.application", settings.split('.').next()?);
        d.notes.push(format!(
            "the settings module {settings} names no WSGI_APPLICATION: guessed {guess}"
        ));
        confidence = 0.6;
        Some(guess)
    })?;
    let (module, object) = wsgi.rsplit_once('.')?;
    let mut env_vars = BTreeMap::new();
    env_vars.insert("DJANGO_SETTINGS_MODULE".to_string(), settings.clone());
    let argv = if deps.has("gunicorn") {
        evidence.extend(deps.why("gunicorn"));
        vec![
            env.python.clone(),
            "-m".into(),
            "gunicorn".into(),
            "-b".into(),
            format!("127.0.0.1:{PORT}"),
            format!("{module}:{object}"),
        ]
    } else {
        d.notes.push(format!(
            "{}: Django's runserver is a development server; declare gunicorn to serve {wsgi}",
            shown(&dir.path)
        ));
        confidence -= 0.1;
        vec![
            env.python.clone(),
            "manage.py".into(),
            "runserver".into(),
            format!("127.0.0.1:{PORT}"),
            "--noreload".into(),
        ]
    };
    let mut migrate = setup(
        dir,
        &format!("{} manage.py migrate --noinput", env.python),
        "Django migrations (changes the database)",
    );
    migrate.is_safe = false;
    migrate.allowed_in_production = false;
    d.setup.push(migrate);
    Some(Found {
        argv,
        working_dir: dir.path.clone(),
        listens: true,
        env: env_vars,
        health_path: routes(dir).0,
        confidence,
        evidence,
        ..Found::default()
    })
}

/// The `WSGI_APPLICATION` the settings module (or the module it star-imports, one level) names.
fn wsgi_of(dir: &Dir, settings: &str, evidence: &mut Vec<Evidence>) -> Option<String> {
    let mut module = settings.to_string();
    for _ in 0..2 {
        let base = module.replace('.', "/");
        let (file, content) = [format!("{base}.py"), format!("{base}/__init__.py")]
            .into_iter()
            .find_map(|f| dir.read(&f).map(|c| (f, c)))?;
        if let Some(line) = content
            .lines()
            .find(|l| l.trim_start().starts_with("WSGI_APPLICATION"))
        {
            let wsgi = text::first_quoted(line)?.to_string();
            evidence.push(Evidence::new(
                dir.join(&file),
                format!("WSGI_APPLICATION = {wsgi}"),
            ));
            return Some(wsgi);
        }
        // `from .base import *` or `from config.settings.base import *`.
        let star = content.lines().find_map(|l| {
            let l = l.trim();
            let from = l.strip_prefix("from ")?.strip_suffix(" import *")?.trim();
            Some(from.to_string())
        })?;
        module = match star.strip_prefix('.') {
            Some(rel) => {
                let parent = module.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
                if parent.is_empty() {
                    rel.to_string()
                } else {
                    format!("{parent}.{rel}")
                }
            }
            None => star,
        };
    }
    None
}

fn quoted_all(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(q) = text::first_quoted(rest) {
        out.push(q);
        let at = rest.find(q).unwrap_or(0) + q.len() + 1;
        rest = rest.get(at..).unwrap_or("");
    }
    out
}

/// A grep hit that creates an app: `app = FastAPI(...)` in `app/main.py`.
struct AppHit {
    /// Root-relative.
    path: String,
    /// The variable holding the app.
    var: String,
    fastapi: bool,
    line: String,
}

/// The health path routes show (`/health`, `/healthz`, `/ping`), and whether `/` is a route.
fn routes(dir: &Dir) -> (Option<String>, bool) {
    let hits = grep(dir);
    let mut health = None;
    let mut root = false;
    for h in &hits {
        if h.text.contains("FastAPI(") || h.text.contains("Flask(") {
            continue;
        }
        match text::first_quoted(h.text.split_once('(').map(|x| x.1).unwrap_or("")) {
            Some("/") => root = true,
            Some(p) if health.is_none() => health = Some(p.to_string()),
            _ => {}
        }
    }
    (health, root)
}

fn grep(dir: &Dir) -> Vec<crate::model::GrepMatch> {
    let mut hits = dir.project.grep(GREP, &dir.path, 200).unwrap_or_default();
    hits.retain(|h| h.path.ends_with(".py") && !is_test(&h.path));
    hits
}

fn is_test(path: &str) -> bool {
    let base = text::base_name(path);
    base.starts_with("test_")
        || base == "conftest.py"
        || path
            .split('/')
            .any(|c| c == "tests" || c == "test" || c.starts_with('.'))
}

/// `path` (a `.py` file under `dir`) as a module, and whether it sits under `src/`.
fn module_of(dir: &Dir, path: &str) -> Option<(String, bool)> {
    let rel = text::relative_to(path, &dir.path)?;
    let (rel, src) = match rel.strip_prefix("src/") {
        Some(r) => (r, true),
        None => (rel, false),
    };
    let rel = rel.strip_suffix(".py")?;
    let rel = rel.strip_suffix("/__init__").unwrap_or(rel);
    let parts: Vec<&str> = rel.split('/').collect();
    parts
        .iter()
        .all(|p| text::is_env_name(p))
        .then(|| (parts.join("."), src))
}

fn web_app(dir: &Dir, deps: &Deps, env: &Env, d: &mut Detected) -> Option<Found> {
    let declared = deps.has("fastapi") || deps.has("flask");
    // Without a dependency file, the code itself is the only clue.
    if !declared && deps.any_file {
        return None;
    }
    let hits = grep(dir);
    let mut apps: Vec<AppHit> = hits
        .iter()
        .filter_map(|h| {
            let fastapi = h.text.contains("FastAPI(");
            if !fastapi && !h.text.contains("Flask(") {
                return None;
            }
            let (lhs, _) = h.text.split_once('=')?;
            let var = lhs.split(':').next()?.trim();
            text::is_env_name(var).then(|| AppHit {
                path: h.path.clone(),
                var: var.to_string(),
                fastapi,
                line: h.text.trim().to_string(),
            })
        })
        .collect();
    if apps.is_empty() {
        if declared {
            d.notes.push(format!(
                "{}: FastAPI/Flask is declared but no `app = FastAPI(...)`/`Flask(...)` was found \
                 (an app factory?)",
                shown(&dir.path)
            ));
        }
        return None;
    }
    // The declared framework first, then the shortest path (the app, not a sub-application).
    let want_fastapi = deps.has("fastapi") || !deps.has("flask");
    apps.sort_by_key(|a| {
        (
            a.fastapi != want_fastapi,
            a.path.matches('/').count(),
            a.path.clone(),
        )
    });
    let app = &apps[0];
    let (module, src) = module_of(dir, &app.path)?;
    let target = format!("{module}:{}", app.var);
    if apps.len() > 1 {
        d.notes.push(format!(
            "several apps are created ({}); {target} was chosen (the shallowest)",
            apps.iter()
                .map(|a| format!("{}:{}", a.path, a.var))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut evidence = vec![Evidence::new(
        &app.path,
        format!("{} creates the app ({target})", app.line),
    )];
    let mut env_vars = BTreeMap::new();
    if src {
        env_vars.insert("PYTHONPATH".to_string(), "src".to_string());
    }
    let (health, root_route) = routes(dir);
    let (argv, health_path, confidence) = if app.fastapi {
        evidence.extend(deps.why("fastapi"));
        let confidence = if deps.has("uvicorn") {
            evidence.extend(deps.why("uvicorn"));
            0.9
        } else {
            d.notes.push(
                "uvicorn is not declared (fastapi[standard] brings it): add it if the install \
                 lacks it"
                    .to_string(),
            );
            0.75
        };
        let docs = !app.line.contains("docs_url=None");
        let health_path = health
            .or_else(|| docs.then(|| "/docs".to_string()))
            .or_else(|| root_route.then(|| "/".to_string()));
        let argv = vec![
            env.python.clone(),
            "-m".into(),
            "uvicorn".into(),
            target,
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            PORT.into(),
        ];
        (argv, health_path, confidence)
    } else {
        evidence.extend(deps.why("flask"));
        let health_path = health.or_else(|| root_route.then(|| "/".to_string()));
        if deps.has("gunicorn") {
            evidence.extend(deps.why("gunicorn"));
            let argv = vec![
                env.python.clone(),
                "-m".into(),
                "gunicorn".into(),
                "-b".into(),
                format!("127.0.0.1:{PORT}"),
                target,
            ];
            (argv, health_path, 0.85)
        } else {
            d.notes.push(format!(
                "{}: `flask run` is Flask's development server; declare gunicorn to serve it",
                shown(&dir.path)
            ));
            let argv = vec![
                env.python.clone(),
                "-m".into(),
                "flask".into(),
                "--app".into(),
                target,
                "run".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                PORT.into(),
            ];
            (argv, health_path, 0.7)
        }
    };
    Some(Found {
        argv,
        working_dir: dir.path.clone(),
        listens: true,
        env: env_vars,
        health_path,
        confidence,
        evidence,
        ..Found::default()
    })
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
