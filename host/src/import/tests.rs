//! The converters against the fixtures of `tests/fixtures/import/`: every fixture converted with the
//! base directory `/srv/app` and compared with its golden `<file>.expected.json` (the services in
//! registration order and every warning). `TEND_UPDATE_GOLDENS=1` rewrites the goldens; review the
//! diff. A `.config.js` needs node: the black-box suite covers it (`tests/tests/import.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::wire::{CommandLine, RestartPolicy};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/import")
}

fn run(
    format: Option<ImportFormat>,
    file_name: &str,
    content: &str,
) -> Result<Converted, ImportError> {
    run_with(format, file_name, content, None, &BTreeMap::new())
}

fn run_with(
    format: Option<ImportFormat>,
    file_name: &str,
    content: &str,
    env_name: Option<&str>,
    environment: &BTreeMap<String, String>,
) -> Result<Converted, ImportError> {
    let format = format
        .or_else(|| detect(file_name, content))
        .unwrap_or_else(|| panic!("{file_name}: format not detected"));
    convert(
        format,
        &Input {
            file_name,
            content,
            base_dir: Path::new("/srv/app"),
            env_name,
            environment,
        },
    )
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON") + "\n"
}

#[test]
fn every_fixture_converts_as_its_golden() {
    let update = std::env::var_os("TEND_UPDATE_GOLDENS").is_some_and(|v| v == "1");
    let environment = BTreeMap::from([("LOG_LEVEL".to_string(), "info".to_string())]);
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures/import")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    for file in &entries {
        if file.ends_with(".expected.json") || file.ends_with(".js") || file.starts_with('.') {
            continue;
        }
        let content = std::fs::read_to_string(fixtures().join(file)).expect("fixture");
        let format = detect(file, &content);
        let actual = match run_with(None, file, &content, None, &environment) {
            Ok(c) => serde_json::json!({
                "format": format,
                "services": c.services,
                "warnings": c.warnings,
            }),
            Err(e) => serde_json::json!({ "format": format, "error": e.to_string() }),
        };
        seen.push(file.clone());
        let path = fixtures().join(format!("{file}.expected.json"));
        if update {
            std::fs::write(&path, pretty(&actual)).expect("write golden");
            continue;
        }
        let golden: serde_json::Value = match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).expect("golden is JSON"),
            Err(_) => {
                failures.push(format!(
                    "{file}: no golden; TEND_UPDATE_GOLDENS=1 writes it"
                ));
                continue;
            }
        };
        if golden != actual {
            let diff = similar::TextDiff::from_lines(&pretty(&golden), &pretty(&actual))
                .unified_diff()
                .header("golden", "converted")
                .to_string();
            failures.push(format!(
                "{file} differs (TEND_UPDATE_GOLDENS=1 rewrites):\n{diff}"
            ));
        }
    }
    for format in ImportFormat::ALL {
        let covered = seen.iter().any(|f| {
            let content = std::fs::read_to_string(fixtures().join(f)).unwrap_or_default();
            detect(f, &content) == Some(format)
        });
        assert!(covered, "no fixture of {format:?} in tests/fixtures/import");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn names(c: &Converted) -> Vec<&str> {
    c.services.iter().map(|s| s.name.as_str()).collect()
}

fn warned(c: &Converted, object: &str, field: &str) -> bool {
    c.warnings
        .iter()
        .any(|w| w.object.contains(object) && w.field == field)
}

#[test]
fn supervisord_numprocs_expands_names_and_commands() {
    let c = run(
        None,
        "workers.conf",
        "[program:worker]\ncommand=/usr/bin/work --id %(process_num)d --dir %(here)s\n\
         process_name=%(program_name)s_%(process_num)02d\nnumprocs=3\nnumprocs_start=1\n\
         autorestart=false\nuser=www\n",
    )
    .unwrap();
    assert_eq!(names(&c), ["worker_01", "worker_02", "worker_03"]);
    assert_eq!(
        c.services[1].command,
        CommandLine::Argv(vec![
            "/usr/bin/work".into(),
            "--id".into(),
            "2".into(),
            "--dir".into(),
            "/srv/app".into()
        ])
    );
    assert_eq!(c.services[0].restart, RestartPolicy::Never);
    // One warning per program, not one per process.
    assert_eq!(c.warnings.iter().filter(|w| w.field == "user").count(), 1);
}

#[test]
fn supervisord_errors_name_the_line() {
    let e = run(
        None,
        "x.conf",
        "[program:a]\ncommand=run\nautorestart=sometimes\n",
    )
    .unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().contains("autorestart"), "{e}");
    let e = run(None, "x.conf", "[program:a]\ncommand=run %(ENV_NOPE)s\n").unwrap_err();
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.to_string().contains("NOPE"), "{e}");
    let e = run(None, "x.conf", "[program:a]\ncommand=run\nnumprocs=2\n").unwrap_err();
    assert!(e.to_string().contains("process_num"), "{e}");
}

#[test]
fn pm2_instances_env_and_cluster() {
    let json = r#"{"apps":[
        {"name":"api","script":"server.js","instances":2,"env":{"PORT":3000},
         "env_production":{"NODE_ENV":"production"}},
        {"name":"web","script":"web.js","instances":4,"exec_mode":"cluster"}]}"#;
    let c = run(Some(ImportFormat::Pm2), "ecosystem.json", json).unwrap();
    assert_eq!(names(&c), ["api-0", "api-1", "web"]);
    assert_eq!(c.services[1].env["NODE_APP_INSTANCE"], "1");
    assert_eq!(c.services[0].port, Some(3000));
    assert!(warned(&c, "api", "env_production"));
    assert!(warned(&c, "web", "exec_mode"));
    let c = run_with(
        Some(ImportFormat::Pm2),
        "ecosystem.json",
        json,
        Some("production"),
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(c.services[0].env["NODE_ENV"], "production");
    assert!(!warned(&c, "api", "env_production"));
}

#[test]
fn a_js_file_that_was_not_evaluated_says_so() {
    let e = run(
        Some(ImportFormat::Pm2),
        "ecosystem.config.js",
        "module.exports = {}",
    )
    .unwrap_err();
    assert!(e.to_string().contains("node"), "{e}");
}

#[test]
fn order_puts_dependencies_first_and_refuses_cycles() {
    let yaml = "processes:\n  web:\n    command: w\n    depends_on:\n      db:\n        condition: process_started\n  db:\n    command: d\n";
    let c = run(None, "process-compose.yaml", yaml).unwrap();
    assert_eq!(names(&c), ["db", "web"]);
    let cyclic = "processes:\n  a:\n    command: a\n    depends_on: {b: {condition: process_started}}\n  b:\n    command: b\n    depends_on: {a: {condition: process_started}}\n";
    let e = run(None, "process-compose.yaml", cyclic).unwrap_err();
    assert!(e.message.contains("a -> b -> a"), "{e}");
}

#[test]
fn healthy_on_a_dependency_without_a_check_becomes_started() {
    let yaml = "services:\n  db:\n    command: postgres\n  api:\n    command: api\n    depends_on:\n      db: {condition: service_healthy}\n";
    let c = run(None, "docker-compose.yml", yaml).unwrap();
    assert_eq!(
        c.services[1].depends_on.get("db").unwrap().condition,
        crate::wire::DependencyCondition::Started
    );
    assert!(warned(&c, "services.api", "depends_on"));
}

#[test]
fn names_become_tend_names() {
    let c = run(None, "Procfile", "Web: run\nworker: work\n").unwrap();
    assert_eq!(names(&c), ["web", "worker"]);
    assert!(warned(&c, "Web", "name"));
    let json =
        r#"{"apps":[{"name":"API Server","script":"a.js"},{"name":"api.server","script":"b.js"}]}"#;
    let e = run(Some(ImportFormat::Pm2), "ecosystem.json", json).unwrap_err();
    assert!(e.message.contains("\"api-server\""), "{e}");
}

#[test]
fn yaml_errors_name_the_line() {
    let e = run(
        Some(ImportFormat::Compose),
        "compose.yml",
        "services:\n  a:\n    command: [x\n",
    )
    .unwrap_err();
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn detection_by_name_and_content() {
    assert_eq!(detect("Procfile.dev", ""), Some(ImportFormat::Procfile));
    assert_eq!(
        detect("x/docker-compose.yml", ""),
        Some(ImportFormat::Compose)
    );
    assert_eq!(
        detect("pc.yaml", "processes:\n  a:\n    command: x\n"),
        Some(ImportFormat::ProcessCompose)
    );
    assert_eq!(
        detect("config.yaml", "supervisor:\n  services: {}\n"),
        Some(ImportFormat::Magictunnel)
    );
    assert_eq!(
        detect("apps.json", r#"{"apps":[]}"#),
        Some(ImportFormat::Pm2)
    );
    assert_eq!(
        detect("my.conf", "[program:x]\ncommand=y\n"),
        Some(ImportFormat::Supervisord)
    );
    assert_eq!(detect("Procs", "web: run\n"), Some(ImportFormat::Procfile));
    assert_eq!(detect("notes.txt", "hello world"), None);
}
