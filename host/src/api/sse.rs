//! Server-Sent Events: the event bus (`/api/events`, resumable) and log follow. Each stream is fed by a task
//! that ends when the client goes away or the daemon closes, so graceful shutdown never hangs on them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::extract::{Name, Query};
use crate::ops::{Error, log_query};
use crate::store::LogQuery;
use crate::wire::{EventStreamParams, LogLine, LogParams};

fn sse(rx: mpsc::Receiver<Result<SseEvent, Infallible>>) -> impl axum::response::IntoResponse {
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn json_event(kind: &str, id: i64, data: &impl serde::Serialize) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .event(kind)
        .id(id.to_string())
        .data(serde_json::to_string(data).unwrap_or_default()))
}

/// `GET /api/events`: the event bus (see `Ops::follow_events`). The SSE event name is the topic, `id:`
/// the event's id (absent for live-only `metrics` samples).
pub async fn events(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<EventStreamParams>,
) -> Result<impl axum::response::IntoResponse, Error> {
    let last_event_id = headers.get("last-event-id").map(|v| v.as_bytes());
    let mut follow = app.ops.follow_events(&p, last_event_id)?;
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

pub async fn follow_logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(params): Query<LogParams>,
) -> Result<impl axum::response::IntoResponse, Error> {
    app.ops.service(&name)?;
    let first = log_query(&name, &params, 10)?;
    // Subscribe before reading the backlog so no line falls between the two.
    let mut sub = app.ops.hub.subscribe();
    let mut closing = app.closing.clone();
    let store = app.ops.store.clone();
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
