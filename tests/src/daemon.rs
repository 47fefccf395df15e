//! The daemon fixture: a real `tend daemon` on a temp data dir and a free port, with HTTP, SSE and CLI
//! helpers, stopped (and every process it is responsible for killed) when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::procs::{processes_with_env, run_with_deadline};
use crate::sse::Sse;
use crate::wait::wait_for;
use crate::{DAEMON_MARKER_VAR, MARKER_VAR, merge};

const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Long enough for every service to use its default 10 s stop timeout during shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(25);
const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// Variables that would point the daemon or the CLI somewhere else if inherited from the test's env.
const SCRUBBED_ENV: &[&str] = &[
    "TEND_HOST",
    "TEND_PORT",
    "TEND_DATA_DIR",
    "TEND_CONFIG",
    "TEND_LOG",
    "TEND_URL",
    "TEND_TOKEN",
    "LOG_MAX_BYTES",
    "LOG_BACKUP_COUNT",
    "LOG_RETENTION_DAYS",
    "TEND_CONTROL_PORT",
    "CADDY_ENABLED",
    "CADDY_ADMIN_URL",
    "CADDY_BASE_DOMAIN",
    "CADDY_DOMAIN",
    "CADDY_PORT",
    "CADDY_BIND",
    "CADDY_TLS",
    "CADDY_SUPERVISOR_FILE",
    "CADDY_PLUGIN",
    "CADDY_MAINTENANCE",
    "TEND_CONTAINMENT",
    // The replaced systems' names, read after the `TEND_*` ones.
    "SUPERVISOR_HOST",
    "SUPERVISOR_PORT",
    "SUPERVISOR_LOG_LEVEL",
    "SUPERVISOR_TOKEN",
    "MONITOR_INTERVAL",
    "MAX_RESTART_ATTEMPTS",
    "RESTART_DELAY",
    "AUTOFIX_ENABLED",
    "AUTOFIX_TIMEOUT",
    // systemd's, when the tests themselves run under a `Type=notify` unit.
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
];

/// The `tend` binary under test: `$TEND_BIN`, else `tend` next to the test executable's `deps/` dir.
pub fn tend_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TEND_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("test executable has a parent dir");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("deps has a parent")
    } else {
        dir
    };
    let bin = dir.join("tend");
    assert!(
        bin.is_file(),
        "tend binary not found at {}: run `cargo build -p tend` first (or set TEND_BIN)",
        bin.display()
    );
    bin
}

/// Runs `tend daemon` on `data_dir` (ports 0, control port off) and asserts that it refuses to start
/// and never announced itself (`daemon.json`); returns its stderr, for the caller's assertions on the
/// reason.
pub fn refused_start(data_dir: &Path) -> String {
    let mut cmd = tend_cmd();
    cmd.args(["daemon", "--port", "0", "--control-port", "0", "--data-dir"])
        .arg(data_dir);
    let out = run_with_deadline(cmd, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "the daemon must refuse to start; stderr:\n{err}"
    );
    assert!(
        !data_dir.join("daemon.json").exists(),
        "a refused daemon never announces itself"
    );
    err
}

/// A `tend` command with no inherited settings: no url, token or data dir unless the test adds them.
pub fn tend_cmd() -> Command {
    tend_cmd_at(&tend_bin())
}

/// [`tend_cmd`] running the `tend` executable at `bin` (a copy a test changed).
pub fn tend_cmd_at(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for k in SCRUBBED_ENV {
        cmd.env_remove(k);
    }
    cmd
}

fn unique_marker() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "tt{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options for [`Daemon::builder`].
pub struct DaemonBuilder {
    marker: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    config: Option<String>,
    data_dir: Option<PathBuf>,
    plugins: Vec<(String, String)>,
    control: ControlPort,
    nofile: Option<u64>,
    port: bool,
    bin: Option<PathBuf>,
}

/// Whether the fixture's daemon gets a TCP control port. Daemons run in parallel, so the default
/// (9901) would collide: it is off unless a test asks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ControlPort {
    /// `--control-port 0`.
    Off,
    /// `--control-port <a free port>`.
    Free,
    /// No flag: `TEND_CONTROL_PORT` or `[control] port` decide.
    Unset,
}

impl DaemonBuilder {
    /// Enables the TCP control port on a free port (see [`Daemon::control_addr`]).
    pub fn control(mut self) -> Self {
        self.control = ControlPort::Free;
        self
    }

    /// Passes no `--port` (the fixture's default is `--port 0`), for tests of the variables and the
    /// file that set it.
    pub fn port_unset(mut self) -> Self {
        self.port = false;
        self
    }

    /// Passes no `--control-port` at all, for tests of `TEND_CONTROL_PORT` and `[control] port`.
    pub fn control_port_unset(mut self) -> Self {
        self.control = ControlPort::Unset;
        self
    }

    /// The marker the daemon will have (for config files written before it starts).
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// Writes `<data-dir>/tend.toml` before the daemon starts (the daemon's default config path).
    pub fn config_toml(mut self, text: &str) -> Self {
        self.config = Some(text.to_string());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// An extra flag for `tend daemon`.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Installs fixture plugin `fixture` as user plugin `as_name` in `<data-dir>/plugins` before the
    /// daemon starts (see [`crate::plugins`]).
    pub fn plugin(mut self, fixture: &str, as_name: &str) -> Self {
        self.plugins.push((fixture.into(), as_name.into()));
        self
    }

    /// Starts the daemon with `RLIMIT_NOFILE` soft = hard = `n`, for tests of descriptor exhaustion.
    pub fn nofile(mut self, n: u64) -> Self {
        self.nofile = Some(n);
        self
    }

    /// Runs the `tend` executable at `bin` instead of [`tend_bin`].
    pub fn bin(mut self, bin: &Path) -> Self {
        self.bin = Some(bin.to_path_buf());
        self
    }

    /// Use an existing data dir instead of a fresh temp one.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    pub fn start(self) -> Daemon {
        let root = tempfile::Builder::new()
            .prefix("tend-test-")
            .tempdir()
            .expect("temp dir");
        let data_dir = self.data_dir.unwrap_or_else(|| root.path().join("data"));
        std::fs::create_dir_all(&data_dir).expect("create data dir");
        for (fixture, as_name) in &self.plugins {
            crate::plugins::install(&data_dir, fixture, as_name);
        }
        let mut args = self.args;
        let explicit = args.iter().any(|a| a.starts_with("--control-port"));
        match self.control {
            _ if explicit => {}
            ControlPort::Off => args.extend(["--control-port".into(), "0".into()]),
            ControlPort::Free => {
                args.extend(["--control-port".into(), crate::free_port().to_string()]);
            }
            ControlPort::Unset => {}
        }
        let mut d = Daemon {
            marker: self.marker,
            root,
            data_dir,
            args,
            env: self.env,
            child: None,
            url: String::new(),
            token: String::new(),
            client: Client::new(),
            generation: 0,
            nofile: self.nofile,
            port: self.port,
            bin: self.bin,
        };
        if let Some(text) = self.config {
            d.write_config(&text);
        }
        d.spawn();
        d
    }
}

/// A running `tend daemon`. See the crate docs for the marker scheme.
pub struct Daemon {
    marker: String,
    root: TempDir,
    data_dir: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    child: Option<Child>,
    url: String,
    token: String,
    client: Client,
    generation: u32,
    nofile: Option<u64>,
    /// Whether `--port 0` is passed.
    port: bool,
    /// The executable, when not [`tend_bin`].
    bin: Option<PathBuf>,
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::builder().start()
    }

    pub fn builder() -> DaemonBuilder {
        DaemonBuilder {
            marker: unique_marker(),
            args: Vec::new(),
            env: Vec::new(),
            config: None,
            data_dir: None,
            plugins: Vec::new(),
            control: ControlPort::Off,
            nofile: None,
            port: true,
            bin: None,
        }
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        self.generation += 1;
        let out = self
            .root
            .path()
            .join(format!("daemon-{}.stdout", self.generation));
        let err = self
            .root
            .path()
            .join(format!("daemon-{}.stderr", self.generation));
        let mut cmd = match &self.bin {
            Some(bin) => tend_cmd_at(bin),
            None => tend_cmd(),
        };
        cmd.arg("daemon").arg("--data-dir").arg(&self.data_dir);
        if self.port {
            cmd.arg("--port").arg("0");
        }
        cmd.args(&self.args)
            .env(DAEMON_MARKER_VAR, &self.marker)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("daemon stdout file"))
            .stderr(std::fs::File::create(&err).expect("daemon stderr file"));
        if let Some(n) = self.nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only the child being started.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let pid = child.id();
        let started = Instant::now();
        // daemon.json may be left over from a killed predecessor: only one naming this pid counts.
        let url = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "daemon exited during startup with {status}; stderr:\n{}",
                    read_lossy(&err)
                );
            }
            if let Some(url) = self.read_daemon_json(pid) {
                break url;
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "daemon.json naming pid {pid} did not appear within {START_TIMEOUT:?}; stderr:\n{}",
                    read_lossy(&err)
                );
            }
            // tidy:allow-sleep: poll interval while waiting for daemon.json, bounded by START_TIMEOUT
            std::thread::sleep(Duration::from_millis(10));
        };
        self.child = Some(child);
        self.url = url.trim_end_matches('/').to_string();
        self.token = std::fs::read_to_string(self.data_dir.join("token"))
            .expect("token file exists once daemon.json does")
            .trim()
            .to_string();
        let mut headers = HeaderMap::new();
        let bearer =
            HeaderValue::from_str(&format!("Bearer {}", self.token)).expect("token is header-safe");
        headers.insert(AUTHORIZATION, bearer);
        self.client = Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let health = wait_for(START_TIMEOUT, || {
            let r = Client::new()
                .get(format!("{}/healthz", self.url))
                .send()
                .map_err(|e| e.to_string())?;
            if r.status() == 200 {
                Ok(())
            } else {
                Err(format!("healthz answered {}", r.status()))
            }
        });
        if let Err(e) = health {
            panic!(
                "daemon at {} is not healthy: {e}; stderr:\n{}",
                self.url,
                self.stderr()
            );
        }
    }

    fn read_daemon_json(&self, pid: u32) -> Option<String> {
        let text = std::fs::read_to_string(self.data_dir.join("daemon.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        if v["pid"].as_u64() != Some(u64::from(pid)) {
            return None;
        }
        // The token is written before the API listens; wait for it too rather than race.
        if !self.data_dir.join("token").is_file() {
            return None;
        }
        v["url"].as_str().map(str::to_string)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The control port's address as the daemon wrote it in `daemon.json` (`control`), if enabled.
    pub fn control_addr_opt(&self) -> Option<std::net::SocketAddr> {
        let text = std::fs::read_to_string(self.data_dir.join("daemon.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        let addr = v["control"].as_str()?;
        Some(
            addr.parse()
                .unwrap_or_else(|e| panic!("daemon.json control {addr:?}: {e}")),
        )
    }

    /// The control port's address; panics when the daemon has none (see [`DaemonBuilder::control`]).
    pub fn control_addr(&self) -> std::net::SocketAddr {
        self.control_addr_opt()
            .expect("daemon.json names no control port: build the daemon with .control()")
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A scratch dir for the test's own files (scripts, trigger files), removed with the fixture.
    pub fn scratch(&self) -> PathBuf {
        let p = self.root.path().join("scratch");
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// Pid of the running daemon process.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon is not running").id()
    }

    /// What the current daemon process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read_lossy(
            &self
                .root
                .path()
                .join(format!("daemon-{}.stderr", self.generation)),
        )
    }

    /// Writes `<data-dir>/tend.toml`; takes effect at the next (re)start.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.data_dir.join("tend.toml"), text).expect("write tend.toml");
    }

    // ---- services -------------------------------------------------------------------------------

    /// A spec named `name` running `command` (a string runs through `sh -c`, an array is an argv),
    /// carrying this daemon's marker in `env`.
    pub fn service(&self, name: &str, command: impl Into<Value>) -> Value {
        json!({"name": name, "command": command.into(), "env": {MARKER_VAR: self.marker}})
    }

    /// [`Daemon::service`] deep-merged with `patch`.
    pub fn service_with(&self, name: &str, command: impl Into<Value>, patch: Value) -> Value {
        merge(self.service(name, command), patch)
    }

    /// POSTs a spec and asserts 201; returns the view.
    pub fn create(&self, spec: &Value) -> Value {
        let (status, body) = self.post("/api/services", spec);
        assert_eq!(status, 201, "creating {spec} answered {body}");
        body
    }

    /// GET /api/services/{name}, asserting 200.
    pub fn view(&self, name: &str) -> Value {
        let (status, body) = self.get(&format!("/api/services/{name}"));
        assert_eq!(status, 200, "GET service {name}: {body}");
        body
    }

    /// Waits until the service has `status`; returns its view.
    pub fn wait_status(&self, name: &str, status: &str, timeout: Duration) -> Value {
        wait_for(timeout, || {
            let (code, v) = self.get(&format!("/api/services/{name}"));
            if code == 200 && v["status"] == status {
                Ok(v)
            } else {
                Err(format!("{code} {v}"))
            }
        })
        .unwrap_or_else(|e| {
            panic!(
                "service {name} never became {status}: {e}\nevents:\n{}",
                self.events_text(name)
            )
        })
    }

    /// All events of a service, oldest first.
    pub fn events(&self, name: &str) -> Vec<Value> {
        let (status, body) = self.get(&format!("/api/services/{name}/events?limit=10000"));
        assert_eq!(status, 200, "events of {name}: {body}");
        body["events"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no events array: {body}"))
    }

    fn events_text(&self, name: &str) -> String {
        match self.get(&format!("/api/services/{name}/events?limit=10000")) {
            (200, body) => {
                crate::describe_events(body["events"].as_array().map(Vec::as_slice).unwrap_or(&[]))
            }
            (code, body) => format!("({code} {body})"),
        }
    }

    /// Every log line of a service, paging with `after_id` (10000 per page), oldest first.
    pub fn all_logs(&self, name: &str) -> Vec<Value> {
        self.all_logs_query(name, "")
    }

    /// Like [`Daemon::all_logs`] with extra query parameters (`&stream=stderr`).
    pub fn all_logs_query(&self, name: &str, extra: &str) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        let mut after = 0i64;
        loop {
            let (status, body) = self.get(&format!(
                "/api/services/{name}/logs?after_id={after}&limit=10000{extra}"
            ));
            assert_eq!(status, 200, "logs of {name}: {body}");
            let page = body["lines"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| panic!("no lines array: {body}"));
            let Some(last) = page.last() else { return out };
            let last_id = last["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("log line without id: {last}"));
            assert!(
                last_id > after,
                "after_id={after} returned ids not after it: {last}"
            );
            after = last_id;
            out.extend(page);
        }
    }

    /// The text of the last `n` log lines (`?tail=n`).
    pub fn tail_text(&self, name: &str, n: usize) -> Vec<String> {
        let (status, body) = self.get(&format!("/api/services/{name}/logs?tail={n}"));
        assert_eq!(status, 200, "logs of {name}: {body}");
        body["lines"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| l["line"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The full service list (`GET /api/services`), for before/after comparisons.
    pub fn list(&self) -> Value {
        let (status, body) = self.get("/api/services");
        assert_eq!(status, 200, "GET /api/services: {body}");
        body
    }

    // ---- HTTP -----------------------------------------------------------------------------------

    /// A request with the bearer token set; `path` starts with `/`.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// A request without any token.
    pub fn request_anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        Client::new().request(method, format!("{}{path}", self.url))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        send(self.request(Method::GET, path))
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        send(self.request(Method::POST, path).json(body))
    }

    /// POST without a body (start/stop/restart/shutdown).
    pub fn post_empty(&self, path: &str) -> (u16, Value) {
        send(self.request(Method::POST, path))
    }

    pub fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        send(self.request(Method::PUT, path).json(body))
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        send(self.request(Method::DELETE, path))
    }

    /// Opens an SSE stream; returns once the response headers arrived.
    pub fn sse(&self, path: &str) -> Sse {
        self.sse_from(path, None)
    }

    /// Opens an SSE stream as a reconnecting client does, with `Last-Event-ID: last_id`.
    pub fn sse_resume(&self, path: &str, last_id: &str) -> Sse {
        self.sse_from(path, Some(last_id))
    }

    fn sse_from(&self, path: &str, last_id: Option<&str>) -> Sse {
        let client = Client::builder().timeout(None).build().expect("sse client");
        let mut req = client
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        let resp = req.send().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(resp.status(), 200, "GET {path} (SSE)");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            ct.starts_with("text/event-stream"),
            "GET {path}: content-type {ct:?}"
        );
        Sse::new(resp)
    }

    // ---- CLI ------------------------------------------------------------------------------------

    /// Runs `tend --url <url> --token <token> ARGS...`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = tend_cmd();
        cmd.arg("--url")
            .arg(&self.url)
            .arg("--token")
            .arg(&self.token)
            .args(args);
        run_with_deadline(cmd, CLI_TIMEOUT)
    }

    /// Runs `tend ARGS...` with only `TEND_DATA_DIR` set: the CLI must find url and token itself.
    pub fn cli_data_dir(&self, args: &[&str]) -> Output {
        let mut cmd = tend_cmd();
        cmd.env("TEND_DATA_DIR", &self.data_dir).args(args);
        run_with_deadline(cmd, CLI_TIMEOUT)
    }

    // ---- process control ------------------------------------------------------------------------

    fn signal(&self, sig: libc::c_int) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) with a pid we spawned and still hold (not yet reaped).
            unsafe { libc::kill(child.id() as libc::pid_t, sig) };
        }
    }

    /// Waits for the daemon process to exit on its own; panics (after killing it) past `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("daemon is not running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "daemon did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            // tidy:allow-sleep: poll interval of try_wait, bounded by the caller's timeout
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(STOP_TIMEOUT)
    }

    /// SIGKILL, as in a crash: services are left behind for the next daemon to deal with.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let mut child = self.child.take().expect("daemon is not running");
        let _ = child.wait();
    }

    /// Forgets the variables given with [`DaemonBuilder::env`]: the next [`Daemon::restart`] runs
    /// without them.
    pub fn clear_env(&mut self) {
        self.env.clear();
    }

    /// Starts a new daemon on the same data dir (stopping the current one first if it still runs).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.stop();
            assert!(
                status.success(),
                "daemon exited with {status} when stopped for a restart"
            );
        }
        self.spawn();
    }

    /// Processes this fixture is responsible for: children of any of its daemons (they carry a
    /// `TEND_INSTANCE` and the daemon marker) and anything carrying the spec marker.
    fn leftovers(&self) -> Vec<u32> {
        let spec = format!("{MARKER_VAR}={}", self.marker);
        let daemon = format!("{DAEMON_MARKER_VAR}={}", self.marker);
        processes_with_env(|env| {
            let instance = env.iter().any(|kv| kv.starts_with("TEND_INSTANCE="));
            env.contains(&spec) || (instance && env.contains(&daemon))
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: as in `signal`.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                    break;
                }
                // tidy:allow-sleep: poll interval of try_wait while the daemon shuts down, bounded (15 s)
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.leftovers() {
            // SAFETY: kill(2) on a pid just seen carrying this fixture's marker.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Sends a request; returns the status and the body as JSON (a JSON string when the body is not JSON,
/// null when it is empty).
pub fn send(req: RequestBuilder) -> (u16, Value) {
    let resp: Response = req.send().unwrap_or_else(|e| panic!("request failed: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_else(|e| panic!("reading body: {e}"));
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}
