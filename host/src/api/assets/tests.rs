//! The dashboard's routing, variants and caching over a small table, and the notice of a binary built
//! without the dashboard (the black-box tests in `tests/tests/dashboard_assets.rs` use the real one).

use super::*;

static TABLE: &[Asset] = &[
    Asset {
        path: "assets/app-1a2b.js",
        etag: "js1",
        identity: b"console.log('tend')",
        brotli: Some(b"BROTLI"),
        gzip: Some(b"GZIP"),
    },
    Asset {
        path: "assets/logo-3c4d.png",
        etag: "png1",
        identity: b"PNG",
        brotli: None,
        gzip: None,
    },
    Asset {
        path: "favicon.svg",
        etag: "svg1",
        identity: b"<svg/>",
        brotli: None,
        gzip: Some(b"GZ"),
    },
    Asset {
        path: "index.html",
        etag: "idx1",
        identity: b"<!doctype html><script type=module src=/assets/app-1a2b.js></script>",
        brotli: Some(b"BR-INDEX"),
        gzip: None,
    },
];

fn get(table: Option<&'static [Asset]>, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    answer(table, &Method::GET, path, &map).expect("an answer")
}

fn h<'a>(res: &'a Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

async fn body(res: Response) -> Vec<u8> {
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn pages_are_index_html_revalidated_every_time() {
    for path in ["/", "/services/web", "/login", "/cron/nightly/executions"] {
        let res = get(Some(TABLE), path, &[]);
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(h(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(h(&res, "cache-control"), "no-cache");
        assert_eq!(h(&res, "etag"), "\"idx1\"");
        assert!(body(res).await.starts_with(b"<!doctype html>"));
    }
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_compressed_as_asked() {
    let res = get(
        Some(TABLE),
        "/assets/app-1a2b.js",
        &[("accept-encoding", "gzip, deflate, br")],
    );
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(h(&res, "cache-control"), IMMUTABLE);
    assert_eq!(h(&res, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(h(&res, "content-encoding"), "br");
    assert_eq!(h(&res, "vary"), "accept-encoding");
    assert_eq!(h(&res, "etag"), "\"js1-br\"");
    assert_eq!(body(res).await, b"BROTLI");

    let res = get(
        Some(TABLE),
        "/assets/app-1a2b.js",
        &[("accept-encoding", "gzip")],
    );
    assert_eq!(h(&res, "content-encoding"), "gzip");
    assert_eq!(h(&res, "etag"), "\"js1-gz\"");
    assert_eq!(body(res).await, b"GZIP");

    let res = get(Some(TABLE), "/assets/app-1a2b.js", &[]);
    assert_eq!(h(&res, "content-encoding"), "");
    assert_eq!(h(&res, "vary"), "accept-encoding");
    assert_eq!(body(res).await, b"console.log('tend')");

    // Nothing to choose from: no Vary, no coding.
    let res = get(
        Some(TABLE),
        "/assets/logo-3c4d.png",
        &[("accept-encoding", "br")],
    );
    assert_eq!(h(&res, "content-type"), "image/png");
    assert_eq!(h(&res, "content-encoding"), "");
    assert_eq!(h(&res, "vary"), "");
    // A file from public/ keeps its name across builds: revalidated.
    let res = get(
        Some(TABLE),
        "/favicon.svg",
        &[("accept-encoding", "br, gzip")],
    );
    assert_eq!(h(&res, "cache-control"), "no-cache");
    assert_eq!(h(&res, "content-encoding"), "gzip");
}

#[test]
fn negotiation_follows_the_weights() {
    use Coding::*;
    assert_eq!(negotiate("", true, true), Identity);
    assert_eq!(negotiate("br", true, true), Brotli);
    assert_eq!(negotiate("gzip, br", true, true), Brotli);
    assert_eq!(negotiate("br;q=0.5, gzip", true, true), Gzip);
    assert_eq!(negotiate("br;q=0, gzip;q=0", true, true), Identity);
    assert_eq!(negotiate("BR ; q=1.0", true, true), Brotli);
    assert_eq!(negotiate("*", true, true), Brotli);
    assert_eq!(negotiate("*;q=0.1, br;q=0", true, true), Gzip);
    assert_eq!(negotiate("br", false, true), Identity);
    assert_eq!(negotiate("x-gzip", true, true), Gzip);
}

#[tokio::test]
async fn a_known_etag_is_answered_304_without_a_body() {
    let br = [("accept-encoding", "br")];
    for inm in ["\"js1-br\"", "W/\"js1-br\"", "\"other\", \"js1-br\"", "*"] {
        let res = get(
            Some(TABLE),
            "/assets/app-1a2b.js",
            &[br[0], ("if-none-match", inm)],
        );
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{inm}");
        assert_eq!(h(&res, "etag"), "\"js1-br\"");
        assert_eq!(h(&res, "cache-control"), IMMUTABLE);
        assert!(body(res).await.is_empty());
    }
    // Another variant's tag is another representation.
    let res = get(
        Some(TABLE),
        "/assets/app-1a2b.js",
        &[br[0], ("if-none-match", "\"js1-gz\"")],
    );
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn unknown_files_api_paths_and_other_methods_are_no_route() {
    let none = |method: Method, path: &str| {
        answer(Some(TABLE), &method, path, &HeaderMap::new()).is_none()
    };
    for path in [
        "/assets/nope.js",
        "/assets/app-1a2b",
        "/robots.txt",
        "/api/nope",
        "/api",
        "/metrics/x",
        "/healthz/x",
    ] {
        assert!(none(Method::GET, path), "{path}");
    }
    assert!(none(Method::POST, "/"));
    assert!(none(Method::DELETE, "/assets/app-1a2b.js"));
    assert!(!none(Method::HEAD, "/assets/app-1a2b.js"));
    // `/apiary` is no API path: a page.
    assert_eq!(target("/apiary"), Target::Page);
}

#[tokio::test]
async fn without_a_built_dashboard_pages_say_how_to_build_it() {
    for path in ["/", "/services/web"] {
        let res = get(None, path, &[]);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(h(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(h(&res, "cache-control"), "no-cache");
        let text = String::from_utf8(body(res).await).unwrap();
        assert!(text.contains("The dashboard was not built"), "{text}");
        assert!(text.contains("cargo xtask run"));
        assert!(text.contains("npm ci &amp;&amp; npm run build"));
        // Nothing the CSP (`default-src 'self'`, no inline script or style) would refuse.
        assert!(!text.contains("<script") && !text.contains("<style") && !text.contains("style="));
    }
    assert!(answer(None, &Method::GET, "/assets/app-1a2b.js", &HeaderMap::new()).is_none());
}

#[test]
fn the_embedded_table_is_sorted_and_has_an_index_when_present() {
    if let Some(table) = DASHBOARD {
        assert!(table.windows(2).all(|w| w[0].path < w[1].path));
        assert!(table.iter().any(|a| a.path == "index.html"));
    }
}
