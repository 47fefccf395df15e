//! The environment variables of the systems tend replaces (the MagicTunnel supervisor, the Python
//! supervisor; README "Coming from ..."), read after the flags and the `TEND_*` names and before
//! `tend.toml`: `SUPERVISOR_HOST`/`PORT`/`LOG_LEVEL`/`TOKEN` configure the daemon,
//! `MAX_RESTART_ATTEMPTS` and `RESTART_DELAY` are the defaults of the specs that leave the fields out
//! (resolved when a spec is registered), `MONITOR_INTERVAL`, `LOG_*`, `CADDY_*`, `AUTOFIX_*` are read
//! under their own names, and any of them with a value that cannot be used stops the daemon with an
//! error naming it.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use tend_tests::{
    Daemon, Value, free_port, json, rfc3339_ms, run_with_deadline, secs, send, tend_cmd, wait_until,
};

/// The daemon's `tend.log` after it stopped (everything written by then); none when nothing was.
fn daemon_log(d: &Daemon) -> String {
    match std::fs::read_to_string(d.data_dir().join("tend.log")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        r => r.expect("tend.log"),
    }
}

#[test]
fn supervisor_port_and_host_are_where_the_api_listens_and_tend_names_beat_them() {
    let port = free_port();
    let d = Daemon::builder()
        .port_unset()
        .env("SUPERVISOR_PORT", &port.to_string())
        .env("SUPERVISOR_HOST", "127.0.0.2")
        .start();
    assert_eq!(d.url(), format!("http://127.0.0.2:{port}"));
    assert_eq!(d.get("/api/services").0, 200);

    let (tend_port, legacy_port) = (free_port(), free_port());
    let d = Daemon::builder()
        .port_unset()
        .env("TEND_PORT", &tend_port.to_string())
        .env("TEND_HOST", "127.0.0.1")
        .env("SUPERVISOR_PORT", &legacy_port.to_string())
        .env("SUPERVISOR_HOST", "127.0.0.2")
        .start();
    assert_eq!(d.url(), format!("http://127.0.0.1:{tend_port}"));

    // The file comes after the variable.
    let port = free_port();
    let d = Daemon::builder()
        .port_unset()
        .config_toml("[daemon]\nport = 1\n")
        .env("SUPERVISOR_PORT", &port.to_string())
        .start();
    assert_eq!(d.url(), format!("http://127.0.0.1:{port}"));
}

#[test]
fn a_legacy_host_off_loopback_is_under_the_non_loopback_rules() {
    let dir = tempfile::tempdir().unwrap();
    let out = refused(
        dir.path(),
        &[
            ("SUPERVISOR_HOST", "0.0.0.0"),
            ("SUPERVISOR_TOKEN", "short"),
        ],
    );
    assert!(
        out.contains("non-loopback") && out.contains("16 characters"),
        "{out}"
    );
}

#[test]
fn supervisor_log_level_sets_the_daemon_log_and_tend_log_beats_it() {
    let mut quiet = Daemon::builder()
        .env("SUPERVISOR_LOG_LEVEL", "WARNING")
        .start();
    assert!(quiet.stop().success());
    let log = daemon_log(&quiet);
    assert!(
        !log.contains("\"INFO\""),
        "no INFO record at WARNING:\n{log}"
    );

    let mut loud = Daemon::builder()
        .env("SUPERVISOR_LOG_LEVEL", "WARNING")
        .env("TEND_LOG", "info")
        .start();
    assert!(loud.stop().success());
    assert!(daemon_log(&loud).contains("tend is ready"));
}

/// A data dir (mode 0700) whose token file holds `token`.
fn data_dir_with_token(root: &Path, token: &str) -> std::path::PathBuf {
    let dir = root.join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(dir.join("token"))
        .unwrap();
    std::io::Write::write_all(&mut f, token.as_bytes()).unwrap();
    dir
}

fn status_with(d: &Daemon, token: &str) -> u16 {
    send(
        d.request_anonymous(Method::GET, "/api/services")
            .bearer_auth(token),
    )
    .0
}

#[test]
fn supervisor_token_is_the_api_token_and_tend_token_beats_it() {
    let root = tempfile::tempdir().unwrap();
    let file_token = "file-token-0123456789abcdef";
    let legacy = "legacy-token-0123456789abcdef";
    let d = Daemon::builder()
        .data_dir(&data_dir_with_token(root.path(), file_token))
        .env("SUPERVISOR_TOKEN", legacy)
        .start();
    assert_eq!(status_with(&d, legacy), 200);
    assert_eq!(status_with(&d, file_token), 401);
    drop(d);

    let root = tempfile::tempdir().unwrap();
    let tend = "tend-token-0123456789abcdef";
    let d = Daemon::builder()
        .data_dir(&data_dir_with_token(root.path(), file_token))
        .env("TEND_TOKEN", tend)
        .env("SUPERVISOR_TOKEN", legacy)
        .start();
    assert_eq!(status_with(&d, tend), 200);
    assert_eq!(status_with(&d, legacy), 401);
}

/// Milliseconds between the service's `to: backoff` event and the next `to: starting` one.
fn first_backoff_ms(d: &Daemon, name: &str) -> f64 {
    let events = d.events(name);
    let backoff = events
        .iter()
        .position(|e| e["to"] == "backoff")
        .unwrap_or_else(|| panic!("no backoff: {}", tend_tests::describe_events(&events)));
    let start = events[backoff..]
        .iter()
        .find(|e| e["to"] == "starting" || e["to"] == "running")
        .unwrap_or_else(|| panic!("no restart: {}", tend_tests::describe_events(&events)));
    let t = |e: &Value| rfc3339_ms(e["time"].as_str().unwrap());
    t(start) - t(&events[backoff])
}

#[test]
fn max_restart_attempts_and_restart_delay_are_the_defaults_of_specs_that_leave_them_out() {
    let b = Daemon::builder()
        .env("MAX_RESTART_ATTEMPTS", "1")
        .env("RESTART_DELAY", "2.5");
    // The variables beat `[supervisor]`; the file's own services get the defaults too.
    let config = format!(
        "[supervisor]\nmax_restarts = 7\ninitial_delay_ms = 100\n\
         [services.filed]\ncommand = \"exit 1\"\nenabled = false\nenv = {{ TEND_TEST_ID = \"{}\" }}\n",
        b.marker()
    );
    let mut d = b.config_toml(&config).start();
    let filed = d.view("filed");
    assert_eq!(
        (
            &filed["max_restarts"],
            &filed["backoff"]["initial_delay_ms"]
        ),
        (&json!(1), &json!(2500)),
        "{filed}"
    );

    let crashy = d.create(&d.service("crashy", "exit 3"));
    assert_eq!(crashy["max_restarts"], 1, "{crashy}");
    assert_eq!(crashy["backoff"]["initial_delay_ms"], 2500, "{crashy}");
    assert_eq!(crashy["backoff"]["max_delay_ms"], 60_000, "{crashy}");
    // What a spec sets stays its own.
    let own = d.create(&d.service_with(
        "own",
        json!(["sleep", "1000"]),
        json!({"max_restarts": 4, "backoff": {"initial_delay_ms": 100}}),
    ));
    assert_eq!(
        (&own["max_restarts"], &own["backoff"]["initial_delay_ms"]),
        (&json!(4), &json!(100)),
        "{own}"
    );

    // One restart, after the configured delay (+/- 10 % jitter), then it is given up on.
    let fatal = d.wait_status("crashy", "fatal", secs(20));
    assert_eq!(fatal["restart_count"], 1, "{fatal}");
    let delay = first_backoff_ms(&d, "crashy");
    assert!(
        (2000.0..6000.0).contains(&delay),
        "first backoff {delay} ms for RESTART_DELAY=2.5"
    );

    // Resolved at registration: without the variables, a stored API spec keeps what it got, while the
    // file's service is read again under the file's defaults.
    d.clear_env();
    d.restart();
    let crashy = d.view("crashy");
    assert_eq!(
        (
            &crashy["max_restarts"],
            &crashy["backoff"]["initial_delay_ms"]
        ),
        (&json!(1), &json!(2500)),
        "{crashy}"
    );
    let filed = d.view("filed");
    assert_eq!(
        (
            &filed["max_restarts"],
            &filed["backoff"]["initial_delay_ms"]
        ),
        (&json!(7), &json!(100)),
        "{filed}"
    );
    let later = d.create(&d.service("later", "exit 3"));
    assert_eq!(later["max_restarts"], 7, "{later}");
    assert_eq!(later["backoff"]["initial_delay_ms"], 100, "{later}");
}

#[test]
fn monitor_interval_is_the_sampling_interval() {
    let d = Daemon::builder().env("MONITOR_INTERVAL", "1").start();
    let sse = d.sse("/api/events?topics=metrics&service=m");
    d.create(&d.service("m", json!(["sleep", "1000"])));
    // At the default 10 s, three samples take 20 s at least.
    let mut samples = 0;
    sse.wait_for(secs(8), |e| {
        samples += usize::from(e.event == "metrics");
        samples == 3
    })
    .unwrap_or_else(|e| panic!("3 samples at MONITOR_INTERVAL=1: {e}"));
}

#[test]
fn log_size_and_backup_count_variables_rotate_the_service_logs() {
    let d = Daemon::builder()
        .env("LOG_MAX_BYTES", "20000")
        .env("LOG_BACKUP_COUNT", "1")
        .start();
    let script =
        "import sys\nfor i in range(3000):\n    sys.stdout.write('%06d ' % i + 'x' * 93 + '\\n')\n";
    d.create(&d.service_with(
        "rot",
        json!(["python3", "-c", script]),
        json!({"restart": "never"}),
    ));
    d.wait_status("rot", "exited", secs(30));
    let dir = d.data_dir().join("logs").join("rot");
    wait_until(secs(10), "rot.log.1 and nothing older", || {
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names == ["rot.log", "rot.log.1"]
    })
    .unwrap();
    let size = std::fs::metadata(dir.join("rot.log.1")).unwrap().len();
    assert!((19_000..=40_000).contains(&size), "{size} bytes");
}

#[test]
fn caddy_variables_configure_the_caddy_integration() {
    let d = Daemon::builder()
        .env("CADDY_ENABLED", "false")
        .env("CADDY_ADMIN_URL", "http://127.0.0.1:1")
        .start();
    let file = d.scratch().join("sup.caddy");
    let (_, status) = d.get("/api/status");
    let caddy = &status["supervisor"]["caddy"];
    assert_eq!(caddy["state"], "disabled", "{caddy}");
    assert_eq!(caddy["admin_url"], "http://127.0.0.1:1", "{caddy}");
    drop(d);

    let d = Daemon::builder()
        .env("CADDY_SUPERVISOR_FILE", file.to_str().unwrap())
        .env("CADDY_ADMIN_URL", "http://127.0.0.1:1")
        .start();
    let (_, status) = d.get("/api/status");
    assert_eq!(
        status["supervisor"]["caddy"]["supervisor_file"],
        file.to_str().unwrap()
    );
}

/// Runs `tend daemon` on `data_dir` with `env`; asserts that it refuses to start and never
/// announced itself; returns its stderr.
fn refused(data_dir: &Path, env: &[(&str, &str)]) -> String {
    let mut cmd = tend_cmd();
    cmd.args(["daemon", "--port", "0", "--control-port", "0", "--data-dir"])
        .arg(data_dir)
        .envs(env.iter().copied());
    let out = run_with_deadline(cmd, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{env:?} must refuse; stderr:\n{err}");
    assert!(
        !data_dir.join("daemon.json").exists(),
        "{env:?}: a refused daemon never announces itself"
    );
    err
}

#[test]
fn a_bad_value_stops_the_daemon_naming_the_variable() {
    for (var, value) in [
        ("SUPERVISOR_HOST", "nowhere"),
        ("SUPERVISOR_PORT", "http"),
        ("SUPERVISOR_LOG_LEVEL", "verbose"),
        ("SUPERVISOR_TOKEN", " "),
        ("MAX_RESTART_ATTEMPTS", "-1"),
        ("RESTART_DELAY", "soon"),
        ("MONITOR_INTERVAL", "often"),
        ("LOG_MAX_BYTES", "big"),
        ("LOG_BACKUP_COUNT", "some"),
        ("LOG_RETENTION_DAYS", "week"),
        ("CADDY_PORT", "http"),
        ("CADDY_ENABLED", "maybe"),
        ("AUTOFIX_ENABLED", "maybe"),
        ("AUTOFIX_TIMEOUT", "soon"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = refused(&dir.path().join("data"), &[(var, value)]);
        assert!(err.contains(var), "{var}={value:?}: {err}");
    }
}
