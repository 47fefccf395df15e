//! A real Caddy (Debian's `caddy` package) for the Caddy integration tests: `caddy run` on a config
//! of the test's own, admin API and HTTP listener on free loopback ports, storage, HOME and XDG dirs in
//! a temp dir (never the system instance or its files), killed when dropped; for `tls = internal`, an
//! HTTPS client (Python's `ssl`, so the suite needs no TLS stack of its own) that trusts only the root
//! of that Caddy's local CA. Plus snapshot files compared with a readable diff.

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

/// An HTTP service for tend to run (`python3 -c NAMING_SERVER <port> <name>`): answers every GET with
/// its name, the path it got and the `X-Env` header it was sent.
pub const NAMING_SERVER: &str = r#"
import http.server, sys
port, name = int(sys.argv[1]), sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s path=%s x-env=%s\n" % (name, self.path, self.headers.get("X-Env", "-"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer.allow_reuse_address = True
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// One HTTPS request (`port host cafile path`) to 127.0.0.1 with SNI and `Host` set to `host`,
/// verifying the chain against `cafile` only and the name against `host`; prints the answer and the
/// certificate's issuer and names as JSON.
const HTTPS_CLIENT: &str = r#"
import json, socket, ssl, sys
port, host, cafile, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=cafile)
with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as tls:
        cert = tls.getpeercert()
        tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
        data = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
head, _, body = data.partition(b"\r\n\r\n")
print(json.dumps({
    "status": int(head.split()[1]),
    "body": body.decode(),
    "issuer": dict(kv[0] for kv in cert["issuer"]).get("commonName"),
    "names": [v for k, v in cert.get("subjectAltName", ()) if k == "DNS"],
}))
"#;

/// What [`CaddyProxy::https_request`] got: the answer and the certificate Caddy presented.
#[derive(Debug)]
pub struct HttpsAnswer {
    pub status: u16,
    pub body: String,
    /// Common name of the certificate's issuer.
    pub issuer: String,
    /// DNS names of the certificate.
    pub names: Vec<String>,
}

/// A running Caddy.
pub struct CaddyProxy {
    child: Option<Child>,
    dir: TempDir,
    admin_port: u16,
    http_port: u16,
    tls_port: Option<u16>,
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

    /// Caddy for `tls = internal` on a free TLS port, where no server listens yet (tend creates its
    /// own). Its local CA never installs its root into a trust store. The HTTP port (where automatic
    /// HTTPS puts its redirects; Caddy would bind port 80 for them otherwise) is the outside server's.
    pub fn for_internal_tls() -> CaddyProxy {
        Self::launch(free_port(), free_port(), true, Some(free_port()))
    }

    /// Caddy on the given ports (e.g. an admin port a daemon already points at).
    pub fn start_on(admin_port: u16, http_port: u16, outside_route: bool) -> CaddyProxy {
        Self::launch(admin_port, http_port, outside_route, None)
    }

    fn launch(
        admin_port: u16,
        http_port: u16,
        outside_route: bool,
        tls_port: Option<u16>,
    ) -> CaddyProxy {
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
        if tls_port.is_some() {
            config["apps"]["pki"] =
                json!({"certificate_authorities": {"local": {"install_trust": false}}});
            config["apps"]["http"]["http_port"] = http_port.into();
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
            tls_port,
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

    /// The TLS port of a Caddy from [`CaddyProxy::for_internal_tls`].
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("a Caddy started for TLS")
    }

    /// The root certificate of Caddy's local CA, in its storage (there once it issued something).
    pub fn local_root(&self) -> PathBuf {
        self.dir
            .path()
            .join("storage/pki/authorities/local/root.crt")
    }

    /// `GET path` over HTTPS on the TLS port, with SNI and `Host: host`, trusting only
    /// [`CaddyProxy::local_root`]; `Err` with the client's complaint if the connection, the handshake
    /// or the verification fails.
    pub fn https_request(&self, host: &str, path: &str) -> Result<HttpsAnswer, String> {
        let root = self.local_root();
        if !root.is_file() {
            return Err(format!("{} does not exist yet", root.display()));
        }
        let mut cmd = Command::new(crate::python3());
        cmd.args(["-c", HTTPS_CLIENT, &self.tls_port().to_string(), host])
            .arg(&root)
            .arg(path);
        let out = crate::run_with_deadline(cmd, Duration::from_secs(30));
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(stderr.lines().last().unwrap_or_default().to_string());
        }
        let v: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("client output is not JSON: {e}"))?;
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Ok(HttpsAnswer {
            status: v["status"].as_u64().unwrap_or_default() as u16,
            body: text("body"),
            issuer: text("issuer"),
            names: v["names"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
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
