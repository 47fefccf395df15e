//! `cargo xtask bench footprint`: what tend costs with 100 sleeping services from `tend.toml`, next to
//! supervisord (the peer, from PyPI) running the same 100 programs in the same run. For tend on a fresh
//! data dir (first start: empty plugin cache) and again on the same data dir (cache warm), and for
//! supervisord: PSS of the supervisor's own processes (not its services) with the private/shared
//! split, RSS, threads, idle CPU over a window, and the time from the supervisor's exec until all 100
//! run, read from each service's own record (tend: the `running` transition's time in the service's
//! events; supervisord: its log's `spawned:` and `entered RUNNING state` lines). Prints a table
//! with the ratios tend/supervisord and writes target/bench/footprint.json.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::procfs::{self, Usage, mb};
use super::table::{self, Goal, Row, print_table};
use super::{Daemon, wait_until};

pub const SERVICES: usize = 100;
/// The idle window CPU is measured over.
pub const WINDOW: Duration = Duration::from_secs(30);
/// After all services run and before the window: the boot's last writes (events, WAL) finish.
pub const SETTLE: Duration = Duration::from_secs(2);

/// One supervisor's figures.
pub struct Figures {
    pub usage: Usage,
    pub cpu_percent: f64,
    /// From exec until the last of the services was spawned (tend: `running`).
    pub all_running_ms: f64,
    /// tend: when `GET /api/services` first showed all running (the API answers once boot is done);
    /// supervisord: when its log said the last one `entered RUNNING state` (after `startsecs`).
    pub other_ms: f64,
}

impl Figures {
    fn json(&self) -> Value {
        json!({"memory": self.usage.json(), "idle_cpu_percent": self.cpu_percent,
               "all_running_ms": self.all_running_ms, "other_ms": self.other_ms})
    }
}

pub fn main() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("bench footprint reads /proc and needs Linux");
    }
    let tend = crate::build_release_tend()?;
    let peer = super::supervisord::install()?;
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-footprint-")
        .tempdir()?;
    let config = tmp.path().join("tend.toml");
    std::fs::write(&config, tend_toml())?;
    let data = tmp.path().join("data");

    println!("==> tend, first start on a fresh data dir: {SERVICES} services from tend.toml");
    let fresh = measure_tend(&tend, &data, &config).context("tend, first start")?;
    report("tend, first start", &fresh);
    println!("==> tend, second start on the same data dir (plugin cache warm)");
    let warm = measure_tend(&tend, &data, &config).context("tend, second start")?;
    report("tend, second start", &warm);
    println!("==> supervisord: the same {SERVICES} programs");
    let sv = super::supervisord::measure(&peer, &tmp.path().join("supervisord"))
        .context("supervisord")?;
    report("supervisord", &sv);

    let rows = rows(&fresh, &warm, &sv);
    println!();
    println!(
        "values: tend first start (fresh data dir) / tend second start (plugin cache warm) | \
         supervisord = ratio tend first start / supervisord"
    );
    print_table(&rows);
    let ratio = |t: f64, s: f64| if s > 0.0 { t / s } else { f64::NAN };
    let report = json!({
        "services": SERVICES,
        "window_s": WINDOW.as_secs(),
        "tend_first_start": fresh.json(),
        "tend_second_start": warm.json(),
        "supervisord": sv.json(),
        "ratio_tend_first_start_to_supervisord": {
            "pss": ratio(fresh.usage.pss_kb as f64, sv.usage.pss_kb as f64),
            "rss": ratio(fresh.usage.rss_kb as f64, sv.usage.rss_kb as f64),
            "threads": ratio(fresh.usage.threads as f64, sv.usage.threads as f64),
            "idle_cpu": ratio(fresh.cpu_percent, sv.cpu_percent),
            "all_running": ratio(fresh.all_running_ms, sv.all_running_ms),
        },
    });
    table::write_report("footprint", report, &rows, started)?;
    Ok(())
}

fn rows(fresh: &Figures, warm: &Figures, sv: &Figures) -> Vec<Row> {
    let ratio = |t: f64, s: f64| {
        if s > 0.0 {
            format!("x{:.2}", t / s)
        } else {
            "x-".into()
        }
    };
    let mem = |label: &str, f: fn(&Usage) -> u64, goal: Option<f64>| {
        let (a, b, c) = (mb(f(&fresh.usage)), mb(f(&warm.usage)), mb(f(&sv.usage)));
        Row::new(
            label,
            format!("{a:.1} / {b:.1} | {c:.1} MB = {}", ratio(a, c)),
            match goal {
                Some(limit) => Goal::Below(a.max(b), limit, "MB"),
                None => Goal::None,
            },
        )
    };
    let worst_cpu = fresh.cpu_percent.max(warm.cpu_percent);
    let worst_up = fresh.all_running_ms.max(warm.all_running_ms);
    vec![
        mem(
            "memory: PSS of the supervisor's own processes",
            |u| u.pss_kb,
            Some(15.0),
        ),
        mem("  of it anonymous (heap, stacks)", |u| u.pss_anon_kb, None),
        mem(
            "  of it file pages (binary, libraries)",
            |u| u.pss_file_kb,
            None,
        ),
        mem("private (clean + dirty)", |u| u.private_kb, None),
        mem("shared (clean + dirty)", |u| u.shared_kb, None),
        mem("RSS", |u| u.rss_kb, None),
        Row::new(
            "threads",
            format!(
                "{} / {} | {} = {}",
                fresh.usage.threads,
                warm.usage.threads,
                sv.usage.threads,
                ratio(fresh.usage.threads as f64, sv.usage.threads as f64)
            ),
            Goal::None,
        ),
        Row::new(
            "own processes (supervisor + helpers, no services)",
            format!(
                "{} / {} | {}",
                fresh.usage.processes, warm.usage.processes, sv.usage.processes
            ),
            Goal::None,
        ),
        Row::new(
            format!("idle CPU, % of one core over {} s", WINDOW.as_secs()),
            format!(
                "{:.3} / {:.3} | {:.3} % = {}",
                fresh.cpu_percent,
                warm.cpu_percent,
                sv.cpu_percent,
                ratio(fresh.cpu_percent, sv.cpu_percent)
            ),
            Goal::Below(worst_cpu, 0.02, "%"),
        ),
        Row::new(
            format!("exec -> all {SERVICES} spawned (each service's own record)"),
            format!(
                "{:.0} / {:.0} | {:.0} ms = {}",
                fresh.all_running_ms,
                warm.all_running_ms,
                sv.all_running_ms,
                ratio(fresh.all_running_ms, sv.all_running_ms)
            ),
            Goal::Below(worst_up, 100.0, "ms"),
        ),
        Row::new(
            "tend: exec -> the API lists all running | supervisord: all RUNNING (startsecs=1)",
            format!(
                "{:.0} / {:.0} | {:.0} ms",
                fresh.other_ms, warm.other_ms, sv.other_ms
            ),
            Goal::None,
        ),
    ]
}

fn report(label: &str, f: &Figures) {
    println!(
        "    {label}: PSS {:.1} MB (private {:.1}, shared {:.1}), RSS {:.1} MB, {} threads in {} \
         process(es), idle CPU {:.3} %, all {SERVICES} spawned {:.0} ms after exec ({:.0} ms)",
        mb(f.usage.pss_kb),
        mb(f.usage.private_kb),
        mb(f.usage.shared_kb),
        mb(f.usage.rss_kb),
        f.usage.threads,
        f.usage.processes,
        f.cpu_percent,
        f.all_running_ms,
        f.other_ms,
    );
}

pub fn service_name(i: usize) -> String {
    format!("sleep-{i:03}")
}

fn tend_toml() -> String {
    (0..SERVICES)
        .map(|i| {
            format!(
                "[services.{}]\ncommand = \"sleep 3600\"\n\n",
                service_name(i)
            )
        })
        .collect()
}

/// Starts a release daemon on `data` with `config`, waits until every service runs, reads when each
/// started, measures the idle window, stops the daemon.
fn measure_tend(tend: &Path, data: &Path, config: &Path) -> anyhow::Result<Figures> {
    let config = config.to_str().context("temp path is not UTF-8")?;
    let daemon = Daemon::start(tend, data, &["--config", config])?;
    let t0 = epoch_ns(daemon.spawned_at);
    let pids = wait_until(
        "all services running",
        Duration::from_secs(60),
        Duration::from_millis(2),
        || {
            let list = daemon.get("/api/services")?;
            let list = list.as_array().context("GET /api/services is not a list")?;
            let pids: Vec<u32> = list
                .iter()
                .filter(|s| s["status"] == "running")
                .filter_map(|s| s["pid"].as_u64().map(|p| p as u32))
                .collect();
            Ok((pids.len() == SERVICES).then_some(pids))
        },
    )?;
    let listed_ms = (epoch_ns(SystemTime::now()) - t0) as f64 / 1e6;
    let mut last = 0i128;
    for i in 0..SERVICES {
        let name = service_name(i);
        let events = daemon.get(&format!("/api/services/{name}/events?limit=100"))?;
        let at = events["events"]
            .as_array()
            .context("events answer has no \"events\" list")?
            .iter()
            .filter(|e| e["to"] == "running")
            .filter_map(|e| parse_rfc3339(e["time"].as_str()?))
            .filter(|&t| t >= t0)
            .max()
            .with_context(|| format!("{name} has no `running` event since the daemon started"))?;
        last = last.max(at);
    }
    let (usage, cpu_percent) = idle(daemon.pid, &pids)?;
    // The window must not have been spent with a service down.
    let list = daemon.get("/api/services")?;
    let running = list
        .as_array()
        .map(|l| l.iter().filter(|s| s["status"] == "running").count())
        .unwrap_or(0);
    if running != SERVICES {
        bail!("only {running} of {SERVICES} services still run after the window");
    }
    daemon.stop(Duration::from_secs(60))?;
    Ok(Figures {
        usage,
        cpu_percent,
        all_running_ms: (last - t0) as f64 / 1e6,
        other_ms: listed_ms,
    })
}

/// Lets the boot settle, then the CPU of the supervisor's own processes over `WINDOW` and their
/// memory at its end. `services` are left out (with everything below them).
pub fn idle(root: u32, services: &[u32]) -> anyhow::Result<(Usage, f64)> {
    std::thread::sleep(SETTLE);
    let own = procfs::own_processes(root, services)?;
    let t = Instant::now();
    let before = procfs::cpu_ns_all(&own);
    // Nothing of the bench runs meanwhile: no polling, no API call.
    std::thread::sleep(WINDOW);
    let own = procfs::own_processes(root, services)?;
    let after = procfs::cpu_ns_all(&own);
    let cpu = procfs::cpu_percent(&before, &after, t.elapsed().as_secs_f64());
    Ok((procfs::usage(&own)?, cpu))
}

pub fn epoch_ns(t: SystemTime) -> i128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Nanoseconds since the epoch of a UTC civil time.
pub fn civil_ns(date: (i64, u32, u32), hms: (u32, u32, u32), ns: u32) -> i128 {
    // Howard Hinnant's days_from_civil.
    let (y, m, d) = date;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (hms.0 * 3600 + hms.1 * 60 + hms.2) as i64;
    secs as i128 * 1_000_000_000 + ns as i128
}

/// `YYYY-MM-DD?HH:MM:SS` (any separators) with a fraction after `.` or `,`, UTC -> ns since the epoch.
pub fn parse_civil(s: &str) -> Option<i128> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let date = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
    let hms = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac: String = s
        .get(19..)?
        .strip_prefix(['.', ','])
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    let ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
    };
    Some(civil_ns(date, hms, ns))
}

/// The API's times: RFC 3339 in UTC (`...Z`).
fn parse_rfc3339(s: &str) -> Option<i128> {
    s.ends_with('Z').then(|| parse_civil(s))?
}
