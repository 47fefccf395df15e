//! systemd's notification protocol with a real `NOTIFY_SOCKET`: the test binds a unix datagram socket
//! (a path in its temp dir, or an abstract `@name`) and reads what the daemon sends: `READY=1` only once
//! the API answers and the boot-time services were started, `STATUS=` lines as the counts of running
//! and failed services change (at most one a second), `WATCHDOG=1` every `WATCHDOG_USEC / 2`, and
//! `STOPPING=1` at shutdown. No service inherits the protocol's variables.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use tend_tests::{Daemon, Value, json, secs, service_environ};

/// One datagram, when it arrived, and for `READY=1` what the API said at that moment.
struct Message {
    text: String,
    at: Instant,
    at_ready: Option<Result<(), String>>,
}

/// What a `READY=1` promises, checked as soon as it arrives: the API answers, and `boot` (a service of
/// `tend.toml`) was started.
fn check_ready(data_dir: &Path) -> Result<(), String> {
    let announced = std::fs::read_to_string(data_dir.join("daemon.json"))
        .map_err(|e| format!("no daemon.json at READY=1: {e}"))?;
    let announced: Value = serde_json::from_str(&announced).map_err(|e| e.to_string())?;
    let url = announced["url"].as_str().ok_or("daemon.json has no url")?;
    let token = std::fs::read_to_string(data_dir.join("token")).map_err(|e| e.to_string())?;
    let client = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let boot: Value = client
        .get(format!("{url}/api/services/boot"))
        .bearer_auth(token.trim())
        .send()
        .and_then(|r| r.json())
        .map_err(|e| format!("the API does not answer at READY=1: {e}"))?;
    match (boot["status"].as_str(), boot["pid"].as_u64()) {
        (Some("starting" | "running"), Some(_)) => Ok(()),
        _ => Err(format!("boot was not started at READY=1: {boot}")),
    }
}

/// Reads datagrams on a thread (so that `READY=1` is checked the moment it arrives) and hands them
/// over in order.
fn listen(socket: UnixDatagram, data_dir: std::path::PathBuf) -> mpsc::Receiver<Message> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let at = Instant::now();
            let at_ready = text
                .lines()
                .any(|l| l == "READY=1")
                .then(|| check_ready(&data_dir));
            if tx.send(Message { text, at, at_ready }).is_err() {
                return;
            }
        }
    });
    rx
}

/// Receives until a message satisfies `pred`; returns every message received on the way, it included.
fn until(
    rx: &mpsc::Receiver<Message>,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Vec<Message> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(m) => {
                let done = pred(&m.text);
                seen.push(m);
                if done {
                    return seen;
                }
            }
            Err(e) => {
                let texts: Vec<&str> = seen.iter().map(|m| m.text.as_str()).collect();
                panic!("no {what} ({e:?}); received: {texts:?}");
            }
        }
    }
}

fn boot_config(marker: &str) -> String {
    format!(
        "[services.boot]\ncommand = [\"sleep\", \"1000\"]\nenv = {{ TEND_TEST_ID = \"{marker}\" }}\n"
    )
}

#[test]
fn ready_after_the_api_answers_then_status_watchdog_and_stopping() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("notify");
    let socket = UnixDatagram::bind(&path).unwrap();
    let data_dir = root.path().join("data");
    let rx = listen(socket, data_dir.clone());
    let b = Daemon::builder()
        .data_dir(&data_dir)
        .env("NOTIFY_SOCKET", path.to_str().unwrap())
        .env("WATCHDOG_USEC", "200000");
    let config = boot_config(b.marker());
    let mut d = b.config_toml(&config).start();

    let first = until(&rx, secs(20), "READY=1", |t| t.contains("READY=1"));
    assert_eq!(first.len(), 1, "READY=1 is the first message");
    let ready = &first[0];
    if let Some(Err(e)) = &ready.at_ready {
        panic!("{e}");
    }
    assert!(
        ready.text.contains("\nSTATUS=1 service: "),
        "{:?}",
        ready.text
    );

    // The environment of services carries none of the protocol's variables.
    let pid = d.view("boot")["pid"].as_u64().unwrap() as u32;
    let env = service_environ(pid);
    for var in ["NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="] {
        assert!(
            !env.iter().any(|kv| kv.starts_with(var)),
            "{var} in {env:?}"
        );
    }

    // A service that fails for good shows in the status.
    d.create(&d.service_with("crashy", "exit 1", json!({"max_restarts": 0})));
    let mut seen = until(&rx, secs(20), "a STATUS= with the failure", |t| {
        t == "STATUS=2 services: 1 running, 1 failed"
    });
    assert!(!seen.iter().any(|m| m.text.contains("STOPPING")));

    assert!(d.stop().success());
    seen.extend(until(&rx, secs(20), "STOPPING=1", |t| {
        t.lines().any(|l| l == "STOPPING=1")
    }));

    let pings = seen.iter().filter(|m| m.text == "WATCHDOG=1").count();
    let span = seen.last().unwrap().at - ready.at;
    // One every 100 ms; a loaded machine may lose some of them, never most.
    let expected = span.as_millis() / 100;
    assert!(
        pings >= 3 && pings as u128 >= expected / 3,
        "{pings} WATCHDOG=1 in {span:?}"
    );
    // STATUS= lines come at most once a second (measured where they arrive, so with some slack; without
    // the limit, the crash and the give-up a few milliseconds later would be two lines).
    let statuses: Vec<&Message> = seen
        .iter()
        .filter(|m| m.text.starts_with("STATUS="))
        .collect();
    for pair in statuses.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(500),
            "{:?} then {:?} after {gap:?}",
            pair[0].text,
            pair[1].text
        );
    }
}

#[test]
fn an_abstract_socket_is_notified_too_and_no_watchdog_unless_asked() {
    use std::os::linux::net::SocketAddrExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("tend-test-notify-{}-{nanos}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let rx = listen(socket, data_dir.clone());
    let b = Daemon::builder()
        .data_dir(&data_dir)
        .env("NOTIFY_SOCKET", &format!("@{name}"));
    let config = boot_config(b.marker());
    let mut d = b.config_toml(&config).start();
    let first = until(&rx, secs(20), "READY=1", |t| t.contains("READY=1"));
    if let Some(Err(e)) = &first[0].at_ready {
        panic!("{e}");
    }
    assert!(d.stop().success());
    let seen = until(&rx, secs(20), "STOPPING=1", |t| {
        t.lines().any(|l| l == "STOPPING=1")
    });
    assert!(
        !seen.iter().any(|m| m.text == "WATCHDOG=1"),
        "no WATCHDOG_USEC, no pings"
    );
}
