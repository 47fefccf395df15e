//! Nothing lost, bounded growth: log lines a SIGKILLed daemon had not stored yet are re-ingested from
//! the service log files at the next boot, so the API and the files agree.

use std::path::Path;

use tend_tests::{Daemon, Value, json, secs, wait_for};

/// The texts of every record in a service's log files (rotated ones first, oldest first).
fn file_lines(dir: &Path, service: &str) -> Vec<String> {
    let base = dir
        .join("logs")
        .join(service)
        .join(format!("{service}.log"));
    let mut files = vec![base.clone()];
    for n in 1.. {
        let rotated = base.with_extension(format!("log.{n}"));
        if !rotated.is_file() {
            break;
        }
        files.push(rotated);
    }
    files.reverse();
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for record in text.lines() {
            // `<time> <stream>[+] <text>`
            let mut parts = record.splitn(3, ' ');
            let (Some(_time), Some(_stream), Some(text)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            lines.push(text.to_string());
        }
    }
    lines
}

const BURST: u32 = 300_000;

#[test]
fn log_lines_a_sigkill_lost_are_reingested_from_the_files_at_boot() {
    let mut d = Daemon::start();
    let done = d.scratch().join("burst-done");
    // One burst of 300k lines (about 25 MB with the record prefixes, so the file rotates twice), once:
    // the restarted service prints nothing.
    let script = format!(
        "if [ ! -e {done} ]; then seq -f 'burst line %06g with some padding to make it longer' 1 {BURST}; touch {done}; fi; exec sleep 1000",
        done = done.display()
    );
    d.create(&d.service("burst", script.as_str()));
    let last = format!("burst line {BURST:06} with some padding to make it longer");
    let log = d.data_dir().join("logs/burst/burst.log");
    // The moment the file has the last line, the database writer is still far behind.
    wait_for(secs(60), || {
        let text = std::fs::read(&log).map_err(|e| e.to_string())?;
        let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(200)..]).into_owned();
        if tail.contains(&last) {
            Ok(())
        } else {
            Err(format!("file ends with {tail:?}"))
        }
    })
    .unwrap();
    d.kill9();
    let in_files = file_lines(d.data_dir(), "burst");
    assert_eq!(in_files.len(), BURST as usize, "the file keeps every line");

    d.restart();
    let api: Vec<String> = d
        .all_logs("burst")
        .iter()
        .map(|l| l["line"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        api.len(),
        in_files.len(),
        "lines in the API after the restart vs lines in the files"
    );
    assert!(api == in_files, "the API's lines differ from the files'");
    let reingested = std::fs::read_to_string(d.data_dir().join("tend.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("re-ingested"))
        .map(str::to_string)
        .collect::<Vec<_>>();
    eprintln!("figure: {reingested:?}");
}

fn audit_ids(d: &Daemon) -> Vec<i64> {
    let (status, body) = d.get("/api/audit?limit=1000");
    assert_eq!(status, 200, "{body}");
    body["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries: {body}"))
        .iter()
        .map(|e| e["id"].as_i64().unwrap_or_default())
        .collect()
}

fn job_ids(d: &Daemon) -> Vec<String> {
    let (status, body) = d.get("/api/jobs?limit=1000");
    assert_eq!(status, 200, "{body}");
    body["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("no jobs: {body}"))
        .iter()
        .map(|j| j["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn evaluate_echo(d: &Daemon, n: usize) -> Value {
    let body = json!({"command": {"command_type": "shell", "command": format!("echo {n}"), "is_safe": true}});
    let (status, answer) = d.post("/api/policy/evaluate", &body);
    assert_eq!(status, 200, "{answer}");
    answer
}

#[test]
fn audit_jobs_and_events_are_pruned_to_their_row_limits() {
    let d = Daemon::builder()
        .config_toml(
            "[retention]\ninterval_s = 1\naudit_max_rows = 3\njobs_max_rows = 2\nevents_max_rows = 4\n",
        )
        .start();
    d.create(&d.service("web", "exec sleep 1000"));
    d.wait_status("web", "running", secs(10));
    let mut last_audit = 0;
    for n in 0..8 {
        last_audit = evaluate_echo(&d, n)["audit_id"]
            .as_i64()
            .unwrap_or_default();
    }
    let mut last_job = String::new();
    for _ in 0..4 {
        let (status, job) = d.post("/api/services/web/custom-restart", &json!({}));
        assert_eq!(status, 202, "{job}");
        last_job = job["id"].as_str().unwrap_or_default().to_string();
        wait_for(secs(30), || {
            let (_, j) = d.get(&format!("/api/jobs/{last_job}"));
            match j["status"].as_str() {
                Some("queued" | "running") => Err(j.to_string()),
                _ => Ok(()),
            }
        })
        .unwrap();
    }
    // Each custom restart stopped and started `web`: far more than 4 events were stored.
    wait_for(secs(15), || {
        let (audit, jobs, events) = (audit_ids(&d), job_ids(&d), d.events("web"));
        if audit.len() <= 3 && jobs.len() <= 2 && events.len() <= 4 {
            Ok((audit, jobs))
        } else {
            Err(format!(
                "audit {audit:?}, jobs {jobs:?}, {} events",
                events.len()
            ))
        }
    })
    .map(|(audit, jobs)| {
        assert_eq!(
            audit.first(),
            Some(&last_audit),
            "the newest decision is kept"
        );
        assert_eq!(jobs.first(), Some(&last_job), "the newest job is kept");
    })
    .unwrap();
}

#[test]
fn a_bad_retention_setting_is_refused_at_start() {
    let d = Daemon::builder().start();
    d.write_config("[retention]\ninterval_s = 0\n");
    let out = tend_tests::tend_cmd()
        .args(["daemon", "--port", "0", "--control-port", "0", "--data-dir"])
        .arg(d.data_dir().join("other"))
        .arg("--config")
        .arg(d.data_dir().join("tend.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interval_s"), "{err}");
}

#[test]
fn stored_fields_are_bounded_on_every_route() {
    let d = Daemon::start();
    d.create(&d.service("web", "exec sleep 1000"));
    evaluate_echo(&d, 0);
    let before = audit_ids(&d);
    // A dry run's command is audited: it has a workflow step's 8 KiB limit.
    let long = format!("echo {}", "x".repeat(9 * 1024));
    let (status, body) = d.post(
        "/api/policy/evaluate",
        &json!({"command": {"command_type": "shell", "command": long, "is_safe": true}}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "command.command", "{body}");
    let (status, body) = d.post(
        "/api/policy/evaluate",
        &json!({"command": {"command_type": "shell", "command": "echo", "is_safe": true},
                "cwd": format!("/{}", "d/".repeat(3000))}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "cwd", "{body}");
    assert_eq!(audit_ids(&d), before, "a rejected dry run is not audited");

    // Any string of any stored body is bounded (64 KiB), named by its path.
    let big = "v".repeat(65 * 1024);
    let mut spec = d.service("big", "exec sleep 1000");
    spec["env"]["BIG"] = big.clone().into();
    let (status, body) = d.post("/api/services", &spec);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "env.BIG", "{body}");
    assert_eq!(d.get("/api/services/big").0, 404, "nothing was stored");
    let (status, body) = d.post(
        "/api/cron",
        &json!({"name": "c", "schedule": "@daily", "command": big}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "command", "{body}");
    let (status, body) = d.post(
        "/api/services/web/custom-restart",
        &json!({"pre_commands": [{"command_type": "shell", "command": big, "is_safe": true}]}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("pre_commands[0].")),
        "{body}"
    );
    // Over the whole-body limit: 413.
    let huge = json!({"name": "huge", "command": "true", "env": (0..20).map(|i| (format!("K{i}"), Value::from("v".repeat(60 * 1024)))).collect::<serde_json::Map<String, Value>>()});
    let (status, body) = d.post("/api/services", &huge);
    assert_eq!(status, 413, "{body}");
    assert_eq!(d.get("/api/services/huge").0, 404);
}

#[test]
fn a_damaged_database_is_refused_at_start_with_the_integrity_check() {
    let mut d = Daemon::start();
    // Enough log lines that most pages of the file are the logs table's, which nothing reads at boot.
    d.create(&d.service("filler", "seq -f 'filler line %g' 1 20000; exec sleep 1000"));
    wait_for(secs(30), || {
        let tail = d.tail_text("filler", 1);
        if tail == ["filler line 20000"] {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();
    assert!(d.stop().success());
    let db = d.data_dir().join("tend.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 20, "{pages} pages");
    // Scribble over the b-tree header of a page in the middle of the file.
    let at = (pages / 2) * 4096;
    bytes[at..at + 64].fill(0xA5);
    std::fs::write(&db, &bytes).unwrap();
    let mut cmd = tend_tests::tend_cmd();
    cmd.args(["daemon", "--port", "0", "--control-port", "0", "--data-dir"])
        .arg(d.data_dir());
    let out = tend_tests::run_with_deadline(cmd, secs(30));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a damaged database was opened:\n{err}"
    );
    assert!(err.contains("quick_check"), "{err}");
}
