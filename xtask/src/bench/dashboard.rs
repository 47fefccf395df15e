//! `cargo xtask bench dashboard`: the web dashboard in a real browser (Debian's chromium through
//! playwright-core, `frontend/bench/dashboard.mjs`) against a release-built daemon with the dashboard
//! embedded: first-load JS + CSS bytes and time to the overview with 200 services, the log view
//! following 200,000 lines (DOM rows, tab heap, "Pause" clicks during a burst) and kill-to-DOM
//! latency. This file builds, starts the daemon (the shared fixture), runs the script, compares its
//! figures with the goals, prints the table and writes target/bench/dashboard.json. It is not
//! part of `cargo xtask test`.

use super::table::{self, Goal, Row, print_table};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Daemon;

pub fn main() -> anyhow::Result<()> {
    if !cfg!(target_os = "linux") {
        bail!("bench dashboard drives /usr/bin/chromium and needs Linux");
    }
    // The release binary embeds frontend/dist as it is when compiled: build the dashboard first.
    crate::frontend::build()?;
    let frontend = crate::root().join("frontend");
    let tend = crate::build_release_tend()?;
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-dashboard-")
        .tempdir()?;
    let daemon = Daemon::start(&tend, &tmp.path().join("data"), &[])?;
    println!(
        "==> daemon pid {} in {}",
        daemon.pid,
        daemon.data_dir.display()
    );
    let figures_file = tmp.path().join("figures.json");
    crate::run_checked(
        Command::new("node")
            .arg("bench/dashboard.mjs")
            .current_dir(&frontend)
            .env("TEND_BENCH_URL", daemon.url())
            .env("TEND_BENCH_DATA_DIR", &daemon.data_dir)
            .env("TEND_BENCH_OUT", &figures_file)
            .env("TEND_BIN", &tend)
            .env_remove("TEND_URL")
            .env_remove("TEND_TOKEN")
            .env_remove("TEND_DATA_DIR"),
    )
    .context("the browser part of the bench (frontend/bench/dashboard.mjs)")?;
    daemon
        .stop(Duration::from_secs(60))
        .context("stopping the daemon")?;
    let figures: Value = serde_json::from_str(
        &std::fs::read_to_string(&figures_file).context("reading the script's figures")?,
    )?;

    let rows = rows(&figures)?;
    print_table(&rows);
    let report = json!({
        "figures": figures,
    });
    table::write_report("dashboard", report, &rows, started)?;
    Ok(())
}

fn num(v: &Value, path: &[&str]) -> anyhow::Result<f64> {
    let mut cur = v;
    for key in path {
        cur = &cur[*key];
    }
    cur.as_f64()
        .with_context(|| format!("the script's figures have no number at {}", path.join(".")))
}

/// The table: each figure of the issue with its goal. The heap has no goal in the issue beyond
/// "bounded"; growth over both bursts (400,000 lines) under 64 MB is taken as bounded.
fn rows(f: &Value) -> anyhow::Result<Vec<Row>> {
    let js = num(f, &["first_load", "js_bytes"])?;
    let css = num(f, &["first_load", "css_bytes"])?;
    let kb = (js + css) / 1024.0;
    let render = num(f, &["first_load", "render_median_ms"])?;
    let loads = num(f, &["first_load", "loads"])?;
    let services = num(f, &["first_load", "services"])?;
    let lines = num(f, &["logs", "lines"])?;
    let max_rows = num(f, &["logs", "max_rows"])?;
    let max_elements = num(f, &["logs", "max_elements"])?;
    let heap_before = num(f, &["logs", "heap_before_mb"])?;
    let heap_first = num(f, &["logs", "heap_after_first_burst_mb"])?;
    let heap_end = num(f, &["logs", "heap_after_both_mb"])?;
    let stored = num(f, &["logs", "first_burst_stored_s"])?;
    let shown = num(f, &["logs", "first_burst_shown_s"])?;
    let pause_median = num(f, &["logs", "pause_median_ms"])?;
    let pause_max = num(f, &["logs", "pause_max_ms"])?;
    let pauses = f["logs"]["pause_clicks"].as_array().map_or(0, Vec::len);
    let resume_max = num(f, &["logs", "resume_max_ms"])?;
    let kills = num(f, &["kill", "kills"])?;
    let p50 = num(f, &["kill", "p50_ms"])?;
    let p95 = num(f, &["kill", "p95_ms"])?;
    let max = num(f, &["kill", "max_ms"])?;
    let growth = heap_end - heap_before;
    Ok(vec![
        Row::new(
            "first load: JS + CSS transferred (compressed)",
            format!(
                "{kb:.1} KB ({:.1} JS, {:.1} CSS)",
                js / 1024.0,
                css / 1024.0
            ),
            Goal::Below(kb, 80.0, "KB"),
        ),
        Row::new(
            format!("navigation to {services:.0} services in the DOM, median of {loads:.0}"),
            format!("{render:.0} ms"),
            Goal::Below(render, 300.0, "ms"),
        ),
        Row::new(
            format!("log view following {lines:.0} lines: most rows in the DOM"),
            format!("{max_rows:.0} ({max_elements:.0} elements)"),
            Goal::Below(max_rows, 2000.0, "rows"),
        ),
        Row::new(
            "tab JS heap before / after 1 burst / after 2 (after GC)",
            format!("{heap_before:.1} / {heap_first:.1} / {heap_end:.1} MB"),
            Goal::Below(growth, 64.0, "MB"),
        ),
        Row::new(
            format!("{lines:.0} lines: stored by the daemon / shown in the view"),
            format!("{stored:.1} / {shown:.1} s"),
            Goal::None,
        ),
        Row::new(
            format!(
                "click on Pause during a burst to the frame showing it, median / max of {pauses}"
            ),
            format!("{pause_median:.1} / {pause_max:.1} ms"),
            Goal::Below(pause_max, 100.0, "ms"),
        ),
        Row::new(
            format!("click on Resume (jump to the newest lines), max of {pauses}"),
            format!("{resume_max:.1} ms"),
            Goal::None,
        ),
        Row::new(
            format!("SIGKILL to the DOM showing it, p50 / max of {kills:.0}"),
            format!("{p50:.1} / {max:.1} ms"),
            Goal::None,
        ),
        Row::new(
            format!("SIGKILL to the DOM showing it, p95 of {kills:.0}"),
            format!("{p95:.1} ms"),
            Goal::Below(p95, 50.0, "ms"),
        ),
    ])
}
