//! The per-call cost of a probe plugin, in-process, for `cargo xtask bench plugins`:
//! `cargo run --release -p tend --example plugin_calls -- <fixtures dir> <calls>`.
//!
//! Starts a `PluginHost` on a temp data dir with the `trivial` fixture installed as a user plugin,
//! warms up, then times `<calls>` sequential `PluginHost::check` calls end to end (each one a fresh
//! store, instantiation from the `InstancePre` and the call, as the daemon's probes do). Prints one
//! JSON object on stdout: the end-to-end median and p99 in microseconds, and the host's own latency
//! histogram for the timed calls (`stats.latency`, bucketed, so its quantiles are bucket bounds).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::json;
use tend::{LatencyHistogram, Outcome, PluginHost, PluginSettings, ProbeTarget, Store};

const PLUGIN: &str = "trivial";
const WARMUP: usize = 500;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(fixtures), Some(calls), None) = (args.next(), args.next(), args.next()) else {
        bail!("usage: plugin_calls <fixtures dir> <calls>");
    };
    let fixtures = PathBuf::from(fixtures);
    let calls: usize = calls
        .parse()
        .with_context(|| format!("<calls> is not a number: {calls:?}"))?;
    ensure!(calls >= 100, "<calls> must be at least 100 for a p99");

    let data = tempfile::Builder::new()
        .prefix("tend-plugin-calls-")
        .tempdir()?;
    let user_dir = data.path().join("plugins");
    std::fs::create_dir_all(&user_dir)?;
    for ext in ["wasm", "toml"] {
        let from = fixtures.join(format!("{PLUGIN}.{ext}"));
        std::fs::copy(&from, user_dir.join(format!("{PLUGIN}.{ext}"))).with_context(|| {
            format!(
                "cannot copy {}; run `cargo xtask build-plugins` first",
                from.display()
            )
        })?;
    }
    let store = Store::open(&data.path().join("tend.db")).await?;
    let bus = tend::Bus::start(store.clone()).await?;
    let host = PluginHost::start(store, bus, data.path(), PluginSettings::default()).await?;
    let result = measure(&host, calls).await;
    host.shutdown();
    println!("{}", result?);
    Ok(())
}

async fn measure(host: &PluginHost, calls: usize) -> anyhow::Result<serde_json::Value> {
    ensure!(
        host.info(PLUGIN).is_some(),
        "the host did not load `{PLUGIN}`: {:?}",
        host.list()
    );
    let target = ProbeTarget {
        service: "bench".into(),
        host: "127.0.0.1".into(),
        port: None,
        config: json!({}),
        timeout: Duration::from_secs(5),
    };
    for _ in 0..WARMUP {
        let outcome = host.check(PLUGIN, target.clone()).await;
        ensure!(
            matches!(outcome, Outcome::Ok(_)),
            "{PLUGIN} answered {outcome}"
        );
    }
    let before = histogram(host)?;
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let target = target.clone();
        let t = Instant::now();
        let outcome = host.check(PLUGIN, target).await;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
        ensure!(
            matches!(outcome, Outcome::Ok(_)),
            "{PLUGIN} answered {outcome}"
        );
    }
    let after = histogram(host)?;
    samples.sort_by(f64::total_cmp);
    let counts: Vec<u64> = after
        .counts
        .iter()
        .zip(&before.counts)
        .map(|(a, b)| a - b)
        .collect();
    ensure!(
        counts.iter().sum::<u64>() == calls as u64,
        "the host's histogram counted {} calls, expected {calls}",
        counts.iter().sum::<u64>()
    );
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    Ok(json!({
        "plugin": PLUGIN,
        "calls": calls,
        "warmup": WARMUP,
        "compiles": host.compiles(),
        "end_to_end_us": {
            "median": percentile(&samples, 0.5),
            "p99": percentile(&samples, 0.99),
            "mean": mean,
            "min": samples[0],
            "max": samples[samples.len() - 1],
        },
        "host_stats_us": {
            "median_at_most": bucket_bound(&after.bounds_us, &counts, 0.5),
            "p99_at_most": bucket_bound(&after.bounds_us, &counts, 0.99),
            "bounds": after.bounds_us,
            "counts": counts,
        },
    }))
}

fn histogram(host: &PluginHost) -> anyhow::Result<LatencyHistogram> {
    Ok(host
        .info(PLUGIN)
        .with_context(|| format!("{PLUGIN} was unloaded during the run"))?
        .stats
        .latency)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The upper bound of the bucket holding the `q` quantile; `None` when it is the open last bucket.
fn bucket_bound(bounds: &[u64], counts: &[u64], q: f64) -> Option<u64> {
    let total: u64 = counts.iter().sum();
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total.max(1));
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return bounds.get(i).copied();
        }
    }
    None
}
