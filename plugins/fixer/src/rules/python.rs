//! `python-module-missing`: `ModuleNotFoundError: No module named 'x'` where `x` is declared in the
//! project's `requirements.txt` or `pyproject.toml` and the project has a virtualenv (`.venv/` or
//! `venv/`): install the requirements with the venv's own pip, from the project's local package
//! directory (`wheels/`, `vendor/`, `dist/`, or a local `--find-links` in the requirements) with
//! `--no-index` when there is one. Only when the service runs with that virtualenv (its command
//! names it, or `VIRTUAL_ENV` is set). A module nobody declared is not this rule's business.

use super::{Finding, lines, proposal};
use crate::model::{CommandType, EntryKind, FixCommand, Incident, Project};
use crate::text::{Found, is_dir, lookup, quoted, word};

pub const NAME: &str = "python-module-missing";

/// Import names whose distribution is called differently.
const ALIASES: &[(&str, &str)] = &[
    ("yaml", "pyyaml"),
    ("pil", "pillow"),
    ("cv2", "opencv-python"),
    ("bs4", "beautifulsoup4"),
    ("sklearn", "scikit-learn"),
    ("dateutil", "python-dateutil"),
    ("dotenv", "python-dotenv"),
    ("jwt", "pyjwt"),
    ("attr", "attrs"),
    ("magic", "python-magic"),
    ("serial", "pyserial"),
    ("usb", "pyusb"),
    ("crypto", "pycryptodome"),
    ("git", "gitpython"),
    ("multipart", "python-multipart"),
    ("psycopg2", "psycopg2-binary"),
];

const VENVS: &[&str] = &[".venv", "venv"];
const LOCAL_INDEXES: &[&str] = &["wheels", "vendor", "dist"];

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` as one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Whether distribution `dist` (normalised) provides top-level module `module`.
fn provides(dist: &str, module: &str) -> bool {
    let m = normalise(module);
    dist == m
        || dist == format!("python-{m}")
        || dist == format!("py{m}")
        || dist == format!("{m}-python")
        || ALIASES.iter().any(|(k, v)| *k == m && *v == dist)
}

/// The name part of a requirement specifier (`requests[socks]>=2; python_version>"3"` -> `requests`).
fn requirement_name(spec: &str) -> Option<String> {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(spec.len());
    let name = &spec[..end];
    (!name.is_empty()).then(|| normalise(name))
}

/// `requirements.txt`: (declared names with their lines, `--find-links` values).
fn requirements(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut names = Vec::new();
    let mut links = Vec::new();
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('-') {
            let (opt, value) = line
                .split_once(['=', ' ', '\t'])
                .map_or((line, ""), |(o, v)| (o, v.trim()));
            if matches!(opt, "--find-links" | "-f") && !value.is_empty() {
                links.push(value.to_string());
            }
            continue;
        }
        if let Some(name) = requirement_name(line) {
            names.push((name, line.to_string()));
        }
    }
    (names, links)
}

/// `pyproject.toml`: the strings of `[project] dependencies = [...]` and the keys of
/// `[tool.poetry.dependencies]`, read line by line (no TOML parser in the plugin).
fn pyproject(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut table = String::new();
    let mut in_array = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('[') && !in_array {
            table = line.trim_matches(['[', ']']).trim().to_string();
            continue;
        }
        if in_array {
            for spec in quoted(line) {
                if let Some(name) = requirement_name(&spec) {
                    out.push((name, spec));
                }
            }
            if line.contains(']') {
                in_array = false;
            }
            continue;
        }
        if table == "project" && line.starts_with("dependencies") && line.contains('[') {
            let rest = &line[line.find('[').map_or(0, |i| i + 1)..];
            for spec in quoted(rest) {
                if let Some(name) = requirement_name(&spec) {
                    out.push((name, spec));
                }
            }
            in_array = !rest.contains(']');
        } else if table == "tool.poetry.dependencies"
            && let Some((key, _)) = line.split_once('=')
        {
            let key = key.trim().trim_matches('"');
            if key != "python"
                && let Some(name) = requirement_name(key)
            {
                out.push((name, key.to_string()));
            }
        }
    }
    out
}

/// The module a `ModuleNotFoundError` names (its top-level package).
fn missing_module(incident: &Incident) -> Option<String> {
    lines(incident).rev().find_map(|l| {
        let at = l.find("No module named ")?;
        let rest = l[at + "No module named ".len()..].trim();
        let name = quoted(rest)
            .into_iter()
            .next()
            .unwrap_or_else(|| rest.split_whitespace().next().unwrap_or("").to_string());
        let top = name.split('.').next()?.trim().to_string();
        (!top.is_empty()).then_some(top)
    })
}

pub fn check(incident: &Incident, project: &dyn Project) -> Option<Finding> {
    let module = missing_module(incident)?;
    let reqs = project.read_file("requirements.txt", 64 * 1024).ok();
    let (declared_in_reqs, links) = reqs
        .as_ref()
        .map(|f| requirements(&f.content))
        .unwrap_or_default();
    let in_reqs = declared_in_reqs.iter().find(|(n, _)| provides(n, &module));
    let in_pyproject = if in_reqs.is_none() {
        project
            .read_file("pyproject.toml", 64 * 1024)
            .ok()
            .and_then(|f| {
                pyproject(&f.content)
                    .into_iter()
                    .find(|(n, _)| provides(n, &module))
            })
    } else {
        None
    };
    if in_reqs.is_none() && in_pyproject.is_none() {
        return None;
    }
    // Listed, or (a host that does not list inside virtualenvs) readable.
    let Some(venv) = VENVS.iter().find(|v| {
        let pip = format!("{v}/bin/pip");
        matches!(lookup(project, &pip),
            Found::Entry(e) if matches!(e.kind, EntryKind::File | EntryKind::Symlink))
            || project.read_file(&pip, 64).is_ok()
    }) else {
        return Some(Finding::Note(format!(
            "{NAME}: module `{module}` is declared in the project's requirements, but the project has no virtualenv (`.venv/` or `venv/`) to install it into"
        )));
    };
    // Installing into a virtualenv the service does not run with fixes nothing.
    let uses_venv = incident.env_names.iter().any(|n| n == "VIRTUAL_ENV")
        || std::iter::once(incident.command.as_str())
            .chain(incident.argv.iter().map(String::as_str))
            .any(|w| {
                w.starts_with(&format!("{venv}/"))
                    || w.contains(&format!("/{venv}/"))
                    || w.contains(&format!(" {venv}/"))
            });
    if !uses_venv {
        return Some(Finding::Note(format!(
            "{NAME}: module `{module}` is declared in the project's requirements and `{venv}/` exists, but the service does not run with that virtualenv (`{}`); installing into it would change nothing: run the service with `{venv}/bin/python`",
            incident.command
        )));
    }
    let index = local_index(project, &links);
    let mut command = format!("{venv}/bin/pip install");
    if let Some(dir) = &index {
        command.push_str(&format!(" --no-index --find-links {}", word(dir)));
    }
    let (what, declared) = match (in_reqs, &in_pyproject) {
        (Some((_, line)), _) => {
            command.push_str(" -r requirements.txt");
            ("requirements.txt", line.clone())
        }
        (None, Some((_, spec))) => {
            command.push(' ');
            command.push_str(&word(spec));
            ("pyproject.toml", spec.clone())
        }
        (None, None) => return None,
    };
    let source = index.as_ref().map_or_else(
        || "the package index pip is configured with".to_string(),
        |d| format!("the project's local packages in `{d}`"),
    );
    Some(proposal(
        NAME,
        format!(
            "module `{module}` is missing from the virtualenv `{venv}` although {what} declares `{declared}`; install it from {source}"
        ),
        0.8,
        Vec::new(),
        vec![FixCommand {
            command_type: CommandType::Exec,
            command,
            is_safe: true,
            // Offline from the project's own files: as safe in production as anywhere.
            allowed_in_production: index.is_some(),
            timeout_s: Some(240),
            reason: format!("install the declared requirement `{declared}` into `{venv}`"),
        }],
    ))
}

/// A directory of the project holding packages: a local `--find-links` of the requirements, or one
/// of `wheels/`, `vendor/`, `dist/` with a wheel or an sdist in it.
fn local_index(project: &dyn Project, links: &[String]) -> Option<String> {
    for link in links {
        if link.contains("://") {
            continue;
        }
        let Some(path) = crate::text::relative(&Incident::default(), link) else {
            continue;
        };
        if link.starts_with('/') {
            continue;
        }
        if is_dir(&lookup(project, &path)) {
            return Some(path);
        }
    }
    LOCAL_INDEXES
        .iter()
        .find(|d| {
            project.list_dir(d, 1).is_ok_and(|entries| {
                entries.iter().any(|e| {
                    e.kind == EntryKind::File
                        && [".whl", ".tar.gz", ".zip"]
                            .iter()
                            .any(|x| e.path.ends_with(x))
                })
            })
        })
        .map(|d| d.to_string())
}
