//! Schemathesis (PyPI) against a live daemon, with the token, over every documented operation: no 5xx,
//! every answer's status code, content type, body and headers as `GET /api/openapi.json` documents
//! them, and credentials enforced where documented;
//! the daemon still answers `/healthz` afterwards. A quick profile here (`TEND_FUZZ_EXAMPLES`, default
//! 3 examples per operation, fixed seed); `cargo xtask schemathesis [--examples N]` runs the same test
//! with more.
//!
//! Safety: the daemon runs the commands it is given, as root on the test machines. tests/tools/hooks.py
//! rewrites every generated request before it is sent: commands become `true` / `sleep 60`, paths point
//! into this test's scratch dir, environments are emptied, onboarding setup steps dropped. Left out of
//! the run: `POST /api/supervisor/shutdown` (it would end the run; it is called once, last, below) and
//! the two endless streams `GET /api/events` and `GET /api/services/{name}/logs/follow` (schemathesis
//! reads a whole body; their answers are covered by the SSE tests). The daemon has Caddy disabled: a
//! generated `POST /api/caddy/reload` must not reach a Caddy another test runs on this machine.

use std::process::Command;

use tend_tests::tools::{file, tool};
use tend_tests::{Daemon, json};

/// No 5xx; status code, content type, body and headers as documented; and an operation documented as
/// needing credentials refuses a request without them (`ignored_auth`).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance,ignored_auth";

/// Operations left out of the run, by operation id (see the module doc).
const EXCLUDED: [&str; 3] = [
    "post_supervisor_shutdown",
    "get_events",
    "get_services_name_logs_follow",
];

/// The number after `label` on the first line of `text` starting (after spaces) with it, e.g.
/// "Tested: 64".
fn figure(text: &str, label: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix(label))
        .find(|rest| rest.trim().starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|rest| {
            rest.trim()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok())
        })
}

#[test]
fn schemathesis_finds_no_server_error_and_no_mismatch() {
    let d = Daemon::builder()
        .config_toml("[caddy]\nenabled = false\n")
        .start();
    // Existing objects, so that path parameters hit something besides 404s (hooks.py picks these).
    for name in ["web", "db"] {
        d.create(&d.service(name, json!(["sleep", "60"])));
    }
    let (code, body) = d.post(
        "/api/cron",
        &json!({"name": "nightly", "command": ["true"], "schedule": "0 3 * * *"}),
    );
    assert_eq!(code, 201, "{body}");

    let examples = std::env::var("TEND_FUZZ_EXAMPLES").unwrap_or_else(|_| "3".into());
    let seed = std::env::var("TEND_FUZZ_SEED").unwrap_or_else(|_| "1".into());
    let scratch = d.scratch();
    let mut cmd = Command::new(tool("schemathesis"));
    cmd.current_dir(&scratch)
        .args(["run", &format!("{}/api/openapi.json", d.url())])
        .args(["--header", &format!("Authorization: Bearer {}", d.token())])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &examples])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--seed", &seed])
        .args(["--request-timeout", "30"])
        .args(["--workers", "1"]);
    for id in EXCLUDED {
        cmd.args(["--exclude-operation-id", id]);
    }
    let out = cmd
        .env("SCHEMATHESIS_HOOKS", file("hooks.py"))
        .env("TEND_FUZZ_SCRATCH", &scratch)
        .env("TEND_FUZZ_NAMES", "web,db,nightly")
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let operations = figure(&text, "Tested:");
    // "Test cases:" then "  2678 generated, 2678 passed" (or "..., 4 found 4 unique failures").
    let requests = text
        .lines()
        .skip_while(|l| l.trim() != "Test cases:")
        .nth(1)
        .and_then(|l| figure(l, ""));
    let verdict = text
        .lines()
        .rev()
        .find(|l| l.starts_with("=="))
        .unwrap_or("");
    println!(
        "schemathesis: {examples} examples per operation, seed {seed}: operations {}, requests {}: {}",
        operations.map_or("?".into(), |n| n.to_string()),
        requests.map_or("?".into(), |n| n.to_string()),
        verdict.trim_matches(|c| c == '=' || c == ' ')
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(
        operations.is_some_and(|n| n >= 60),
        "fewer operations than the API has were tested:\n{text}"
    );

    // The daemon survived it.
    let (code, body) = d.get("/healthz");
    assert_eq!((code, body), (200, json!({"status": "ok"})));
    // Last, the operation left out: the shutdown answers as documented.
    let (code, body) = d.post_empty("/api/supervisor/shutdown");
    assert_eq!((code, body), (202, json!({"status": "shutting_down"})));
}
