//! The same health check from two languages, in-process, for `cargo xtask bench plugins`: the
//! built-in `http` probe (Rust) against `json-status` (Python, componentize-py), both checking one
//! local JSON endpoint:
//! `cargo run --release -p tend --example probe_compare -- <plugins dir> <calls>`.
//!
//! `<plugins dir>` is `target/plugins` (`http.wasm` there, `json-status.wasm` under `fixtures/`).
//! Each component is installed as a user plugin with a custom section naming this run appended, so
//! neither comes from the compiled-code cache (the built-in `http` was compiled when the host
//! started): its first load (`reload` of the plugin dir: compile, link, checks) is timed alone. Then
//! `<calls>` checks of each, interleaved so both see the same machine, each a fresh store,
//! instantiation and one GET of the endpoint through the host's `http`; and as many answered before
//! any I/O (an unknown config key), the per-call floor of each language. Prints one JSON object: per
//! plugin its size, first load, and the end-to-end median and p99 of both kinds in microseconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use tend::{Outcome, PluginHost, PluginSettings, ProbeTarget, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WARMUP: usize = 50;
const BODY: &str = r#"{"status": "ok", "message": "all good"}"#;

/// (name installed as, built file relative to the plugins dir, probe config).
fn probes() -> [(&'static str, PathBuf, Value); 2] {
    [
        (
            "rust-http",
            PathBuf::from("http"),
            json!({"path": "/health", "body_contains": "\"ok\""}),
        ),
        (
            "python-json-status",
            Path::new("fixtures").join("json-status"),
            json!({"path": "/health"}),
        ),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(plugins), Some(calls), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: probe_compare <plugins dir> <calls>");
    };
    let plugins = PathBuf::from(plugins);
    let calls: usize = calls
        .parse()
        .with_context(|| format!("<calls> is not a number: {calls:?}"))?;
    ensure!(calls >= 100, "<calls> must be at least 100 for a p99");

    let port = serve_json().await?;
    let data = tempfile::Builder::new()
        .prefix("tend-probe-compare-")
        .tempdir()?;
    let store = Store::open(&data.path().join("tend.db")).await?;
    let bus = tend::Bus::start(store.clone()).await?;
    let host = PluginHost::start(store, bus, data.path(), PluginSettings::default()).await?;
    let result = measure(&host, &plugins, port, calls).await;
    host.shutdown();
    println!("{}", result?);
    Ok(())
}

async fn measure(
    host: &PluginHost,
    plugins: &Path,
    port: u16,
    calls: usize,
) -> anyhow::Result<Value> {
    let run = format!("probe_compare {}", std::process::id());
    let mut report = serde_json::Map::new();
    let mut samples = Vec::new();
    for (name, built, _) in probes() {
        let wasm = plugins.join(built.with_extension("wasm"));
        let bytes = std::fs::read(&wasm).with_context(|| {
            format!(
                "cannot read {}; run `cargo xtask build-plugins` first",
                wasm.display()
            )
        })?;
        let manifest = plugins.join(built.with_extension("toml"));
        let manifest = std::fs::read(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let dir = host.user_dir();
        std::fs::write(
            dir.join(format!("{name}.wasm")),
            with_custom_section(&bytes, &run),
        )?;
        std::fs::write(dir.join(format!("{name}.toml")), manifest)?;
        let compiles = host.compiles();
        let t = Instant::now();
        host.reload().await;
        let load_ms = t.elapsed().as_secs_f64() * 1e3;
        ensure!(
            host.info(name).is_some(),
            "the host did not load `{name}`: {:?}",
            host.list()
        );
        ensure!(
            host.compiles() == compiles + 1,
            "`{name}` was not compiled afresh"
        );
        report.insert(
            name.into(),
            json!({"wasm": built.with_extension("wasm"), "size_bytes": bytes.len(), "first_load_ms": load_ms}),
        );
        samples.push(Vec::with_capacity(calls));
    }

    let targets: Vec<(&str, ProbeTarget)> = probes()
        .map(|(name, _, config)| {
            let target = ProbeTarget {
                service: "bench".into(),
                host: "127.0.0.1".into(),
                port: Some(port),
                config,
                timeout: Duration::from_secs(5),
            };
            (name, target)
        })
        .into_iter()
        .collect();
    for round in 0..WARMUP + calls {
        for (i, (name, target)) in targets.iter().enumerate() {
            let t = Instant::now();
            let outcome = host.check(name, target.clone()).await;
            let us = t.elapsed().as_secs_f64() * 1e6;
            match outcome {
                Outcome::Ok(h) if h.status.as_str() == "healthy" => {}
                Outcome::Ok(h) => bail!("{name} answered {}: {}", h.status.as_str(), h.message),
                other => bail!("{name} answered {other}"),
            }
            if round >= WARMUP {
                samples[i].push(us);
            }
        }
    }
    // The floor of each: a config key neither knows, answered unhealthy before any I/O, so the
    // call is the fresh instance and the language's own overhead.
    let mut floors = vec![Vec::with_capacity(calls); targets.len()];
    for round in 0..WARMUP + calls {
        for (i, (name, target)) in targets.iter().enumerate() {
            let target = ProbeTarget {
                config: json!({"no_such_key": true}),
                ..target.clone()
            };
            let t = Instant::now();
            let outcome = host.check(name, target).await;
            let us = t.elapsed().as_secs_f64() * 1e6;
            match outcome {
                Outcome::Ok(h) if h.status.as_str() == "unhealthy" => {}
                other => bail!("{name} answered {other} to an unknown config key"),
            }
            if round >= WARMUP {
                floors[i].push(us);
            }
        }
    }
    for (((name, _), mut s), mut floor) in targets.iter().zip(samples).zip(floors) {
        s.sort_by(f64::total_cmp);
        floor.sort_by(f64::total_cmp);
        let entry = report.get_mut(*name).context("no report entry")?;
        entry["calls"] = json!(calls);
        entry["end_to_end_us"] = json!({
            "median": percentile(&s, 0.5),
            "p99": percentile(&s, 0.99),
            "min": s[0],
            "max": s[s.len() - 1],
        });
        entry["no_io_us"] = json!({
            "median": percentile(&floor, 0.5),
            "p99": percentile(&floor, 0.99),
        });
    }
    Ok(json!({"warmup": WARMUP, "probes": report}))
}

/// `bytes` (a component) with a custom section appended: the same code under another digest.
fn with_custom_section(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut payload = leb128(name.len());
    payload.extend_from_slice(name.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section id
    out.extend(leb128(payload.len()));
    out.extend(payload);
    out
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering every request with `BODY`, keeping
/// connections alive (as the host's client reuses them). Returns its port.
async fn serve_json() -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // Requests are GETs without a body: one ends at the blank line.
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
                            BODY.len()
                        );
                        if conn.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(port)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
