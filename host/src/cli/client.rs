//! The CLI's side of the REST API: finds the daemon (URL and token), sends requests, reads Server-Sent
//! Event streams, and turns every failure into a `CliError` that carries the contract's exit code.
//! Knows nothing of rendering; never prints except through the errors it returns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::sse::{SseEvent, SseParser};
use crate::wire::{AUTH_HEADER, DEFAULT_PORT, ErrorBody};

/// How long to wait for a TCP connection before calling the daemon unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reads answer quickly; only actions (start/stop/PUT/DELETE) may legitimately wait for a stop timeout.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything that ends a CLI command unsuccessfully, one variant per exit code of the contract.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The daemon answered with an error status; `message` is ready to print (field and hints added).
    #[error("{message}")]
    Api { status: StatusCode, message: String },
    /// No answer: connection refused, timed out, or the stream broke.
    #[error(
        "cannot reach the daemon at {url} ({origin}): {detail}; is it running? Start it with `tend daemon`"
    )]
    Unreachable {
        url: String,
        origin: String,
        detail: String,
    },
    /// A mistake in what the user typed that clap could not see.
    #[error("{0}")]
    Usage(String),
    /// stdout was closed (e.g. `tend logs -f | head`): a normal way for output to end.
    #[error("broken pipe")]
    BrokenPipe,
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::BrokenPipe => 0,
            CliError::Api { status, .. } if *status == StatusCode::NOT_FOUND => 3,
            CliError::Api { status, .. } if *status == StatusCode::UNAUTHORIZED => 5,
            CliError::Api { .. } | CliError::Other(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable { .. } => 4,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Other(e.into())
        }
    }
}

/// Where the token came from, so a 401 can say what to check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOrigin {
    Given,
    File(PathBuf),
    Missing(PathBuf),
}

/// The daemon to talk to, and how we found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub url: Url,
    /// Human description of where `url` came from, for "cannot reach" messages.
    pub url_origin: String,
    pub token: Option<String>,
    pub token_origin: TokenOrigin,
}

/// Resolves the URL (flag/env, else `url` in `<data-dir>/daemon.json`, else the default port on
/// localhost) and the token (flag/env, else `<data-dir>/token`, trimmed).
pub fn discover(url: Option<Url>, token: Option<String>, data_dir: &Path) -> Endpoint {
    let (url, url_origin) = match url {
        Some(u) => (u, "from --url/TEND_URL".to_string()),
        None => {
            let file = data_dir.join("daemon.json");
            match url_from_daemon_json(&file) {
                Some(u) => (u, format!("from {}", file.display())),
                None => (
                    default_url(),
                    format!("default; no daemon.json in {}", data_dir.display()),
                ),
            }
        }
    };
    let (token, token_origin) = match token {
        Some(t) => (Some(t.trim().to_string()), TokenOrigin::Given),
        None => {
            let file = data_dir.join("token");
            match std::fs::read_to_string(&file) {
                Ok(t) if !t.trim().is_empty() => {
                    (Some(t.trim().to_string()), TokenOrigin::File(file))
                }
                _ => (None, TokenOrigin::Missing(file)),
            }
        }
    };
    Endpoint {
        url,
        url_origin,
        token,
        token_origin,
    }
}

fn default_url() -> Url {
    Url::parse(&format!("http://127.0.0.1:{DEFAULT_PORT}")).expect("static URL parses")
}

fn url_from_daemon_json(file: &Path) -> Option<Url> {
    let text = std::fs::read_to_string(file).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    Url::parse(doc.get("url")?.as_str()?).ok()
}

/// clap value parser for `--url`.
pub fn parse_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "unsupported scheme {other:?}: use http:// or https://"
        )),
    }
}

/// A successful answer, kept as received so `--json` can print it untouched.
pub struct Answer {
    pub text: String,
}

impl Answer {
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, CliError> {
        serde_json::from_str(&self.text).map_err(|e| {
            CliError::Other(anyhow::anyhow!(
                "unexpected answer from the daemon: {e}: {}",
                snippet(&self.text)
            ))
        })
    }
}

pub struct Client {
    http: reqwest::Client,
    ep: Endpoint,
}

impl Client {
    pub fn new(ep: Endpoint) -> Result<Client, CliError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("tend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Other(anyhow::anyhow!("cannot set up the HTTP client: {e}")))?;
        Ok(Client { http, ep })
    }

    /// The daemon's base URL.
    pub fn base_url(&self) -> &Url {
        &self.ep.url
    }

    /// `base URL + /segment/segment...`; each segment is percent-encoded, so a name cannot change the route.
    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.ep.url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    fn builder(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method, self.url(segments, query))
            // So that what the CLI starts (custom-restart jobs) is recorded with origin `cli`.
            .header(crate::wire::CLIENT_HEADER, "cli");
        match &self.ep.token {
            Some(t) => req.header(AUTH_HEADER, format!("Bearer {t}")),
            None => req,
        }
    }

    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Answer, CliError> {
        let req = self
            .builder(Method::GET, segments, query)
            .timeout(READ_TIMEOUT);
        self.finish(req).await
    }

    /// A request that may change state. No overall timeout: stopping a service may take its
    /// `stop_timeout_s`.
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, CliError> {
        let mut req = self.builder(method, segments, &[]);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.finish(req).await
    }

    async fn finish(&self, req: reqwest::RequestBuilder) -> Result<Answer, CliError> {
        let resp = self.check(req.send().await).await?;
        let text = resp.text().await.map_err(|e| self.transport(&e))?;
        Ok(Answer { text })
    }

    /// Opens a Server-Sent Events stream and calls `on_event` for each event until the stream ends or
    /// the user presses Ctrl-C (both a normal end).
    pub async fn follow(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        on_event: impl FnMut(SseEvent) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let req = self.builder(Method::GET, segments, query);
        self.follow_request(req, on_event).await
    }

    /// `POST`s `body` asking for Server-Sent Events (`tend llm test --stream`) and reads them as
    /// `follow` does.
    pub async fn post_stream(
        &self,
        segments: &[&str],
        body: &serde_json::Value,
        on_event: impl FnMut(SseEvent) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let req = self.builder(Method::POST, segments, &[]).json(body);
        self.follow_request(req, on_event).await
    }

    async fn follow_request(
        &self,
        req: reqwest::RequestBuilder,
        mut on_event: impl FnMut(SseEvent) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let req = req.header("accept", "text/event-stream");
        let mut resp = self.check(req.send().await).await?;
        let mut parser = SseParser::default();
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => return Ok(()),
                chunk = resp.chunk() => match chunk {
                    Ok(Some(bytes)) => {
                        for event in parser.feed(&bytes) {
                            on_event(event)?;
                        }
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(self.transport(&e)),
                },
            }
        }
    }

    /// Maps transport failures and error statuses to `CliError`.
    async fn check(
        &self,
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<reqwest::Response, CliError> {
        let resp = sent.map_err(|e| self.transport(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(self.api_error(status, &body))
    }

    fn api_error(&self, status: StatusCode, body: &str) -> CliError {
        let mut message = match serde_json::from_str::<ErrorBody>(body) {
            Ok(b) => match b.error.field {
                Some(field) => format!("{} (field: {field})", b.error.message),
                None => b.error.message,
            },
            Err(_) if body.trim().is_empty() => format!("the daemon answered {status}"),
            Err(_) => format!("the daemon answered {status}: {}", snippet(body)),
        };
        if status == StatusCode::UNAUTHORIZED {
            message.push_str(&match &self.ep.token_origin {
                TokenOrigin::Given => " (the token from --token/TEND_TOKEN was rejected)".to_string(),
                TokenOrigin::File(p) => format!(
                    " (the token in {} was rejected; is the daemon using another --data-dir?)",
                    p.display()
                ),
                TokenOrigin::Missing(p) => format!(
                    " (no token: {} does not exist; pass --token, set TEND_TOKEN, or point --data-dir at the daemon's)",
                    p.display()
                ),
            });
        }
        CliError::Api { status, message }
    }

    fn transport(&self, e: &reqwest::Error) -> CliError {
        let detail = if e.is_timeout() {
            "timed out".to_string()
        } else {
            root_cause(e)
        };
        if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() {
            CliError::Unreachable {
                url: self.ep.url.as_str().trim_end_matches('/').to_string(),
                origin: self.ep.url_origin.clone(),
                detail,
            }
        } else {
            CliError::Other(anyhow::anyhow!(
                "talking to the daemon at {}: {detail}",
                self.ep.url
            ))
        }
    }
}

/// The innermost error message (e.g. "Connection refused (os error 111)"), which is what people need.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn snippet(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_prefers_flags_then_files_then_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let ep = discover(None, None, dir.path());
        assert_eq!(ep.url.as_str(), "http://127.0.0.1:9900/");
        assert_eq!(ep.token, None);
        assert_eq!(
            ep.token_origin,
            TokenOrigin::Missing(dir.path().join("token"))
        );

        std::fs::write(
            dir.path().join("daemon.json"),
            r#"{"pid": 1, "url": "http://127.0.0.1:4321"}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("token"), "s3cret\n").unwrap();
        let ep = discover(None, None, dir.path());
        assert_eq!(ep.url.as_str(), "http://127.0.0.1:4321/");
        assert!(ep.url_origin.contains("daemon.json"), "{}", ep.url_origin);
        assert_eq!(ep.token.as_deref(), Some("s3cret"));
        assert_eq!(ep.token_origin, TokenOrigin::File(dir.path().join("token")));

        let given = parse_url("http://10.0.0.1:1").unwrap();
        let ep = discover(Some(given.clone()), Some("t".into()), dir.path());
        assert_eq!(ep.url, given);
        assert_eq!(ep.token.as_deref(), Some("t"));
        assert_eq!(ep.token_origin, TokenOrigin::Given);
    }

    #[test]
    fn a_broken_daemon_json_falls_back_to_the_default() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("daemon.json"), "{not json").unwrap();
        std::fs::write(dir.path().join("token"), "  \n").unwrap();
        let ep = discover(None, None, dir.path());
        assert_eq!(ep.url.port(), Some(DEFAULT_PORT));
        assert_eq!(ep.token, None);
    }

    #[test]
    fn urls_are_built_from_encoded_segments() {
        let ep = discover(
            Some(parse_url("http://h:1/base/").unwrap()),
            None,
            Path::new("/nonexistent"),
        );
        let client = Client::new(ep).unwrap();
        let url = client.url(&["api", "services", "a/b", "logs"], &[("tail", "5".into())]);
        assert_eq!(
            url.as_str(),
            "http://h:1/base/api/services/a%2Fb/logs?tail=5"
        );
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let api = |status| CliError::Api {
            status,
            message: String::new(),
        };
        assert_eq!(api(StatusCode::NOT_FOUND).exit_code(), 3);
        assert_eq!(api(StatusCode::UNAUTHORIZED).exit_code(), 5);
        assert_eq!(api(StatusCode::CONFLICT).exit_code(), 1);
        assert_eq!(CliError::Usage(String::new()).exit_code(), 2);
        let unreachable = CliError::Unreachable {
            url: "u".into(),
            origin: "o".into(),
            detail: "d".into(),
        };
        assert_eq!(unreachable.exit_code(), 4);
        assert!(unreachable.to_string().contains("tend daemon"));
        assert!(parse_url("ftp://x").is_err());
    }

    #[test]
    fn api_errors_name_the_field_and_hint_at_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(discover(None, None, dir.path())).unwrap();
        let body =
            r#"{"error":{"code":"invalid","message":"must not be empty","field":"command"}}"#;
        let e = client.api_error(StatusCode::UNPROCESSABLE_ENTITY, body);
        assert_eq!(e.to_string(), "must not be empty (field: command)");
        let body = r#"{"error":{"code":"unauthorized","message":"missing or wrong token"}}"#;
        let e = client.api_error(StatusCode::UNAUTHORIZED, body);
        assert!(
            e.to_string()
                .starts_with("missing or wrong token (no token: "),
            "{e}"
        );
        let e = client.api_error(StatusCode::BAD_GATEWAY, "<html>");
        assert!(e.to_string().contains("502"), "{e}");
    }
}
