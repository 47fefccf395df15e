//! The fixture projects of `tests/fixtures/onboard/` read from disk: what each detector plans for
//! its own fixture, and that no other of these detectors claims it.

use super::*;
use crate::detect::{go, node, ruby, rust, static_site};

const MINE: &[(&str, Detector)] = &[
    ("node", node::detect),
    ("rust", rust::detect),
    ("go", go::detect),
    ("ruby", ruby::detect),
    ("static_site", static_site::detect),
];

/// Runs every detector of this file's over `dir` of the fixture and returns the findings of
/// `expected`, asserting that the others plan no service and no setup there.
fn only(fixture: &str, dir: &str, expected: &str) -> Detected {
    let p = Disk::fixture(fixture);
    let mut mine = None;
    for (name, detector) in MINE {
        let d = run(*detector, &p, dir);
        if *name == expected {
            mine = Some(d);
        } else {
            assert!(
                d.services.is_empty() && d.setup.is_empty(),
                "{fixture}/{dir}: `{name}` planned {d:?}"
            );
        }
    }
    mine.expect("a detector of this file")
}

#[test]
fn node_start_fixture() {
    let d = only("node-start", "", "node");
    assert!(d.setup.is_empty());
    let s = &d.services[0];
    assert_eq!(s.argv, argv(&["npm", "start"]));
    assert!(s.listens);
    assert_eq!(s.health_path.as_deref(), Some("/"));
    assert_eq!(s.env.get("PORT").map(String::as_str), Some("{port}"));
    assert_eq!(paths(&d, 0), ["package.json", "server.js"]);
}

#[test]
fn node_next_fixture() {
    let d = only("node-next", "", "node");
    assert_eq!(commands(&d), ["npm ci", "npm run build"]);
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "node_modules/.bin/next",
            "start",
            "-p",
            "{port}",
            "-H",
            "127.0.0.1"
        ])
    );
    assert!(noted(&d, "node `>=18.17` (engines.node)"), "{:?}", d.notes);
    assert_eq!(d.evidence[0].path, "package-lock.json");
}

#[test]
fn node_vite_fixture() {
    // Its index.html is Vite's entry, not a static site: package.json says so.
    let d = only("node-vite", "", "node");
    assert_eq!(
        commands(&d),
        ["pnpm install --frozen-lockfile", "pnpm run build"]
    );
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "node_modules/.bin/vite",
            "preview",
            "--port",
            "{port}",
            "--host",
            "127.0.0.1",
            "--strictPort"
        ])
    );
    assert!(noted(&d, "`scripts.dev` (`vite`)"), "{:?}", d.notes);
    assert!(noted(&d, ".nvmrc asks for node `20`"), "{:?}", d.notes);
}

#[test]
fn rust_bins_fixture() {
    let d = only("rust-bins", "", "rust");
    assert_eq!(commands(&d), ["cargo build --release"]);
    let got: Vec<(&str, &Vec<String>, bool)> = d
        .services
        .iter()
        .map(|s| (s.process.as_str(), &s.argv, s.listens))
        .collect();
    assert_eq!(
        got,
        [
            ("server", &argv(&["target/release/server"]), true),
            ("report", &argv(&["target/release/report"]), false),
        ]
    );
    assert_eq!(paths(&d, 0), ["Cargo.toml", "Cargo.toml", "src/main.rs"]);
    assert_eq!(paths(&d, 1), ["src/bin/report.rs"]);
}

#[test]
fn go_cmd_fixture() {
    let d = only("go-cmd", "", "go");
    assert_eq!(
        commands(&d),
        [
            "go build -o bin/api ./cmd/api",
            "go build -o bin/worker ./cmd/worker"
        ]
    );
    let got: Vec<(&str, &Vec<String>, bool)> = d
        .services
        .iter()
        .map(|s| (s.process.as_str(), &s.argv, s.listens))
        .collect();
    assert_eq!(
        got,
        [
            ("api", &argv(&["bin/api"]), true),
            ("worker", &argv(&["bin/worker"]), false),
        ]
    );
}

#[test]
fn ruby_rails_fixture() {
    let d = only("ruby-rails", "", "ruby");
    assert_eq!(
        commands(&d),
        ["bundle install", "bundle exec rails db:migrate"]
    );
    assert_eq!(d.services.len(), 1);
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "bundle",
            "exec",
            "rails",
            "server",
            "-b",
            "127.0.0.1",
            "-p",
            "{port}"
        ])
    );
    assert_eq!(d.services[0].health_path.as_deref(), Some("/up"));
}

#[test]
fn ruby_rack_fixture() {
    let d = only("ruby-rack", "", "ruby");
    assert_eq!(commands(&d), ["bundle install"]);
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "bundle",
            "exec",
            "puma",
            "-b",
            "tcp://127.0.0.1:{port}",
            "config.ru"
        ])
    );
}

#[test]
fn static_site_fixture() {
    let d = only("static-site", "", "static_site");
    assert_eq!(
        d.services[0].argv,
        argv(&[
            "python3",
            "-m",
            "http.server",
            "{port}",
            "--bind",
            "127.0.0.1",
            "--directory",
            "."
        ])
    );
    assert_eq!(paths(&d, 0), ["index.html"]);
}

#[test]
fn mono_py_node_fixture_frontend_is_node_and_the_rest_is_not_these_detectors() {
    let d = only("mono-py-node", "frontend", "node");
    assert_eq!(d.services[0].argv, argv(&["npm", "start"]));
    assert_eq!(d.services[0].working_dir, "frontend");
    assert_eq!(
        paths(&d, 0),
        ["frontend/package.json", "frontend/server.js"]
    );
    // The root (a README) and the Python backend are nothing of these detectors'.
    for dir in ["", "backend"] {
        for (name, detector) in MINE {
            let d = run(*detector, &Disk::fixture("mono-py-node"), dir);
            assert!(d.services.is_empty(), "{dir}: `{name}` planned {d:?}");
        }
    }
}
