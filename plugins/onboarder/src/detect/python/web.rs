//! FastAPI and Flask: one grep finds where the app is created (`app = FastAPI(...)`, the module
//! path taken from that file, never assumed to be `main`) and the routes a health check can use.
//! The framework's server gets the port flag and binds 127.0.0.1.

use std::collections::BTreeMap;

use super::super::{Detected, Dir, Found, PORT, text};
use super::deps::Deps;
use super::{Env, shown};
use crate::model::{Evidence, GrepMatch};

/// App creations and the routes a health check can use, in one grep.
const GREP: &str =
    r#"(FastAPI|Flask)\(|\.(get|route|api_route)\(\s*["']/(health|healthz|ping)?["']"#;

/// A grep hit that creates an app: `app = FastAPI(...)` in `app/main.py`.
struct AppHit {
    /// Root-relative.
    path: String,
    /// The variable holding the app.
    var: String,
    fastapi: bool,
    line: String,
    /// `var` is a top-level function returning the app (`def create_app(): return FastAPI()`).
    factory: bool,
}

/// The top-level function whose body holds line `line` (1-based) of `path`: an app factory.
fn enclosing_def(dir: &Dir, path: &str, line: u32) -> Option<String> {
    let file = dir.project.read_file(path, 256 * 1024).ok()?;
    let lines: Vec<&str> = file.content.lines().collect();
    let upto = (line as usize).saturating_sub(1).min(lines.len());
    lines[..upto].iter().rev().find_map(|l| {
        if !l.starts_with(|c: char| c.is_whitespace()) && !l.trim().is_empty() {
            // The first unindented line above: a `def` (the factory) or anything else (none).
            let name = l.strip_prefix("def ")?.split('(').next()?.trim();
            return Some(text::is_env_name(name).then(|| name.to_string()));
        }
        None
    })?
}

/// The health path routes show (`/health`, `/healthz`, `/ping`), and whether `/` is a route.
pub fn routes(hits: &[GrepMatch]) -> (Option<String>, bool) {
    let mut health = None;
    let mut root = false;
    for h in hits {
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

pub fn grep(dir: &Dir) -> Vec<GrepMatch> {
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

pub fn web_app(dir: &Dir, deps: &Deps, env: &Env, d: &mut Detected) -> Option<Found> {
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
            let line = h.text.trim().to_string();
            if line.starts_with("return ") {
                let var = enclosing_def(dir, &h.path, h.line)?;
                return Some(AppHit {
                    path: h.path.clone(),
                    var,
                    fastapi,
                    line,
                    factory: true,
                });
            }
            let (lhs, _) = h.text.split_once('=')?;
            let var = lhs.split(':').next()?.trim();
            text::is_env_name(var).then(|| AppHit {
                path: h.path.clone(),
                var: var.to_string(),
                fastapi,
                line,
                factory: false,
            })
        })
        .collect();
    if apps.is_empty() {
        if declared {
            d.notes.push(format!(
                "{}: FastAPI/Flask is declared but no `app = FastAPI(...)`/`Flask(...)` was found \
                 (an app made some other way?)",
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
            a.factory,
            a.path.matches('/').count(),
            a.path.clone(),
        )
    });
    let app = &apps[0];
    let (module, src) = module_of(dir, &app.path)?;
    // A factory: uvicorn calls it with `--factory`, gunicorn and flask take `module:name()`.
    let target = match (app.factory, app.fastapi) {
        (true, false) => format!("{module}:{}()", app.var),
        _ => format!("{module}:{}", app.var),
    };
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
    let (health, root_route) = routes(&hits);
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
        let mut argv = vec![
            env.python.clone(),
            "-m".into(),
            "uvicorn".into(),
            target,
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            PORT.into(),
        ];
        if app.factory {
            argv.push("--factory".into());
        }
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
