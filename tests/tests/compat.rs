//! Stored data of an older release: a daemon opens the `tend.db` that release 0.1 wrote
//! (`tests/fixtures/compat-0.1/`, made by its `generate.sh`: services with most spec fields, events, logs,
//! health checks, cron jobs with executions, custom-restart jobs, audit entries, metric samples) and must
//! answer every read of it as release 0.1 itself did. `api.json` there holds release 0.1's answers; each
//! value in it must still be in today's answer (fields may be added, none renamed, removed or changed).
//! Opening the old database must start and stop nothing: everything in it is stopped and disabled.
//!
//! `api.json` is recorded by running this test against release 0.1 itself (see the fixture's README):
//! `TEND_BIN=<tend 0.1> TEND_RECORD_COMPAT=1 cargo test -p tend-tests -- compat::`. It has its own
//! variable, not `TEND_UPDATE_SNAPSHOTS`, so that refreshing today's snapshots never rewrites 0.1's answers.

use std::path::{Path, PathBuf};

use tend_tests::{DAEMON_MARKER_VAR, Daemon, Value, json, processes_with_env};

const SERVICES: &[&str] = &[
    "compat-api",
    "compat-crashy",
    "compat-once",
    "compat-web",
    "compat-worker",
];
const CRON_JOBS: &[&str] = &["compat-failing", "compat-report", "compat-tick"];

/// Fields whose values the answering daemon computes from its clock or its run, not from the store
/// (none of them has a value in the fixture, where nothing runs; masked should one ever appear).
const VOLATILE: &[&str] = &[
    "uptime_s",
    "next_start_at",
    "next_run_at",
    "next_fire_at",
    "next_retry_at",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compat-0.1")
}

/// A daemon on a copy of the fixture database in `data`, with every retention off (the data is older
/// than any retention window would keep) and Caddy off (the fixture exposes services, and a test must
/// not write to a Caddy it did not start).
fn open_fixture(data: &Path) -> Daemon {
    std::fs::copy(fixture_dir().join("tend.db"), data.join("tend.db")).expect("copy tend.db");
    Daemon::builder()
        .data_dir(data)
        .env("CADDY_ENABLED", "false")
        .arg("--log-retention-days")
        .arg("0")
        .config_toml(
            "[metrics]\nraw_retention_hours = 1000000\nminute_retention_days = 100000\n\
             retention_days = 100000\n",
        )
        .start()
}

/// Every read whose answer comes from the stored rows, by path.
fn reads(d: &Daemon) -> Value {
    let mut paths: Vec<String> = vec!["/api/services".into()];
    for s in SERVICES {
        paths.push(format!("/api/services/{s}"));
        paths.push(format!("/api/services/{s}/events?limit=1000"));
        paths.push(format!("/api/services/{s}/logs?tail=10000"));
        paths.push(format!("/api/services/{s}/health?limit=1000"));
    }
    paths.push("/api/cron".into());
    for c in CRON_JOBS {
        paths.push(format!("/api/cron/{c}"));
        paths.push(format!("/api/cron/{c}/executions?limit=500"));
    }
    paths.push("/api/jobs?limit=1000".into());
    let (status, jobs) = d.get("/api/jobs?limit=1000");
    assert_eq!(status, 200, "{jobs}");
    for job in jobs["jobs"].as_array().into_iter().flatten() {
        paths.push(format!("/api/jobs/{}", job["id"].as_str().unwrap_or("?")));
    }
    paths.push("/api/audit?limit=1000".into());
    let mut answers = serde_json::Map::new();
    for path in paths {
        let (status, mut body) = d.get(&path);
        assert_eq!(status, 200, "GET {path} answered {body}");
        mask(&mut body);
        answers.insert(path, body);
    }
    Value::Object(answers)
}

fn mask(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if VOLATILE.contains(&k.as_str()) {
                    *child = json!("<volatile>");
                } else {
                    mask(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// Where `actual` lacks or changes something of `expected` (object keys may be added; `null` and a
/// missing key are the same).
/// Deliberate changes of an answer's shape since 0.1: the recorded value is compared as what it means
/// today. `depends_on` was a list of names (stored, without effect); it is answered as compose's long
/// form, name -> {condition, restart}, and a bare name means `started` without restart.
fn as_today(field: &str, recorded: &Value) -> Value {
    match (field, recorded) {
        ("depends_on", Value::Array(names)) => Value::Object(
            names
                .iter()
                .filter_map(Value::as_str)
                .map(|n| {
                    (
                        n.to_string(),
                        json!({"condition": "started", "restart": false}),
                    )
                })
                .collect(),
        ),
        _ => recorded.clone(),
    }
}

fn differences(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let here = format!("{at}.{k}");
                match a.get(k) {
                    Some(av) => differences(&as_today(k, ev), av, &here, out),
                    None if ev.is_null() => {}
                    None => out.push(format!("{here}: missing (was {ev})")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                differences(ev, av, &format!("{at}[{i}]"), out);
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            out.push(format!("{at}: {} items, was {}", a.len(), e.len()));
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{at}: {a}, was {e}")),
    }
}

#[test]
fn a_database_of_release_0_1_reads_back_unchanged_and_starts_nothing() {
    let data = tempfile::tempdir().expect("temp dir");
    let d = open_fixture(data.path());
    let answers = reads(&d);
    let recorded = fixture_dir().join("api.json");
    if std::env::var_os("TEND_RECORD_COMPAT").is_some_and(|v| v == "1") {
        assert!(
            std::env::var_os("TEND_BIN").is_some(),
            "api.json holds release 0.1's answers: record it with TEND_BIN=<tend 0.1>"
        );
        let text = serde_json::to_string_pretty(&answers).expect("json") + "\n";
        std::fs::write(&recorded, text).expect("write api.json");
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&recorded).expect("tests/fixtures/compat-0.1/api.json"),
    )
    .expect("api.json is JSON");
    let mut diffs = Vec::new();
    for (path, recorded) in expected
        .as_object()
        .expect("api.json maps paths to answers")
    {
        let mut here = Vec::new();
        differences(recorded, &answers[path.as_str()], "", &mut here);
        diffs.extend(here.into_iter().map(|d| format!("GET {path}: {d}")));
    }
    assert!(
        diffs.is_empty(),
        "release 0.1's stored data no longer reads back as it did ({} differences). A change to a \
         stored shape needs a migration in host/migrations that rewrites the old rows:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    for s in SERVICES {
        assert_eq!(
            d.view(s)["status"],
            "stopped",
            "{s} after opening the fixture"
        );
    }
    let daemon_marker = format!("{DAEMON_MARKER_VAR}={}", d.marker());
    let started = processes_with_env(|env| {
        env.contains(&daemon_marker) && env.iter().any(|kv| kv.starts_with("TEND_INSTANCE="))
    });
    assert!(
        started.is_empty(),
        "opening the fixture started processes: {started:?}"
    );

    // Metric samples are kept in tiers whose reads depend on their age, so only their presence is
    // compared: every running service of the fixture was sampled.
    for s in ["compat-web", "compat-worker"] {
        let (status, m) = d.get(&format!(
            "/api/services/{s}/metrics?since=2020-01-01T00:00:00Z&step=86400"
        ));
        assert_eq!(status, 200, "{m}");
        let samples: u64 = m["points"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["samples"].as_u64())
            .sum();
        assert!(samples > 0, "no metric samples of {s}: {m}");
    }
}
