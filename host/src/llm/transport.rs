//! One provider call over HTTP: the URL and headers of the model's provider (the key as a sensitive
//! header), retries after 429/503 (and Anthropic's 529) and failed connections (waiting what
//! `Retry-After` or `retry-after-ms` says, capped, never past the deadline, else an exponential
//! backoff), the mapping of HTTP statuses to `Error`s, and reading the answer: whole, or as
//! server-sent events fed to the provider's `Assembler` with text deltas passed on (a caller that
//! stops listening cancels it). The caller holds the deadline (`timeout_s`) around all of it.
//! Messages never carry the key or the URL (a plugin reads them).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::prepare::{Answer, Prepared};
use super::settings::{ApiKey, ModelSettings, Provider};
use super::sse::{SseEvent, SseParser};
use super::{Delta, Error, anthropic, openai};

/// A provider's stream, one event at a time.
pub trait Assembler: Send {
    /// Takes one event; returns the text it adds to the answer, if any.
    fn event(&mut self, ev: SseEvent) -> Result<Option<String>, Error>;
    /// The answer, once the body ended; an error when the stream did not finish properly.
    fn finish(self: Box<Self>) -> Result<Answer, Error>;
}

/// Anthropic's "overloaded": retried like a 503.
const OVERLOADED: u16 = 529;
/// Longest single wait before a retry, whatever `Retry-After` asks.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);
/// Largest answer read whole, or error body read.
const MAX_BODY: usize = 16 << 20;

/// Sends the request (with retries) and reads the answer; the latency is that of the last attempt.
pub async fn call(
    client: &reqwest::Client,
    model: &ModelSettings,
    key: Option<&ApiKey>,
    p: &Prepared,
    tx: Option<&mpsc::Sender<Delta>>,
    deadline: Instant,
) -> Result<(Answer, Duration), Error> {
    let stream = model.stream;
    let (url, body) = match model.provider {
        Provider::OpenAi => (
            format!("{}/chat/completions", model.base_url),
            openai::body(model, p, stream),
        ),
        Provider::Anthropic => (
            format!("{}/v1/messages", model.base_url),
            anthropic::body(model, p, stream),
        ),
    };
    let headers = headers(model, key)?;
    let body = serde_json::to_vec(&body).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let scrub = |m: String| scrub_key(m, key);
    let mut attempt = 0u32;
    loop {
        let sent = Instant::now();
        let result = client
            .post(&url)
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        let wait = match result {
            Err(e) if e.is_connect() && attempt < model.retries => {
                tracing::info!(model = %model.name, url, error = %e.without_url(), "LLM provider unreachable; retrying");
                backoff(attempt)
            }
            Err(e) => {
                tracing::warn!(model = %model.name, url, error = %e.without_url(), "LLM provider unreachable");
                return Err(Error::Provider(format!(
                    "cannot reach the provider of model {:?}{}",
                    model.name,
                    if attempt > 0 {
                        format!(" (after {attempt} retries)")
                    } else {
                        String::new()
                    }
                )));
            }
            Ok(resp) if matches!(resp.status().as_u16(), 429 | 503 | OVERLOADED) => {
                let status = resp.status();
                let asked = retry_after(resp.headers(), chrono::Utc::now());
                let text = scrub(provider_message(&read_capped(resp).await));
                if attempt >= model.retries {
                    return Err(Error::RateLimited(format!(
                        "the provider answered HTTP {} after {attempt} retries: {text}",
                        status.as_u16()
                    )));
                }
                let wait = asked.map_or_else(|| backoff(attempt), |d| d.min(MAX_RETRY_WAIT));
                // Waiting past the deadline would only end in a timeout: say what happened instead.
                if Instant::now() + wait >= deadline {
                    return Err(Error::RateLimited(format!(
                        "the provider answered HTTP {} and asked to wait {} s, past the model's timeout_s: {text}",
                        status.as_u16(),
                        wait.as_secs_f64().ceil()
                    )));
                }
                wait
            }
            Ok(resp) if !resp.status().is_success() => {
                let status = resp.status();
                let text = scrub(provider_message(&read_capped(resp).await));
                return Err(status_error(status, text));
            }
            Ok(resp) => {
                let mode = anthropic::answer_mode(p);
                // A server that ignores `stream: true` answers the whole thing as JSON.
                let json = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                let answer = if stream && !json {
                    read_stream(resp, model.provider, mode, tx).await
                } else {
                    read_whole(resp, model.provider, mode, tx).await
                };
                return answer.map(|a| (a, sent.elapsed())).map_err(|e| match e {
                    Error::Provider(m) => Error::Provider(scrub(m)),
                    other => other,
                });
            }
        };
        attempt += 1;
        tracing::info!(model = %model.name, attempt, wait_ms = wait.as_millis() as u64, "LLM call retried");
        tokio::time::sleep(wait).await;
    }
}

fn headers(model: &ModelSettings, key: Option<&ApiKey>) -> Result<HeaderMap, Error> {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if model.stream {
        h.insert("accept", HeaderValue::from_static("text/event-stream"));
    }
    let bad_key = || {
        Error::NotConfigured(format!(
            "model {:?}: the key contains characters an HTTP header cannot carry",
            model.name
        ))
    };
    match model.provider {
        Provider::OpenAi => {
            if let Some(k) = key {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", k.expose()))
                    .map_err(|_| bad_key())?;
                v.set_sensitive(true);
                h.insert("authorization", v);
            }
        }
        Provider::Anthropic => {
            if let Some(k) = key {
                let mut v = HeaderValue::from_str(k.expose()).map_err(|_| bad_key())?;
                v.set_sensitive(true);
                h.insert("x-api-key", v);
            }
            let v = HeaderValue::from_str(&model.anthropic_version)
                .map_err(|_| Error::InvalidRequest("anthropic_version".into()))?;
            h.insert("anthropic-version", v);
        }
    }
    Ok(h)
}

/// Exponential backoff without a `Retry-After`: 0.5 s, 1 s, 2 s, ... at most 8 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(4))
}

/// What `Retry-After` (seconds or an HTTP date) or `retry-after-ms` asks for.
pub fn retry_after(h: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    if let Some(ms) = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_millis(ms.min(1e9) as u64));
    }
    let v = h.get("retry-after")?.to_str().ok()?.trim();
    // Whole seconds per RFC 9110; some providers send a fraction.
    if let Ok(s) = v.parse::<f64>()
        && s.is_finite()
        && s >= 0.0
    {
        return Some(Duration::from_secs_f64(s.min(1e6)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

fn status_error(status: StatusCode, text: String) -> Error {
    let code = status.as_u16();
    match code {
        401 | 403 => Error::Rejected(format!(
            "the provider refused the key (HTTP {code}): {text}"
        )),
        400 | 413 | 422 if is_context_overflow(&text) => Error::Rejected(format!(
            "the conversation is longer than the model's context window (HTTP {code}): {text}"
        )),
        400..=499 => Error::Rejected(format!(
            "the provider refused the request (HTTP {code}): {text}"
        )),
        _ => Error::Provider(format!("the provider failed (HTTP {code}): {text}")),
    }
}

fn is_context_overflow(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("context_length_exceeded")
        || t.contains("exceed_context_size")
        || t.contains("prompt is too long")
        || (t.contains("context")
            && (t.contains("exceed")
                || t.contains("too long")
                || t.contains("length")
                || t.contains("window")))
}

async fn read_capped(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        out.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - out.len())]);
        if out.len() >= MAX_BODY {
            break;
        }
    }
    out
}

/// The provider's own words from an error body: `error.message`, `error` as text, `message`, or
/// the start of the body.
pub fn provider_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let e = &v["error"];
            e["message"]
                .as_str()
                .or_else(|| e.as_str())
                .or_else(|| v["message"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.trim();
    if text.is_empty() {
        return "(no message)".into();
    }
    let mut end = text.len().min(500);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// A provider may quote the key back (a 401 naming the key it refused): never pass it on.
fn scrub_key(message: String, key: Option<&ApiKey>) -> String {
    match key {
        Some(k) if !k.expose().is_empty() => message.replace(k.expose(), "<redacted>"),
        _ => message,
    }
}

async fn read_whole(
    resp: reqwest::Response,
    provider: Provider,
    mode: anthropic::AnswerMode,
    tx: Option<&mpsc::Sender<Delta>>,
) -> Result<Answer, Error> {
    let mut resp = resp;
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() + c.len() > MAX_BODY {
                    return Err(Error::Provider("the answer is too large".into()));
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(_) => return Err(Error::Provider("the answer was cut off".into())),
        }
    }
    let answer = match provider {
        Provider::OpenAi => openai::parse_answer(&body)?,
        Provider::Anthropic => anthropic::parse_answer(&body, mode)?,
    };
    if let Some(tx) = tx
        && !answer.content.is_empty()
    {
        let _ = tx
            .send(Delta {
                text: answer.content.clone(),
            })
            .await;
    }
    Ok(answer)
}

async fn read_stream(
    mut resp: reqwest::Response,
    provider: Provider,
    mode: anthropic::AnswerMode,
    tx: Option<&mpsc::Sender<Delta>>,
) -> Result<Answer, Error> {
    let mut assembler: Box<dyn Assembler> = match provider {
        Provider::OpenAi => Box::<openai::Stream>::default(),
        Provider::Anthropic => Box::new(anthropic::Stream::new(mode)),
    };
    let mut parser = SseParser::default();
    loop {
        let chunk = match tx {
            // A caller that stopped listening cancels the call (the connection to the provider
            // closes, which stops its generation) without waiting for the next delta.
            Some(tx) => tokio::select! {
                c = resp.chunk() => c,
                _ = tx.closed() => return Err(cancelled()),
            },
            None => resp.chunk().await,
        };
        let events = match chunk {
            Ok(Some(c)) => parser.push(&c),
            Ok(None) => {
                let rest = parser.finish();
                let rest = rest.map_err(Error::Provider)?;
                for ev in rest {
                    pass_on(assembler.event(ev)?, tx).await?;
                }
                return assembler.finish();
            }
            Err(_) => {
                return Err(Error::Provider(
                    "the stream was cut off: the answer is incomplete".into(),
                ));
            }
        }
        .map_err(Error::Provider)?;
        for ev in events {
            pass_on(assembler.event(ev)?, tx).await?;
        }
    }
}

async fn pass_on(text: Option<String>, tx: Option<&mpsc::Sender<Delta>>) -> Result<(), Error> {
    if let (Some(text), Some(tx)) = (text, tx)
        && tx.send(Delta { text }).await.is_err()
    {
        return Err(cancelled());
    }
    Ok(())
}

fn cancelled() -> Error {
    Error::Provider("cancelled: the caller stopped listening".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(2)));
        h.insert("retry-after", HeaderValue::from_static("0.5"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(500)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:05 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(5)));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
    }

    #[test]
    fn statuses_map_to_the_wit_errors() {
        assert!(
            matches!(status_error(StatusCode::UNAUTHORIZED, "x".into()), Error::Rejected(m) if m.contains("refused the key"))
        );
        assert!(
            matches!(status_error(StatusCode::BAD_REQUEST, "This model's maximum context length is 8192 tokens".into()), Error::Rejected(m) if m.contains("context window"))
        );
        assert!(matches!(
            status_error(StatusCode::BAD_GATEWAY, "x".into()),
            Error::Provider(_)
        ));
    }

    #[test]
    fn a_quoted_key_is_scrubbed() {
        let key = ApiKey::for_tests("sk-secret");
        assert_eq!(
            scrub_key("Incorrect API key provided: sk-secret".into(), Some(&key)),
            "Incorrect API key provided: <redacted>"
        );
    }
}
