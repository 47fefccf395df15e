//! `cargo xtask bench core`: the figures the supervisor core is held to. Restart latency with zero
//! backoff, the daemon's idle cost with 100 services, and log capture (latency, writer slowdown,
//! loss, sustained throughput). Prints a table with each goal and writes target/bench/core.json.

use super::table::{self, Goal, Row, print_table};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::json;

use super::{Daemon, compile_child, wait_until};

const RESTARTS: usize = 250;
const IDLE_SERVICES: usize = 100;
const IDLE_SAMPLE: Duration = Duration::from_secs(20);
const BURST_LINES: u64 = 200_000;
const SUSTAINED_WIDTH: u64 = 1024;
const SUSTAINED_LINES: u64 = (1 << 30) / SUSTAINED_WIDTH;
/// Large enough that the 1 GiB log never rotates during the run.
const LOG_MAX_BYTES: &str = "4294967296";
/// A log file that does not grow for this long means capture is stuck.
const STALL: Duration = Duration::from_secs(30);

pub fn main() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("bench core reads /proc and needs Linux");
    }
    let tend = crate::build_release_tend()?;
    let started = Instant::now();
    let tmp = tempfile::Builder::new().prefix("tend-bench-").tempdir()?;
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work)?;
    let child = compile_child(&work)?;
    let daemon = Daemon::start(
        &tend,
        &tmp.path().join("data"),
        &["--log-max-bytes", LOG_MAX_BYTES],
    )?;
    println!(
        "==> daemon pid {} in {}",
        daemon.pid,
        daemon.data_dir.display()
    );

    println!("==> restart latency: {RESTARTS} restarts with zero backoff");
    let restart = restart_latency(&daemon, &child, &work).context("restart latency")?;
    let floor = restart_floor(&child, &work).context("restart floor")?;
    println!("==> idle cost: {IDLE_SERVICES} services, sampled over {IDLE_SAMPLE:?}");
    let idle = idle_cost(&daemon).context("idle cost")?;
    println!("==> log burst: {BURST_LINES} short lines");
    let burst =
        log_capture(&daemon, &child, &work, "bench-burst", BURST_LINES, 0).context("log burst")?;
    let api_lost =
        api_lost_lines(&daemon, "bench-burst", BURST_LINES).context("log burst via the API")?;
    let devnull = devnull_duration_ms(&child, &work, BURST_LINES, 0)?;
    println!("==> sustained log: {SUSTAINED_LINES} lines of {SUSTAINED_WIDTH} bytes");
    let sustained = log_capture(
        &daemon,
        &child,
        &work,
        "bench-sustained",
        SUSTAINED_LINES,
        SUSTAINED_WIDTH,
    )
    .context("sustained log")?;
    daemon
        .stop(Duration::from_secs(120))
        .context("stopping the daemon")?;

    let writer_bytes = (SUSTAINED_LINES * SUSTAINED_WIDTH) as f64;
    let throughput = writer_bytes / 1e6 / (sustained.complete_ms / 1e3);
    let slowdown = burst.writer_ms / devnull;
    let rows = [
        Row::new(
            format!(
                "restart: exit -> next start, median ({} restarts)",
                restart.samples
            ),
            format!("{:.2} ms", restart.median_ms),
            Goal::Below(restart.median_ms, 2.0, "ms"),
        ),
        Row::new(
            "restart: exit -> next start, p95",
            format!("{:.2} ms", restart.p95_ms),
            Goal::Below(restart.p95_ms, 5.0, "ms"),
        ),
        Row::new(
            "reference: plain fork+exec loop, median / p95",
            format!("{:.2} / {:.2} ms", floor.median_ms, floor.p95_ms),
            Goal::None,
        ),
        Row::new(
            format!("idle RSS, {IDLE_SERVICES} services"),
            format!(
                "{:.1} MB ({:.1} before adding them)",
                idle.rss_mb, idle.rss_before_mb
            ),
            Goal::Below(idle.rss_mb, 20.0, "MB"),
        ),
        Row::new(
            "  of it private (heap, stacks; the rest is the binary's shared pages)",
            format!("{:.1} MB", idle.anon_mb),
            Goal::None,
        ),
        Row::new(
            format!("idle CPU, {IDLE_SERVICES} services (% of one core)"),
            format!("{:.3} %", idle.cpu_percent),
            Goal::Below(idle.cpu_percent, 0.2, "%"),
        ),
        Row::new(
            format!("log: first write -> last of {BURST_LINES} lines in file"),
            format!("{:.1} ms", burst.complete_ms),
            Goal::Below(burst.complete_ms, 60.0, "ms"),
        ),
        Row::new(
            "log: producer's own run time as a tend service / to /dev/null (best of 3)",
            format!(
                "{:.1} / {:.1} ms = x{slowdown:.2}",
                burst.writer_ms, devnull
            ),
            // Not slowed: within 10 % of writing to /dev/null.
            Goal::Below(slowdown, 1.1, "x"),
        ),
        Row::new(
            "log: lines lost in the file",
            burst.lost.to_string(),
            Goal::Zero(burst.lost),
        ),
        Row::new(
            "log: lines lost via the API",
            api_lost.to_string(),
            Goal::Zero(api_lost),
        ),
        Row::new(
            "log: sustained throughput, 1 GiB of 1 KiB lines",
            format!("{throughput:.0} MB/s"),
            Goal::Above(throughput, 300.0, "MB/s"),
        ),
        Row::new(
            "log: sustained lines lost in the file",
            sustained.lost.to_string(),
            Goal::Zero(sustained.lost),
        ),
    ];
    print_table(&rows);

    let report = json!({
        "restart_latency_ms": {"median": restart.median_ms, "p95": restart.p95_ms, "samples": restart.samples},
        "restart_floor_ms": {"median": floor.median_ms, "p95": floor.p95_ms, "samples": floor.samples},
        "idle": {"services": IDLE_SERVICES, "seconds": IDLE_SAMPLE.as_secs(), "rss_mb": idle.rss_mb,
                 "rss_mb_before": idle.rss_before_mb, "anon_mb": idle.anon_mb, "cpu_percent": idle.cpu_percent},
        "log_burst": {"lines": BURST_LINES, "complete_ms": burst.complete_ms, "writer_ms": burst.writer_ms,
                      "writer_devnull_ms": devnull, "slowdown": slowdown, "lost_file": burst.lost,
                      "lost_api": api_lost},
        "log_sustained": {"lines": SUSTAINED_LINES, "line_bytes": SUSTAINED_WIDTH, "complete_ms": sustained.complete_ms,
                          "writer_ms": sustained.writer_ms, "throughput_mb_s": throughput, "lost_file": sustained.lost},
    });
    table::write_report("core", report, &rows, started)?;
    if burst.lost + api_lost + sustained.lost > 0 {
        bail!("log lines were lost (see the table)");
    }
    Ok(())
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn service_state(daemon: &Daemon, name: &str) -> String {
    match daemon.get(&format!("/api/services/{name}")) {
        Ok(v) => format!(
            "service {name}: status {}, restart_count {}",
            v["status"], v["restart_count"]
        ),
        Err(e) => format!("service {name}: {e:#}"),
    }
}

struct Restart {
    samples: usize,
    median_ms: f64,
    p95_ms: f64,
}

fn restart_latency(daemon: &Daemon, child: &Path, work: &Path) -> anyhow::Result<Restart> {
    let file = work.join("restarts.txt");
    let name = "bench-restart";
    daemon.post(
        "/api/services",
        &json!({
            "name": name,
            "command": [child, "restart", &file],
            "restart": "always",
            "max_restarts": 1_000_000,
            "backoff": {"initial_delay_ms": 0, "max_delay_ms": 0, "jitter": 0.0},
        }),
    )?;
    let starts =
        || std::fs::read_to_string(&file).map(|t| t.lines().filter(|l| l.starts_with('S')).count());
    wait_until(
        "the restarts",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || Ok(starts().is_ok_and(|n| n > RESTARTS).then_some(())),
    )
    .with_context(|| {
        format!(
            "{} starts seen; {}",
            starts().unwrap_or(0),
            service_state(daemon, name)
        )
    })?;
    daemon.action(&format!("/api/services/{name}/stop"))?;
    daemon.delete(&format!("/api/services/{name}"))?;
    restart_stats(&file)
}

/// The same restart loop without tend, for reference: fork with setsid (as tend spawns), exec, wait.
fn restart_floor(child: &Path, work: &Path) -> anyhow::Result<Restart> {
    let file = work.join("floor.txt");
    for _ in 0..=RESTARTS {
        let mut cmd = Command::new(child);
        cmd.arg("restart").arg(&file).stdin(Stdio::null());
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd.status()?;
    }
    restart_stats(&file)
}

/// Latencies from a file of `S <ns>` / `E <ns>` records: each start minus the exit before it.
fn restart_stats(file: &Path) -> anyhow::Result<Restart> {
    let mut latencies = Vec::new();
    let mut last_exit: Option<i128> = None;
    for line in std::fs::read_to_string(file)?.lines() {
        let (kind, ns) = line.split_once(' ').context("malformed restart record")?;
        let ns: i128 = ns.parse()?;
        match kind {
            "E" => last_exit = Some(ns),
            _ => {
                if let Some(exit) = last_exit.take() {
                    latencies.push((ns - exit) as f64 / 1e6);
                }
            }
        }
    }
    if latencies.len() < 200 {
        bail!("only {} restarts measured", latencies.len());
    }
    latencies.sort_by(f64::total_cmp);
    Ok(Restart {
        samples: latencies.len(),
        median_ms: percentile(&latencies, 0.5),
        p95_ms: percentile(&latencies, 0.95),
    })
}

struct Idle {
    rss_before_mb: f64,
    rss_mb: f64,
    /// Private memory (heap, stacks), without the binary's clean shared pages.
    anon_mb: f64,
    cpu_percent: f64,
}

/// utime + stime of a whole process, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("malformed /proc/pid/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    status_mb(pid, "VmRSS:")
}

/// A `kB` figure of `/proc/<pid>/status`, in MB.
fn status_mb(pid: u32, key: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key}"))?;
    let kb: f64 = line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("malformed {key}"))?
        .parse()?;
    Ok(kb * 1024.0 / 1e6)
}

fn idle_cost(daemon: &Daemon) -> anyhow::Result<Idle> {
    let rss_before_mb = rss_mb(daemon.pid)?;
    let names: Vec<String> = (0..IDLE_SERVICES).map(|i| format!("idle-{i:03}")).collect();
    for name in &names {
        daemon.post(
            "/api/services",
            &json!({"name": name, "command": ["sleep", "3600"]}),
        )?;
    }
    let running = || -> anyhow::Result<usize> {
        let list = daemon.get("/api/services")?;
        let list = list.as_array().context("GET /api/services is not a list")?;
        Ok(list
            .iter()
            .filter(|s| s["status"] == "running" && names.iter().any(|n| s["name"] == *n))
            .count())
    };
    wait_until(
        "all idle services running",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || Ok((running()? == IDLE_SERVICES).then_some(())),
    )?;
    // Let the burst of start-up work (events, WAL checkpoints) settle before measuring.
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let t0 = Instant::now();
    let ticks0 = cpu_ticks(daemon.pid)?;
    let mut rss = rss_mb(daemon.pid)?;
    while t0.elapsed() < IDLE_SAMPLE {
        std::thread::sleep(Duration::from_secs(1));
        rss = rss.max(rss_mb(daemon.pid)?);
    }
    let ticks = cpu_ticks(daemon.pid)? - ticks0;
    let cpu_percent = ticks as f64 / ticks_per_s / t0.elapsed().as_secs_f64() * 100.0;
    let anon_mb = status_mb(daemon.pid, "RssAnon:")?;
    if running()? != IDLE_SERVICES {
        bail!("idle services stopped running during the measurement");
    }
    for name in &names {
        daemon.delete(&format!("/api/services/{name}"))?;
    }
    Ok(Idle {
        rss_before_mb,
        rss_mb: rss,
        anon_mb,
        cpu_percent,
    })
}

struct Capture {
    /// From the writer's first write until the log file held every line.
    complete_ms: f64,
    /// How long the writer took to write everything (flush included).
    writer_ms: f64,
    lost: u64,
}

fn writer_argv(child: &Path, lines: u64, width: u64, times: &Path) -> Vec<String> {
    vec![
        child.display().to_string(),
        "lines".into(),
        lines.to_string(),
        width.to_string(),
        times.display().to_string(),
    ]
}

/// Bytes a line of text takes in the log file: `<time> stdout <text>\n`.
fn record_bytes(time_width: u64, text_len: u64) -> u64 {
    time_width + " stdout ".len() as u64 + text_len + 1
}

fn text_len(n: u64, width: u64) -> u64 {
    if width == 0 {
        n.to_string().len() as u64
    } else {
        width - 1
    }
}

/// Runs a writer service, measures when its log file is complete, and checks every line is there once.
fn log_capture(
    daemon: &Daemon,
    child: &Path,
    work: &Path,
    name: &str,
    lines: u64,
    width: u64,
) -> anyhow::Result<Capture> {
    let times = work.join(format!("{name}.times"));
    daemon.post(
        "/api/services",
        &json!({"name": name, "command": writer_argv(child, lines, width, &times), "restart": "never", "enabled": false}),
    )?;
    let log = daemon
        .data_dir
        .join("logs")
        .join(name)
        .join(format!("{name}.log"));
    let (complete_ns, started) = std::thread::scope(|s| {
        let start = s.spawn(|| daemon.action(&format!("/api/services/{name}/start")));
        let done = wait_for_log(&log, lines, width);
        let started = start
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("start request panicked")));
        (done, started)
    });
    started?;
    let complete_ns = complete_ns.with_context(|| service_state(daemon, name))?;
    let (start, end) = wait_until(
        "the writer's times file",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || {
            let Ok(text) = std::fs::read_to_string(&times) else {
                return Ok(None);
            };
            let mut parts = text.split_whitespace().map(str::parse::<i128>);
            match (parts.next(), parts.next()) {
                (Some(Ok(a)), Some(Ok(b))) => Ok(Some((a, b))),
                _ => Ok(None),
            }
        },
    )
    .with_context(|| service_state(daemon, name))?;
    let lost = lost_in_file(&log, lines, width)?;
    Ok(Capture {
        complete_ms: (complete_ns - start) as f64 / 1e6,
        writer_ms: (end - start) as f64 / 1e6,
        lost,
    })
}

/// Polls the log file's size until it holds all `lines`; returns the wall-clock time (ns) it did.
fn wait_for_log(log: &Path, lines: u64, width: u64) -> anyhow::Result<i128> {
    let deadline = Instant::now() + Duration::from_secs(600);
    // The time stamp's width is read off the first record; the contract makes it fixed-width.
    let time_width = wait_until(
        "the first log line",
        STALL,
        Duration::from_micros(100),
        || {
            let Ok(file) = std::fs::File::open(log) else {
                return Ok(None);
            };
            let mut first = String::new();
            BufReader::new(file).read_line(&mut first)?;
            match first.split_once(' ') {
                Some((time, _)) if first.ends_with('\n') => Ok(Some(time.len() as u64)),
                _ => Ok(None),
            }
        },
    )?;
    let expected: u64 = (1..=lines)
        .map(|n| record_bytes(time_width, text_len(n, width)))
        .sum();
    let (mut last_size, mut last_growth) = (0, Instant::now());
    loop {
        let size = std::fs::metadata(log)?.len();
        if size >= expected {
            return Ok(now_ns());
        }
        let now = Instant::now();
        if size != last_size {
            (last_size, last_growth) = (size, now);
        } else if now - last_growth > STALL {
            bail!(
                "{} stuck at {size} of {expected} bytes for {STALL:?}",
                log.display()
            );
        }
        if now > deadline {
            bail!(
                "{} has {size} of {expected} bytes after 600 s",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Tracks which of lines 1..=n arrived; anything else (duplicates, garbage) is an error.
struct Tally {
    seen: Vec<bool>,
    distinct: u64,
    anomalies: Vec<String>,
}

impl Tally {
    fn new(lines: u64) -> Tally {
        Tally {
            seen: vec![false; lines as usize + 1],
            distinct: 0,
            anomalies: Vec::new(),
        }
    }

    fn record(&mut self, n: Option<u64>, raw: &str) {
        match n {
            Some(n) if n >= 1 && (n as usize) < self.seen.len() && !self.seen[n as usize] => {
                self.seen[n as usize] = true;
                self.distinct += 1;
            }
            _ if self.anomalies.len() < 5 => self.anomalies.push(raw.chars().take(80).collect()),
            _ => {}
        }
    }

    fn lost(self, what: &str) -> anyhow::Result<u64> {
        if !self.anomalies.is_empty() {
            bail!(
                "{what}: unexpected records (duplicates or garbage), e.g. {:?}",
                self.anomalies
            );
        }
        Ok(self.seen.len() as u64 - 1 - self.distinct)
    }
}

fn parse_text(text: &str, width: u64) -> Option<u64> {
    if width == 0 {
        text.parse().ok()
    } else if text.len() as u64 == width - 1 {
        text.get(..10)?.parse().ok()
    } else {
        None
    }
}

fn lost_in_file(log: &Path, lines: u64, width: u64) -> anyhow::Result<u64> {
    let mut tally = Tally::new(lines);
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(log)?);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches('\n');
        let n = match line
            .split_once(' ')
            .and_then(|(_, rest)| rest.split_once(' '))
        {
            Some(("stdout", text)) => parse_text(text, width),
            _ => None,
        };
        tally.record(n, line);
    }
    tally.lost(&log.display().to_string())
}

/// Reads every stored line of `name` through the API (`after_id` paging) and counts the missing ones.
fn api_lost_lines(daemon: &Daemon, name: &str, lines: u64) -> anyhow::Result<u64> {
    let mut tally = Tally::new(lines);
    let mut after = 0i64;
    let mut total = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while total < lines {
        let page = daemon.get(&format!(
            "/api/services/{name}/logs?after_id={after}&limit=10000"
        ))?;
        let page = page["lines"]
            .as_array()
            .context("logs answer has no \"lines\" list")?
            .clone();
        if page.is_empty() {
            // The database may trail the file; give it until the deadline.
            if Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        for line in &page {
            after = line["id"].as_i64().context("log line without an id")?;
            let text = line["line"].as_str().unwrap_or_default();
            let ok = line["stream"] == "stdout" && line.get("partial").is_none_or(|p| p == false);
            tally.record(ok.then(|| text.parse().ok()).flatten(), &line.to_string());
            total += 1;
        }
    }
    tally.lost("the logs API")
}

/// How long the same writer takes with stdout on /dev/null (best of 3: the least disturbed run).
fn devnull_duration_ms(child: &Path, work: &Path, lines: u64, width: u64) -> anyhow::Result<f64> {
    let times = work.join("devnull.times");
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let argv = writer_argv(child, lines, width, &times);
        let status = Command::new(&argv[0])
            .args(&argv[1..])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("the writer failed with {status} on /dev/null");
        }
        let text = std::fs::read_to_string(&times)?;
        let v: Vec<i128> = text
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        best = best.min((v[1] - v[0]) as f64 / 1e6);
    }
    Ok(best)
}
