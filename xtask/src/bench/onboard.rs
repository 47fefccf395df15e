//! `cargo xtask bench onboard [--debug]`: how long `GET /api/onboard/preview` takes without an LLM,
//! through the API of a real daemon: median and p90 of `RUNS` previews (after one warm-up) of every
//! fixture project in `tests/fixtures/onboard/`, and of a generated project of about 3,000 files (a
//! FastAPI app in `app/main.py` buried among static assets, data files and ~1,000 Python modules),
//! whose goal is the issue's: under 200 ms. Release by default (the plugins and `tend` are built
//! first); `--debug` measures `target/debug/tend` as it is (build it and the plugins yourself), for a
//! quick look on a busy machine. Prints a table and writes target/bench/onboard.json.

use super::table::{self, Goal, Row, print_table};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Daemon;

const RUNS: usize = 20;
/// Files of the generated project (roughly: a few more for its manifest and app).
const GENERATED_FILES: usize = 3000;
const GOAL_MS: f64 = 200.0;

pub fn main(args: &[String]) -> anyhow::Result<()> {
    let debug = match args {
        [] => false,
        [flag] if flag == "--debug" => true,
        _ => bail!("usage: cargo xtask bench onboard [--debug]"),
    };
    let tend = if debug {
        let bin = crate::target_dir().join("debug").join("tend");
        if !bin.is_file() {
            bail!(
                "{} is missing: run `cargo build -p tend` first",
                bin.display()
            );
        }
        bin
    } else {
        // The onboarder is a built-in plugin, embedded into `tend` when it is compiled.
        crate::plugins::build()?;
        crate::build_release_tend()?
    };
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("tend-bench-onboard-")
        .tempdir()?;
    let base = tmp.path().canonicalize()?;
    let projects = base.join("projects");
    let home = base.join("home");
    std::fs::create_dir_all(&projects)?;
    std::fs::create_dir_all(&home)?;
    let generated = projects.join("generated-app");
    let files = generate(&generated).context("generating the big project")?;
    let data = base.join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::write(
        data.join("tend.toml"),
        format!(
            "[onboard]\nprojects_root = {:?}\ndata_root = {:?}\n",
            projects.to_string_lossy(),
            home.to_string_lossy()
        ),
    )?;
    let daemon = Daemon::start(&tend, &data, &[])?;
    println!(
        "==> daemon ({}) pid {} in {}",
        if debug { "debug" } else { "release" },
        daemon.pid,
        daemon.data_dir.display()
    );

    let fixtures_dir = crate::root().join("tests/fixtures/onboard");
    let mut fixtures: Vec<String> = std::fs::read_dir(&fixtures_dir)
        .with_context(|| fixtures_dir.display().to_string())?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fixtures.sort();
    let mut rows = Vec::new();
    let mut figures = serde_json::Map::new();
    for fixture in &fixtures {
        let m = measure(&daemon, &fixtures_dir.join(fixture))
            .with_context(|| format!("fixture {fixture}"))?;
        println!(
            "==> {fixture}: {} ({} services), median {:.1} ms, p90 {:.1} ms",
            m.status, m.services, m.median_ms, m.p90_ms
        );
        rows.push(Row::new(
            format!("preview {fixture}, median / p90 of {RUNS}"),
            format!("{:.1} / {:.1} ms", m.median_ms, m.p90_ms),
            Goal::Below(m.p90_ms, GOAL_MS, "ms"),
        ));
        figures.insert(fixture.clone(), m.json());
    }
    let m = measure(&daemon, &generated).context("the generated project")?;
    println!(
        "==> generated ({files} files): {} ({} services, {}), median {:.1} ms, p90 {:.1} ms",
        m.status, m.services, m.command, m.median_ms, m.p90_ms
    );
    if m.status != 200 || m.services == 0 {
        bail!(
            "the generated project's preview found nothing ({}): the bench measures a project the \
             onboarder understands",
            m.status
        );
    }
    rows.push(Row::new(
        format!("preview of a {files}-file Python project, median of {RUNS}"),
        format!("{:.1} ms", m.median_ms),
        Goal::Below(m.median_ms, GOAL_MS, "ms"),
    ));
    rows.push(Row::new(
        format!("preview of a {files}-file Python project, p90 of {RUNS}"),
        format!("{:.1} ms", m.p90_ms),
        Goal::Below(m.p90_ms, GOAL_MS, "ms"),
    ));
    figures.insert("generated".into(), m.json());
    daemon
        .stop(Duration::from_secs(60))
        .context("stopping the daemon")?;

    print_table(&rows);
    let report = json!({
        "binary": if debug { "debug" } else { "release" },
        "runs": RUNS,
        "generated_files": files,
        "previews": figures,
    });
    table::write_report("onboard", report, &rows, started)?;
    Ok(())
}

struct Measure {
    status: u16,
    services: usize,
    /// The first service's command, to show what was found.
    command: String,
    median_ms: f64,
    p90_ms: f64,
    max_ms: f64,
}

impl Measure {
    fn json(&self) -> Value {
        json!({"status": self.status, "services": self.services, "command": self.command,
               "median_ms": self.median_ms,
               "p90_ms": self.p90_ms, "max_ms": self.max_ms})
    }
}

/// One warm-up preview of `root`, then `RUNS` timed ones (request sent to body read).
fn measure(daemon: &Daemon, root: &Path) -> anyhow::Result<Measure> {
    let url = format!("{}/api/onboard/preview", daemon.url());
    let project = root.to_string_lossy().into_owned();
    let once = || -> anyhow::Result<(u16, Value, f64)> {
        let t = Instant::now();
        let resp = daemon
            .http
            .get(&url)
            .bearer_auth(&daemon.token)
            .query(&[("project", project.as_str())])
            .send()
            .context("GET /api/onboard/preview")?;
        let status = resp.status().as_u16();
        let text = resp.text()?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if status != 200 && status != 422 {
            bail!("preview of {project} answered {status}: {text}");
        }
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            ms,
        ))
    };
    let (status, body, _) = once()?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let (s, _, ms) = once()?;
        if s != status {
            bail!("preview of {project} answered {s}, then {status}");
        }
        times.push(ms);
    }
    times.sort_by(f64::total_cmp);
    Ok(Measure {
        status,
        services: body["services"].as_array().map_or(0, Vec::len),
        command: body["services"][0]["command"].to_string(),
        median_ms: percentile(&times, 0.5),
        p90_ms: percentile(&times, 0.9),
        max_ms: times.last().copied().unwrap_or(0.0),
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Writes the big project: `requirements.txt`, the FastAPI app in `app/main.py` (so the detector
/// has to find the module that creates the app) and `GENERATED_FILES` others, a third of them Python
/// modules that never create an app. Answers how many files it wrote.
fn generate(root: &Path) -> anyhow::Result<usize> {
    let write = |rel: PathBuf, text: &str| -> anyhow::Result<()> {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, text).with_context(|| path.display().to_string())
    };
    write(
        "requirements.txt".into(),
        "fastapi==0.115.0\nuvicorn==0.30.6\n",
    )?;
    write(
        "README.md".into(),
        "# generated-app\n\nA big project for the onboarding bench.\n",
    )?;
    write("app/__init__.py".into(), "")?;
    write(
        "app/main.py".into(),
        "from fastapi import FastAPI\n\nfrom app.modules.m0 import mod0\n\napp = FastAPI()\n\n\n\
         @app.get(\"/health\")\ndef health():\n    return {\"ok\": True}\n",
    )?;
    let mut n = 4;
    let per_kind = GENERATED_FILES / 3;
    for i in 0..per_kind {
        let dir = i / 50;
        write(
            format!("app/modules/m{dir}/mod{i}.py").into(),
            &format!("\"\"\"Module {i}.\"\"\"\n\n\ndef f{i}(x):\n    return x + {i}\n"),
        )?;
        write(
            format!("static/img/set{dir}/icon{i}.svg").into(),
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n",
        )?;
        write(
            format!("data/fixtures/part{dir}/row{i}.json").into(),
            &format!("{{\"id\": {i}}}\n"),
        )?;
        n += 3;
    }
    for dir in 0..per_kind.div_ceil(50) {
        write(format!("app/modules/m{dir}/__init__.py").into(), "")?;
        n += 1;
    }
    Ok(n)
}
