//! `GET /api/llm` (the configured models without keys, budgets, today's usage) and
//! `POST /api/llm/complete` (a completion with purpose `test`): JSON, or with
//! `Accept: text/event-stream` SSE events `delta` (`{"text"}`) then `done` (the `Completion`) or
//! `error` (`ErrorDetail`). A call that fails before its first delta answers with the error's HTTP
//! status instead of a stream. The daemon's shutdown cancels calls in progress (`shutting_down`).
//! Adapters over `Ops::llm_status` / `Ops::llm_complete`.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::extract::Body;
use crate::ops::Error;
use crate::wire::Code;
use crate::wire::ErrorBody;
use crate::wire::{Completion, CompletionDelta, CompletionRequest, LlmStatus};

#[utoipa::path(get, path = "/llm", responses((status = 200, description = "OK", body = LlmStatus)))]
pub async fn status(State(app): State<AppState>) -> Result<Json<LlmStatus>, Error> {
    Ok(Json(app.ops.llm_status().await?))
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all("accept")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

fn event(kind: &str, data: &impl serde::Serialize) -> Result<SseEvent, Infallible> {
    Ok(SseEvent::default()
        .event(kind)
        .data(serde_json::to_string(data).unwrap_or_default()))
}

fn end_event(result: Result<Completion, Error>) -> Result<SseEvent, Infallible> {
    match result {
        Ok(c) => event("done", &c),
        Err(e) => event("error", &e.detail()),
    }
}

#[utoipa::path(
    post,
    path = "/llm/complete",
    request_body = CompletionRequest,
    responses(
        (status = 200, description = "The completion; with `Accept: text/event-stream`, SSE `delta`s then `done` or `error`", content((Completion = "application/json"), (String = "text/event-stream"))),
        (status = 409, description = "No LLM configured", body = ErrorBody),
        (status = 429, description = "A token budget is used up", body = ErrorBody),
        (status = 502, description = "The provider failed", body = ErrorBody),
        (status = 504, description = "The provider did not answer in time", body = ErrorBody),
    ),
)]
pub async fn complete(
    State(app): State<AppState>,
    headers: HeaderMap,
    Body(req): Body<CompletionRequest>,
) -> Result<Response, Error> {
    let mut closing = app.closing.clone();
    if !wants_stream(&headers) {
        // A call may take minutes (`timeout_s`); the daemon's shutdown does not wait for it.
        return tokio::select! {
            c = app.ops.llm_complete(req, None) => Ok(Json(c?).into_response()),
            _ = closing.wait_for(|c| *c) => Err(shutting_down()),
        };
    }
    let (delta_tx, mut deltas) = mpsc::channel::<CompletionDelta>(64);
    let ops = app.ops.clone();
    let mut call = tokio::spawn(async move { ops.llm_complete(req, Some(delta_tx)).await });
    // Until the first delta, a failure (unknown model, budget, refused key) is an HTTP error.
    let first = tokio::select! {
        d = deltas.recv() => d,
        r = &mut call => return finished(r, deltas),
        // Dropping `deltas` cancels the call.
        _ = closing.wait_for(|c| *c) => return Err(shutting_down()),
    };
    // `None`: the call ended (its sender dropped) without a delta.
    let Some(first) = first else {
        return finished(call.await, deltas);
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut next = Some(first);
        // Dropping `deltas` (client gone, daemon closing) cancels the call in the gateway.
        while let Some(d) = next {
            if tx.send(event("delta", &d)).await.is_err() {
                return;
            }
            next = tokio::select! {
                d = deltas.recv() => d,
                _ = tx.closed() => return,
                _ = closing.wait_for(|c| *c) => return,
            };
        }
        let result = match call.await {
            Ok(r) => r,
            Err(e) => Err(Error::internal(e)),
        };
        let _ = tx.send(end_event(result)).await;
    });
    Ok(sse(rx))
}

/// The call ended before any delta was streamed: its error as an HTTP error, or its answer as a
/// short stream (the deltas it sent, then `done`).
fn finished(
    joined: Result<Result<Completion, Error>, tokio::task::JoinError>,
    mut deltas: mpsc::Receiver<CompletionDelta>,
) -> Result<Response, Error> {
    let c = joined.map_err(Error::internal)??;
    let (tx, rx) = mpsc::channel(64);
    while let Ok(d) = deltas.try_recv() {
        let _ = tx.try_send(event("delta", &d));
    }
    let _ = tx.try_send(event("done", &c));
    Ok(sse(rx))
}

fn shutting_down() -> Error {
    Error::new(
        Code::ShuttingDown,
        "the daemon is shutting down; the LLM call was cancelled",
    )
}

fn sse(rx: mpsc::Receiver<Result<SseEvent, Infallible>>) -> Response {
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}
