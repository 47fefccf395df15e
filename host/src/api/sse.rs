//! Server-Sent Events: the event bus (`/api/events`, resumable) and log follow. Each stream is fed by a task
//! that ends when the client goes away or the daemon closes, so graceful shutdown never hangs on them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::error::ApiError;
use super::extract::{Name, Query};
use super::services::{LogParams, log_query};
use crate::events::Filter;
use crate::spec;
use crate::store::LogQuery;
use crate::wire::{EventStreamParams, LogLine, Topic};

fn sse(rx: mpsc::Receiver<Result<SseEvent, Infallible>>) -> impl axum::response::IntoResponse {
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn json_event(kind: &str, id: i64, data: &impl serde::Serialize) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .event(kind)
        .id(id.to_string())
        .data(serde_json::to_string(data).unwrap_or_default()))
}

/// `GET /api/events`: the event bus. `?topics=` (comma-separated; default all but `metrics`),
/// `?service=`; with `Last-Event-ID` (or `?after=`) the stored events after that id are replayed first,
/// then the stream goes live, each event once. The SSE event name is the topic, `id:` the event's id
/// (absent for live-only `metrics` samples).
pub async fn events(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<EventStreamParams>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let topics = match p.topics.as_deref() {
        None => Topic::default_set(),
        Some(list) => parse_topics(list)?,
    };
    if let Some(s) = &p.service {
        spec::validate_name(s).map_err(|e| invalid("service", e.message))?;
    }
    let header = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|id| *id >= 0)
                .ok_or_else(|| invalid("Last-Event-ID", "must be an event id (an integer >= 0)"))?,
        ),
    };
    if p.after.is_some_and(|a| a < 0) {
        return Err(invalid("after", "must be an event id (an integer >= 0)"));
    }
    let filter = Filter {
        topics,
        service: p.service,
    };
    let mut follow = app.bus.follow(filter, header.or(p.after));
    let mut closing = app.closing.clone();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let next = tokio::select! {
                e = follow.next() => e,
                _ = closing.wait_for(|c| *c) => return,
                _ = tx.closed() => return,
            };
            let event = match next {
                Ok(Some(e)) => e,
                Ok(None) => return,
                Err(e) => {
                    // The client resumes from the last id it got.
                    tracing::error!(error = %e, "event stream: cannot read stored events");
                    return;
                }
            };
            let mut sse = SseEvent::default()
                .event(event.topic().as_str())
                .data(event.data().to_string());
            if event.id > 0 {
                sse = sse.id(event.id.to_string());
            }
            if tx.send(Ok(sse)).await.is_err() {
                return;
            }
        }
    });
    Ok(sse(rx))
}

fn parse_topics(list: &str) -> Result<Vec<Topic>, ApiError> {
    let mut topics = Vec::new();
    for name in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let topic = Topic::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
            invalid(
                "topics",
                format!("unknown topic {name:?}; known: {}", known.join(", ")),
            )
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        return Err(invalid("topics", "name at least one topic"));
    }
    Ok(topics)
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).field(field)
}

pub async fn follow_logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(params): Query<LogParams>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    app.sup.get(&name)?;
    let first = log_query(&name, &params, 10)?;
    // Subscribe before reading the backlog so no line falls between the two.
    let mut sub = app.hub.subscribe();
    let mut closing = app.closing.clone();
    let store = app.store.clone();
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let send_lines = |lines: Vec<LogLine>, last: &mut i64| {
            let mut out = Vec::new();
            for l in lines {
                if l.id > *last {
                    *last = l.id;
                    out.push(json_event("log", l.id, &l));
                }
            }
            out
        };
        let mut last = 0i64;
        let backlog = store.query_logs(&first).await.unwrap_or_default();
        for e in send_lines(backlog, &mut last) {
            if tx.send(e).await.is_err() {
                return;
            }
        }
        loop {
            let got = tokio::select! {
                l = sub.recv() => l,
                _ = closing.wait_for(|c| *c) => return,
                _ = tx.closed() => return,
            };
            let lines = match got {
                Ok(l) if l.service == name && first.stream.is_none_or(|s| s == l.stream) => {
                    vec![(*l).clone()]
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind the live feed: catch up from the store.
                    let q = LogQuery {
                        after_id: Some(last),
                        tail: None,
                        limit: 10_000,
                        since: None,
                        ..first.clone()
                    };
                    store.query_logs(&q).await.unwrap_or_default()
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            for e in send_lines(lines, &mut last) {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(sse(rx))
}
