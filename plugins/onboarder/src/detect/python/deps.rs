//! The dependencies a Python project declares (`requirements.txt`, `pyproject.toml`'s
//! `[project] dependencies` and `[tool.poetry.dependencies]`, `Pipfile`'s `[packages]`), read by
//! name only, and the `[project.scripts]` entry points. TOML is read line by line: these tables
//! are simple, and a miss only lowers the confidence of a guess.

use std::collections::BTreeMap;

use super::super::{Dir, text};
use crate::model::Evidence;

#[derive(Default)]
pub struct Deps {
    /// Normalised name (lowercase, `_` as `-`) -> the file declaring it.
    names: BTreeMap<String, String>,
    /// One line per file: what it declares.
    pub evidence: Vec<Evidence>,
    /// Some dependency file exists.
    pub any_file: bool,
    /// pyproject.toml declares dependencies.
    pub pyproject_deps: bool,
}

impl Deps {
    pub fn read(dir: &Dir) -> Deps {
        let mut deps = Deps::default();
        for (file, parse) in [
            ("requirements.txt", requirements as fn(&str) -> Vec<String>),
            ("pyproject.toml", pyproject),
            ("Pipfile", pipfile),
        ] {
            if !dir.has(file) {
                continue;
            }
            deps.any_file = true;
            let Some(content) = dir.read(file) else {
                continue;
            };
            let names = parse(&content);
            if names.is_empty() {
                continue;
            }
            if file == "pyproject.toml" {
                deps.pyproject_deps = true;
            }
            let path = dir.join(file);
            deps.evidence.push(Evidence::new(
                &path,
                format!("declares {}", names.join(", ")),
            ));
            for n in names {
                deps.names.entry(n).or_insert_with(|| path.clone());
            }
        }
        deps
    }

    pub fn has(&self, name: &str) -> bool {
        self.names.contains_key(name)
    }

    /// Evidence that `name` is declared (none when it is not).
    pub fn why(&self, name: &str) -> Vec<Evidence> {
        self.names
            .get(name)
            .map(|f| vec![Evidence::new(f, format!("declares {name}"))])
            .unwrap_or_default()
    }
}

/// `FastAPI[standard]>=0.110 ; python_version > "3.8"` -> `fastapi`.
fn normalise(spec: &str) -> Option<String> {
    let end = spec
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(spec.len());
    let name = spec[..end].trim();
    (!name.is_empty()).then(|| name.to_ascii_lowercase().replace('_', "-"))
}

fn requirements(content: &str) -> Vec<String> {
    content
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .filter_map(normalise)
        .collect()
}

/// The body lines of TOML table `[name]`.
fn table<'a>(content: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    content
        .lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .collect()
}

fn pyproject(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `dependencies = [ "a>=1", "b" ]`, on one line or several.
    let project = table(content, "project").join("\n");
    if let Some(at) = project.find("dependencies") {
        let rest = &project[at..];
        if let Some(open) = rest.find('[') {
            let body = &rest[open + 1..];
            let body = &body[..body.find(']').unwrap_or(body.len())];
            let mut s = body;
            while let Some(q) = text::first_quoted(s) {
                out.extend(normalise(q));
                let at = s.find(q).unwrap_or(0) + q.len() + 1;
                s = s.get(at..).unwrap_or("");
            }
        }
    }
    for line in table(content, "tool.poetry.dependencies") {
        if let Some((k, _)) = line.split_once('=') {
            let k = k.trim().trim_matches('"');
            if k != "python" {
                out.extend(normalise(k));
            }
        }
    }
    out
}

fn pipfile(content: &str) -> Vec<String> {
    table(content, "packages")
        .iter()
        .filter_map(|l| {
            l.split_once('=')
                .and_then(|(k, _)| normalise(k.trim().trim_matches('"')))
        })
        .collect()
}

/// `[project.scripts]` (and `[tool.poetry.scripts]`) entries `name = "module:function"`, sorted.
pub fn scripts(content: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = table(content, "project.scripts")
        .into_iter()
        .chain(table(content, "tool.poetry.scripts"))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let target = text::first_quoted(v)?;
            let ok = target
                .split_once(':')
                .is_some_and(|(m, f)| m.split('.').all(text::is_env_name) && text::is_env_name(f));
            ok.then(|| (k.trim().trim_matches('"').to_string(), target.to_string()))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_each_format() {
        assert_eq!(
            requirements("FastAPI[standard]>=0.110\n# c\n-r base.txt\nuvicorn==0.30 ; x\n"),
            ["fastapi", "uvicorn"]
        );
        assert_eq!(
            pyproject(
                "[project]\nname = \"x\"\ndependencies = [\n  \"Flask>=3\",\n  'gunicorn',\n]\n\
                 [tool.poetry.dependencies]\npython = \"^3.11\"\nDjango_Extra = \"1\"\n"
            ),
            ["flask", "gunicorn", "django-extra"]
        );
        assert_eq!(
            scripts("[project.scripts]\nserve = \"app.cli:main\"\nbad = \"no colon\"\n"),
            [("serve".to_string(), "app.cli:main".to_string())]
        );
    }
}
