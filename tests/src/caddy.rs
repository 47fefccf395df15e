//! A real Caddy (Debian's `caddy` package) for the Caddy integration tests: `caddy run` on a config
//! of the test's own, admin API and HTTP listener on free loopback ports, storage, HOME and XDG dirs in
//! a temp dir (never the system instance or its files), killed when dropped. Plus snapshot files
//! compared with a readable diff.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::servers::free_port;
use crate::wait::wait_for;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `caddy` binary on PATH; panics with what to do when there is none.
pub fn caddy_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("caddy"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the Caddy tests need the `caddy` binary on PATH: run `cargo xtask test` (it installs \
                 Debian's caddy package when missing) or `apt-get install caddy`"
            )
        })
}

/// Host used by the route the test configures in Caddy itself, outside tend.
pub const OUTSIDE_HOST: &str = "outside.test";
/// What that route answers.
pub const OUTSIDE_BODY: &str = "configured outside tend";

/// A running Caddy.
pub struct CaddyProxy {
    child: Option<Child>,
    dir: TempDir,
    admin_port: u16,
    http_port: u16,
    client: Client,
}

impl CaddyProxy {
    /// Caddy with one server on the HTTP port (automatic HTTPS off) holding one route configured outside
    /// tend: `Host: outside.test` answers [`OUTSIDE_BODY`].
    pub fn with_outside_route() -> CaddyProxy {
        Self::start_on(free_port(), free_port(), true)
    }

    /// Caddy with nothing but its admin API: tend has to create its own server.
    pub fn bare() -> CaddyProxy {
        Self::start_on(free_port(), free_port(), false)
    }

    /// Caddy on the given ports (e.g. an admin port a daemon already points at).
    pub fn start_on(admin_port: u16, http_port: u16, outside_route: bool) -> CaddyProxy {
        let dir = tempfile::Builder::new()
            .prefix("tend-caddy-")
            .tempdir()
            .expect("temp dir");
        let mut config = json!({
            "admin": {"listen": format!("127.0.0.1:{admin_port}")},
            "storage": {"module": "file_system", "root": dir.path().join("storage")},
            "logging": {"logs": {"default": {"level": "WARN"}}},
        });
        if outside_route {
            config["apps"] = json!({"http": {"servers": {"outside": {
                "listen": [format!("127.0.0.1:{http_port}")],
                "automatic_https": {"disable": true},
                "routes": [{
                    "match": [{"host": [OUTSIDE_HOST]}],
                    "handle": [{"handler": "static_response", "body": OUTSIDE_BODY}],
                    "terminal": true,
                }],
            }}}});
        }
        let config_file = dir.path().join("caddy.json");
        std::fs::write(&config_file, config.to_string()).expect("write caddy.json");
        let log = std::fs::File::create(dir.path().join("caddy.log")).expect("caddy log");
        let mut cmd = Command::new(caddy_bin());
        cmd.arg("run")
            .arg("--config")
            .arg(&config_file)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut caddy = CaddyProxy {
            child: Some(child),
            dir,
            admin_port,
            http_port,
            client: Client::builder()
                .timeout(Duration::from_secs(10))
                .no_proxy()
                .build()
                .expect("http client"),
        };
        let ready = wait_for(START_TIMEOUT, || {
            if let Some(status) = caddy
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Ok(Err(format!("caddy exited with {status}")));
            }
            match caddy
                .client
                .get(format!("{}/config/", caddy.admin_url()))
                .send()
            {
                Ok(r) if r.status() == 200 => Ok(Ok(())),
                Ok(r) => Err(format!("admin API answered {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        });
        match ready {
            Ok(Ok(())) => caddy,
            Ok(Err(e)) | Err(e) => panic!("caddy did not start: {e}; log:\n{}", caddy.log()),
        }
    }

    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }

    /// Caddy's whole running configuration (`GET /config/`).
    pub fn config(&self) -> Value {
        self.admin_get("/config/")
    }

    /// `GET <admin><path>` as JSON (`Null` for 404).
    pub fn admin_get(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.admin_url()))
            .send()
            .unwrap_or_else(|e| panic!("GET {path} on caddy's admin API: {e}"));
        if r.status() == 404 {
            return Value::Null;
        }
        r.json().unwrap_or(Value::Null)
    }

    /// A request through Caddy's HTTP listener with `Host: host`; `Err` if Caddy cannot be reached.
    pub fn request(&self, host: &str, path: &str) -> Result<(u16, String), String> {
        let r = self
            .client
            .get(format!("http://127.0.0.1:{}{path}", self.http_port))
            .header("host", host)
            .send()
            .map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.text().map_err(|e| e.to_string())?))
    }

    /// Waits until `GET path` with `Host: host` answers `status` with a body containing `needle`.
    pub fn wait_answer(&self, host: &str, path: &str, status: u16, needle: &str) -> String {
        wait_for(Duration::from_secs(30), || match self.request(host, path) {
            Ok((s, body)) if s == status && body.contains(needle) => Ok(body),
            other => Err(format!("{other:?}")),
        })
        .unwrap_or_else(|e| {
            panic!(
                "Host {host} {path} never answered {status} with {needle:?}: last {e}\ncaddy config: {}",
                self.config()
            )
        })
    }

    /// Stops Caddy (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for CaddyProxy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Compares `actual` with the committed snapshot `tests/snapshots/<rel>`; on a difference, panics with
/// a unified diff. `TEND_UPDATE_SNAPSHOTS=1` (re)writes the file instead, for review before committing.
pub fn assert_snapshot(rel: &str, actual: &str) {
    let path = snapshots_dir().join(rel);
    if std::env::var_os("TEND_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("snapshot dir")).expect("snapshot dir");
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} cannot be read ({e}); write it with TEND_UPDATE_SNAPSHOTS=1, review and commit it",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual)
            .unified_diff()
            .header(&format!("{rel} (committed)"), &format!("{rel} (actual)"))
            .to_string();
        panic!("snapshot {rel} differs (TEND_UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}");
    }
}

fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}
