//! Server-Sent Events: the event bus (`/api/events`, resumable) and log follow. Each stream is fed by a task
//! that ends when the client goes away or the daemon closes, so graceful shutdown never hangs on them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::extract::{Name, NamePath, Query};
use crate::ops::Error;
use crate::wire::{EventStreamParams, LogParams};

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
#[utoipa::path(
    get,
    path = "/events",
    params(
        EventStreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events: `event:` is the topic, `data:` the event as JSON, `id:` its id", content_type = "text/event-stream", body = String),
    ),
)]
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

/// `GET /api/services/{name}/logs/follow`: the last `tail` lines (default 10), then live.
#[utoipa::path(
    get,
    path = "/services/{name}/logs/follow",
    params(
        NamePath,
        LogParams,
    ),
    responses(
        (status = 200, description = "Server-Sent Events `log`: the last `tail` lines, then live", content_type = "text/event-stream", body = String),
    ),
)]
pub async fn follow_logs(
    State(app): State<AppState>,
    Name(name): Name,
    Query(params): Query<LogParams>,
) -> Result<impl axum::response::IntoResponse, Error> {
    let mut follow = app.ops.follow_logs(&name, &params)?;
    let mut closing = app.closing.clone();
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let line = tokio::select! {
                l = follow.next() => l,
                _ = closing.wait_for(|c| *c) => return,
                _ = tx.closed() => return,
            };
            let Some(line) = line else { return };
            if tx.send(json_event("log", line.id, &line)).await.is_err() {
                return;
            }
        }
    });
    Ok(sse(rx))
}
