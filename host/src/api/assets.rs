//! The dashboard's files, embedded in the binary at build time (`build/dashboard.rs` writes the
//! table: paths, ETags, brotli and gzip variants compressed once) and served on the API port: `/`
//! and client routes (`/services/x`, `/login`: no file extension) answer `index.html` with
//! `no-cache`, hashed files under `/assets/` are `immutable`, a variant is chosen by
//! `Accept-Encoding`, `If-None-Match` gets a 304. `/dashboard` redirects to `/`. Paths of the API
//! (`/api`, `/metrics`, `/healthz`) and unknown files answer the JSON 404. Without a built dashboard
//! pages answer a notice saying how to build it. Knows nothing of sign-in: the dashboard's files are
//! public, what they call is not.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// One embedded file of `frontend/dist`.
pub struct Asset {
    /// Relative to `dist`, `/`-separated; the table is sorted by it.
    pub path: &'static str,
    /// A hash of `identity`; each variant's ETag adds its coding.
    pub etag: &'static str,
    pub identity: &'static [u8],
    pub brotli: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
}

// `DASHBOARD: Option<&[Asset]>`: `None` when the dashboard was not built.
include!(concat!(env!("OUT_DIR"), "/dashboard.rs"));

/// Vite puts content-hashed names under `assets/`: a new build has new names, so these never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (`index.html`, files from `public/`) is revalidated (ETag) on every use.
const NO_CACHE: &str = "no-cache";

/// The router's fallback: the dashboard for GET and HEAD, the API's JSON 404 for the rest.
pub async fn serve(req: Request) -> Response {
    match answer(DASHBOARD, req.method(), req.uri().path(), req.headers()) {
        Some(res) => res,
        None => super::not_found().await.into_response(),
    }
}

/// `/dashboard` (the other supervisors' address of their dashboards) and anything under it.
pub async fn to_root() -> Redirect {
    Redirect::permanent("/")
}

/// What a path names.
#[derive(Debug, PartialEq)]
enum Target<'a> {
    /// The API's own paths: never the dashboard.
    Api,
    /// A file of `dist` (relative path).
    File(&'a str),
    /// A page of the single-page app: `index.html` decides what to show.
    Page,
}

fn target(path: &str) -> Target<'_> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/api") || under("/metrics") || under("/healthz") {
        return Target::Api;
    }
    let rel = path.trim_start_matches('/');
    let last = rel.rsplit('/').next().unwrap_or(rel);
    if rel.starts_with("assets/") || last.contains('.') {
        Target::File(rel)
    } else {
        Target::Page
    }
}

/// The answer to a request, `None` for "no such route".
fn answer(
    table: Option<&'static [Asset]>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let find = |rel: &str| {
        let t = table?;
        t.binary_search_by(|a| a.path.cmp(rel)).ok().map(|i| &t[i])
    };
    match target(path) {
        Target::Api => None,
        Target::File(rel) => find(rel).map(|asset| file(asset, headers)),
        Target::Page => Some(match find("index.html") {
            Some(index) => file(index, headers),
            None => notice(),
        }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

fn file(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let accept = header_str(headers, header::ACCEPT_ENCODING);
    let coding = negotiate(accept, asset.brotli.is_some(), asset.gzip.is_some());
    let (body, suffix) = match coding {
        Coding::Brotli => (asset.brotli.unwrap_or(asset.identity), "-br"),
        Coding::Gzip => (asset.gzip.unwrap_or(asset.identity), "-gz"),
        Coding::Identity => (asset.identity, ""),
    };
    let etag = format!("\"{}{suffix}\"", asset.etag);
    let cache = if asset.path.starts_with("assets/") {
        IMMUTABLE
    } else {
        NO_CACHE
    };
    let mut res = if matches(header_str(headers, header::IF_NONE_MATCH), &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut res = Response::new(Body::from(body));
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(asset.path)),
        );
        match coding {
            Coding::Brotli => h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br")),
            Coding::Gzip => h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            Coding::Identity => None,
        };
        res
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // The answer depends on Accept-Encoding whenever a compressed variant exists.
    if asset.brotli.is_some() || asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The coding to send: the available one the client weights highest (`q`, default 1; `*` stands
/// for codings it does not name), brotli before gzip on a tie; identity when it accepts neither.
fn negotiate(accept: &str, brotli: bool, gzip: bool) -> Coding {
    let (mut br_q, mut gz_q, mut any_q) = (None, None, None);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "br" => br_q = Some(q),
            "gzip" | "x-gzip" => gz_q = Some(q),
            "*" => any_q = Some(q),
            _ => {}
        }
    }
    let br = if brotli {
        br_q.or(any_q).unwrap_or(0.0)
    } else {
        0.0
    };
    let gz = if gzip {
        gz_q.or(any_q).unwrap_or(0.0)
    } else {
        0.0
    };
    if br > 0.0 && br >= gz {
        Coding::Brotli
    } else if gz > 0.0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// `If-None-Match` (a list, `*`, weak tags compared weakly as RFC 9110 asks) names `etag`.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

/// What `/` says when the binary was built without the dashboard. A static page: no script or
/// style, so the strict CSP has nothing to refuse.
const NOTICE: &str = "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>tend: the dashboard was not built</title>
</head>
<body>
<h1>tend</h1>
<p>The dashboard was not built: run <code>cargo xtask run</code> (or
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>, then rebuild <code>tend</code>).</p>
<p>The REST API answers under <code>/api</code> (see the README).</p>
</body>
</html>
";

fn notice() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, NO_CACHE),
        ],
        NOTICE,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
