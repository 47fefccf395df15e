//! `cargo xtask bench control`: what the TCP control port and the command policy cost. On the port:
//! the round trip of `status` on one authenticated connection, the throughput of `status <name>` lines
//! pipelined in one write, and 500 connections at once, each `auth` + `status` (with the connects the
//! kernel dropped from a full accept queue, which cost the client a ~1 s retry). For the policy:
//! `POST /api/policy/evaluate` (allowed and denied commands) interleaved with `GET /api/status` on
//! the same keep-alive client, so the difference of their medians is the policy's own cost (the
//! plugin call and the audit row). No goals are set: prints the figures and writes
//! target/bench/control.json.

use super::table::{Goal, Row, print_table};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use super::{Daemon, wait_until};

const WARM_UP: usize = 200;
const ROUND_TRIPS: usize = 2000;
const PIPELINED: usize = 10_000;
const PIPELINE_ROUNDS: usize = 3;
const CONNECTIONS: usize = 500;
const CONNECTION_ROUNDS: usize = 3;
/// `[control] max_connections` of the measured daemon: room for `CONNECTIONS` and a few more.
const MAX_CONNECTIONS: usize = 600;
const POLICY_WARM_UP: usize = 50;
const EVALUATIONS: usize = 500;
/// The service whose `status <name>` is asked and in whose working dir commands are judged.
const SERVICE: &str = "bench-control";
/// Longest wait for a connect or one answer: a daemon that takes longer is broken, not slow.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Every answer of the port that is not an error starts so.
const OK: &str = r#"{"ok":true"#;
/// Commands and whether the built-in policy allows them (examples from the README), so the mix
/// measures the policy's analysis, not its fail-closed path.
const COMMANDS: [(&str, bool); 8] = [
    ("make clean", true),
    ("cargo build --release", true),
    ("rm -rf ./build", true),
    ("echo \"rm -rf /\"", true),
    ("rm -rf /", false),
    ("curl -fsS https://example.com/install.sh | sh", false),
    ("chmod -R 777 .", false),
    ("cd / && rm -rf *", false),
];

pub fn main() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("bench control reads /proc and needs Linux");
    }
    // The policy measured is the built-in plugin, embedded from target/plugins.
    crate::plugins::build()?;
    let tend = crate::build_release_tend()?;
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-control-")
        .tempdir()?;
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::write(
        data.join("tend.toml"),
        format!("[control]\nmax_connections = {MAX_CONNECTIONS}\n"),
    )?;
    let port = free_port()?;
    let daemon = Daemon::start(&tend, &data, &["--control-port", &port.to_string()])?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    println!(
        "==> daemon pid {} in {}, control port {port}",
        daemon.pid,
        daemon.data_dir.display()
    );
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work)?;
    add_service(&daemon, &work).context("adding the service")?;

    println!("==> round trip: {ROUND_TRIPS} `status` on one connection, after {WARM_UP}");
    let trip = round_trips(addr, &daemon.token).context("round trip")?;
    println!(
        "==> pipelined: {PIPELINED} `status {SERVICE}` lines in one write, {PIPELINE_ROUNDS}x"
    );
    let mut pipe_ms = Vec::new();
    for round in 1..=PIPELINE_ROUNDS {
        let ms =
            pipelined(addr, &daemon.token).with_context(|| format!("pipelined, round {round}"))?;
        pipe_ms.push(ms);
    }
    println!("==> {CONNECTIONS} connections at once, each auth + status, {CONNECTION_ROUNDS}x");
    let baseline = sockets(daemon.pid)?;
    let mut all_ms = Vec::new();
    let mut latency_ms = Vec::new();
    let mut overflows = Vec::new();
    for round in 1..=CONNECTION_ROUNDS {
        let before = listen_overflows()?;
        let c = concurrent(addr, &daemon.token)
            .with_context(|| format!("{CONNECTIONS} connections, round {round}"))?;
        overflows.push(listen_overflows()?.saturating_sub(before));
        all_ms.push(c.all_ms);
        latency_ms.extend(c.latency_ms);
        // The next round needs the slots back: wait until the daemon has closed these connections.
        let slack = (MAX_CONNECTIONS - CONNECTIONS) / 2;
        wait_until(
            "the daemon to close the connections",
            IO_TIMEOUT,
            Duration::from_millis(10),
            || Ok((sockets(daemon.pid)? <= baseline + slack).then_some(())),
        )?;
    }
    println!(
        "==> policy: {EVALUATIONS} POST /api/policy/evaluate and {EVALUATIONS} GET /api/status, \
         interleaved, after {POLICY_WARM_UP} of each"
    );
    let policy = policy(&daemon).context("policy")?;
    daemon
        .stop(Duration::from_secs(60))
        .context("stopping the daemon")?;

    let trip_us = Stats::of(&trip);
    let pipe = Stats::of(&pipe_ms);
    let rate = PIPELINED as f64 / (pipe.median / 1e3);
    let all = Stats::of(&all_ms);
    let latency = Stats::of(&latency_ms);
    let rest = Stats::of(&policy.status_us);
    let eval = Stats::of(&policy.evaluate_us);
    let allowed = Stats::of(&policy.allowed_us);
    let denied = Stats::of(&policy.denied_us);
    let rows = [
        Row::new(
            format!("control `status` round trip, median / p95 / p99 ({ROUND_TRIPS})"),
            format!(
                "{:.1} / {:.1} / {:.1} us",
                trip_us.median, trip_us.p95, trip_us.p99
            ),
            Goal::None,
        ),
        Row::new(
            "  / REST GET /api/status (below), medians",
            format!("x{:.2}", trip_us.median / rest.median),
            Goal::None,
        ),
        Row::new(
            format!("pipelined `status <name>`, {PIPELINED} lines, median of {PIPELINE_ROUNDS}"),
            format!("{rate:.0} req/s ({:.1} ms)", pipe.median),
            Goal::None,
        ),
        Row::new(
            format!(
                "{CONNECTIONS} connections at once: all answered, median of {CONNECTION_ROUNDS}"
            ),
            format!("{:.1} ms (max {:.1})", all.median, all.max),
            Goal::None,
        ),
        Row::new(
            "  per connection (connect, auth, status), median / p99",
            format!("{:.1} / {:.1} ms", latency.median, latency.p99),
            Goal::None,
        ),
        Row::new(
            "  connects dropped by a full accept queue, per round (TcpExt, system-wide)",
            overflows
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" / "),
            Goal::None,
        ),
        Row::new(
            format!("REST GET /api/status, median / p99 ({EVALUATIONS}, keep-alive)"),
            format!("{:.1} / {:.1} us", rest.median, rest.p99),
            Goal::None,
        ),
        Row::new(
            format!("POST /api/policy/evaluate, median / p99 ({EVALUATIONS})"),
            format!("{:.1} / {:.1} us", eval.median, eval.p99),
            Goal::None,
        ),
        Row::new(
            "  allowed / denied commands, medians",
            format!("{:.1} / {:.1} us", allowed.median, denied.median),
            Goal::None,
        ),
        Row::new(
            "policy's own cost: evaluate - status, medians",
            format!(
                "{:.1} us (x{:.2})",
                eval.median - rest.median,
                eval.median / rest.median
            ),
            Goal::None,
        ),
    ];
    print_table(&rows);

    let report = json!({
        "control_port": {
            "round_trip_us": {"requests": ROUND_TRIPS, "warm_up": WARM_UP, "median": trip_us.median,
                              "p95": trip_us.p95, "p99": trip_us.p99, "max": trip_us.max},
            "pipelined": {"requests": PIPELINED, "rounds_ms": pipe_ms, "median_ms": pipe.median,
                          "requests_per_s": rate},
            "concurrent": {"connections": CONNECTIONS, "max_connections": MAX_CONNECTIONS,
                           "all_answered_ms": all_ms, "all_answered_median_ms": all.median,
                           "listen_overflows": overflows,
                           "latency_ms": {"median": latency.median, "p95": latency.p95,
                                          "p99": latency.p99, "max": latency.max}},
        },
        "policy": {
            "requests": EVALUATIONS, "warm_up": POLICY_WARM_UP,
            "commands": COMMANDS.iter().map(|(c, a)| json!({"command": c, "allowed": a})).collect::<Vec<_>>(),
            "rest_status_us": {"median": rest.median, "p95": rest.p95, "p99": rest.p99},
            "evaluate_us": {"median": eval.median, "p95": eval.p95, "p99": eval.p99},
            "evaluate_allowed_us": {"median": allowed.median, "p99": allowed.p99},
            "evaluate_denied_us": {"median": denied.median, "p99": denied.p99},
            "difference_us": eval.median - rest.median,
            "ratio": eval.median / rest.median,
        },
        "goals": rows.iter().map(|r| json!({"figure": r.figure, "value": r.value,
                 "goal": r.goal.describe(), "met": r.goal.met()})).collect::<Vec<_>>(),
    });
    let out = crate::target_dir().join("bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("control.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    println!(
        "figures written to {} ({:.0} s)",
        out.join("control.json").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A port that was free a moment ago (the daemon binds it with SO_REUSEADDR).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A long-running service, so `status <name>` describes a live process; commands are judged in
/// its working dir, `work`.
fn add_service(daemon: &Daemon, work: &Path) -> anyhow::Result<()> {
    daemon.post(
        "/api/services",
        &json!({"name": SERVICE, "command": ["sleep", "3600"], "working_dir": work}),
    )?;
    let path = format!("/api/services/{SERVICE}");
    wait_until(
        "the service to run",
        Duration::from_secs(10),
        Duration::from_millis(10),
        || Ok((daemon.get(&path)?["status"] == "running").then_some(())),
    )
}

/// One connection to the control port, with every wait bounded by `IO_TIMEOUT`.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
}

impl Conn {
    /// Connects and authenticates.
    fn open(addr: SocketAddr, token: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut conn = Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            line: String::new(),
        };
        conn.ask(&format!("auth {token}"))
            .context("authenticating")?;
        Ok(conn)
    }

    /// Sends one request line and reads its answer.
    fn ask(&mut self, request: &str) -> anyhow::Result<&str> {
        self.writer.write_all(format!("{request}\n").as_bytes())?;
        self.answer()
    }

    /// The next answer line; an error unless it is `ok`.
    fn answer(&mut self) -> anyhow::Result<&str> {
        self.line.clear();
        if self.reader.read_line(&mut self.line)? == 0 {
            bail!("the daemon closed the connection");
        }
        if !self.line.starts_with(OK) {
            bail!("the daemon answered {}", self.line.trim_end());
        }
        Ok(&self.line)
    }
}

/// Microseconds of each of `ROUND_TRIPS` sequential `status` requests.
fn round_trips(addr: SocketAddr, token: &str) -> anyhow::Result<Vec<f64>> {
    let mut conn = Conn::open(addr, token)?;
    let first: Value = serde_json::from_str(conn.ask("status")?)?;
    if !first["status"].is_object() {
        bail!("`status` answered without a status: {first}");
    }
    for _ in 1..WARM_UP {
        conn.ask("status")?;
    }
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        conn.ask("status")?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(samples)
}

/// Milliseconds from writing `PIPELINED` requests at once (from a second thread, since the answers
/// fill the socket buffers long before the last request is written) to reading the last answer.
fn pipelined(addr: SocketAddr, token: &str) -> anyhow::Result<f64> {
    let mut conn = Conn::open(addr, token)?;
    let batch = format!("status {SERVICE}\n").repeat(PIPELINED).into_bytes();
    let mut writer = conn.writer.try_clone()?;
    let t = Instant::now();
    let sent = std::thread::spawn(move || writer.write_all(&batch));
    let read = (0..PIPELINED).try_for_each(|i| {
        conn.answer()
            .map(drop)
            .with_context(|| format!("answer {} of {PIPELINED}", i + 1))
    });
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if read.is_err() {
        // Unblocks the writer, which may wait for a reader that has stopped.
        let _ = conn.writer.shutdown(Shutdown::Both);
    }
    let written = sent
        .join()
        .map_err(|_| anyhow!("the writer thread panicked"))?;
    read?;
    written.context("writing the requests")?;
    Ok(ms)
}

struct Concurrent {
    all_ms: f64,
    latency_ms: Vec<f64>,
}

/// `CONNECTIONS` threads released at once, each connecting, authenticating and asking `status`; all
/// keep their connection open until every one has its answer, so the daemon serves them together.
fn concurrent(addr: SocketAddr, token: &str) -> anyhow::Result<Concurrent> {
    let start = Arc::new(Barrier::new(CONNECTIONS + 1));
    let done = Arc::new(Barrier::new(CONNECTIONS + 1));
    let mut threads = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let (start, done, token) = (start.clone(), done.clone(), token.to_string());
        let thread = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                start.wait();
                let t = Instant::now();
                let conn = Conn::open(addr, &token).and_then(|mut c| {
                    c.ask("status")?;
                    Ok(c)
                });
                let answered = Instant::now();
                done.wait();
                conn.map(|_| (answered - t, answered))
            })
            .context("starting a client thread")?;
        threads.push(thread);
    }
    start.wait();
    let t0 = Instant::now();
    done.wait();
    let mut latency_ms = Vec::with_capacity(CONNECTIONS);
    let mut last = t0;
    let mut failed = Vec::new();
    for thread in threads {
        match thread.join() {
            Ok(Ok((latency, answered))) => {
                latency_ms.push(latency.as_secs_f64() * 1e3);
                last = last.max(answered);
            }
            Ok(Err(e)) => failed.push(format!("{e:#}")),
            Err(_) => failed.push("a client thread panicked".into()),
        }
    }
    if let Some(first) = failed.first() {
        bail!(
            "{} of {CONNECTIONS} connections failed, the first: {first}",
            failed.len()
        );
    }
    Ok(Concurrent {
        all_ms: (last - t0).as_secs_f64() * 1e3,
        latency_ms,
    })
}

/// The machine's count of connections dropped because a listener's accept queue was full
/// (`TcpExt: ListenOverflows`): 500 connects at once can overflow the queue, and each dropped one
/// is retried by the client's kernel about a second later, which shows in the latencies.
fn listen_overflows() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat")?;
    let mut rows = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (rows.next(), rows.next()) else {
        bail!("/proc/net/netstat has no TcpExt rows");
    };
    let at = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")
        .context("/proc/net/netstat has no TcpExt ListenOverflows")?;
    let value = values
        .split_whitespace()
        .nth(at)
        .context("/proc/net/netstat: short TcpExt values row")?;
    Ok(value.parse()?)
}

/// Sockets the daemon holds open (listeners, HTTP and control connections).
fn sockets(pid: u32) -> anyhow::Result<usize> {
    let dir = Path::new("/proc").join(pid.to_string()).join("fd");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        // An fd closed while we list it is simply not counted.
        let Ok(target) = std::fs::read_link(entry?.path()) else {
            continue;
        };
        if target.to_string_lossy().starts_with("socket:") {
            n += 1;
        }
    }
    Ok(n)
}

struct PolicyTimes {
    status_us: Vec<f64>,
    evaluate_us: Vec<f64>,
    allowed_us: Vec<f64>,
    denied_us: Vec<f64>,
}

/// Times `GET /api/status` and `POST /api/policy/evaluate` alternately (which goes first swaps every
/// round, so neither always follows the other) on the fixture's keep-alive client.
fn policy(daemon: &Daemon) -> anyhow::Result<PolicyTimes> {
    let status = || daemon.http.get(format!("{}/api/status", daemon.url));
    let evaluate = |command: &str| {
        let body = json!({
            "service": SERVICE,
            "command": {"command_type": "shell", "command": command, "is_safe": true,
                        "allowed_in_production": false},
        });
        daemon
            .http
            .post(format!("{}/api/policy/evaluate", daemon.url))
            .json(&body)
    };
    let mut times = PolicyTimes {
        status_us: Vec::with_capacity(EVALUATIONS),
        evaluate_us: Vec::with_capacity(EVALUATIONS),
        allowed_us: Vec::new(),
        denied_us: Vec::new(),
    };
    for i in 0..POLICY_WARM_UP + EVALUATIONS {
        let (command, allowed) = COMMANDS[i % COMMANDS.len()];
        let timed_status = || timed(daemon, status(), "GET /api/status").map(|(us, _)| us);
        let timed_evaluate = || {
            let (us, text) = timed(daemon, evaluate(command), "POST /api/policy/evaluate")?;
            let answer: Value = serde_json::from_str(&text)
                .with_context(|| format!("evaluate answered no JSON: {text}"))?;
            if answer["allowed"] != allowed {
                bail!(
                    "the policy {} `{command}` (expected {}): {}",
                    if allowed { "denied" } else { "allowed" },
                    if allowed { "allowed" } else { "denied" },
                    answer["reason"]
                );
            }
            Ok(us)
        };
        let (s, e) = if i % 2 == 0 {
            let s = timed_status()?;
            (s, timed_evaluate()?)
        } else {
            let e = timed_evaluate()?;
            (timed_status()?, e)
        };
        if i < POLICY_WARM_UP {
            continue;
        }
        times.status_us.push(s);
        times.evaluate_us.push(e);
        if allowed {
            times.allowed_us.push(e);
        } else {
            times.denied_us.push(e);
        }
    }
    Ok(times)
}

/// Microseconds from sending `request` to having read its whole answer, and the answer.
fn timed(
    daemon: &Daemon,
    request: reqwest::blocking::RequestBuilder,
    what: &str,
) -> anyhow::Result<(f64, String)> {
    let request = request.bearer_auth(&daemon.token).build()?;
    let t = Instant::now();
    let resp = daemon.http.execute(request).context(what.to_string())?;
    let code = resp.status();
    let text = resp.text().with_context(|| format!("{what}: reading"))?;
    let us = t.elapsed().as_secs_f64() * 1e6;
    if !code.is_success() {
        bail!("{what} answered {code}: {text}");
    }
    Ok((us, text))
}

struct Stats {
    median: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

impl Stats {
    /// Nearest-rank percentiles (with an even count, the median is the lower middle value).
    fn of(samples: &[f64]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
            sorted.get(rank - 1).copied().unwrap_or(f64::NAN)
        };
        Stats {
            median: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}
