//! `tend agent --service NAME`: one service of a tend.toml run in the foreground without a daemon (a
//! container's entrypoint). Its output passes through, SIGTERM stops the whole tree and the agent exits
//! with the service's status, a crash exits with the service's code (restart never by default),
//! `--keep-restart` applies the service's policy, and `GET /healthz/NAME` answers through the service's
//! WebAssembly probe (built-in `http` against a server the test controls, user plugins from the
//! `plugins/` dir next to the config file).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tend_tests::{
    HttpServer, Value, fixture, free_port, pid_alive, processes_with_marker, python3, secs,
    tend_cmd, wait_for,
};

/// A running `tend agent` on a config file of the test's, its stdout and stderr in files (read while
/// it runs); killed with every process carrying the test's marker when dropped.
struct Agent {
    child: Option<Child>,
    dir: tempfile::TempDir,
    marker: String,
    listen: u16,
}

/// `[services.NAME]` tables get `env.TEND_TEST_ID = <marker>` through this placeholder.
const MARKER: &str = "@MARKER@";

impl Agent {
    /// Writes `toml` (with `@MARKER@` replaced) as `tend.toml` in a fresh dir, lets `prepare` add files
    /// next to it, and starts `tend agent --service NAME --config <dir>/tend.toml` plus `extra` flags.
    fn start(toml: &str, service: &str, extra: &[&str], prepare: impl FnOnce(&Path)) -> Agent {
        let dir = tempfile::Builder::new()
            .prefix("tend-agent-test-")
            .tempdir()
            .expect("temp dir");
        let marker = format!("agent{}-{}", std::process::id(), free_port());
        std::fs::write(dir.path().join("tend.toml"), toml.replace(MARKER, &marker))
            .expect("write tend.toml");
        prepare(dir.path());
        let listen = free_port();
        let mut cmd = tend_cmd();
        cmd.arg("agent")
            .args(["--service", service, "--config"])
            .arg(dir.path().join("tend.toml"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("stdout")).expect("stdout file"))
            .stderr(File::create(dir.path().join("stderr")).expect("stderr file"));
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", &format!("127.0.0.1:{listen}")]);
        }
        let child = cmd.spawn().expect("spawn tend agent");
        Agent {
            child: Some(child),
            dir,
            marker,
            listen,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.path("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("agent running").id()
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) with a pid we spawned and still hold (not yet reaped).
        unsafe { libc::kill(self.pid() as libc::pid_t, sig) };
    }

    /// Waits for the agent to exit on its own; panics (after killing it) past `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("agent running");
        let status = wait_for(timeout, || match child.try_wait() {
            Ok(Some(status)) => Ok(status),
            _ => Err("still running".into()),
        });
        match status {
            Ok(s) => {
                self.child = None;
                s
            }
            Err(e) => panic!("tend agent: {e}\nstderr:\n{}", self.stderr()),
        }
    }

    /// `GET /healthz/NAME`: status and JSON body (`None` while nothing answers on the port).
    fn healthz(&self, name: &str) -> Option<(u16, Value)> {
        let url = format!("http://127.0.0.1:{}/healthz/{name}", self.listen);
        let resp = reqwest::blocking::Client::new()
            .get(url)
            .timeout(secs(10))
            .send()
            .ok()?;
        let status = resp.status().as_u16();
        let body = resp.json().unwrap_or(Value::Null);
        Some((status, body))
    }

    /// Polls `/healthz/NAME` until it answers `status` with a probe's verdict: the plugins load beside
    /// the service, so the first answers may be 503 "starting" (still loading).
    fn wait_healthz(&self, name: &str, status: u16) -> Value {
        wait_for(secs(60), || match self.healthz(name) {
            Some((s, body)) if s == status && body["result"] != "starting" => Ok(body),
            other => Err(format!("{other:?}")),
        })
        .unwrap_or_else(|e| {
            panic!(
                "/healthz/{name} never answered {status}: {e}\nstderr:\n{}",
                self.stderr()
            )
        })
    }

    /// The pid the agent reports for the service's current run (`... -> running: spawned (pid N)`).
    fn wait_service_pid(&self) -> u32 {
        wait_for(secs(20), || {
            let err = self.stderr();
            err.lines()
                .filter(|l| l.contains("-> running: spawned (pid "))
                .filter_map(|l| l.rsplit("(pid ").next()?.trim_end_matches(')').parse().ok())
                .next_back()
                .ok_or(err)
        })
        .expect("the agent reports the service's pid")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in processes_with_marker(&self.marker) {
            // SAFETY: kill(2) on a leftover process of this test (found by its marker).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn wait_file(path: &Path) -> String {
    wait_for(secs(20), || {
        std::fs::read_to_string(path)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or(format!("{} not written yet", path.display()))
    })
    .unwrap()
}

/// A service whose probe is the built-in `http` against a server the test controls: 200 -> healthy ->
/// `/healthz` 200; 500 -> unhealthy -> 503. Another name is the API's JSON 404.
#[test]
fn healthz_runs_the_services_probe_and_follows_its_result() {
    let server = HttpServer::start(200);
    let toml = format!(
        r#"
[services.web]
command = ["sleep", "1000"]
port = {port}
env = {{ TEND_TEST_ID = "{MARKER}" }}
[services.web.health]
probe = "http"
config = {{ path = "/ready" }}
"#,
        port = server.port()
    );
    let agent = Agent::start(&toml, "web", &[], |_| {});
    let body = agent.wait_healthz("web", 200);
    assert_eq!(body["service"], "web", "{body}");
    assert_eq!(body["status"], "running", "{body}");
    assert_eq!(body["passed"], true, "{body}");
    assert_eq!(body["result"], "healthy", "{body}");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /ready ")),
        "the probe called the service's port: {:?}",
        server.requests()
    );

    server.set_status(500);
    let body = agent.wait_healthz("web", 503);
    assert_eq!(body["passed"], false, "{body}");
    assert_eq!(body["result"], "unhealthy", "{body}");

    server.set_status(200);
    agent.wait_healthz("web", 200);

    let (status, body) = agent.healthz("db").expect("the agent answers");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

/// User plugins come from `plugins/` next to the config file, as the daemon's from its data dir: a
/// probe that answers healthy passes, one that traps fails.
#[test]
fn healthz_runs_user_plugins_from_beside_the_config_file() {
    let toml = |probe: &str| {
        format!(
            r#"
[services.app]
command = ["sleep", "1000"]
port = {port}
env = {{ TEND_TEST_ID = "{MARKER}" }}
[services.app.health]
probe = "{probe}"
"#,
            port = free_port()
        )
    };
    let install = |dir: &Path| {
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        for (fixture_name, as_name) in [("trivial", "mine"), ("trapper", "broken")] {
            let f = fixture(fixture_name);
            std::fs::write(plugins.join(format!("{as_name}.wasm")), f.wasm_bytes()).unwrap();
            std::fs::write(plugins.join(format!("{as_name}.toml")), f.manifest()).unwrap();
        }
    };
    let good = Agent::start(&toml("mine"), "app", &[], install);
    let bad = Agent::start(&toml("broken"), "app", &[], install);
    let body = good.wait_healthz("app", 200);
    assert_eq!(body["result"], "healthy", "{body}");
    let body = bad.wait_healthz("app", 503);
    assert_eq!(body["passed"], false, "{body}");
    assert_eq!(body["result"], "trap", "{body}");
}

/// Python that double-forks a `setsid` grandchild running `sleep 1000`, writes its pid to `$PIDFILE`
/// and idles: a tree whose members left the leader's group and session.
const DOUBLE_FORK: &str = r#"
import os, time
pidfile = os.environ["PIDFILE"]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(pidfile + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(pidfile + ".tmp", pidfile)
        os.execvp("sleep", ["sleep", "1000"])
    os._exit(0)
os.wait()
print("tree ready", flush=True)
while True:
    time.sleep(0.1)
"#;

/// SIGTERM to the agent stops the service's whole tree (a detached grandchild too) with its stop
/// signal and the agent exits with the service's status (killed by SIGTERM: 143) within the grace.
#[test]
fn sigterm_stops_the_whole_tree_and_exits_with_the_services_status() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    let toml = format!(
        r#"
[services.tree]
command = [{py:?}, "-c", {script:?}]
stop_timeout_s = 5
env = {{ TEND_TEST_ID = "{MARKER}", PIDFILE = {pidfile:?} }}
"#,
        py = python3(),
        script = DOUBLE_FORK,
        pidfile = pidfile.display().to_string()
    );
    let mut agent = Agent::start(&toml, "tree", &[], |_| {});
    let leader = agent.wait_service_pid();
    let grandchild: u32 = wait_file(&pidfile).trim().parse().unwrap();
    wait_for(secs(20), || {
        agent
            .stdout()
            .contains("tree ready\n")
            .then_some(())
            .ok_or(agent.stdout())
    })
    .expect("the service's stdout passes through");
    assert!(pid_alive(leader) && pid_alive(grandchild));

    let (status, _) = agent.healthz("tree").expect("the agent answers");
    assert_eq!(
        status, 200,
        "no health check: passes while the process runs"
    );

    let asked = Instant::now();
    agent.signal(libc::SIGTERM);
    let status = agent.wait_exit(secs(20));
    let took = asked.elapsed();
    assert_eq!(
        status.code(),
        Some(143),
        "killed by SIGTERM -> 128 + 15; stderr:\n{}",
        agent.stderr()
    );
    assert!(
        took < secs(5),
        "stopped within the grace period, took {took:?}"
    );
    for pid in [leader, grandchild] {
        assert!(!pid_alive(pid), "pid {pid} of the tree outlived the agent");
    }
    assert_eq!(processes_with_marker(&agent.marker), Vec::<u32>::new());
}

/// The service's own stop signal is what it gets, and its exit code is the agent's.
#[test]
fn sigterm_sends_the_services_stop_signal_and_exits_with_its_code() {
    let script = r#"
import signal, sys, time
def bye(*_):
    print("got SIGINT", flush=True)
    sys.exit(7)
signal.signal(signal.SIGINT, bye)
print("waiting", flush=True)
while True:
    time.sleep(0.1)
"#;
    let toml = format!(
        r#"
[services.graceful]
command = [{py:?}, "-c", {script:?}]
stop_signal = "SIGINT"
env = {{ TEND_TEST_ID = "{MARKER}" }}
"#,
        py = python3()
    );
    let mut agent = Agent::start(&toml, "graceful", &[], |_| {});
    wait_for(secs(20), || {
        agent
            .stdout()
            .contains("waiting\n")
            .then_some(())
            .ok_or(agent.stdout())
    })
    .unwrap();
    agent.signal(libc::SIGTERM);
    let status = agent.wait_exit(secs(20));
    assert_eq!(status.code(), Some(7), "stderr:\n{}", agent.stderr());
    assert!(
        agent.stdout().contains("got SIGINT\n"),
        "{}",
        agent.stdout()
    );
}

const CRASH: &str = r#"
[services.crash]
command = "echo to-stdout; echo to-stderr >&2; exit 3"
restart = "always"
max_restarts = 2
backoff = { initial_delay_ms = 50, max_delay_ms = 100 }
env = { TEND_TEST_ID = "@MARKER@" }

# Not in this container: only the agent's own service is validated (and no cron job).
[services.elsewhere]
command = "true"
working_dir = "/nonexistent/tend-agent-test"
env_file = "/nonexistent/tend-agent-test/.env"

[cron.nightly]
command = "true"
schedule = "@daily"
working_dir = "/nonexistent/tend-agent-test"
"#;

/// By default the agent never restarts (the engine restarts the container), whatever the file says:
/// one run, its output on the agent's stdout and stderr, its exit code the agent's. The file's other
/// service and cron job name dirs this machine does not have: only the agent's service is checked.
#[test]
fn a_crash_exits_with_the_services_code_and_its_output_passes_through() {
    let mut agent = Agent::start(CRASH, "crash", &[], |_| {});
    let status = agent.wait_exit(secs(20));
    assert_eq!(status.code(), Some(3), "stderr:\n{}", agent.stderr());
    assert_eq!(agent.stdout(), "to-stdout\n");
    let err = agent.stderr();
    assert_eq!(err.matches("to-stderr\n").count(), 1, "{err}");
}

/// `--keep-restart`: the service's own policy (always), backoff and max_restarts, then fatal and the
/// last run's code.
#[test]
fn keep_restart_restarts_under_the_services_policy() {
    let mut agent = Agent::start(CRASH, "crash", &["--keep-restart"], |_| {});
    let status = agent.wait_exit(secs(30));
    assert_eq!(status.code(), Some(3), "stderr:\n{}", agent.stderr());
    assert_eq!(
        agent.stdout(),
        "to-stdout\n".repeat(3),
        "one run + 2 restarts"
    );
    let err = agent.stderr();
    assert!(
        err.contains("restart 1/2") && err.contains("restart 2/2"),
        "{err}"
    );
    assert!(err.contains("-> fatal"), "{err}");
}

/// A name the file does not have: exit 2, naming it and the services it has; nothing runs.
#[test]
fn an_unknown_service_is_refused_naming_what_the_file_has() {
    let toml = format!("{CRASH}\n[services.other]\ncommand = \"touch ran\"\n");
    let mut agent = Agent::start(&toml, "nope", &[], |_| {});
    let status = agent.wait_exit(secs(20));
    assert_eq!(status.code(), Some(2));
    let err = agent.stderr();
    assert!(err.contains("\"nope\""), "{err}");
    assert!(err.contains("it has: crash, elsewhere, other"), "{err}");
    assert_eq!(agent.stdout(), "");
}

/// `--listen` on a port already taken: a clear error before the service is started.
#[test]
fn a_taken_listen_port_is_refused_before_the_service_starts() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let toml = format!(
        "[services.svc]\ncommand = \"echo started\"\nenv = {{ TEND_TEST_ID = \"{MARKER}\" }}\n"
    );
    let listen = format!("127.0.0.1:{port}");
    let mut agent = Agent::start(&toml, "svc", &["--listen", &listen], |_| {});
    let status = agent.wait_exit(secs(20));
    assert_eq!(status.code(), Some(2));
    let err = agent.stderr();
    assert!(err.contains("--listen") && err.contains(&listen), "{err}");
    assert_eq!(agent.stdout(), "", "the service never started");
}

/// The run gets what the daemon would give it: `working_dir` (relative to the config file),
/// `env_file` then `env`, `TEND_SERVICE`; the agent's own environment is inherited (the container's).
#[test]
fn the_run_gets_its_working_dir_env_file_and_env() {
    let toml = format!(
        r#"
[services.show]
command = "pwd; echo \"$FROM_FILE $FROM_ENV $OVERRIDDEN $TEND_SERVICE $FROM_AGENT\""
working_dir = "work"
env_file = "service.env"
env = {{ TEND_TEST_ID = "{MARKER}", FROM_ENV = "from-env", OVERRIDDEN = "by-env" }}
"#
    );
    let mut agent = Agent::start(&toml, "show", &[], |dir| {
        std::fs::create_dir(dir.join("work")).unwrap();
        std::fs::write(
            dir.join("work/service.env"),
            "FROM_FILE=from-file\nOVERRIDDEN=by-file\n",
        )
        .unwrap();
    });
    let status = agent.wait_exit(secs(20));
    assert_eq!(status.code(), Some(0), "stderr:\n{}", agent.stderr());
    let work = agent.path("work").canonicalize().unwrap();
    assert_eq!(
        agent.stdout(),
        format!("{}\nfrom-file from-env by-env show \n", work.display())
    );
}

/// A command that cannot be started: exit 127 (a shell's "command not found"), the reason on stderr.
#[test]
fn a_command_that_cannot_start_exits_127() {
    let toml = format!(
        "[services.ghost]\ncommand = [\"/nonexistent/program\"]\nenv = {{ TEND_TEST_ID = \"{MARKER}\" }}\n"
    );
    let mut agent = Agent::start(&toml, "ghost", &[], |_| {});
    let status = agent.wait_exit(secs(20));
    assert_eq!(status.code(), Some(127));
    let err = agent.stderr();
    assert!(err.contains("/nonexistent/program"), "{err}");
}

/// A service that ignores its stop signal is SIGKILLed after `stop_timeout_s` (the grace period), and
/// the agent exits 137 (128 + SIGKILL).
#[test]
fn a_service_ignoring_sigterm_is_killed_after_its_stop_timeout() {
    let script = r#"
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
while True:
    time.sleep(0.1)
"#;
    let toml = format!(
        r#"
[services.stubborn]
command = [{py:?}, "-c", {script:?}]
stop_timeout_s = 1
env = {{ TEND_TEST_ID = "{MARKER}" }}
"#,
        py = python3()
    );
    let mut agent = Agent::start(&toml, "stubborn", &[], |_| {});
    let pid = agent.wait_service_pid();
    wait_for(secs(20), || {
        agent
            .stdout()
            .contains("ignoring SIGTERM\n")
            .then_some(())
            .ok_or(agent.stdout())
    })
    .unwrap();
    let asked = Instant::now();
    agent.signal(libc::SIGTERM);
    let status = agent.wait_exit(secs(20));
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(137), "stderr:\n{}", agent.stderr());
    assert!(
        took >= Duration::from_millis(900) && took < secs(5),
        "SIGKILL after stop_timeout_s = 1, took {took:?}"
    );
    assert!(!pid_alive(pid));
    assert!(
        agent.stderr().contains("SIGKILL after stop timeout"),
        "{}",
        agent.stderr()
    );
}
