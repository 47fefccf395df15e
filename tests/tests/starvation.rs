//! No starvation over raw TCP: slowloris connections to the REST API are closed after the header
//! timeout; a flood of idle connections neither starves an authenticated request nor a spawn (the API
//! stops accepting at its cap, which leaves descriptors free); the control port closes connections that
//! do not authenticate in time, does not count blank lines as activity, and closes at once on a line of
//! HTTP, even with `loopback_without_auth`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tend_tests::*;

fn api_addr(d: &Daemon) -> SocketAddr {
    d.url()
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("daemon url {}: {e}", d.url()))
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, secs(10)).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

/// Waits for the server to close `s` (end of stream or reset; whatever it wrote before is skipped);
/// the time it took from `since`, or `None` if it is still open at `deadline`.
fn closed_by(s: &mut TcpStream, since: Instant, deadline: Instant) -> Option<Duration> {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).expect("set_read_timeout");
        match s.read(&mut buf) {
            Ok(0) => return Some(since.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Some(since.elapsed()),
        }
    }
}

/// Open descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn slowloris_connections_are_closed_after_the_header_timeout() {
    let d = Daemon::builder()
        .config_toml("[api]\nheader_timeout_s = 1\n")
        .start();
    let addr = api_addr(&d);
    // An event stream is long-lived but not idle: it must outlive every timeout below.
    let events = d.sse("/api/events?topics=lifecycle");
    let start = Instant::now();
    let mut silent: Vec<TcpStream> = (0..10).map(|_| connect(addr)).collect();
    let mut partial: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n")
                .unwrap();
            s
        })
        .collect();
    // One byte every 200 ms: 100 bytes would take 20 s, and bytes must not move the deadline.
    let trickler = std::thread::spawn(move || {
        let mut s = connect(addr);
        let opened = Instant::now();
        let mut head = b"GET /api/status HTTP/1.1\r\nHost: localhost\r\nX-Pad: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 60));
        for byte in head {
            if s.write_all(&[byte]).is_err() {
                return Some(opened.elapsed());
            }
            // The pause between two bytes is a read: it ends early when the server closes.
            if let Some(t) = closed_by(&mut s, opened, Instant::now() + Duration::from_millis(200))
            {
                return Some(t);
            }
        }
        None
    });
    let deadline = start + secs(8);
    let mut times = Vec::new();
    for (i, s) in silent.iter_mut().chain(partial.iter_mut()).enumerate() {
        let t = closed_by(s, start, deadline)
            .unwrap_or_else(|| panic!("connection {i} still open after 8 s"));
        times.push(t);
    }
    let trickled = trickler
        .join()
        .unwrap()
        .expect("a connection trickling its head a byte at a time was never closed");
    let slowest = times.iter().max().unwrap();
    eprintln!(
        "figure: 20 slowloris connections (10 silent, 10 partial heads) closed after {:?}..{:?}, \
         a trickling one after {trickled:?} (header_timeout_s = 1)",
        times.iter().min().unwrap(),
        slowest
    );
    assert!(*slowest < secs(4), "closed only after {slowest:?}");
    assert!(
        trickled < secs(4),
        "the trickler was closed after {trickled:?}"
    );
    // The server is fine, and the event stream still delivers.
    let (status, body) = d.get("/api/status");
    assert_eq!(status, 200, "{body}");
    d.create(&d.service("after", "sleep 30"));
    let ev = events
        .wait_for(secs(10), |e| e.data.contains("\"after\""))
        .expect("the event stream still delivers after the timeouts");
    assert_eq!(ev.event, "lifecycle", "{ev:?}");
}

#[test]
fn a_request_body_that_stops_arriving_is_answered_408() {
    let d = Daemon::builder()
        .config_toml("[api]\nbody_timeout_s = 1\n")
        .start();
    let mut s = connect(api_addr(&d));
    let head = format!(
        "POST /api/services HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": ",
        d.token()
    );
    let sent = Instant::now();
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(secs(8))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no answer within 8 s: {e}"),
        }
    }
    let took = sent.elapsed();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(took < secs(4), "answered after {took:?}");
    assert_eq!(
        d.list().as_array().map(Vec::len),
        Some(0),
        "nothing created"
    );
}

#[test]
fn a_flood_of_idle_connections_starves_neither_the_api_nor_a_spawn() {
    // 512 descriptors: the flood below could take every one of them if the API accepted it all.
    let d = Daemon::builder()
        .nofile(512)
        .control()
        .config_toml("[api]\nheader_timeout_s = 2\n[control]\nmax_connections = 4\n")
        .start();
    d.create(&d.service_with("web", "sleep 300", json!({"enabled": false})));
    let mut ctl = d.control_authed();
    let addr = api_addr(&d);
    let baseline = open_fds(d.pid());
    let flood_size = 700;
    let flood: Vec<TcpStream> = (0..flood_size).map(|_| connect(addr)).collect();
    let flood_at = Instant::now();
    // Let the daemon take what it will of the flood: its descriptor count stops changing.
    let (mut last, mut same) = (0, 0);
    let held = wait_for(secs(20), || {
        let now = open_fds(d.pid());
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same >= 50 && now > baseline {
            Ok(now)
        } else {
            Err(format!("{now} descriptors"))
        }
    })
    .unwrap();
    // A spawn while the API is at its cap: the control port's connection was made before the flood.
    ctl.ok("start web");
    wait_for(secs(10), || {
        let r = ctl.ok("status web");
        let status = r["service"]["status"].as_str().unwrap_or("?").to_string();
        if status == "running" {
            Ok(())
        } else {
            Err(format!("{r}"))
        }
    })
    .unwrap_or_else(|e| panic!("the service did not start under the flood: {e}"));
    // An authenticated request gets through once the idle connections ahead of it time out.
    // A new connection (the harness's client keeps one open from before the flood).
    let fresh = reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(secs(60))
        .build()
        .unwrap();
    let asked = Instant::now();
    let (status, body) = send(
        fresh
            .get(format!("{}/api/status", d.url()))
            .bearer_auth(d.token()),
    );
    let waited = asked.elapsed();
    assert_eq!(status, 200, "{body}");
    let view = d.view("web");
    assert_eq!(view["status"], "running", "{view}");
    let events = d.events("web");
    assert!(
        !format!("{events:?}").contains("Too many open files"),
        "a spawn failed for want of descriptors: {events:?}"
    );
    eprintln!(
        "figure: {flood_size} idle connections against nofile 512: the daemon held {held} \
         descriptors ({baseline} before the flood); a spawn succeeded meanwhile; an authenticated \
         request completed {waited:?} after it was sent ({:?} after the flood began; \
         header_timeout_s = 2)",
        flood_at.elapsed()
    );
    assert!(
        held < 512 - 64,
        "the daemon held {held} of its 512 descriptors"
    );
    drop(flood);
}

#[test]
fn an_unauthenticated_control_connection_is_closed_at_its_deadline() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nauth_timeout_s = 1\n")
        .start();
    let mut c = d.control_conn();
    let opened = Instant::now();
    // Requests that need no token do not extend the deadline.
    let mut last = None;
    while opened.elapsed() < secs(5) {
        c.send(b"help\n");
        match c.line_within(secs(5)) {
            Some(line) => last = Some(line),
            None => break,
        }
    }
    let after = opened.elapsed();
    let last = last.expect("answers before the deadline");
    let r: Value = serde_json::from_str(&last).unwrap();
    assert_error(&r, "unauthorized", "the last line");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("auth_timeout_s"),
        "{r}"
    );
    assert!(after < secs(3), "closed only after {after:?}");
    // Authenticated in time, the connection stays.
    let mut ok = d.control_authed();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        ok.ok("status");
    }
}

#[test]
fn blank_lines_do_not_keep_a_control_connection_alive() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nidle_timeout_s = 1\n")
        .start();
    let mut s = connect(d.control_addr());
    s.write_all(format!("auth {}\n", d.token()).as_bytes())
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    // A blank line every 100 ms; the pause between two is a read, which ends when the server writes.
    let closed = loop {
        if s.write_all(b"\n").is_err() {
            break true;
        }
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut buf = [0u8; 4096];
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break true,
        }
        if start.elapsed() > secs(6) {
            break false;
        }
    };
    let after = start.elapsed();
    assert!(closed, "still open after 6 s of blank lines");
    let text = String::from_utf8_lossy(&got).into_owned();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["ok"], true, "{text}");
    assert_error(&lines[1], "idle_timeout", "blank lines only");
    assert!(after < secs(3), "closed only after {after:?}");
}

#[test]
fn a_line_of_http_closes_the_control_port_at_once() {
    let d = Daemon::builder()
        .control()
        .config_toml("[control]\nloopback_without_auth = true\n")
        .start();
    d.create(&d.service("web", "sleep 300"));
    d.wait_status("web", "running", secs(10));
    // What a web page's no-cors POST sends: the body would be protocol lines.
    let requests: [&[u8]; 4] = [
        b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nstop web\nquit\n",
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"Host: 127.0.0.1\r\nstop web\n",
        b"PUT /api/services/web HTTP/1.0\r\n\r\nstop web\n",
    ];
    let mut slowest = Duration::ZERO;
    for request in requests {
        let mut s = connect(d.control_addr());
        let sent = Instant::now();
        s.write_all(request).unwrap();
        let mut got = Vec::new();
        s.set_read_timeout(Some(secs(5))).unwrap();
        let closed = loop {
            let mut buf = [0u8; 1024];
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break false;
                }
                Err(_) => break true,
            }
        };
        let took = sent.elapsed();
        slowest = slowest.max(took);
        assert!(closed, "{:?}: not closed", String::from_utf8_lossy(request));
        assert!(
            got.is_empty(),
            "{:?}: answered {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&got)
        );
        assert!(took < secs(1), "closed only after {took:?}");
    }
    eprintln!("figure: a foreign HTTP request on the control port is closed within {slowest:?}");
    assert_eq!(d.view("web")["status"], "running", "nothing was stopped");
    // The port still serves its own protocol.
    let mut c = d.control_conn();
    c.ok("status");
}
