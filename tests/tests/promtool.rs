//! `GET /metrics` as Prometheus' own linter reads it: `promtool check metrics` (Debian `prometheus`)
//! over a scrape with labelled series of running services, a health-checked one and a cron job, finds
//! nothing to complain about.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use tend_tests::tools::promtool;
use tend_tests::{Daemon, free_port, json, secs, wait_for};

fn scrape(d: &Daemon) -> String {
    let resp = d
        .request(Method::GET, "/metrics")
        .send()
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    resp.text().unwrap()
}

/// `promtool check metrics` over `text` (on stdin): its exit status and what it printed.
fn check(text: &str) -> (bool, String) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

#[test]
fn metrics_pass_promtool_check() {
    let d = Daemon::builder().arg("--monitor-interval").arg("1").start();
    let port = free_port();
    d.create(&d.service_with(
        "web",
        json!(["sleep", "3600"]),
        json!({"port": port, "health": {"probe": "tcp", "interval_s": 1, "timeout_s": 1, "retries": 1000}}),
    ));
    d.create(&d.service("worker", json!(["sleep", "3600"])));
    let (code, body) = d.post(
        "/api/cron",
        &json!({"name": "nightly", "command": ["true"], "schedule": "0 3 * * *"}),
    );
    assert_eq!(code, 201, "{body}");
    let text = wait_for(secs(30), || {
        let text = scrape(&d);
        let labelled = ["service=\"web\"", "service=\"worker\"", "plugin=\"tcp\""]
            .iter()
            .all(|l| text.contains(l));
        if labelled { Ok(text) } else { Err(text) }
    })
    .unwrap_or_else(|t| panic!("the labelled series never appeared:\n{t}"));
    let (ok, said) = check(&text);
    assert!(
        ok,
        "promtool check metrics complained:\n{said}\n--- scrape ---\n{text}"
    );

    // The check can fail: a counter without the `_total` suffix is one thing promtool reports.
    let (ok, said) = check(
        "# HELP bad_counter A counter misnamed.\n# TYPE bad_counter counter\nbad_counter 1\n",
    );
    assert!(!ok, "promtool accepted a misnamed counter: {said}");
}
