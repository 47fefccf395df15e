//! `cargo xtask bench plugins`: the figures the plugin host is held to. The cost of one probe call
//! (fresh store + instantiation + `check` of the `trivial` fixture, measured in-process by the
//! `plugin_calls` example), how long a release daemon with five user plugins takes from spawn
//! to a ready API once their compiled code is cached, and what writing a probe in Python costs
//! against Rust (the `probe_compare` example: component size, first load, and the per-call
//! latency of the same JSON check by the built-in `http` and by `json-status`, measured in one
//! run). Prints a table with each goal and writes target/bench/plugins.json.

use super::table::{self, Goal, Row, print_table};
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Daemon, wait_until};

const CALLS: usize = 5000;
/// Checks of each probe in the language comparison (the Python one takes milliseconds each).
const COMPARE_CALLS: usize = 1000;
/// The language comparison's two probes, as `probe_compare` reports them.
const RUST_PROBE: &str = "rust-http";
const PYTHON_PROBE: &str = "python-json-status";
/// Longest an example may take: `plugin_calls` needs well under a second, `probe_compare` tens of
/// seconds (compiling the Python component, then its calls).
const CALLS_DEADLINE: Duration = Duration::from_secs(300);
const STARTS: usize = 10;
/// Distinct components, so each has its own compiled-code cache entry (copies of one file would
/// share a single entry); small ones and a large WASI one. Installed as `bench-<fixture>`. None
/// imports `http` or `net`, so the bench does not depend on those interfaces.
const FIXTURES: [&str; 5] = ["trivial", "spin", "hog", "trapper", "reader"];
const POLL: Duration = Duration::from_millis(1);
const START_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(30);

pub fn main() -> anyhow::Result<()> {
    crate::plugins::build()?;
    let tend = crate::build_release_tend()?;
    let calls_bin = build_example("plugin_calls")?;
    let compare_bin = build_example("probe_compare")?;
    let started = Instant::now();
    let plugins = crate::target_dir().join("plugins");
    let fixtures = plugins.join("fixtures");

    println!("==> plugin calls: {CALLS} sequential checks of `trivial`, in-process");
    let calls = run_example(
        &calls_bin,
        [fixtures.as_os_str(), CALLS.to_string().as_ref()],
    )
    .context("plugin calls")?;
    println!(
        "==> Rust `http` vs Python `json-status`: first load, then {COMPARE_CALLS} checks of each, in-process"
    );
    let compare = run_example(
        &compare_bin,
        [plugins.as_os_str(), COMPARE_CALLS.to_string().as_ref()],
    )
    .context("probe comparison")?;
    println!(
        "==> daemon start with {} cached user plugins: {STARTS} starts",
        FIXTURES.len()
    );
    let starts = daemon_starts(&tend, &fixtures).context("daemon start")?;

    let e2e = &calls["end_to_end_us"];
    let stats = &calls["host_stats_us"];
    let median_us = number(e2e, "median")?;
    let p99_us = number(e2e, "p99")?;
    let bucket = |key: &str| match stats[key].as_u64() {
        Some(b) => format!("<= {b} us"),
        None => "over the last bucket".into(),
    };
    let (health, api) = (summary(&starts.healthz_ms), summary(&starts.api_ms));
    let rust = &compare["probes"][RUST_PROBE];
    let python = &compare["probes"][PYTHON_PROBE];
    let (rust_median, python_median) = (
        number(&rust["end_to_end_us"], "median")?,
        number(&python["end_to_end_us"], "median")?,
    );
    let rows = [
        Row::new(
            format!("check(trivial), end to end, median ({CALLS} calls)"),
            format!("{median_us:.1} us"),
            Goal::Below(median_us, 20.0, "us"),
        ),
        Row::new(
            "check(trivial), end to end, p99",
            format!("{p99_us:.1} us"),
            Goal::Below(p99_us, 50.0, "us"),
        ),
        Row::new(
            "check(trivial), host stats histogram, median / p99",
            format!("{} / {}", bucket("median_at_most"), bucket("p99_at_most")),
            Goal::None,
        ),
        Row::new(
            "first daemon start, compiling (coarse: 20 ms polls)",
            format!(
                "{:.0} ms, {} compiled",
                starts.first_start_ms, starts.first_compiled
            ),
            Goal::None,
        ),
        Row::new(
            format!("daemon spawn -> /healthz 200, median / max ({STARTS} starts)"),
            format!("{:.1} / {:.1} ms", health.median, health.max),
            Goal::None,
        ),
        Row::new(
            format!(
                "daemon spawn -> API lists the {} user plugins loaded, median",
                FIXTURES.len()
            ),
            format!("{:.1} ms", api.median),
            Goal::Below(api.median, 100.0, "ms"),
        ),
        Row::new(
            "daemon spawn -> API lists the user plugins loaded, max",
            format!("{:.1} ms", api.max),
            Goal::None,
        ),
        Row::new(
            format!(
                "warm starts that compiled a plugin ({} user + {} built-in)",
                FIXTURES.len(),
                starts.builtins
            ),
            format!("{} of {STARTS}", starts.compiling_starts),
            Goal::Zero(starts.compiling_starts as u64),
        ),
        Row::new(
            "component size: Rust `http` / Python `json-status`",
            format!(
                "{:.1} KiB / {:.1} MiB",
                number(rust, "size_bytes")? / 1024.0,
                number(python, "size_bytes")? / (1024.0 * 1024.0)
            ),
            Goal::None,
        ),
        Row::new(
            "first load (compile, link, checks): Rust / Python",
            format!(
                "{:.0} ms / {:.0} ms",
                number(rust, "first_load_ms")?,
                number(python, "first_load_ms")?
            ),
            Goal::None,
        ),
        Row::new(
            format!("JSON check over HTTP, median, Rust / Python ({COMPARE_CALLS} calls each)"),
            format!(
                "{rust_median:.0} us / {python_median:.0} us (Python {:.1}x)",
                python_median / rust_median
            ),
            Goal::None,
        ),
        Row::new(
            "JSON check over HTTP, p99, Rust / Python",
            format!(
                "{:.0} us / {:.0} us",
                number(&rust["end_to_end_us"], "p99")?,
                number(&python["end_to_end_us"], "p99")?
            ),
            Goal::None,
        ),
        Row::new(
            "check answered before any I/O (bad config), median, Rust / Python",
            format!(
                "{:.0} us / {:.0} us",
                number(&rust["no_io_us"], "median")?,
                number(&python["no_io_us"], "median")?
            ),
            Goal::None,
        ),
    ];
    print_table(&rows);

    let report = json!({
        "plugin_calls": calls,
        "probe_compare": compare,
        "daemon_start": {
            "user_plugins": FIXTURES.iter().map(|f| format!("bench-{f}")).collect::<Vec<_>>(),
            "builtins": starts.builtins,
            "starts": STARTS,
            "poll_ms": POLL.as_secs_f64() * 1e3,
            "first_start_ms": starts.first_start_ms,
            "first_start_compiled": starts.first_compiled,
            "healthz_ms": {"median": health.median, "max": health.max, "samples": starts.healthz_ms},
            "api_ready_ms": {"median": api.median, "max": api.max, "samples": starts.api_ms},
            "compiling_starts": starts.compiling_starts,
        },
    });
    table::write_report("plugins", report, &rows, started)?;
    Ok(())
}

/// Builds an example of `tend` in release mode. The bench then runs the binary itself rather
/// than through `cargo run`, so the run's deadline never counts time spent waiting on cargo's lock.
fn build_example(name: &str) -> anyhow::Result<PathBuf> {
    crate::run_checked(crate::cargo().args([
        "build",
        "--release",
        "--package",
        "tend",
        "--example",
        name,
    ]))?;
    Ok(crate::target_dir()
        .join("release")
        .join("examples")
        .join(name))
}

/// Runs an example with a deadline and returns the JSON it printed.
fn run_example(bin: &Path, args: [&OsStr; 2]) -> anyhow::Result<Value> {
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-calls-")
        .tempdir()?;
    let stdout = tmp.path().join("stdout");
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout)?)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let status = wait_until(
        "the example to finish",
        CALLS_DEADLINE,
        Duration::from_millis(20),
        || Ok(child.try_wait()?),
    );
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.context("killed it"));
        }
    };
    let text = std::fs::read_to_string(&stdout)?;
    if !status.success() {
        bail!("{} failed ({status}); its output:\n{text}", bin.display());
    }
    serde_json::from_str(&text)
        .with_context(|| format!("{} printed no JSON: {text:?}", bin.display()))
}

struct Starts {
    first_start_ms: f64,
    first_compiled: usize,
    builtins: usize,
    healthz_ms: Vec<f64>,
    api_ms: Vec<f64>,
    compiling_starts: usize,
}

/// Fills the cache with one start through the shared fixture, then times `STARTS` warm starts on a
/// fixed port, so `/healthz` can be polled from the moment of the spawn (with port 0 the port is only
/// known once `daemon.json` is written, after the plugins are loaded).
fn daemon_starts(tend: &Path, fixtures: &Path) -> anyhow::Result<Starts> {
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-plugins-")
        .tempdir()?;
    let data = tmp.path().join("data");
    let user_dir = data.join("plugins");
    std::fs::create_dir_all(&user_dir)?;
    for fixture in FIXTURES {
        for ext in ["wasm", "toml"] {
            let from = fixtures.join(format!("{fixture}.{ext}"));
            std::fs::copy(&from, user_dir.join(format!("bench-{fixture}.{ext}")))
                .with_context(|| format!("cannot copy {}", from.display()))?;
        }
    }

    let t0 = Instant::now();
    let daemon = Daemon::start(tend, &data, &[])?;
    let first = wait_until(
        "the first daemon to list every user plugin loaded",
        START_DEADLINE,
        Duration::from_millis(20),
        || all_loaded(&daemon.get("/api/plugins")?),
    )
    .with_context(|| format!("daemon output:\n{}", daemon.output_tail()))?;
    let first_start_ms = t0.elapsed().as_secs_f64() * 1e3;
    daemon
        .stop(STOP_DEADLINE)
        .context("stopping the first daemon")?;

    let token = std::fs::read_to_string(data.join("token"))?
        .trim()
        .to_string();
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()?;
    let mut starts = Starts {
        first_start_ms,
        first_compiled: first.compiled,
        builtins: first.builtins,
        healthz_ms: Vec::new(),
        api_ms: Vec::new(),
        compiling_starts: 0,
    };
    for i in 1..=STARTS {
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut daemon = Spawned::start(tend, &data, port)?;
        let spawned = daemon.spawned;
        let healthz = daemon
            .poll(|| {
                let resp = http.get(format!("{base}/healthz")).send();
                Ok(resp.is_ok_and(|r| r.status() == reqwest::StatusCode::OK))
            })
            .with_context(|| format!("start {i}: waiting for GET /healthz to answer 200"))?;
        let mut loaded = None;
        let api = daemon
            .poll(|| {
                let resp = http
                    .get(format!("{base}/api/plugins"))
                    .bearer_auth(&token)
                    .send()?;
                if !resp.status().is_success() {
                    return Ok(false);
                }
                loaded = all_loaded(&resp.json()?)?;
                Ok(loaded.is_some())
            })
            .with_context(|| format!("start {i}: waiting for GET /api/plugins to list them"))?;
        let loaded = loaded.context("polling ended without a plugin list")?;
        starts
            .healthz_ms
            .push((healthz - spawned).as_secs_f64() * 1e3);
        starts.api_ms.push((api - spawned).as_secs_f64() * 1e3);
        if loaded.compiled > 0 {
            starts.compiling_starts += 1;
        }
        daemon
            .stop()
            .with_context(|| format!("stopping start {i}"))?;
    }
    Ok(starts)
}

struct Loaded {
    /// Loaded plugins (user and built-in) whose code was compiled rather than taken from the cache.
    compiled: usize,
    builtins: usize,
}

/// `Some` once every bench plugin is listed as loaded; a rejected one is an error, not a wait.
fn all_loaded(list: &Value) -> anyhow::Result<Option<Loaded>> {
    let list = list.as_array().context("GET /api/plugins is not a list")?;
    for fixture in FIXTURES {
        let name = format!("bench-{fixture}");
        let Some(p) = list.iter().find(|p| p["name"] == name.as_str()) else {
            return Ok(None);
        };
        match p["state"].as_str() {
            Some("loaded") => {}
            Some("rejected") => bail!("plugin {name} was rejected: {}", p["rejected"]),
            _ => return Ok(None),
        }
    }
    let loaded = || list.iter().filter(|p| p["state"] == "loaded");
    Ok(Some(Loaded {
        compiled: loaded().filter(|p| p["from_cache"] != true).count(),
        builtins: loaded().filter(|p| p["source"] == "builtin").count(),
    }))
}

/// A port that was free a moment ago (the daemon binds it with SO_REUSEADDR).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A timed `tend daemon` on a fixed port. Dropping it kills the daemon if `stop` did not end it.
struct Spawned {
    child: Child,
    spawned: Instant,
    data_dir: PathBuf,
    output: PathBuf,
}

impl Spawned {
    fn start(tend: &Path, data_dir: &Path, port: u16) -> anyhow::Result<Spawned> {
        let output = data_dir.with_extension("out");
        let out = OpenOptions::new().create(true).append(true).open(&output)?;
        let mut cmd = Command::new(tend);
        cmd.arg("daemon")
            .arg("--port")
            .arg(port.to_string())
            .arg("--control-port")
            .arg("0")
            .arg("--data-dir")
            .arg(data_dir);
        // The caller's settings must not leak into the measured daemon.
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("TEND_") || n.starts_with("LOG_") {
                cmd.env_remove(&name);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let spawned = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", tend.display()))?;
        Ok(Spawned {
            child,
            spawned,
            data_dir: data_dir.to_path_buf(),
            output,
        })
    }

    /// Calls `ready` every `POLL` until it is true; returns when it was. Fails when the daemon exits.
    fn poll(&mut self, mut ready: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<Instant> {
        let result = wait_until("the daemon", START_DEADLINE, POLL, || {
            if let Some(status) = self.child.try_wait()? {
                bail!("the daemon exited at startup ({status})");
            }
            Ok(ready()?.then(Instant::now))
        });
        result.with_context(|| format!("daemon output:\n{}", self.output_tail()))
    }

    /// SIGTERM once the daemon has announced itself, then waits for a clean exit.
    fn stop(mut self) -> anyhow::Result<()> {
        // The API answers before `daemon.json` is written, and the daemon installs its SIGTERM
        // handler only after writing it: a SIGTERM in between kills it with the default action.
        let info = self.data_dir.join("daemon.json");
        self.poll(|| Ok(info.exists()))
            .context("waiting for daemon.json before sending SIGTERM")?;
        // SAFETY: plain kill(2) on our own child's pid, which cannot have been reaped and reused yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let status = wait_until(
            "the daemon to exit after SIGTERM",
            STOP_DEADLINE,
            Duration::from_millis(5),
            || Ok(self.child.try_wait()?),
        )?;
        if !status.success() {
            bail!(
                "the daemon exited with {status} after SIGTERM; its output:\n{}",
                self.output_tail()
            );
        }
        if info.exists() {
            bail!("the daemon exited but left daemon.json behind");
        }
        Ok(())
    }

    fn output_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn number(v: &Value, key: &str) -> anyhow::Result<f64> {
    v[key]
        .as_f64()
        .with_context(|| format!("the example's JSON has no number {key:?}: {v}"))
}

struct Summary {
    median: f64,
    max: f64,
}

fn summary(samples: &[f64]) -> Summary {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Nearest-rank median: with an even count, the lower middle value.
    let rank = sorted.len().div_ceil(2).max(1);
    Summary {
        median: sorted.get(rank - 1).copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
    }
}

// The table is `bench core`'s, copied: its helpers are private to `core.rs`.
