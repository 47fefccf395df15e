//! Who may talk to the API, and what every answer tells a browser. `authenticate`: the bearer token or
//! the dashboard's session cookie (constant-time token compare; a cookie-authenticated request that
//! changes anything must come with a same-origin `Origin`, against CSRF), recording the `Caller` for the
//! handlers. Router-wide: `guard_host` refuses a `Host` that is neither a loopback name, the listen
//! address nor an `[api] allowed_hosts` entry (DNS rebinding), and `security_headers` puts a strict CSP
//! and its companions on every response. The matching rules are pure functions, unit-tested here.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::ops::Error;
use crate::wire::{Code, SESSION_COOKIE};

/// How the request proved itself; handlers of the session routes read it from the extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// `Authorization: Bearer <token>` (the CLI, scripts).
    Token,
    /// The session cookie; the session's public id.
    Session(String),
}

impl Caller {
    pub fn session(&self) -> Option<&str> {
        match self {
            Caller::Token => None,
            Caller::Session(id) => Some(id),
        }
    }
}

/// The headers every response carries. The CSP allows only the daemon's own scripts, styles, images
/// (and `data:` images), fonts and connections: no inline script or style, no plugins, no framing.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Router-wide: adds [`SECURITY_HEADERS`] to every response (API, errors, assets).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

/// Which `Host` names the daemon answers to.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    /// The address the API listens on (`--host`).
    pub listen: IpAddr,
    /// `[api] allowed_hosts`, lower case, without a trailing dot.
    pub allowed: Vec<String>,
}

impl HostPolicy {
    pub fn new(listen: IpAddr, allowed: &[String]) -> HostPolicy {
        HostPolicy {
            listen,
            allowed: allowed.iter().map(|h| normalise(h)).collect(),
        }
    }

    /// Whether a request with this `Host` header value is served. Names that only DNS makes point
    /// here are what a rebinding attack uses, so a name must be a loopback name or listed; an IP
    /// literal must be loopback or the listen address (any, when listening on all addresses: a
    /// literal address cannot be rebound).
    pub fn allows(&self, host_header: &str) -> bool {
        let name = normalise(hostname(host_header));
        if name.is_empty() {
            return false;
        }
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if self.allowed.contains(&name) {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => {
                let ip = ip.to_canonical();
                ip.is_loopback() || ip == self.listen || self.listen.is_unspecified()
            }
            Err(_) => false,
        }
    }
}

/// The host name of a `Host` value: without the port, an IPv6 literal without its brackets.
pub fn hostname(host_header: &str) -> &str {
    let h = host_header.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    // A bare IPv6 address has several colons (and is not a valid Host, but has no port to strip).
    if h.matches(':').count() > 1 {
        return h;
    }
    h.split(':').next().unwrap_or("")
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Router-wide: refuses a request whose `Host` the daemon does not answer to (403 `forbidden`,
/// naming `Host`). A request without `Host` comes from no browser and is let through.
pub async fn guard_host(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Error> {
    if let Some(host) = req.headers().get(HOST) {
        let allowed = host.to_str().is_ok_and(|h| app.hosts.allows(h));
        if !allowed {
            return Err(Error::new(
                Code::Forbidden,
                "this Host is not served: use 127.0.0.1, localhost or the listen address, or add \
                 the name to [api] allowed_hosts",
            )
            .with_field("Host"));
        }
    }
    Ok(next.run(req).await)
}

/// Whether `origin` (an `Origin` header value) is the request's own origin, `http://<host>` or
/// `https://<host>` for its `Host` header value (compared without regard to case).
pub fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let (Some(origin), Some(host)) = (origin, host) else {
        return false;
    };
    let host = host.trim();
    if host.is_empty() {
        return false;
    }
    ["http://", "https://"].iter().any(|scheme| {
        origin.len() == scheme.len() + host.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && origin[scheme.len()..].eq_ignore_ascii_case(host)
    })
}

fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A request that changes something made with the cookie must say it comes from this origin; a
/// browser sends `Origin` on every such request, and a page elsewhere cannot forge it.
fn check_same_origin(headers: &HeaderMap) -> Result<(), Error> {
    if same_origin(header(headers, ORIGIN), header(headers, HOST)) {
        Ok(())
    } else {
        Err(cross_origin())
    }
}

fn cross_origin() -> Error {
    Error::new(
        Code::Forbidden,
        "a request signed in with the session cookie must come from the dashboard's own origin",
    )
    .with_field("Origin")
}

/// `POST /api/login`: refused when it names another origin (login CSRF); without `Origin` (not a
/// browser: curl, scripts) it is allowed.
pub fn check_login_origin(headers: &HeaderMap) -> Result<(), Error> {
    match header(headers, ORIGIN) {
        None => Ok(()),
        Some(_) => check_same_origin(headers),
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn changes_something(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Every `/api` route but `POST /api/login`: the bearer token, else the session cookie. A wrong
/// bearer token is refused even with a good cookie (whoever sent it meant the token).
pub async fn authenticate(
    State(app): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Error> {
    let headers = req.headers();
    let caller = if let Some(auth) = headers.get(AUTHORIZATION) {
        let given = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(app.token.as_bytes())) {
            return Err(Error::unauthorized());
        }
        Caller::Token
    } else if let Some(secret) = cookie_value(headers, SESSION_COOKIE) {
        if changes_something(req.method()) {
            check_same_origin(headers)?;
        }
        match app.ops.session_for(secret).await? {
            Some(id) => Caller::Session(id),
            None => {
                return Err(Error::new(
                    Code::Unauthorized,
                    "the session has expired or was revoked; sign in again",
                ));
            }
        }
    } else {
        return Err(Error::new(
            Code::Unauthorized,
            "not signed in: send the bearer token (the `token` file in the data dir) or sign in \
             with `tend dashboard`",
        ));
    };
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(listen: &str, allowed: &[&str]) -> HostPolicy {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        HostPolicy::new(listen.parse().unwrap(), &allowed)
    }

    #[test]
    fn hostnames_lose_their_port_and_brackets() {
        assert_eq!(hostname("localhost:9900"), "localhost");
        assert_eq!(hostname("127.0.0.1"), "127.0.0.1");
        assert_eq!(hostname("[::1]:9900"), "::1");
        assert_eq!(hostname("[::1]"), "::1");
        assert_eq!(hostname("::1"), "::1");
    }

    #[test]
    fn loopback_names_and_the_listen_address_are_served() {
        let p = policy("127.0.0.1", &[]);
        for ok in [
            "localhost",
            "LOCALHOST:9900",
            "localhost.:1",
            "app.localhost:9900",
            "127.0.0.1:9900",
            "127.1.2.3",
            "[::1]:9900",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:9900",
            "localhost.evil.example",
            "mylocalhost",
            "10.0.0.5:9900",
            "",
            ":9900",
            "[::2]",
        ] {
            assert!(!p.allows(refused), "{refused}");
        }
    }

    #[test]
    fn allowed_hosts_and_a_public_listen_address_extend_the_list() {
        let p = policy("10.0.0.5", &["Box.LAN."]);
        assert!(p.allows("box.lan:9900"));
        assert!(p.allows("10.0.0.5:9900"));
        assert!(!p.allows("10.0.0.6:9900"));
        assert!(!p.allows("other.lan"));
        // Listening everywhere: any address literal, still no unlisted name.
        let any = policy("0.0.0.0", &[]);
        assert!(any.allows("192.168.1.9:9900"));
        assert!(!any.allows("evil.example"));
    }

    #[test]
    fn same_origin_needs_both_headers_and_an_exact_match() {
        let host = Some("127.0.0.1:9900");
        assert!(same_origin(Some("http://127.0.0.1:9900"), host));
        assert!(same_origin(Some("https://127.0.0.1:9900"), host));
        assert!(same_origin(Some("HTTP://LocalHost:1"), Some("localhost:1")));
        for bad in [
            None,
            Some("null"),
            Some("http://127.0.0.1:9901"),
            Some("http://127.0.0.1"),
            Some("http://evil.example"),
            Some("http://127.0.0.1:9900.evil.example"),
            Some("ftp://127.0.0.1:9900"),
        ] {
            assert!(!same_origin(bad, host), "{bad:?}");
        }
        assert!(!same_origin(Some("http://"), Some("")));
        assert!(!same_origin(Some("http://x"), None));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; b=2"));
        h.append(
            COOKIE,
            HeaderValue::from_static("x_tend_session=no; tend_session=s3cret"),
        );
        assert_eq!(cookie_value(&h, SESSION_COOKIE), Some("s3cret"));
        assert_eq!(cookie_value(&h, "c"), None);
    }

    #[test]
    fn only_safe_methods_skip_the_origin_check() {
        assert!(!changes_something(&Method::GET));
        assert!(!changes_something(&Method::HEAD));
        assert!(!changes_something(&Method::OPTIONS));
        assert!(changes_something(&Method::POST));
        assert!(changes_something(&Method::DELETE));
        assert!(changes_something(&Method::PUT));
    }
}
