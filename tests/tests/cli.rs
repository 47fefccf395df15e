//! The `tend` CLI against a live daemon: every subcommand's effect seen through the API, its output,
//! and its exit codes.

use std::process::Output;

use tend_tests::output::{ok, stderr, stdout};
use tend_tests::{Daemon, Value, json, secs, tend_cmd, wait_for};

/// Asserts the exit code and that stderr is one line starting with `error:`.
#[track_caller]
fn fails(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got:\n{err}");
    assert!(
        lines[0].starts_with("error:"),
        "error line does not start with `error:`: {err}"
    );
}

fn marker_env(d: &Daemon) -> String {
    format!("{}={}", tend_tests::MARKER_VAR, d.marker())
}

fn pid_of(d: &Daemon, name: &str) -> u64 {
    d.view(name)["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} has no pid"))
}

#[test]
fn add_ls_status_stop_start_restart_rm() {
    let d = Daemon::start();
    ok(d.cli(&["add", "web", "--env", &marker_env(&d), "--", "sleep", "100"]));
    let view = d.wait_status("web", "running", secs(10));
    assert_eq!(
        view["command"],
        json!(["sleep", "100"]),
        "argv form: {view}"
    );
    assert_eq!(view["source"], "api");

    let ls = ok(d.cli(&["ls"]));
    assert!(stdout(&ls).contains("web"), "ls:\n{}", stdout(&ls));
    assert!(
        stdout(&ls).contains("running"),
        "ls shows the status:\n{}",
        stdout(&ls)
    );

    let status = ok(d.cli(&["status", "--json"]));
    let parsed: Value = serde_json::from_slice(&status.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&status)));
    assert_eq!(parsed["services"]["web"]["status"], "running", "{parsed}");
    assert_eq!(parsed["supervisor"]["pid"], d.pid(), "{parsed}");

    ok(d.cli(&["stop", "web"]));
    assert_eq!(
        d.view("web")["status"],
        "stopped",
        "stop returns once stopped"
    );
    ok(d.cli(&["start", "web"]));
    assert_eq!(
        d.view("web")["status"],
        "running",
        "start returns once spawned"
    );
    let first = pid_of(&d, "web");
    ok(d.cli(&["restart", "web"]));
    assert_ne!(pid_of(&d, "web"), first, "restart spawns a new process");

    let one = ok(d.cli(&["status", "web"]));
    assert!(
        stdout(&one).contains("running"),
        "status NAME:\n{}",
        stdout(&one)
    );

    ok(d.cli(&["rm", "web"]));
    assert_eq!(d.get("/api/services/web").0, 404);
    assert!(
        tend_tests::processes_with_marker(d.marker()).is_empty(),
        "rm stops the service"
    );
}

#[test]
fn add_shell_form_and_from_a_file() {
    let d = Daemon::start();
    ok(d.cli(&[
        "add",
        "piped",
        "--env",
        &marker_env(&d),
        "--restart",
        "never",
        "--shell",
        "echo a | tr a b",
    ]));
    let view = d.wait_status("piped", "exited", secs(10));
    assert_eq!(
        view["command"], "echo a | tr a b",
        "shell form is a string: {view}"
    );
    assert_eq!(view["restart"], "never");
    wait_for(secs(10), || {
        let tail = d.tail_text("piped", 5);
        if tail == ["b"] {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();

    let file = d.scratch().join("spec.json");
    let spec = d.service_with(
        "filed",
        json!(["sleep", "100"]),
        json!({"enabled": false, "port": 9123}),
    );
    std::fs::write(&file, spec.to_string()).unwrap();
    ok(d.cli(&["add", "--file", file.to_str().unwrap()]));
    let view = d.view("filed");
    assert_eq!(view["port"], 9123, "{view}");
    assert_eq!(view["status"], "stopped", "disabled in the file: {view}");
}

#[test]
fn logs_prints_the_last_lines() {
    let d = Daemon::start();
    let script = "for i in 1 2 3 4 5 6 7 8; do echo line-$i; done; exec sleep 100";
    d.create(&d.service("chatty", script));
    wait_for(secs(10), || {
        let tail = d.tail_text("chatty", 1);
        if tail == ["line-8"] {
            Ok(())
        } else {
            Err(format!("{tail:?}"))
        }
    })
    .unwrap();
    let out = ok(d.cli(&["logs", "chatty", "-n", "5"]));
    let text = stdout(&out);
    let shown: Vec<&str> = text.lines().collect();
    assert_eq!(shown.len(), 5, "logs -n 5:\n{text}");
    for (line, i) in shown.iter().zip(4..=8) {
        assert!(
            line.ends_with(&format!("line-{i}")),
            "expected line-{i} in order:\n{text}"
        );
    }
}

#[test]
fn edit_sets_fields_including_dotted_paths() {
    let d = Daemon::start();
    d.create(&d.service_with("web", json!(["sleep", "100"]), json!({"enabled": false})));
    ok(d.cli(&[
        "edit",
        "web",
        "--set",
        "port=8081",
        "--set",
        "backoff.initial_delay_ms=500",
        "--set",
        "stop_signal=SIGINT",
    ]));
    let view = d.view("web");
    assert_eq!(view["port"], 8081, "{view}");
    assert_eq!(view["backoff"]["initial_delay_ms"], 500, "{view}");
    assert_eq!(
        view["backoff"]["max_delay_ms"], 60000,
        "other backoff fields are kept: {view}"
    );
    assert_eq!(view["stop_signal"], "SIGINT", "{view}");
    assert_eq!(view["command"], json!(["sleep", "100"]), "{view}");

    let before = d.view("web");
    let bad = d.cli(&["edit", "web", "--set", "port=0"]);
    fails(&bad, 1);
    assert_eq!(d.view("web"), before, "a rejected edit changes nothing");
}

#[test]
fn exit_code_3_for_an_unknown_service() {
    let d = Daemon::start();
    for args in [
        &["stop", "nope"][..],
        &["start", "nope"],
        &["rm", "nope"],
        &["status", "nope"],
        &["logs", "nope"],
    ] {
        fails(&d.cli(args), 3);
    }
}

#[test]
fn exit_code_5_for_a_wrong_token() {
    let d = Daemon::start();
    let mut cmd = tend_cmd();
    cmd.args(["--url", d.url(), "--token", "wrong", "ls"]);
    fails(&tend_tests::run_with_deadline(cmd, secs(30)), 5);
}

#[test]
fn exit_code_4_when_the_daemon_is_unreachable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = tend_cmd();
    cmd.env("TEND_DATA_DIR", empty.path()).args([
        "--url",
        &format!("http://127.0.0.1:{port}"),
        "--token",
        "t",
        "ls",
    ]);
    fails(&tend_tests::run_with_deadline(cmd, secs(30)), 4);
}

#[test]
fn exit_code_2_for_bad_usage() {
    let d = Daemon::start();
    for args in [
        &["frobnicate"][..],
        &["add"],
        &["logs", "x", "-n", "many"],
        &["add", "x", "--restart", "sometimes", "--", "true"],
    ] {
        let out = d.cli(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}\nstderr:\n{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("error"), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(d.list(), json!([]), "bad usage reaches nothing");
}

#[test]
fn finds_the_daemon_through_the_data_dir() {
    let d = Daemon::start();
    d.create(&d.service_with("found", json!(["sleep", "100"]), json!({"enabled": false})));
    let out = ok(d.cli_data_dir(&["--json", "ls"]));
    let parsed: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(parsed, d.list(), "--json prints the API's JSON as is");
}

#[test]
fn status_watch_prints_one_services_events_as_they_happen() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;

    let d = Daemon::start();
    for name in ["watched", "other"] {
        d.create(&d.service(name, json!(["sleep", "1000"])));
        d.wait_status(name, "running", secs(10));
    }
    let mut child = tend_cmd()
        .args(["--url", d.url(), "--token", d.token()])
        .args(["status", "watched", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The watch subscribes some time after it starts: act until its first line shows up.
    let mut lines = Vec::new();
    let restart = |name: &str| {
        let (code, body) = d.post_empty(&format!("/api/services/{name}/restart"));
        assert_eq!(code, 200, "{body}");
    };
    let seen = wait_for(secs(20), || {
        restart("other");
        restart("watched");
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(300)) {
            lines.push(line);
        }
        if lines
            .iter()
            .any(|l| l.contains(" watched starting -> running"))
        {
            Ok(())
        } else {
            Err(format!("{lines:?}"))
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    seen.unwrap();
    assert!(
        lines.iter().all(|l| l.contains(" watched ")),
        "only the watched service's events: {lines:?}"
    );
}
