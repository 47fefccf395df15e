//! The dashboard as the daemon serves it, embedded in the real `tend` binary: `/` and client routes
//! are `index.html` (`no-cache`), the hashed files it references are `immutable` and precompressed
//! (brotli and gzip decoding to the very bytes of the uncompressed file), ETags revalidate with 304,
//! `/dashboard` redirects to `/`, and unknown files and API routes keep the JSON 404.
//!
//! These tests assume the dashboard was built before `tend` was: `cargo xtask test` (and so CI) builds
//! the frontend before the binary. A Rust-only build serves a notice at `/` instead, and the first
//! assertion below says so; that notice is tested by the host's unit tests (`api/assets/tests.rs`).

use std::io::Read;

use reqwest::blocking::{Client, Response};
use reqwest::redirect::Policy;
use tend_tests::{Daemon, Value};

/// A client that shows redirects instead of following them, and asks for no coding unless told.
fn client() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

fn get(d: &Daemon, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = client().get(format!("{}{path}", d.url()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_string())
        .unwrap_or_default()
}

/// `index.html`, checked to be the built dashboard, and the path of the script it loads.
fn index(d: &Daemon) -> (String, String) {
    let res = get(d, "/", &[]);
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&res, "cache-control"), "no-cache");
    let html = res.text().expect("body");
    assert!(
        !html.contains("The dashboard was not built"),
        "tend was built without the dashboard: build the frontend first (`cargo xtask test` does)"
    );
    let start = html
        .find("src=\"/assets/")
        .map(|i| i + "src=\"".len())
        .unwrap_or_else(|| panic!("index.html loads no /assets/ script: {html}"));
    let end = start + html[start..].find('"').expect("closing quote");
    let script = html[start..end].to_string();
    assert!(script.ends_with(".js"), "{script}");
    (html, script)
}

#[test]
fn root_and_client_routes_are_the_app_revalidated_every_time() {
    let d = Daemon::start();
    let (html, _) = index(&d);
    for path in ["/services/foo", "/login", "/cron/nightly"] {
        let res = get(&d, path, &[]);
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{path}");
        assert_eq!(res.text().unwrap(), html, "{path} is not index.html");
    }
}

#[test]
fn hashed_assets_are_immutable_and_precompressed() {
    let d = Daemon::start();
    let (_, script) = index(&d);

    let plain = get(&d, &script, &[]);
    assert_eq!(plain.status(), 200);
    assert_eq!(
        header(&plain, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        header(&plain, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&plain, "content-encoding"), "");
    let plain = plain.bytes().unwrap().to_vec();
    assert!(!plain.is_empty());

    let br = get(&d, &script, &[("accept-encoding", "gzip, deflate, br")]);
    assert_eq!(br.status(), 200);
    assert_eq!(header(&br, "content-encoding"), "br");
    assert_eq!(header(&br, "vary"), "accept-encoding");
    assert_eq!(
        header(&br, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let packed = br.bytes().unwrap().to_vec();
    assert!(packed.len() < plain.len());
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&packed[..], 4096)
        .read_to_end(&mut unpacked)
        .expect("valid brotli");
    assert!(unpacked == plain, "brotli variant decodes to other bytes");

    let gz = get(&d, &script, &[("accept-encoding", "gzip")]);
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gz.bytes().unwrap()[..])
        .read_to_end(&mut unpacked)
        .expect("valid gzip");
    assert!(unpacked == plain, "gzip variant decodes to other bytes");
}

#[test]
fn a_known_etag_is_answered_304() {
    let d = Daemon::start();
    let (_, script) = index(&d);
    for (path, coding) in [("/", ""), (script.as_str(), "br"), (script.as_str(), "")] {
        let first = get(&d, path, &[("accept-encoding", coding)]);
        let etag = header(&first, "etag");
        assert!(etag.starts_with('"'), "{path}: no ETag");
        let again = get(
            &d,
            path,
            &[("accept-encoding", coding), ("if-none-match", &etag)],
        );
        assert_eq!(again.status(), 304, "{path} ({coding})");
        assert_eq!(header(&again, "etag"), etag);
        assert!(again.bytes().unwrap().is_empty());
        let stale = get(
            &d,
            path,
            &[("accept-encoding", coding), ("if-none-match", "\"old\"")],
        );
        assert_eq!(stale.status(), 200);
    }
}

#[test]
fn dashboard_redirects_to_the_root() {
    let d = Daemon::start();
    for path in ["/dashboard", "/dashboard/", "/dashboard/services/web"] {
        let res = get(&d, path, &[]);
        assert_eq!(res.status(), 308, "{path}");
        assert_eq!(header(&res, "location"), "/", "{path}");
    }
}

#[test]
fn unknown_files_and_api_routes_keep_the_json_404() {
    let d = Daemon::start();
    for path in ["/assets/nope.js", "/nope.txt", "/api/nope", "/metrics/nope"] {
        let res = get(&d, path, &[]);
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res
            .json()
            .unwrap_or_else(|e| panic!("{path}: not JSON: {e}"));
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    // With the token too: an unknown API route is not a page of the app.
    let (status, body) = d.get("/api/nope");
    assert_eq!((status, &body["error"]["code"]), (404, &"not_found".into()));
}
