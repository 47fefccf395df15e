//! A quick measurement of the plugin host, outside the test suite (timing goals belong in
//! benchmarks): `cargo run --release -p tend --example plugin_bench [CALLS]`.
//!
//! Prints the median and p99 of `PluginHost::check` on the `trivial` fixture (a fresh instance per
//! call: instantiate + call + classification), and how long `PluginHost::start` takes with five
//! plugins already in the compiled-code cache. Needs `cargo xtask build-plugins` first.

use std::path::Path;
use std::time::{Duration, Instant};

use tend::plugins::{Outcome, PluginHost, PluginSettings, ProbeTarget};
use tend::store::Store;

const USER_PLUGINS: [&str; 3] = ["trivial", "chatty", "spin"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2000);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/fixtures");
    let data = tempfile::tempdir()?;
    let plugins = data.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    for name in USER_PLUGINS {
        for ext in ["wasm", "toml"] {
            let from = fixtures.join(format!("{name}.{ext}"));
            std::fs::copy(&from, plugins.join(format!("{name}.{ext}"))).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}; run `cargo xtask build-plugins` first",
                    from.display()
                )
            })?;
        }
    }
    let store = Store::open(&data.path().join("tend.db")).await?;

    let started = Instant::now();
    let host = PluginHost::start(store.clone(), data.path(), PluginSettings::default()).await?;
    println!(
        "cold start: {} plugins, {} compiled, {:?}",
        host.list().len(),
        host.compiles(),
        started.elapsed()
    );
    let target = ProbeTarget {
        service: "bench".into(),
        host: "127.0.0.1".into(),
        port: None,
        config: serde_json::json!({}),
        timeout: Duration::from_secs(5),
    };
    for _ in 0..100 {
        host.check("trivial", target.clone()).await;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        let outcome = host.check("trivial", target.clone()).await;
        samples.push(t.elapsed());
        anyhow::ensure!(
            matches!(outcome, Outcome::Ok(_)),
            "trivial answered {outcome}"
        );
    }
    samples.sort();
    println!(
        "check(trivial), {calls} calls: median {:?}, p99 {:?}",
        samples[calls / 2],
        samples[calls * 99 / 100]
    );
    host.shutdown();

    let mut starts = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let host = PluginHost::start(store.clone(), data.path(), PluginSettings::default()).await?;
        starts.push(t.elapsed());
        anyhow::ensure!(
            host.compiles() == 0,
            "a warm start compiled {} components",
            host.compiles()
        );
        anyhow::ensure!(
            host.list().len() == 5,
            "expected 5 plugins, got {}",
            host.list().len()
        );
        host.shutdown();
    }
    starts.sort();
    println!(
        "warm start with 5 cached plugins: median {:?} (min {:?}, max {:?})",
        starts[2], starts[0], starts[4]
    );
    Ok(())
}
