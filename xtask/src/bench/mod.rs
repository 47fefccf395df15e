//! `cargo xtask bench <name>`: benchmarks that drive a real release-built daemon through its REST API,
//! plus the fixture they share: a daemon on port 0 in a temp data dir, always stopped, every wait bounded
//! by a deadline so a broken daemon fails the bench instead of hanging it.

mod control;
mod core;
mod cron;
mod dashboard;
mod footprint;
mod metrics;
mod onboard;
mod plugins;
mod procfs;
mod supervisord;
mod table;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

pub fn main(args: &[String]) -> anyhow::Result<()> {
    match args {
        [name] if name == "core" => core::main(),
        [name] if name == "plugins" => plugins::main(),
        [name] if name == "cron" => cron::main(),
        [name] if name == "metrics" => metrics::main(),
        [name] if name == "control" => control::main(),
        [name] if name == "dashboard" => dashboard::main(),
        [name] if name == "footprint" => footprint::main(),
        [name, rest @ ..] if name == "onboard" => onboard::main(rest),
        _ => bail!(
            "usage: cargo xtask bench core|footprint|plugins|metrics|cron|control|dashboard|onboard [--debug]"
        ),
    }
}

/// Calls `check` every `interval` until it yields a value, fails, or `timeout` has passed.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> anyhow::Result<Option<T>>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check()? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(interval);
    }
}

/// Writes the C helper next to `dir` and compiles it with `cc -O2`.
pub fn compile_child(dir: &Path) -> anyhow::Result<PathBuf> {
    let source = dir.join("child.c");
    let binary = dir.join("child");
    std::fs::write(&source, include_str!("child.c"))?;
    crate::run_checked(
        Command::new("cc")
            .args(["-O2", "-Wall", "-o"])
            .arg(&binary)
            .arg(&source),
    )
    .context("compiling the bench's C helper (is a C compiler installed as `cc`?)")?;
    Ok(binary)
}

/// A `tend daemon --port 0` with its own data dir. Dropping it sends SIGTERM (SIGKILL if that fails).
pub struct Daemon {
    child: Child,
    pub pid: u32,
    /// Wall-clock time just before the daemon was spawned (`Command::spawn` returns once it exec'd).
    pub spawned_at: std::time::SystemTime,
    pub data_dir: PathBuf,
    url: String,
    token: String,
    output: PathBuf,
    http: reqwest::blocking::Client,
}

impl Daemon {
    /// Starts `tend daemon` on a free port with `data_dir` (created) and `extra` flags, and waits until
    /// it has written `daemon.json`.
    pub fn start(tend: &Path, data_dir: &Path, extra: &[&str]) -> anyhow::Result<Daemon> {
        std::fs::create_dir_all(data_dir)?;
        let output = data_dir.with_extension("out");
        let out = File::create(&output)?;
        let mut cmd = Command::new(tend);
        cmd.arg("daemon")
            .arg("--port")
            .arg("0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra);
        // Benches may run several daemons at once: none takes the default control port 9901. A bench
        // that measures the port passes its own (clap rejects the flag given twice).
        if !extra.contains(&"--control-port") {
            cmd.arg("--control-port").arg("0");
        }
        // The caller's settings must not leak into the measured daemon.
        for var in [
            "TEND_HOST",
            "TEND_PORT",
            "TEND_DATA_DIR",
            "TEND_CONFIG",
            "TEND_LOG",
            "TEND_TOKEN",
            "LOG_MAX_BYTES",
            "LOG_BACKUP_COUNT",
            "LOG_RETENTION_DAYS",
        ] {
            cmd.env_remove(var);
        }
        let spawned_at = std::time::SystemTime::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", tend.display()))?;
        let mut daemon = Daemon {
            pid: child.id(),
            spawned_at,
            child,
            data_dir: data_dir.to_path_buf(),
            url: String::new(),
            token: String::new(),
            output,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()?,
        };
        let info = data_dir.join("daemon.json");
        let url = wait_until(
            "daemon.json",
            Duration::from_secs(20),
            Duration::from_millis(20),
            || {
                if let Some(status) = daemon.child.try_wait()? {
                    bail!(
                        "the daemon exited at startup ({status}); its output:\n{}",
                        daemon.output_tail()
                    );
                }
                let Ok(text) = std::fs::read_to_string(&info) else {
                    return Ok(None);
                };
                // A half-written file is not an error yet; the next poll sees the whole one.
                let Ok(json) = serde_json::from_str::<Value>(&text) else {
                    return Ok(None);
                };
                let url = json["url"]
                    .as_str()
                    .context("daemon.json has no \"url\"")?
                    .to_string();
                Ok(Some(url))
            },
        )
        .with_context(|| format!("daemon output:\n{}", daemon.output_tail()))?;
        daemon.url = url.trim_end_matches('/').to_string();
        daemon.token = std::fs::read_to_string(data_dir.join("token"))
            .context("reading the token file")?
            .trim()
            .to_string();
        daemon
            .get("/api/status")
            .context("first authenticated request")?;
        Ok(daemon)
    }

    /// The API's base URL, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last lines the daemon printed, for error messages.
    pub fn output_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp
            .text()
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {text}");
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{method} {path}: answer is not JSON: {text}"))
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, Some(body))
    }

    /// POST without a body (start/stop/restart).
    pub fn action(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, None)
    }

    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::DELETE, path, None)
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit (status 0, daemon.json removed).
    pub fn stop(mut self, timeout: Duration) -> anyhow::Result<()> {
        let status = self.terminate(timeout)?;
        if !status.success() {
            bail!(
                "the daemon exited with {status} after SIGTERM; its output:\n{}",
                self.output_tail()
            );
        }
        if self.data_dir.join("daemon.json").exists() {
            bail!(
                "the daemon exited but left daemon.json behind (the contract says it is removed)"
            );
        }
        Ok(())
    }

    fn terminate(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        // SAFETY: plain kill(2) on our own child's pid, which cannot have been reaped and reused yet.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        let waited = wait_until(
            "the daemon to exit after SIGTERM",
            timeout,
            Duration::from_millis(20),
            || Ok(self.child.try_wait()?),
        );
        match waited {
            Ok(status) => Ok(status),
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(e.context("killed it with SIGKILL"))
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.terminate(Duration::from_secs(30));
    }
}
