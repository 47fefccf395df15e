//! Calls through `PluginHost::check` and how each ends: ok, trap, timeout, out of memory, denied
//! capabilities, suspension, wrong world, not found; the WASI context and the host interfaces.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Harness, set_key, target};
use crate::plugins::outcome::HealthStatus;
use crate::plugins::{Outcome, PluginSettings};
use crate::wire::PluginState;

fn healthy(o: &Outcome<crate::plugins::Health>) -> &str {
    match o {
        Outcome::Ok(h) if h.status == HealthStatus::Healthy => &h.message,
        other => panic!("expected a healthy answer, got {other:?}"),
    }
}

fn unhealthy(o: &Outcome<crate::plugins::Health>) -> &str {
    match o {
        Outcome::Ok(h) if h.status == HealthStatus::Unhealthy => &h.message,
        other => panic!("expected an unhealthy answer, got {other:?}"),
    }
}

#[tokio::test]
async fn trivial_answers_and_is_counted() {
    let h = Harness::new().await;
    h.install("trivial", "trivial");
    let host = h.start().await;
    healthy(&host.check("trivial", target(json!({}))).await);
    let info = host.info("trivial").unwrap();
    assert_eq!(
        (
            info.state,
            info.world.as_str(),
            info.stats.calls,
            info.stats.ok
        ),
        (PluginState::Loaded, "probe", 1, 1)
    );
    assert_eq!(info.stats.latency.counts.iter().sum::<u64>(), 1);
    assert_eq!(
        host.check("nope", target(json!({}))).await,
        Outcome::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_times_out_without_holding_up_other_calls() {
    let h = Harness::new().await;
    h.install_with("spin", "spin", |m| set_key(m, "timeout_ms", "3000"));
    h.install("trivial", "trivial");
    let host = h.start().await;
    let spinning = tokio::spawn({
        let host = host.clone();
        async move { host.check("spin", target(json!({}))).await }
    });
    healthy(&host.check("trivial", target(json!({}))).await);
    assert!(
        !spinning.is_finished(),
        "the spinning call must still be running while others complete"
    );
    assert_eq!(spinning.await.unwrap(), Outcome::Timeout);

    // The call's own budget counts too, and is enforced promptly.
    let mut short = target(json!({}));
    short.timeout = Duration::from_millis(200);
    let started = Instant::now();
    assert_eq!(host.check("spin", short).await, Outcome::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let info = host.info("spin").unwrap();
    assert_eq!(info.stats.failures.get("timeout"), Some(&2));
}

/// The epoch ticker runs only while guest code may: between calls it sleeps (an idle daemon has no
/// wake-up from it), and a call after such a pause still gets its ticks, so a spinning guest is still
/// interrupted at its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epoch_ticker_sleeps_between_calls_and_deadlines_still_hold() {
    let h = Harness::new().await;
    h.install_with("spin", "spin", |m| set_key(m, "timeout_ms", "3000"));
    h.install("trivial", "trivial");
    let host = h.start().await;
    let parked = || host.ticker_parked().0;
    assert!(
        super::wait_until(Duration::from_secs(5), parked).await,
        "the ticker still ticks after loading, with no call in flight"
    );
    healthy(&host.check("trivial", target(json!({}))).await);
    assert!(super::wait_until(Duration::from_secs(5), parked).await);

    let (_, before) = host.ticker_parked();
    let mut short = target(json!({}));
    short.timeout = Duration::from_millis(300);
    let started = Instant::now();
    assert_eq!(host.check("spin", short).await, Outcome::Timeout);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "took {took:?}"
    );
    let (_, after) = host.ticker_parked();
    assert!(
        after > before,
        "the spinning call ran without epochs ({before} -> {after})"
    );
    assert!(
        super::wait_until(Duration::from_secs(5), parked).await,
        "the ticker keeps ticking after the call ended"
    );
}

#[tokio::test]
async fn a_memory_hog_runs_out_of_memory() {
    let h = Harness::new().await;
    h.install("hog", "hog");
    let host = h.start().await;
    assert_eq!(
        host.check("hog", target(json!({}))).await,
        Outcome::OutOfMemory
    );
    assert_eq!(
        host.info("hog")
            .unwrap()
            .stats
            .failures
            .get("out_of_memory"),
        Some(&1)
    );
}

#[tokio::test]
async fn traps_in_a_row_suspend_the_plugin() {
    let h = Harness::new().await;
    h.install("trapper", "trapper");
    let host = h
        .start_with(PluginSettings {
            suspend_after_traps: 3,
            ..Default::default()
        })
        .await;
    for _ in 0..3 {
        match host.check("trapper", target(json!({}))).await {
            Outcome::Trap(m) => assert!(m.contains("unreachable") || m.contains("trap"), "{m}"),
            other => panic!("expected a trap, got {other:?}"),
        }
    }
    let Outcome::Suspended { until } = host.check("trapper", target(json!({}))).await else {
        panic!("expected suspension after 3 traps")
    };
    assert!(until > std::time::SystemTime::now() + Duration::from_secs(5));
    let info = host.info("trapper").unwrap();
    assert_eq!(info.state, PluginState::Suspended);
    assert!(info.suspended_until.is_some());
    assert_eq!(info.stats.consecutive_traps, 3);
    assert_eq!(info.stats.failures.get("suspended"), Some(&1));
    assert_eq!(
        info.stats.last_errors.len(),
        3,
        "refusals while suspended are counted, not listed"
    );
}

#[tokio::test]
async fn denied_http_and_tcp_make_no_connection_and_are_counted() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = Harness::new().await;
    h.install("sneaky", "sneaky");
    // Loopback allowed by the daemon: only the manifest's own grant (127.0.0.1:1) narrows it.
    let host = h
        .start_with(PluginSettings {
            allow_hosts: vec!["127.0.0.1".into()],
            ..Default::default()
        })
        .await;
    let config =
        json!({ "url": format!("http://127.0.0.1:{port}/"), "host": "127.0.0.1", "port": port });
    let outcome = host.check("sneaky", target(config)).await;
    let message = unhealthy(&outcome);
    assert_eq!(message.matches("denied").count(), 2, "{message}");
    let err = listener
        .accept()
        .expect_err("no connection may reach the listener");
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    let info = host.info("sneaky").unwrap();
    assert_eq!((info.stats.ok, info.stats.denials), (1, 2));
    assert!(
        info.stats.last_errors.iter().all(|e| e.kind == "denied"),
        "{:?}",
        info.stats.last_errors
    );
}

#[tokio::test]
async fn files_are_visible_only_under_granted_paths() {
    let files = tempfile::tempdir().unwrap();
    let granted = files.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    std::fs::write(granted.join("hello.txt"), "hi").unwrap();
    std::fs::write(files.path().join("secret.txt"), "secret").unwrap();
    let h = Harness::new().await;
    let paths = format!("[{:?}]", granted.to_str().unwrap());
    h.install_with("reader", "reader", |m| set_key(m, "paths", &paths));
    let host = h
        .start_with(PluginSettings {
            allow_paths: vec![granted.clone()],
            ..Default::default()
        })
        .await;
    let read = |p: std::path::PathBuf| target(json!({ "path": p }));
    let msg = healthy(&host.check("reader", read(granted.join("hello.txt"))).await).to_string();
    assert!(msg.contains("read 2 bytes"), "{msg}");
    unhealthy(
        &host
            .check("reader", read(files.path().join("secret.txt")))
            .await,
    );
    unhealthy(&host.check("reader", read("/etc/passwd".into())).await);

    // The same manifest without the daemon's consent sees nothing.
    let h2 = Harness::new().await;
    h2.install_with("reader", "reader", |m| set_key(m, "paths", &paths));
    let host2 = h2.start().await;
    assert!(host2.info("reader").unwrap().grants.paths.is_empty());
    unhealthy(&host2.check("reader", read(granted.join("hello.txt"))).await);
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn wasi_context_is_empty_unless_granted_and_output_goes_to_the_log() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new().await;
    h.install_with("chatty", "chatty", |m| set_key(m, "env", "[\"PATH\"]"));
    let host = h.start().await;
    let msg = healthy(&host.check("chatty", target(json!({ "env": "PATH" }))).await).to_string();
    assert!(
        msg.contains("PATH unset"),
        "env passes only with the daemon's consent: {msg}"
    );
    let clock: u64 = msg
        .split("clock=")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(clock > 1_600_000_000, "the wall clock works: {msg}");

    let h2 = Harness::new().await;
    h2.install_with("chatty", "chatty", |m| set_key(m, "env", "[\"PATH\"]"));
    let host2 = h2
        .start_with(PluginSettings {
            allow_env: vec!["PATH".into()],
            ..Default::default()
        })
        .await;
    let msg = healthy(
        &host2
            .check("chatty", target(json!({ "env": "PATH" })))
            .await,
    )
    .to_string();
    assert!(
        msg.contains(&format!("PATH={}", std::env::var("PATH").unwrap())),
        "{msg}"
    );

    let mut log = String::new();
    (&buffer.0.lock().unwrap()[..])
        .read_to_string(&mut log)
        .unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for stream in ["stdout", "stderr"] {
        let hello = format!("chatty: hello on {stream} from web");
        assert!(
            lines.iter().any(|l| l["target"] == "plugin"
                && l["fields"]["plugin"] == "chatty"
                && l["fields"]["stream"] == stream
                && l["fields"]["message"] == hello),
            "no {stream} line in the log:\n{log}"
        );
    }
}

#[tokio::test]
async fn a_plugin_of_another_world_cannot_be_called_as_a_probe() {
    let h = Harness::new().await;
    h.install_with("notworld", "policy", |m| {
        set_key(m, "world", "\"command-policy\"")
    });
    let host = h.start().await;
    assert_eq!(host.info("policy").unwrap().world, "command-policy");
    match host.check("policy", target(json!({}))).await {
        Outcome::WrongWorld(m) => assert!(m.contains("command-policy"), "{m}"),
        other => panic!("expected wrong world, got {other:?}"),
    }
}

/// Answers every connection with one fixed HTTP response.
async fn serve_once_per_connection(listener: tokio::net::TcpListener, response: &'static str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let _ = conn.write_all(response.as_bytes()).await;
        });
    }
}

#[tokio::test]
async fn the_builtin_http_probe_reaches_its_target_and_only_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(serve_once_per_connection(
        listener,
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
    ));
    let h = Harness::new().await;
    let host = h.start().await;
    let info = host
        .info("http")
        .expect("the built-in http probe is embedded");
    assert_eq!(info.grants.hosts, ["$target"]);
    let mut t = target(json!({ "path": "/health" }));
    t.port = Some(port);
    healthy(&host.check("http", t.clone()).await);

    // Another port of the same host is not the target: denied, not connected.
    t.config = json!({ "url": format!("http://127.0.0.1:{}/", port.wrapping_add(1).max(1)) });
    let msg = unhealthy(&host.check("http", t).await).to_string();
    assert!(msg.contains("denied"), "{msg}");
    assert_eq!(host.info("http").unwrap().stats.denials, 1);
}

#[tokio::test]
async fn http_responses_are_capped_and_requests_time_out() {
    let big = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let big_port = big.local_addr().unwrap().port();
    tokio::spawn(serve_once_per_connection(
        big,
        "HTTP/1.1 200 OK\r\ncontent-length: 64\r\nconnection: close\r\n\r\n0123456789012345678901234567890123456789012345678901234567890123",
    ));
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });

    let http = crate::plugins::builtin::BUILTINS
        .iter()
        .find(|b| b.name == "http")
        .expect("built-in http probe");
    let h = Harness::new().await;
    h.install_raw(
        "smallhttp",
        http.wasm,
        &set_key(http.manifest.to_string(), "max_response_bytes", "16"),
    );
    let host = h.start().await;

    let mut t = target(json!({}));
    t.port = Some(big_port);
    let msg = unhealthy(&host.check("smallhttp", t.clone()).await).to_string();
    assert!(msg.contains("too large"), "{msg}");

    t.port = Some(silent_port);
    t.config = json!({ "timeout_ms": 100 });
    let started = Instant::now();
    let msg = unhealthy(&host.check("smallhttp", t).await).to_string();
    assert!(msg.contains("timed out"), "{msg}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the request's own timeout applies"
    );
}
