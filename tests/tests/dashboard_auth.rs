//! Dashboard sign-in and browser security over HTTP: one-time codes (once only, two minutes), token
//! sign-in, the `HttpOnly` session cookie for REST and SSE, CSRF (a cookie-authenticated change needs a
//! same-origin `Origin`; login from a foreign origin refused), the security headers on every answer, the
//! `Host` guard against DNS rebinding (`browser.rs`), expired / revoked / signed-out sessions refused,
//! the sign-in limiter, no secret in the daemon log, and `tend dashboard` printing a link that signs in.

mod browser;

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use tend_tests::{Daemon, Sse, Value, json, python3, rfc3339_ms, run_with_deadline, secs, send};

const EVIL: &str = "http://evil.example";

/// A signed-in browser: the session's secret (the cookie's value) and its public id.
struct Session {
    secret: String,
    id: String,
}

fn sign_in_code(d: &Daemon) -> Value {
    let (status, body) = d.post_empty("/api/sessions/code");
    assert_eq!(status, 201, "POST /api/sessions/code: {body}");
    body
}

/// `POST /api/login` with no credentials, `Origin: origin` when given.
fn login_request(d: &Daemon, body: &Value, origin: Option<&str>) -> Response {
    let mut req = d
        .request_anonymous(Method::POST, "/api/login")
        .header("user-agent", "dashboard-test")
        .json(body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().expect("POST /api/login")
}

fn set_cookie(resp: &Response) -> Option<String> {
    resp.headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
}

/// The value of `tend_session` in a `Set-Cookie` header.
fn cookie_secret(header: &str) -> String {
    header
        .strip_prefix("tend_session=")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("not a session cookie: {header}"))
        .to_string()
}

/// Signs in with `body` from the daemon's own origin; asserts 201 and the cookie's attributes.
fn sign_in(d: &Daemon, body: Value) -> Session {
    let resp = login_request(d, &body, Some(d.url()));
    let cookie = set_cookie(&resp);
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    assert_eq!(status, 201, "login {body}: {text}");
    let cookie = cookie.expect("login sets a cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    let secret = cookie_secret(&cookie);
    assert!(secret.len() >= 32, "a long random secret: {cookie}");
    assert!(!text.contains(&secret), "the body never carries the secret");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["current"], true, "{view}");
    assert_eq!(view["user_agent"], "dashboard-test", "{view}");
    Session {
        secret,
        id: view["id"].as_str().expect("session id").to_string(),
    }
}

/// A request carrying only the session cookie (and `Origin: origin` when given).
fn with_cookie(
    d: &Daemon,
    method: Method,
    path: &str,
    s: &Session,
    origin: Option<&str>,
) -> RequestBuilder {
    let mut req = d
        .request_anonymous(method, path)
        .header("cookie", format!("theme=dark; tend_session={}", s.secret));
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req
}

fn cookie_get(d: &Daemon, path: &str, s: &Session) -> (u16, Value) {
    send(with_cookie(d, Method::GET, path, s, None))
}

fn assert_refused(answer: (u16, Value), status: u16, code: &str, field: Option<&str>, what: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    if let Some(f) = field {
        assert_eq!(body["error"]["field"], f, "{what}: {body}");
    }
}

#[test]
fn a_sign_in_code_works_once_and_expires_two_minutes_after_it_is_made() {
    let d = Daemon::start();
    let before = rfc3339_ms(&chrono::Utc::now().to_rfc3339());
    let code = sign_in_code(&d);
    let expires = rfc3339_ms(code["expires_at"].as_str().unwrap());
    assert!(
        (expires - before - 120_000.0).abs() < 5_000.0,
        "valid for 120 s: {code}"
    );
    let body = json!({"code": code["code"]});
    let s = sign_in(&d, body.clone());
    assert_eq!(cookie_get(&d, "/api/services", &s).0, 200);

    let again = login_request(&d, &body, Some(d.url()));
    assert!(set_cookie(&again).is_none(), "no cookie for a used code");
    assert_refused(
        send_response(again),
        401,
        "unauthorized",
        None,
        "code used twice",
    );
    let made_up = json!({"code": "0123456789abcdef0123456789abcdef"});
    assert_refused(
        send_response(login_request(&d, &made_up, None)),
        401,
        "unauthorized",
        None,
        "a code never issued",
    );
    // Without credentials a code cannot be had.
    assert_refused(
        send(d.request_anonymous(Method::POST, "/api/sessions/code")),
        401,
        "unauthorized",
        None,
        "anonymous code",
    );
}

fn send_response(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn a_bad_login_body_names_the_field() {
    let d = Daemon::start();
    for (body, field) in [
        (json!({}), "code"),
        (json!({"code": ""}), "code"),
        (json!({"token": 5}), "token"),
        (json!({"code": "a", "token": "b"}), "body"),
        (json!({"password": "x"}), "password"),
    ] {
        let answer = send_response(login_request(&d, &body, None));
        assert_refused(answer, 422, "invalid", Some(field), &body.to_string());
    }
    let get = send(d.request_anonymous(Method::GET, "/api/login"));
    assert_refused(get, 405, "method_not_allowed", None, "GET /api/login");
}

#[test]
fn the_cookie_works_for_rest_and_the_event_stream() {
    let d = Daemon::start();
    let s = sign_in(&d, json!({"token": d.token()}));
    let (status, list) = cookie_get(&d, "/api/services", &s);
    assert_eq!(status, 200, "{list}");

    let client = Client::builder().timeout(None).build().unwrap();
    let resp = client
        .get(format!("{}/api/events?topics=lifecycle", d.url()))
        .header("cookie", format!("tend_session={}", s.secret))
        .header("accept", "text/event-stream")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200, "SSE with the cookie");
    let sse = Sse::from_response(resp);
    d.create(&d.service("seen", json!(["sleep", "1000"])));
    sse.wait_for(secs(10), |e| {
        e.event == "lifecycle" && e.json()["service"] == "seen"
    })
    .expect("a lifecycle event over the cookie-authenticated stream");

    // A made-up cookie is no session.
    let forged = Session {
        secret: "f".repeat(64),
        id: String::new(),
    };
    assert_refused(
        cookie_get(&d, "/api/services", &forged),
        401,
        "unauthorized",
        None,
        "forged cookie",
    );
}

#[test]
fn a_cookie_change_needs_the_dashboards_own_origin() {
    let d = Daemon::start();
    let s = sign_in(&d, json!({"token": d.token()}));
    let spec = d.service("csrf", json!(["sleep", "1000"]));
    let before = d.list();
    for (origin, what) in [
        (Some(EVIL), "foreign origin"),
        (None, "no origin"),
        (Some("null"), "opaque origin"),
    ] {
        let req = with_cookie(&d, Method::POST, "/api/services", &s, origin).json(&spec);
        assert_refused(send(req), 403, "forbidden", Some("Origin"), what);
        let req = with_cookie(&d, Method::POST, "/api/logout", &s, origin);
        assert_refused(send(req), 403, "forbidden", Some("Origin"), what);
    }
    assert_eq!(d.list(), before, "nothing was created");
    assert_eq!(
        cookie_get(&d, "/api/sessions", &s).0,
        200,
        "still signed in"
    );

    let req = with_cookie(&d, Method::POST, "/api/services", &s, Some(d.url())).json(&spec);
    let (status, body) = send(req);
    assert_eq!(status, 201, "same-origin POST: {body}");
    // What the dashboard starts is recorded as the dashboard's.
    let req = with_cookie(
        &d,
        Method::POST,
        "/api/services/csrf/custom-restart",
        &s,
        Some(d.url()),
    )
    .json(&json!({}));
    let (status, job) = send(req);
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["origin"], "dashboard", "{job}");
    // The bearer token needs no Origin (the CLI, scripts).
    let (status, body) = d.post(
        "/api/services",
        &d.service("bearer", json!(["sleep", "1000"])),
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn login_from_a_foreign_origin_is_refused() {
    let d = Daemon::start();
    let resp = login_request(&d, &json!({"token": d.token()}), Some(EVIL));
    assert!(set_cookie(&resp).is_none(), "no cookie");
    assert_refused(
        send_response(resp),
        403,
        "forbidden",
        Some("Origin"),
        "login CSRF",
    );
    // A script without `Origin` may sign in with the token.
    let resp = login_request(&d, &json!({"token": d.token()}), None);
    assert!(set_cookie(&resp).is_some());
    assert_eq!(resp.status(), 201);
}

#[test]
fn revoked_and_signed_out_sessions_are_refused() {
    let d = Daemon::start();
    let a = sign_in(&d, json!({"token": d.token()}));
    let b = sign_in(&d, json!({"code": sign_in_code(&d)["code"]}));
    let (status, list) = cookie_get(&d, "/api/sessions", &a);
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    for s in &list {
        assert_eq!(s["current"], s["id"] == a.id.as_str(), "{s}");
        assert!(s.get("secret").is_none(), "{s}");
    }

    // Revoking needs the same origin too.
    let path = format!("/api/sessions/{}", b.id);
    let req = with_cookie(&d, Method::DELETE, &path, &a, Some(EVIL));
    assert_refused(
        send(req),
        403,
        "forbidden",
        Some("Origin"),
        "cross-origin revoke",
    );
    assert_eq!(cookie_get(&d, "/api/services", &b).0, 200, "b untouched");
    let resp = with_cookie(&d, Method::DELETE, &path, &a, Some(d.url()))
        .send()
        .unwrap();
    assert!(set_cookie(&resp).is_none(), "a's own cookie stays");
    let (status, body) = send_response(resp);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"status": "revoked", "id": b.id}));
    assert_refused(
        cookie_get(&d, "/api/services", &b),
        401,
        "unauthorized",
        None,
        "revoked",
    );
    assert_refused(d.delete(&path), 404, "not_found", None, "revoked twice");

    // Revoking one's own session clears one's cookie.
    let c = sign_in(&d, json!({"token": d.token()}));
    let own = format!("/api/sessions/{}", c.id);
    let resp = with_cookie(&d, Method::DELETE, &own, &c, Some(d.url()))
        .send()
        .unwrap();
    let cleared = set_cookie(&resp).expect("own revocation clears the cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(resp.status(), 200);
    assert_eq!(cookie_get(&d, "/api/services", &c).0, 401);

    // Signing out ends the session and clears the cookie.
    let resp = with_cookie(&d, Method::POST, "/api/logout", &a, Some(d.url()))
        .send()
        .unwrap();
    let cleared = set_cookie(&resp).expect("logout clears the cookie");
    assert!(cleared.starts_with("tend_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, body) = send_response(resp);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "signed_out");
    assert_refused(
        cookie_get(&d, "/api/sessions", &a),
        401,
        "unauthorized",
        None,
        "signed out",
    );
    // The token has no session to end.
    assert_refused(
        d.post_empty("/api/logout"),
        409,
        "conflict",
        None,
        "bearer logout",
    );
    let (_, list) = d.get("/api/sessions");
    assert_eq!(list, json!([]), "both sessions are gone");
}

#[test]
fn a_session_lasts_session_ttl_h_and_is_refused_once_expired() {
    let mut d = Daemon::builder()
        .config_toml("[api]\nsession_ttl_h = 2\n")
        .start();
    let stale = sign_in(&d, json!({"token": d.token()}));
    let kept = sign_in(&d, json!({"token": d.token()}));
    let resp = login_request(&d, &json!({"token": d.token()}), None);
    let cookie = set_cookie(&resp).unwrap();
    assert!(cookie.contains("Max-Age=7200"), "{cookie}");
    let view: Value = resp.json().unwrap();
    let lifetime = rfc3339_ms(view["expires_at"].as_str().unwrap())
        - rfc3339_ms(view["created_at"].as_str().unwrap());
    assert_eq!(lifetime, 7_200_000.0, "{view}");

    // Time passes for one session: its expiry is moved into the past while the daemon is stopped.
    d.stop();
    let db = d.data_dir().join("tend.db");
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  n = c.execute(\"UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000Z' \
                  WHERE id = ?\", (sys.argv[2],)).rowcount\n\
                  c.commit()\n\
                  assert n == 1, n\n";
    let mut cmd = std::process::Command::new(python3());
    cmd.arg("-c").arg(script).arg(&db).arg(&stale.id);
    let out = run_with_deadline(cmd, secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.restart();

    assert_refused(
        cookie_get(&d, "/api/services", &stale),
        401,
        "unauthorized",
        None,
        "expired",
    );
    assert_eq!(
        cookie_get(&d, "/api/services", &kept).0,
        200,
        "an unexpired session outlives a daemon restart"
    );
    let (_, list) = d.get("/api/sessions");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&stale.id.as_str()),
        "expired: not listed {list}"
    );
    assert!(ids.contains(&kept.id.as_str()), "{list}");
}

#[test]
fn failed_sign_ins_are_limited() {
    let d = Daemon::start();
    for i in 0..10 {
        let answer = send_response(login_request(&d, &json!({"token": "wrong"}), None));
        assert_refused(answer, 401, "unauthorized", None, &format!("failure {i}"));
    }
    // Past ten failures a minute, even the right token waits.
    let resp = login_request(&d, &json!({"token": d.token()}), None);
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(set_cookie(&resp).is_none());
    assert_refused(
        send_response(resp),
        429,
        "too_many_requests",
        None,
        "limited",
    );
    // The bearer token itself is not affected.
    assert_eq!(d.get("/api/status").0, 200);
}

#[test]
fn no_secret_reaches_the_daemon_log() {
    let d = Daemon::start();
    let code = sign_in_code(&d)["code"].as_str().unwrap().to_string();
    let by_code = sign_in(&d, json!({"code": code}));
    let by_token = sign_in(&d, json!({"token": d.token()}));
    assert_eq!(cookie_get(&d, "/api/services", &by_code).0, 200);
    let _ = send_response(login_request(&d, &json!({"token": "a-wrong-guess"}), None));
    let (status, body) = send(with_cookie(
        &d,
        Method::POST,
        "/api/logout",
        &by_token,
        Some(d.url()),
    ));
    assert_eq!(status, 200, "{body}");
    let log_path = d.data_dir().join("tend.log");
    tend_tests::wait_until(secs(10), "the sign-out in tend.log", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.contains("dashboard sign-out")
    })
    .unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("dashboard sign-in"), "sign-ins are recorded");
    for (secret, what) in [
        (d.token(), "the token"),
        (&by_code.secret, "a session secret"),
        (&by_token.secret, "a session secret"),
        (&code, "a sign-in code"),
        ("a-wrong-guess", "a wrong token"),
    ] {
        assert!(!log.contains(secret), "{what} is in tend.log");
    }
    assert!(
        log.contains(&by_code.id),
        "sessions are named by their public id"
    );
}

#[test]
fn tend_dashboard_prints_a_link_that_signs_in_once() {
    let d = Daemon::start();
    let out = d.cli(&["dashboard", "--no-open"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let link = stdout.trim();
    let prefix = format!("{}/login#code=", d.url());
    let code = link
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{link:?} is not {prefix}<code>"));
    assert!(!code.is_empty() && !link.contains('?'), "{link}");
    sign_in(&d, json!({"code": code}));
    let again = send_response(login_request(&d, &json!({"code": code}), None));
    assert_refused(again, 401, "unauthorized", None, "the link works once");

    let out = d.cli(&["dashboard", "--no-open", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["opened"], false, "{doc}");
    let url = doc["url"].as_str().unwrap();
    let code = url.strip_prefix(&prefix).expect("url");
    sign_in(&d, json!({"code": code}));
}
