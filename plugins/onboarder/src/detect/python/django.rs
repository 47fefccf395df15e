//! Django: `manage.py` names the settings module (`DJANGO_SETTINGS_MODULE`, often not the default
//! one), the settings module names the WSGI application (following one `from .base import *`);
//! gunicorn serves it when declared, else `runserver` with a note. Migrations are a setup step that
//! changes the database, so never marked safe.

use std::collections::BTreeMap;

use super::super::{Detected, Dir, Found, PORT, text};
use super::deps::Deps;
use super::{Env, setup, shown, web};
use crate::model::Evidence;

pub fn django(dir: &Dir, deps: &Deps, env: &Env, d: &mut Detected) -> Option<Found> {
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
        health_path: web::routes(&web::grep(dir)).0,
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
