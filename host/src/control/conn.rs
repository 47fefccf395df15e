//! One connection: read a line, check authentication and `allowed_commands`, parse, dispatch, answer;
//! in order, one answer per request line. Every wait is bounded (an authentication deadline from the
//! connect, an idle deadline that only requests move, a write timeout), every failure is an answer,
//! never a panic, and a line of HTTP closes the connection at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;

use super::dispatch::{self, failed};
use super::lines::{Frame, LineReader};
use super::parse;
use super::settings::ControlSettings;
use crate::ops::{Error, Ops};
use crate::wire::{Code, ControlBody, ControlRequest, ControlResponse, ControlVerb, VerbHelp};

/// Wrong tokens a connection may send before it is closed.
pub const MAX_AUTH_FAILURES: u32 = 5;

/// What every connection shares.
pub struct Shared {
    pub ops: Ops,
    pub token: Arc<str>,
    pub settings: ControlSettings,
    /// `allowed_commands` resolved (always with `auth`, `help`, `quit`).
    pub allowed: Vec<ControlVerb>,
}

struct Session {
    authenticated: bool,
    failures: u32,
}

enum Next {
    Continue,
    Close,
}

pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let settings = &shared.settings;
    let mut lines = LineReader::new(BufReader::new(rd), settings.max_line_bytes);
    let idle = Duration::from_secs(settings.idle_timeout_s);
    let opened = Instant::now();
    // Absolute deadlines: a line trickled a byte at a time, or a stream of blank lines, moves neither.
    let auth_deadline = opened + Duration::from_secs(settings.auth_timeout_s);
    let mut idle_deadline = opened + idle;
    let mut session = Session {
        authenticated: settings.loopback_without_auth && peer.ip().to_canonical().is_loopback(),
        failures: 0,
    };
    loop {
        let deadline = if session.authenticated {
            idle_deadline
        } else {
            idle_deadline.min(auth_deadline)
        };
        let frame = tokio::select! {
            biased;
            _ = async { drop(closing.wait_for(|c| *c).await) } => {
                let bye = ControlResponse::error(
                    Code::ShuttingDown,
                    "the daemon has stopped its services and is exiting; closing",
                );
                let _ = send(&mut wr, &bye, idle).await;
                break;
            }
            frame = tokio::time::timeout_at(deadline.into(), lines.next()) => frame,
        };
        let response = match frame {
            Err(_) if !session.authenticated && Instant::now() >= auth_deadline => {
                let bye = ControlResponse::error(
                    Code::Unauthorized,
                    format!(
                        "not authenticated within {} s (auth_timeout_s); closing",
                        settings.auth_timeout_s
                    ),
                );
                let _ = send(&mut wr, &bye, idle).await;
                break;
            }
            Err(_) => {
                let bye = ControlResponse::error(
                    Code::IdleTimeout,
                    format!(
                        "no request for {} s (idle_timeout_s); closing",
                        settings.idle_timeout_s
                    ),
                );
                let _ = send(&mut wr, &bye, idle).await;
                break;
            }
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "control connection read failed");
                break;
            }
            Ok(Ok(Frame::Eof)) => break,
            Ok(Ok(Frame::TooLong)) => ControlResponse::error(
                Code::TooLarge,
                format!(
                    "request line longer than {} bytes (max_line_bytes); it is discarded up to its \
                     newline",
                    settings.max_line_bytes
                ),
            ),
            Ok(Ok(Frame::Line(bytes))) if parse::looks_like_http(&bytes) => {
                // A browser (any web page can send a no-cors POST here) or an HTTP client: close at
                // once, without a word and without reading the rest, whatever the authentication.
                tracing::warn!(%peer, "control port: an HTTP request; closing the connection");
                return;
            }
            Ok(Ok(Frame::Line(bytes))) => match std::str::from_utf8(&bytes) {
                Err(e) => failed(Error::invalid(
                    "line",
                    format!(
                        "request line is not valid UTF-8 (first bad byte at offset {})",
                        e.valid_up_to()
                    ),
                )),
                // A blank line is no request: it does not keep the connection alive.
                Ok(text) => match handle(text, peer, &shared, &mut session).await {
                    None => continue,
                    Some((response, Next::Continue)) => response,
                    Some((response, Next::Close)) => {
                        let _ = send(&mut wr, &response, idle).await;
                        break;
                    }
                },
            },
        };
        if send(&mut wr, &response, idle).await.is_err() {
            break;
        }
        idle_deadline = Instant::now() + idle;
    }
    // Half-close, then read what the client still sends for a moment: closing a socket with unread
    // input resets it, and a reset can destroy the last answer before the client has read it.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        wr.shutdown().await?;
        while !matches!(lines.next().await?, Frame::Eof) {}
        std::io::Result::Ok(())
    })
    .await;
}

/// The answer to one line; `None` for a blank line.
async fn handle(
    text: &str,
    peer: SocketAddr,
    shared: &Shared,
    session: &mut Session,
) -> Option<(ControlResponse, Next)> {
    let (verb, rest) = match parse::split_verb(text)? {
        Ok(v) => v,
        Err(e) => return Some((failed(e), Next::Continue)),
    };
    let answer = |r| Some((r, Next::Continue));
    if !session.authenticated && !verb.always_allowed() {
        return answer(ControlResponse::error(
            Code::Unauthorized,
            "authenticate first: `auth <token>` (the token is in the data dir's `token` file)",
        ));
    }
    if !shared.allowed.contains(&verb) {
        return answer(ControlResponse::error(
            Code::Forbidden,
            format!(
                "{:?} is not allowed on this port ([control] allowed_commands); send `help` for \
                 the verbs that are",
                verb.as_str()
            ),
        ));
    }
    let request = match parse::parse_args(verb, rest) {
        Ok(r) => r,
        Err(e) => return answer(failed(e)),
    };
    match request {
        ControlRequest::Auth { token } => Some(auth(&token, peer, shared, session)),
        ControlRequest::Help => answer(ControlResponse::new(ControlBody::Verbs(
            shared
                .allowed
                .iter()
                .map(|v| VerbHelp {
                    verb: v.as_str().into(),
                    usage: v.usage().into(),
                    summary: v.summary().into(),
                })
                .collect(),
        ))),
        ControlRequest::Quit => Some((
            ControlResponse::new(ControlBody::Message("bye".into())),
            Next::Close,
        )),
        other => answer(dispatch::run(&shared.ops, other).await),
    }
}

fn auth(
    token: &str,
    peer: SocketAddr,
    shared: &Shared,
    session: &mut Session,
) -> (ControlResponse, Next) {
    if bool::from(token.as_bytes().ct_eq(shared.token.as_bytes())) {
        session.authenticated = true;
        session.failures = 0;
        return (
            ControlResponse::new(ControlBody::Message("authenticated".into())),
            Next::Continue,
        );
    }
    session.failures += 1;
    tracing::warn!(%peer, failures = session.failures, "control port: wrong token");
    if session.failures >= MAX_AUTH_FAILURES {
        (
            ControlResponse::error(
                Code::Unauthorized,
                format!("wrong token; {MAX_AUTH_FAILURES} failed attempts, closing"),
            ),
            Next::Close,
        )
    } else {
        (
            ControlResponse::error(
                Code::Unauthorized,
                format!(
                    "wrong token (attempt {} of {MAX_AUTH_FAILURES})",
                    session.failures
                ),
            ),
            Next::Continue,
        )
    }
}

async fn send(
    wr: &mut OwnedWriteHalf,
    response: &ControlResponse,
    limit: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(limit, wr.write_all(&response.to_line())).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}
