//! `tend import` against a live daemon: a dry run registers nothing and prints the table; a real
//! import registers the whole file, dependencies first; a bad file or one invalid service registers
//! none and exits non-zero naming the line or the service; a PM2 `.config.js` is evaluated with node
//! (compared with its golden, `tests/fixtures/import/ecosystem.config.js.expected.json`, the fixture
//! directory written `<dir>`; `TEND_UPDATE_GOLDENS=1` rewrites it). The converters' goldens of the
//! other formats are host unit tests (`host/src/import/tests.rs`).

use std::path::{Path, PathBuf};
use std::process::Output;

use tend_tests::output::{ok, stderr, stdout};
use tend_tests::{Daemon, Value, json, secs, tend_cmd};

#[track_caller]
fn failed(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "expected a failure\nstdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    stderr(o)
}

fn names(d: &Daemon) -> Vec<String> {
    let mut names: Vec<String> = d
        .list()
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the file to import");
    path
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/import")
}

#[test]
fn a_dry_run_registers_nothing_and_prints_what_would_be() {
    let d = Daemon::start();
    let file = write(
        &d.scratch(),
        "Procfile",
        "web: sleep 100 # $PORT\nrelease: echo migrate\n",
    );
    let o = ok(d.cli(&["import", "--dry-run", file.to_str().unwrap()]));
    let out = stdout(&o);
    assert!(out.contains("NAME") && out.contains("web"), "{out}");
    assert!(out.contains("5000"), "the port foreman would give: {out}");
    assert!(out.contains("1 service would be registered"), "{out}");
    assert!(
        stderr(&o).contains("warning: release (line 2) release:"),
        "{}",
        stderr(&o)
    );
    assert!(names(&d).is_empty(), "a dry run registered {:?}", names(&d));
}

#[test]
fn supervisord_env_expansions_come_from_the_cli_environment() {
    let d = Daemon::start();
    let file = write(
        &d.scratch(),
        "supervisord.conf",
        "[program:nap]\ncommand=sleep %(ENV_TEND_TEST_NAP)s\n",
    );
    let o = ok(tend_cmd()
        .env("TEND_TEST_NAP", "100")
        .args([
            "--url",
            d.url(),
            "--token",
            d.token(),
            "--json",
            "import",
            "--dry-run",
        ])
        .arg(&file)
        .output()
        .expect("run tend"));
    let answer: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        answer["services"][0]["command"],
        json!(["sleep", "100"]),
        "{answer}"
    );
    let err = failed(&d.cli(&["import", "--dry-run", file.to_str().unwrap()]));
    assert!(
        err.contains("TEND_TEST_NAP") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn an_import_registers_every_service_dependencies_first() {
    let d = Daemon::start();
    let file = write(
        &d.scratch(),
        "process-compose.yaml",
        "processes:\n  api:\n    command: sleep 100\n    depends_on:\n      db:\n        \
         condition: process_started\n  db:\n    command: sleep 101\n    availability:\n      \
         restart: always\n",
    );
    let o = ok(d.cli(&["--json", "import", file.to_str().unwrap()]));
    let answer: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let order: Vec<&str> = answer["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["db", "api"], "{answer}");
    assert_eq!(answer["dry_run"], false);
    assert_eq!(names(&d), ["api", "db"]);
    let api = d.wait_status("api", "running", secs(10));
    assert_eq!(
        api["depends_on"],
        json!({"db": {"condition": "started", "restart": false}})
    );
    assert_eq!(api["working_dir"], json!(d.scratch()), "{api}");
    assert_eq!(d.view("db")["restart"], "always");
    let ls = ok(d.cli(&["ls"]));
    assert!(stdout(&ls).contains("api") && stdout(&ls).contains("db"));
}

#[test]
fn a_bad_file_fails_naming_the_line_and_registers_nothing() {
    let d = Daemon::start();
    let file = write(
        &d.scratch(),
        "supervisord.conf",
        "[program:a]\ncommand=sleep 100\nautorestart=sometimes\n",
    );
    let o = d.cli(&["import", file.to_str().unwrap()]);
    let err = failed(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("line 3") && err.contains("autorestart"),
        "the message names the line and the field: {err}"
    );
    let yaml = write(
        &d.scratch(),
        "docker-compose.yml",
        "services:\n  a:\n    command: [x\n",
    );
    let err = failed(&d.cli(&["import", yaml.to_str().unwrap()]));
    assert!(err.contains("line "), "{err}");
    assert!(names(&d).is_empty());
}

#[test]
fn one_invalid_service_registers_none() {
    let d = Daemon::start();
    let file = write(
        &d.scratch(),
        "docker-compose.yml",
        "services:\n  good:\n    command: sleep 100\n  bad:\n    command: sleep 100\n    \
         env_file: missing.env\n",
    );
    let err = failed(&d.cli(&["import", file.to_str().unwrap()]));
    assert!(
        err.contains("bad") && err.contains("env_file") && err.contains("missing.env"),
        "{err}"
    );
    assert!(names(&d).is_empty(), "registered {:?}", names(&d));
}

#[test]
fn a_service_the_registry_refuses_rolls_back_the_ones_created_before_it() {
    let d = Daemon::start();
    // `db` runs without a health check, so no dependent may wait for it to be `healthy`: the
    // import's own checks pass (db exists), the supervisor's dependency rules refuse `api`, created
    // after `migrate` (its dependency), and `migrate` must not stay registered.
    d.create(&d.service("db", "sleep 100"));
    let file = write(
        &d.scratch(),
        "docker-compose.yml",
        "services:\n  migrate:\n    command: \"true\"\n  api:\n    command: sleep 100\n    \
         depends_on:\n      migrate:\n        condition: service_completed_successfully\n      \
         db:\n        condition: service_healthy\n",
    );
    let body = json!({
        "file_name": "docker-compose.yml",
        "content": std::fs::read_to_string(&file).unwrap(),
        "base_dir": d.scratch(),
    });
    let (status, e) = d.post("/api/import", &body);
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"]["field"]
            .as_str()
            .unwrap_or_default()
            .starts_with("depends_on"),
        "{e}"
    );
    assert_eq!(names(&d), ["db"]);
}

#[test]
fn a_name_taken_is_a_conflict_and_registers_none() {
    let d = Daemon::start();
    d.create(&d.service("web", "sleep 100"));
    let file = write(
        &d.scratch(),
        "Procfile",
        "worker: sleep 100\nweb: sleep 100\n",
    );
    let body = json!({
        "file_name": "Procfile",
        "content": std::fs::read_to_string(&file).unwrap(),
        "base_dir": d.scratch(),
    });
    let (status, e) = d.post("/api/import", &body);
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("\"web\""),
        "{e}"
    );
    let err = failed(&d.cli(&["import", file.to_str().unwrap()]));
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(names(&d), ["web"]);
}

#[test]
fn requests_are_checked_field_by_field() {
    let d = Daemon::start();
    let (status, e) = d.post(
        "/api/import",
        &json!({"file_name": "x", "content": "web: run", "base_dir": "relative"}),
    );
    assert_eq!(
        (status, &e["error"]["field"]),
        (422, &json!("base_dir")),
        "{e}"
    );
    let (status, e) = d.post(
        "/api/import",
        &json!({"file_name": "notes.txt", "content": "hello", "base_dir": "/"}),
    );
    assert_eq!(
        (status, &e["error"]["field"]),
        (422, &json!("format")),
        "{e}"
    );
    let (status, e) = d.post(
        "/api/import",
        &json!({"format": "compose", "file_name": "c.yml", "content": "services:\n  db:\n    image: postgres\n", "base_dir": "/"}),
    );
    assert_eq!(
        (status, &e["error"]["field"]),
        (422, &json!("content")),
        "{e}"
    );
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no service"),
        "{e}"
    );
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON") + "\n"
}

#[test]
fn a_config_js_is_evaluated_with_node_as_its_golden() {
    let d = Daemon::start();
    let file = fixtures().join("ecosystem.config.js");
    let o = ok(d.cli(&["--json", "import", "--dry-run", file.to_str().unwrap()]));
    let dir = fixtures().canonicalize().unwrap();
    let text = stdout(&o).replace(dir.to_str().unwrap(), "<dir>");
    let text = text.replace(fixtures().to_str().unwrap(), "<dir>");
    let actual: Value = serde_json::from_str(&text).expect("JSON");
    let golden_path = fixtures().join("ecosystem.config.js.expected.json");
    if std::env::var_os("TEND_UPDATE_GOLDENS").is_some_and(|v| v == "1") {
        std::fs::write(&golden_path, pretty(&actual)).unwrap();
    }
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(&golden_path).expect("golden")).unwrap();
    assert_eq!(
        pretty(&actual),
        pretty(&golden),
        "TEND_UPDATE_GOLDENS=1 rewrites {}",
        golden_path.display()
    );
    assert!(stderr(&o).contains("cron_restart"), "{}", stderr(&o));
    assert!(names(&d).is_empty());
    // `--env NAME` merges env_NAME.
    let o = ok(d.cli(&[
        "--json",
        "import",
        "--dry-run",
        "--env",
        "staging",
        file.to_str().unwrap(),
    ]));
    let answer: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        answer["services"][1]["env"]["QUEUE"], "jobs-staging",
        "{answer}"
    );
}

#[test]
fn without_node_a_config_js_is_a_clear_error() {
    let d = Daemon::start();
    let file = fixtures().join("ecosystem.config.js");
    let o = tend_cmd()
        .env("PATH", "/nonexistent")
        .args([
            "--url",
            d.url(),
            "--token",
            d.token(),
            "import",
            "--dry-run",
        ])
        .arg(&file)
        .output()
        .expect("run tend");
    let err = failed(&o);
    assert!(err.contains("node is not installed"), "{err}");
    assert_eq!(o.status.code(), Some(2), "{err}");
}
