//! `cargo xtask bench metrics`: what resource sampling costs the daemon. 100 services of 10 processes
//! each (a shell and nine `sleep`s) run under a release daemon sampling every second, then under one
//! sampling every hour (so it never samples during the window); the difference in the daemon's CPU
//! use is the sampler's cost (goal: under 2% of one core). The sampler's own account (CPU time of its
//! `/proc` reads, from `/metrics`) is shown beside it. Rounds alternate the two daemons on one data dir
//! to spread drift in the machine's load. Prints a table and writes target/bench/metrics.json.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Daemon, wait_until};

const SERVICES: usize = 100;
const PROCESSES_PER_SERVICE: usize = 10;
const WINDOW: Duration = Duration::from_secs(30);
const SETTLE: Duration = Duration::from_secs(3);
const ROUNDS: usize = 2;
const GOAL_PERCENT: f64 = 2.0;
const SAMPLED: &str = "1";
const UNSAMPLED: &str = "3600";

pub fn main() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("bench metrics reads /proc and needs Linux");
    }
    let tend = crate::build_release_tend()?;
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-metrics-")
        .tempdir()?;
    let data = tmp.path().join("data");
    let mut sampled = Vec::new();
    let mut unsampled = Vec::new();
    for round in 0..ROUNDS {
        for interval in [SAMPLED, UNSAMPLED] {
            println!(
                "==> round {}/{ROUNDS}: {SERVICES} services x {PROCESSES_PER_SERVICE} processes, \
                 --monitor-interval {interval}, daemon CPU over {WINDOW:?}",
                round + 1
            );
            let m = measure(&tend, &data, interval, round == 0 && interval == SAMPLED)
                .with_context(|| format!("round {} with interval {interval}", round + 1))?;
            println!(
                "    daemon CPU {:.3} % of a core; sampler's own /proc reads {:.3} %",
                m.daemon_percent, m.sampler_percent
            );
            if interval == SAMPLED {
                sampled.push(m);
            } else {
                unsampled.push(m);
            }
        }
    }
    let mean =
        |v: &[Measure], f: fn(&Measure) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let with = mean(&sampled, |m| m.daemon_percent);
    let without = mean(&unsampled, |m| m.daemon_percent);
    let attributable = with - without;
    let self_reported = mean(&sampled, |m| m.sampler_percent);
    let tick_ms = mean(&sampled, |m| m.tick_ms);
    let rows = [
        (
            "daemon CPU, sampling every 1 s".to_string(),
            format!("{with:.3} %"),
            "-".to_string(),
            None,
        ),
        (
            "daemon CPU, sampling every 3600 s (no sample in the window)".to_string(),
            format!("{without:.3} %"),
            "-".to_string(),
            None,
        ),
        (
            format!(
                "CPU attributable to sampling {SERVICES}x{PROCESSES_PER_SERVICE} processes at 1 s"
            ),
            format!("{attributable:.3} %"),
            format!("< {GOAL_PERCENT} %"),
            Some(attributable < GOAL_PERCENT),
        ),
        (
            "sampler's own account: CPU of its /proc reads".to_string(),
            format!("{self_reported:.3} %"),
            "-".to_string(),
            None,
        ),
        (
            "wall time of one sample's /proc reads (last, mean of rounds)".to_string(),
            format!("{tick_ms:.2} ms"),
            "-".to_string(),
            None,
        ),
    ];
    print_table(&rows);

    let report = json!({
        "services": SERVICES,
        "processes_per_service": PROCESSES_PER_SERVICE,
        "window_s": WINDOW.as_secs(),
        "rounds": ROUNDS,
        "daemon_cpu_percent_sampled": sampled.iter().map(|m| m.daemon_percent).collect::<Vec<_>>(),
        "daemon_cpu_percent_unsampled": unsampled.iter().map(|m| m.daemon_percent).collect::<Vec<_>>(),
        "attributable_cpu_percent": attributable,
        "sampler_self_reported_cpu_percent": self_reported,
        "sample_wall_ms": tick_ms,
        "goals": rows.iter().map(|(figure, value, goal, met)| json!({"figure": figure, "value": value, "goal": goal, "met": met})).collect::<Vec<_>>(),
    });
    let out = crate::target_dir().join("bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("metrics.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    println!(
        "figures written to {} ({:.0} s)",
        out.join("metrics.json").display(),
        started.elapsed().as_secs_f64()
    );
    if attributable >= GOAL_PERCENT {
        println!("1 goal missed");
    }
    Ok(())
}

struct Measure {
    daemon_percent: f64,
    sampler_percent: f64,
    tick_ms: f64,
}

/// One daemon on `data` sampling every `interval` s: creates the services first when `create`
/// (later daemons boot them from the store), waits until every tree is complete, measures.
fn measure(tend: &Path, data: &Path, interval: &str, create: bool) -> anyhow::Result<Measure> {
    let daemon = Daemon::start(tend, data, &["--monitor-interval", interval])?;
    if create {
        for i in 0..SERVICES {
            daemon.post(
                "/api/services",
                &json!({
                    "name": format!("mbench-{i:03}"),
                    "command": "for i in 1 2 3 4 5 6 7 8 9; do sleep 86400 & done; wait",
                }),
            )?;
        }
    }
    let want = SERVICES * PROCESSES_PER_SERVICE;
    wait_until(
        "every service's ten processes",
        Duration::from_secs(120),
        Duration::from_millis(200),
        || Ok((bench_processes() >= want).then_some(())),
    )?;
    if interval == SAMPLED {
        wait_until(
            "the sampler to see every process",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || {
                Ok(
                    (scrape(&daemon, "tend_metrics_sampled_processes")? >= want as f64)
                        .then_some(()),
                )
            },
        )?;
    }
    std::thread::sleep(SETTLE);
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let sampler0 = scrape(&daemon, "tend_metrics_sample_cpu_seconds_total")?;
    let ticks0 = cpu_ticks(daemon.pid)?;
    let t0 = Instant::now();
    std::thread::sleep(WINDOW);
    let ticks = cpu_ticks(daemon.pid)? - ticks0;
    let wall = t0.elapsed().as_secs_f64();
    let sampler = scrape(&daemon, "tend_metrics_sample_cpu_seconds_total")? - sampler0;
    let tick_ms = scrape(&daemon, "tend_metrics_last_sample_duration_seconds")? * 1000.0;
    if bench_processes() < want {
        bail!("bench processes died during the measurement");
    }
    daemon.stop(Duration::from_secs(60))?;
    Ok(Measure {
        daemon_percent: ticks as f64 / ticks_per_s / wall * 100.0,
        sampler_percent: sampler / wall * 100.0,
        tick_ms,
    })
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').context("bad /proc stat")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

/// Live processes of the bench's services (found by the `TEND_SERVICE` the daemon gives them).
fn bench_processes() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|v| v.starts_with(b"TEND_SERVICE=mbench-"))
            })
        })
        .count()
}

/// One unlabelled sample from the daemon's `/metrics`.
fn scrape(daemon: &Daemon, family: &str) -> anyhow::Result<f64> {
    let info: Value = serde_json::from_str(&std::fs::read_to_string(
        daemon.data_dir.join("daemon.json"),
    )?)?;
    let url = info["url"].as_str().context("daemon.json has no url")?;
    let token = std::fs::read_to_string(daemon.data_dir.join("token"))?;
    let text = reqwest::blocking::Client::new()
        .get(format!("{url}/metrics"))
        .bearer_auth(token.trim())
        .send()?
        .error_for_status()?
        .text()?;
    text.lines()
        .find_map(|l| l.strip_prefix(family)?.strip_prefix(' ')?.parse().ok())
        .with_context(|| format!("/metrics has no {family}"))
}

fn print_table(rows: &[(String, String, String, Option<bool>)]) {
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(5);
    println!();
    println!("{:w0$}  {:>w1$}  {:10}  result", "figure", "value", "goal");
    for (figure, value, goal, met) in rows {
        let verdict = match met {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "",
        };
        println!("{figure:w0$}  {value:>w1$}  {goal:10}  {verdict}");
    }
    println!();
}
