//! Static sites: an `index.html` in the directory, or in one of its `public/`, `dist/`, `build/`,
//! `site/`, when the directory has no manifest of anything that runs a server (`package.json`,
//! `Cargo.toml`, `go.mod`, `Gemfile`, Python's, a Procfile, a compose file). It is served by Python's
//! standard library server, which this machine's other detectors already rely on, bound to
//! 127.0.0.1.

use std::collections::BTreeMap;

use super::{Detected, Dir, Found, PORT};
use crate::model::Evidence;

/// Files whose presence says something else runs the directory (its detector plans it).
const MANIFESTS: &[&str] = &[
    "package.json",
    "Cargo.toml",
    "go.mod",
    "Gemfile",
    "config.ru",
    "requirements.txt",
    "pyproject.toml",
    "setup.py",
    "Pipfile",
    "manage.py",
    "Procfile",
    "composer.json",
    "docker-compose.yml",
    "docker-compose.yaml",
    "compose.yml",
    "compose.yaml",
];

/// Where built or published sites usually sit, in the order they are preferred.
const SITE_DIRS: &[&str] = &["public", "dist", "build", "site"];

pub fn detect(dir: &Dir) -> Detected {
    let mut out = Detected {
        source: "static_site",
        ..Detected::default()
    };
    // Whatever `index.html` is here (Vite's entry, a template), the manifest's detector decides how
    // the directory runs.
    if MANIFESTS.iter().any(|m| dir.has(m)) {
        return Detected::default();
    }
    let site = if dir.has("index.html") {
        Some(".")
    } else {
        // Listed first: a read per candidate would cost a host call in every directory walked.
        SITE_DIRS.iter().copied().find(|d| {
            dir.has_dir(d)
                && dir
                    .project
                    .read_file(&dir.join(&format!("{d}/index.html")), 1)
                    .is_ok()
        })
    };
    let Some(site) = site else {
        return Detected::default();
    };
    let index = if site == "." {
        dir.join("index.html")
    } else {
        dir.join(&format!("{site}/index.html"))
    };
    let mut env = BTreeMap::new();
    env.insert("PORT".to_string(), PORT.to_string());
    out.services.push(Found {
        argv: [
            "python3",
            "-m",
            "http.server",
            PORT,
            "--bind",
            "127.0.0.1",
            "--directory",
            site,
        ]
        .map(String::from)
        .to_vec(),
        working_dir: dir.path.clone(),
        listens: true,
        env,
        health_path: Some("/".into()),
        confidence: if site == "." { 0.8 } else { 0.7 },
        evidence: vec![Evidence::new(
            &index,
            format!(
                "a static site with no server-side manifest ({} and the like are absent): served as files",
                MANIFESTS[..4].join(", ")
            ),
        )],
        ..Found::default()
    });
    out
}
