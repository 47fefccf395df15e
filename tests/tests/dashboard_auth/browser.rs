//! What every answer tells a browser (the CSP and its companion headers, on API answers, errors and
//! dashboard pages) and which `Host` names are served (loopback names, `[api] allowed_hosts`; a
//! foreign name, as after DNS rebinding, refused).

use std::io::{Read, Write};
use std::net::TcpStream;

use reqwest::Method;
use reqwest::blocking::Response;
use tend_tests::{Daemon, secs};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// One raw HTTP/1.x request with exactly the given head lines; returns the whole answer.
fn raw(d: &Daemon, head: &str) -> String {
    let addr = d.url().trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read the answer");
    answer
}

fn assert_security_headers(resp: &Response, what: &str) {
    let h = resp.headers();
    let get = |k: &str| h.get(k).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        get("content-security-policy").as_deref(),
        Some(CSP),
        "{what}"
    );
    assert_eq!(
        get("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        get("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(get("x-frame-options").as_deref(), Some("DENY"), "{what}");
    assert_eq!(
        get("cross-origin-opener-policy").as_deref(),
        Some("same-origin"),
        "{what}"
    );
}

#[test]
fn every_answer_carries_the_security_headers() {
    let d = Daemon::start();
    for (req, status, what) in [
        (d.request(Method::GET, "/api/status"), 200, "an API answer"),
        (d.request(Method::GET, "/api/no/such/route"), 404, "a 404"),
        (
            d.request_anonymous(Method::GET, "/no-such-file.js"),
            404,
            "a 404 outside the API",
        ),
        (
            d.request_anonymous(Method::GET, "/services/web"),
            200,
            "a dashboard page",
        ),
        (
            d.request_anonymous(Method::GET, "/api/services"),
            401,
            "a 401",
        ),
        (d.request(Method::GET, "/healthz"), 200, "healthz"),
    ] {
        let resp = req.send().unwrap();
        assert_eq!(resp.status().as_u16(), status, "{what}");
        assert_security_headers(&resp, what);
    }
}

#[test]
fn a_foreign_host_is_refused_and_loopback_names_are_served() {
    let d = Daemon::start();
    let port = d.url().rsplit(':').next().unwrap().to_string();
    let token = d.token();
    let ask = |host: &str| {
        raw(
            &d,
            &format!(
                "GET /api/status HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
                 Connection: close\r\n\r\n"
            ),
        )
    };
    for host in ["evil.example", &format!("evil.example:{port}"), "10.9.8.7"] {
        let answer = ask(host);
        assert!(answer.starts_with("HTTP/1.1 403"), "Host {host}: {answer}");
        assert!(answer.contains(r#""field":"Host""#), "{answer}");
        assert!(answer.contains("frame-ancestors 'none'"), "{answer}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("dash.localhost:{port}"),
    ] {
        let answer = ask(&host);
        assert!(answer.starts_with("HTTP/1.1 200"), "Host {host}: {answer}");
    }
    // No Host at all: not a browser.
    let answer = raw(&d, "GET /healthz HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
}

#[test]
fn allowed_hosts_extend_the_served_names() {
    let d = Daemon::builder()
        .config_toml("[api]\nallowed_hosts = [\"tend.lan\"]\n")
        .start();
    let answer = raw(
        &d,
        "GET /healthz HTTP/1.1\r\nHost: TEND.lan:80\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = raw(
        &d,
        "GET /healthz HTTP/1.1\r\nHost: other.lan\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}
