//! The TCP control port, over raw bytes: every verb against real services, the `ok` envelope and error
//! codes, pipelining, over-long lines, invalid UTF-8, many connections, the connection limit, the idle
//! timeout, authentication, `allowed_commands`, and how the port is configured (flag, env, file, 0).

use std::net::TcpStream;
use std::time::Duration;

use tend_tests::{
    Control, Daemon, Value, assert_error, json, pid_alive, processes_with_marker, secs, wait_for,
};

/// A service that prints a numbered line every 50 ms.
const TICKER: &str = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done";

fn daemon_with_ticker() -> Daemon {
    let d = Daemon::builder().control().start();
    d.create(&d.service("web", TICKER));
    d.wait_status("web", "running", secs(10));
    d
}

fn pid_of(v: &Value) -> u64 {
    v["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {v}"))
}

#[test]
fn each_verb_acts_on_real_services() {
    let d = daemon_with_ticker();
    let mut c = d.control_authed();

    let all = c.ok("status");
    assert_eq!(all["status"]["supervisor"]["status"], "running", "{all}");
    assert_eq!(
        all["status"]["supervisor"]["caddy"],
        d.get("/api/status").1["supervisor"]["caddy"],
        "the control port's status has REST's `caddy`: {all}"
    );
    assert_eq!(
        all["status"]["services"]["web"]["status"], "running",
        "{all}"
    );
    let first = pid_of(&all["status"]["services"]["web"]);

    let one = c.ok("status web");
    assert_eq!(one["service"]["name"], "web", "{one}");
    assert_eq!(one["service"]["status"], "running", "{one}");
    assert_eq!(one["service"]["source"], "api", "{one}");
    assert_eq!(pid_of(&one["service"]), first);

    let restarted = c.ok("restart web");
    assert_eq!(restarted["result"]["name"], "web", "{restarted}");
    assert_eq!(restarted["result"]["action"], "restart", "{restarted}");
    assert_eq!(restarted["result"]["status"], "running", "{restarted}");
    let second = pid_of(&restarted["result"]);
    assert_ne!(first, second, "restart must start a new process");
    assert!(
        !pid_alive(first as u32),
        "the old process survived a restart"
    );
    assert_eq!(pid_of(&d.view("web")), second, "REST sees the same run");

    let stopped = c.ok("stop web");
    assert_eq!(stopped["result"]["action"], "stop", "{stopped}");
    assert_eq!(stopped["result"]["status"], "stopped", "{stopped}");
    assert!(
        !pid_alive(second as u32),
        "stop answers once the tree is gone"
    );
    assert!(processes_with_marker(d.marker()).is_empty());
    assert_eq!(d.view("web")["status"], "stopped");

    let started = c.ok("start web");
    assert_eq!(started["result"]["action"], "start", "{started}");
    let third = pid_of(&started["result"]);
    assert!(pid_alive(third as u32));
    d.wait_status("web", "running", secs(10));

    // logs: the last n lines, oldest first, as REST's log lines. The third run prints `tick 1`,
    // `tick 2`, ...: wait until its third line is stored.
    let lines = wait_for(secs(10), || {
        let r = c.ok("logs web 3");
        let lines = r["lines"].as_array().cloned().unwrap_or_default();
        let texts: Vec<&str> = lines.iter().filter_map(|l| l["line"].as_str()).collect();
        if texts.len() == 3
            && texts.iter().all(|t| t.starts_with("tick "))
            && texts[2] != "tick 1"
            && texts[2] != "tick 2"
        {
            Ok(lines)
        } else {
            Err(r.to_string())
        }
    })
    .unwrap();
    for l in &lines {
        assert_eq!(l["service"], "web", "{l}");
        assert_eq!(l["stream"], "stdout", "{l}");
    }
    let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    let r = c.ok("logs web 0");
    assert_eq!(r["lines"], json!([]), "{r}");
    // Without n: up to 100 lines, so more than 3 once the ticker has gone on.
    wait_for(secs(10), || {
        let r = c.ok("logs web");
        match r["lines"].as_array().map(Vec::len) {
            Some(n) if n > 3 && n <= 100 => Ok(()),
            _ => Err(r.to_string()),
        }
    })
    .unwrap();

    let help = c.ok("help");
    let verbs: Vec<&str> = help["verbs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verb"].as_str().unwrap())
        .collect();
    assert_eq!(
        verbs,
        [
            "auth",
            "status",
            "start",
            "stop",
            "restart",
            "custom-restart",
            "job",
            "cancel",
            "logs",
            "shutdown",
            "help",
            "quit"
        ]
    );
    assert!(
        help["verbs"][5]["usage"]
            .as_str()
            .unwrap()
            .contains("<json>"),
        "{help}"
    );

    let bye = c.ok("quit");
    assert_eq!(bye["message"], "bye", "{bye}");
    c.assert_closed(secs(5));
}

#[test]
fn custom_restart_runs_a_job_that_job_and_cancel_follow() {
    let d = daemon_with_ticker();
    let mut c = d.control_authed();
    let before = d.view("web")["pid"].as_u64().unwrap();
    let r = c.ok(r#"custom-restart web {"args": []}"#);
    let id = r["job"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    assert_eq!(r["job"]["service"], "web", "{r}");
    assert_eq!(r["job"]["origin"], "tcp", "{r}");
    // `job <id>` follows it on the same connection, as GET /api/jobs/{id} would.
    let done = wait_for(secs(20), || {
        let j = c.ok(&format!("job {id}"));
        match j["job"]["status"].as_str() {
            Some("succeeded") => Ok(j),
            _ => Err(j.to_string()),
        }
    })
    .unwrap();
    let steps = done["job"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{done}");
    assert_eq!(steps[0]["phase"], "restart", "{done}");
    let (code, rest) = d.get(&format!("/api/jobs/{id}"));
    assert_eq!(code, 200);
    assert_eq!(
        rest, done["job"],
        "the control port and REST show the same job"
    );
    let after = d.view("web");
    assert_ne!(after["pid"].as_u64().unwrap(), before, "{after}");

    let e = c.error(&format!("cancel {id}"), "conflict");
    assert!(e["message"].as_str().unwrap().contains("succeeded"), "{e}");
    c.error("job 999999", "not_found");
    c.error("cancel 999999", "not_found");
    c.error("job", "invalid");
    c.error("cancel 1 2", "invalid");

    c.error(r#"custom-restart nosuch {}"#, "not_found");
    let e = c.error("custom-restart web {not json", "invalid");
    assert!(
        e["message"].as_str().unwrap().contains("malformed JSON"),
        "{e}"
    );
    let e = c.error(r#"custom-restart web {"args": 5}"#, "invalid");
    assert_eq!(e["field"], "args", "{e}");
    c.error("custom-restart web", "invalid");
    c.ok("status web");
}

#[test]
fn shutdown_stops_every_service_and_the_daemon_exits_cleanly() {
    let mut d = Daemon::builder().control().start();
    d.create(&d.service("plain", json!(["sleep", "1000"])));
    d.create(&d.service("shelled", "sleep 1000 & sleep 1000 & wait"));
    d.wait_status("plain", "running", secs(10));
    d.wait_status("shelled", "running", secs(10));
    // `running` comes with the spawn, before the shell has forked its two sleeps.
    let procs = wait_for(secs(10), || {
        let procs = processes_with_marker(d.marker());
        if procs.len() >= 3 {
            Ok(procs)
        } else {
            Err(format!("{procs:?}"))
        }
    })
    .unwrap();

    let mut c = d.control_authed();
    let r = c.ok("shutdown");
    assert!(
        r["message"].as_str().unwrap().contains("shutting down"),
        "{r}"
    );
    // The connection stays open until every service is stopped, then says so and closes.
    let last = c.response();
    assert_error(&last, "shutting_down", "the final line");
    c.assert_closed(secs(20));

    let status = d.wait_exit(secs(20));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", d.stderr());
    for pid in &procs {
        assert!(
            !pid_alive(*pid),
            "service process {pid} outlived the daemon"
        );
    }
    assert!(processes_with_marker(d.marker()).is_empty());
    assert!(!d.data_dir().join("daemon.json").exists());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let d = daemon_with_ticker();
    let mut c = d.control_conn();
    let batch = format!(
        "auth {}\r\nstatus\n\n   \nstatus nosuch\nHELP\nbogus verb\r\nstatus web\nstop nosuch\nlogs web 1\n",
        d.token()
    );
    c.send(batch.as_bytes());
    assert_eq!(c.response()["message"], "authenticated");
    assert!(c.response()["status"]["services"]["web"].is_object());
    assert_error(&c.response(), "not_found", "status nosuch");
    assert!(c.response()["verbs"].is_array());
    assert_error(&c.response(), "invalid", "bogus verb");
    assert_eq!(c.response()["service"]["name"], "web");
    assert_error(&c.response(), "not_found", "stop nosuch");
    assert!(c.response()["lines"].is_array());
    // Blank lines got no answer: the next answer is to the next request.
    assert_eq!(c.ok("status web")["service"]["status"], "running");
}

#[test]
fn a_ten_megabyte_line_is_refused_and_the_connection_stays_usable() {
    let d = daemon_with_ticker();
    let mut c = d.control_authed();
    let mut big = vec![b'a'; 10 << 20];
    big.push(b'\n');
    c.send(&big);
    let e = c.response();
    assert_error(&e, "too_large", "10 MB line");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("65536"),
        "{e}"
    );
    assert_eq!(c.ok("status web")["service"]["status"], "running");
    // A line at the limit is still a request (here an unknown verb, answered as such).
    let mut at_limit = vec![b'x'; 65536];
    at_limit.push(b'\n');
    c.send(&at_limit);
    assert_error(&c.response(), "invalid", "64 KiB verb");
    c.ok("status");
}

#[test]
fn invalid_utf8_is_an_error_and_the_connection_survives() {
    let d = daemon_with_ticker();
    let mut c = d.control_authed();
    c.send(b"status w\xffeb\n");
    let e = c.response();
    assert_error(&e, "invalid", "invalid UTF-8");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{e}"
    );
    c.send(b"\xc3\x28\n");
    assert_error(&c.response(), "invalid", "invalid UTF-8");
    c.ok("status web");
    // Valid UTF-8 outside ASCII is just an unknown verb or a bad name.
    c.error("stätus", "invalid");
    c.error("status wéb", "invalid");
}

#[test]
fn five_hundred_concurrent_connections_all_get_answers() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nmax_connections = 600\n")
        .start();
    let request = format!("auth {}\nstatus\n", d.token());
    // All open at once, all requests sent before any answer is read.
    let mut conns: Vec<Control> = (0..500).map(|_| d.control_conn()).collect();
    for c in &mut conns {
        c.send(request.as_bytes());
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let auth = c.response();
        assert_eq!(auth["ok"], true, "connection {i}: {auth}");
        let status = c.response();
        assert_eq!(status["ok"], true, "connection {i}: {status}");
        assert_eq!(status["status"]["supervisor"]["status"], "running");
    }
}

#[test]
fn max_connections_is_enforced() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nmax_connections = 2\n")
        .start();
    let mut a = d.control_authed();
    let _b = d.control_authed();
    let mut over = d.control_conn();
    let r = over.response();
    assert_error(&r, "too_many_connections", "third connection");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many connections"),
        "{r}"
    );
    over.assert_closed(secs(5));
    a.ok("status");
    drop(a);
    // The slot frees once the server has seen the close.
    wait_for(secs(10), || {
        let mut c = d.control_conn();
        c.send(format!("auth {}\n", d.token()).as_bytes());
        let r = c.response();
        if r["ok"] == true {
            Ok(())
        } else {
            Err(r.to_string())
        }
    })
    .unwrap();
}

#[test]
fn an_idle_connection_gets_a_last_line_and_is_closed() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nidle_timeout_s = 1\n")
        .start();
    let mut c = d.control_authed();
    let r = c.response();
    assert_error(&r, "idle_timeout", "idle connection");
    c.assert_closed(secs(5));
    // Requests keep a connection alive: it is served for well past the timeout.
    let mut busy = d.control_authed();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        busy.ok("status");
    }
}

#[test]
fn authentication_is_required_and_wrong_tokens_are_counted() {
    let d = daemon_with_ticker();
    let mut c = d.control_conn();
    let e = c.error("status", "unauthorized");
    assert!(e["message"].as_str().unwrap().contains("auth"), "{e}");
    c.error("stop web", "unauthorized");
    c.error("shutdown", "unauthorized");
    // help and quit need no token.
    assert!(c.ok("help")["verbs"].is_array());
    let e = c.error("auth wrong-token", "unauthorized");
    assert!(e["message"].as_str().unwrap().contains("1 of 5"), "{e}");
    c.error("status", "unauthorized");
    c.ok(&format!("auth {}", d.token()));
    c.ok("status");
    assert_eq!(d.view("web")["status"], "running", "nothing was stopped");

    let mut c = d.control_conn();
    for i in 1..5 {
        let e = c.error(&format!("auth nope{i}"), "unauthorized");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{i} of 5")),
            "{e}"
        );
    }
    let e = c.error("auth nope5", "unauthorized");
    assert!(e["message"].as_str().unwrap().contains("closing"), "{e}");
    c.assert_closed(secs(5));
    // A token prefix is wrong too.
    let mut c = d.control_conn();
    c.error(&format!("auth {}", &d.token()[..10]), "unauthorized");
    c.ok("quit");
    c.assert_closed(secs(5));
}

#[test]
fn loopback_without_auth_lets_local_clients_in() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nloopback_without_auth = true\n")
        .start();
    let mut c = d.control_conn();
    let r = c.ok("status");
    assert_eq!(r["status"]["supervisor"]["status"], "running", "{r}");
    // A wrong token still counts as an error.
    c.error("auth wrong", "unauthorized");
}

#[test]
fn allowed_commands_restricts_the_verbs() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nallowed_commands = [\"STATUS\", \"logs\"]\n")
        .start();
    d.create(&d.service("web", TICKER));
    d.wait_status("web", "running", secs(10));
    let mut c = d.control_authed();
    c.ok("status web");
    c.ok("logs web 1");
    for line in [
        "stop web",
        "restart web",
        "start web",
        "custom-restart web {}",
        "shutdown",
    ] {
        let e = c.error(line, "forbidden");
        assert!(
            e["message"].as_str().unwrap().contains("allowed_commands"),
            "{line}: {e}"
        );
    }
    let help = c.ok("help");
    let verbs: Vec<&str> = help["verbs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["auth", "status", "logs", "help", "quit"]);
    assert_eq!(d.view("web")["status"], "running", "nothing was stopped");
    assert_eq!(d.get("/healthz").0, 200, "the daemon still runs");
}

#[test]
fn unknown_verbs_wrong_arity_and_bad_arguments_are_clear_errors() {
    let d = daemon_with_ticker();
    let mut c = d.control_authed();
    let e = c.error("REBOOT now", "invalid");
    assert_eq!(e["field"], "verb", "{e}");
    assert!(e["message"].as_str().unwrap().contains("REBOOT"), "{e}");
    for line in [
        "start",
        "stop a b",
        "status a b",
        "logs",
        "quit now",
        "auth",
    ] {
        let e = c.error(line, "invalid");
        assert_eq!(e["field"], "arguments", "{line}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains("usage:"),
            "{line}: {e}"
        );
    }
    let e = c.error("start Bad/Name", "invalid");
    assert_eq!(e["field"], "name", "{e}");
    let e = c.error("logs web lots", "invalid");
    assert_eq!(e["field"], "n", "{e}");
    c.error("logs web 10001", "invalid");
    let e = c.error("start nosuch", "not_found");
    assert!(e["message"].as_str().unwrap().contains("nosuch"), "{e}");
    c.error("logs nosuch 5", "not_found");
    // Verbs are case-insensitive; tabs separate words like spaces.
    assert_eq!(c.ok("sTaTuS\tweb")["service"]["name"], "web");
    assert_eq!(c.ok("Stop web")["result"]["status"], "stopped");
    assert_eq!(d.view("web")["status"], "stopped");
}

#[test]
fn port_from_env_and_file_and_zero_disables() {
    // TEND_CONTROL_PORT sets it (the fixture passes no flag here).
    let port = tend_tests::free_port();
    let d = Daemon::builder()
        .control_port_unset()
        .env("TEND_CONTROL_PORT", &port.to_string())
        .start();
    assert_eq!(d.control_addr().to_string(), format!("127.0.0.1:{port}"));
    d.control_authed().ok("status");
    drop(d);

    // [control] port in the file.
    let port = tend_tests::free_port();
    let d = Daemon::builder()
        .control_port_unset()
        .config_toml(&format!("[control]\nport = {port}\n"))
        .start();
    assert_eq!(d.control_addr().port(), port);
    d.control_authed().ok("status");
    drop(d);

    // The flag beats the env: 0 disables, nothing listens and daemon.json names no control port.
    let port = tend_tests::free_port();
    let d = Daemon::builder()
        .control_port_unset()
        .env("TEND_CONTROL_PORT", &port.to_string())
        .arg("--control-port")
        .arg("0")
        .start();
    assert_eq!(d.control_addr_opt(), None);
    let refused = TcpStream::connect(("127.0.0.1", port));
    assert!(refused.is_err(), "port {port} accepted a connection");
    assert_eq!(d.get("/healthz").0, 200);
}

#[test]
fn a_bad_control_table_stops_the_daemon_from_starting() {
    for (text, key) in [
        (
            "[control]\nallowed_commands = [\"reboot\"]\n",
            "allowed_commands",
        ),
        ("[control]\nmax_line_bytes = 1\n", "max_line_bytes"),
        ("[control]\nbogus = 1\n", "bogus"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tend.toml"), text).unwrap();
        let err = tend_tests::refused_start(dir.path());
        assert!(err.contains(key), "{text}: the error names {key}: {err}");
    }
}

#[test]
fn a_taken_control_port_stops_the_daemon_from_starting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tend_tests::tend_cmd();
    cmd.arg("daemon")
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--port")
        .arg("0")
        .arg("--control-port")
        .arg(port.to_string());
    let out = tend_tests::run_with_deadline(cmd, secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the daemon started: {err}");
    assert!(
        err.contains("control port") && err.contains(&port.to_string()),
        "the error names the control port: {err}"
    );
    assert!(!dir.path().join("daemon.json").exists(), "it never served");
}
