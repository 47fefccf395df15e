//! `cargo xtask bench cron`: how well the cron scheduler keeps time and what it costs at rest. Fire-time
//! accuracy over 60 one-second fires (lateness = recorded start - fire time), and the daemon's CPU with
//! 1,000 scheduled jobs waiting for their next fire. Prints a table with each goal and writes
//! target/bench/cron.json.

use super::table::{self, Goal, Row, print_table};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Daemon, wait_until};

const FIRES: usize = 60;
const IDLE_JOBS: usize = 1000;
const IDLE_SAMPLE: Duration = Duration::from_secs(20);

pub fn main() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("bench cron reads /proc and needs Linux");
    }
    let tend = crate::build_release_tend()?;
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-cron-")
        .tempdir()?;
    let daemon = Daemon::start(&tend, &tmp.path().join("data"), &[])?;
    println!(
        "==> daemon pid {} in {}",
        daemon.pid,
        daemon.data_dir.display()
    );

    println!("==> fire-time accuracy: {FIRES} fires of a `* * * * * *` job");
    let acc = accuracy(&daemon).context("fire-time accuracy")?;
    println!("==> idle cost: {IDLE_JOBS} scheduled jobs, sampled over {IDLE_SAMPLE:?}");
    let idle = idle_cost(&daemon).context("idle cost")?;
    daemon
        .stop(Duration::from_secs(60))
        .context("stopping the daemon")?;

    let rows = [
        Row::new(
            format!("lateness (start - fire time), median of {FIRES}"),
            format!("{:.2} ms", acc.median_ms),
            Goal::None,
        ),
        Row::new(
            format!("lateness, p99 of {FIRES}"),
            format!("{:.2} ms", acc.p99_ms),
            Goal::Below(acc.p99_ms, 20.0, "ms"),
        ),
        Row::new(
            "lateness, max".to_string(),
            format!("{:.2} ms", acc.max_ms),
            Goal::None,
        ),
        Row::new(
            "fire times missed or run twice".to_string(),
            acc.bad_slots.to_string(),
            Goal::Zero(acc.bad_slots),
        ),
        Row::new(
            format!("idle CPU, {IDLE_JOBS} jobs (% of one core)"),
            format!("{:.3} %", idle.cpu_percent),
            Goal::Below(idle.cpu_percent, 0.5, "%"),
        ),
        Row::new(
            format!("idle RSS, {IDLE_JOBS} jobs"),
            format!(
                "{:.1} MB ({:.1} before adding them)",
                idle.rss_mb, idle.rss_before_mb
            ),
            Goal::None,
        ),
        Row::new(
            format!("registering {IDLE_JOBS} jobs, per job"),
            format!("{:.2} ms", idle.create_ms),
            Goal::None,
        ),
    ];
    print_table(&rows);

    let report = json!({
        "accuracy": {"fires": FIRES, "median_ms": acc.median_ms, "p99_ms": acc.p99_ms,
                     "max_ms": acc.max_ms, "bad_slots": acc.bad_slots, "lateness_ms": acc.samples},
        "idle": {"jobs": IDLE_JOBS, "seconds": IDLE_SAMPLE.as_secs(), "cpu_percent": idle.cpu_percent,
                 "rss_mb": idle.rss_mb, "rss_mb_before": idle.rss_before_mb,
                 "create_ms_per_job": idle.create_ms},
    });
    table::write_report("cron", report, &rows, started)?;
    Ok(())
}

fn ms_of(e: &Value, field: &str) -> anyhow::Result<f64> {
    let s = e[field]
        .as_str()
        .with_context(|| format!("execution without {field}: {e}"))?;
    utc_ms(s).with_context(|| format!("{field} {s:?} is not a UTC RFC 3339 time"))
}

/// Milliseconds since the epoch of the daemon's time format, `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.
fn utc_ms(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60) as f64 + sec) * 1000.0)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

struct Accuracy {
    median_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    bad_slots: u64,
    samples: Vec<f64>,
}

fn accuracy(daemon: &Daemon) -> anyhow::Result<Accuracy> {
    daemon.post(
        "/api/cron",
        &json!({"name": "accuracy", "command": ["true"], "schedule": "* * * * * *", "timezone": "UTC"}),
    )?;
    // One extra fire first: the first slot may come before the job is fully warmed up.
    let want = FIRES + 1;
    let execs = wait_until(
        "the accuracy job's fires",
        Duration::from_secs(FIRES as u64 + 30),
        Duration::from_millis(500),
        || {
            let page = daemon.get("/api/cron/accuracy/executions?limit=500")?;
            let execs = page["executions"].as_array().cloned().unwrap_or_default();
            let done: Vec<Value> = execs
                .into_iter()
                .filter(|e| e["status"] == "succeeded" || e["status"] == "failed")
                .collect();
            Ok((done.len() >= want).then_some(done))
        },
    )?;
    daemon.delete("/api/cron/accuracy")?;
    let mut fires: Vec<(f64, f64)> = execs
        .iter()
        .map(|e| Ok((ms_of(e, "scheduled_at")?, ms_of(e, "started_at")?)))
        .collect::<anyhow::Result<_>>()?;
    fires.sort_by(|a, b| a.0.total_cmp(&b.0));
    let fires = &fires[fires.len() - FIRES..];
    let bad_slots = fires
        .windows(2)
        .filter(|p| (p[1].0 - p[0].0 - 1000.0).abs() > 0.5)
        .count() as u64;
    let samples: Vec<f64> = fires.iter().map(|(slot, start)| start - slot).collect();
    let mut sorted = samples.clone();
    sorted.sort_by(f64::total_cmp);
    Ok(Accuracy {
        median_ms: percentile(&sorted, 0.5),
        p99_ms: percentile(&sorted, 0.99),
        max_ms: *sorted.last().unwrap_or(&0.0),
        bad_slots,
        samples,
    })
}

struct Idle {
    cpu_percent: f64,
    rss_mb: f64,
    rss_before_mb: f64,
    create_ms: f64,
}

fn proc_stat_fields(pid: u32) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &text[text.rfind(')').context("odd /proc stat")? + 1..];
    Ok(rest.split_whitespace().map(str::to_string).collect())
}

fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let f = proc_stat_fields(pid)?;
    // Fields counted from 3 (state): utime 14, stime 15.
    Ok(f[11].parse::<u64>()? + f[12].parse::<u64>()?)
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

fn idle_cost(daemon: &Daemon) -> anyhow::Result<Idle> {
    let rss_before_mb = rss_mb(daemon.pid)?;
    // Hourly, at a minute half an hour away: nothing fires while we measure.
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let minute = (now_s / 60 + 30) % 60;
    let schedule = format!("0 {minute} * * * *");
    let t0 = Instant::now();
    for i in 0..IDLE_JOBS {
        daemon.post(
            "/api/cron",
            &json!({"name": format!("idle-{i:04}"), "command": ["true"], "schedule": schedule,
                    "timezone": "UTC"}),
        )?;
    }
    let create_ms = t0.elapsed().as_secs_f64() * 1000.0 / IDLE_JOBS as f64;
    let status = daemon.get("/api/cron/status")?;
    let jobs = status["jobs"].as_object().map_or(0, |j| j.len());
    if jobs != IDLE_JOBS {
        bail!("{jobs} jobs registered, expected {IDLE_JOBS}");
    }
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let start = Instant::now();
    let ticks0 = cpu_ticks(daemon.pid)?;
    let mut rss = rss_mb(daemon.pid)?;
    while start.elapsed() < IDLE_SAMPLE {
        std::thread::sleep(Duration::from_secs(1));
        rss = rss.max(rss_mb(daemon.pid)?);
    }
    let ticks = cpu_ticks(daemon.pid)? - ticks0;
    let cpu_percent = ticks as f64 / ticks_per_s / start.elapsed().as_secs_f64() * 100.0;
    let status = daemon.get("/api/cron/status")?;
    if status["running"].as_u64() != Some(0) {
        bail!(
            "idle jobs ran during the measurement: {}",
            status["running"]
        );
    }
    Ok(Idle {
        cpu_percent,
        rss_mb: rss,
        rss_before_mb,
        create_ms,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_daemon_time_format() {
        assert_eq!(super::utc_ms("1970-01-01T00:00:01.500000Z"), Some(1500.0));
        assert_eq!(
            super::utc_ms("2024-03-01T00:00:00Z"),
            Some(1_709_251_200_000.0)
        );
        assert_eq!(super::utc_ms("2024-03-01T00:00:00+01:00"), None);
    }
}
