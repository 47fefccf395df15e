//! `POST /api/chat` (Server-Sent Events: `conversation`, `delta`s, `tool`s, `proposal`s, then `done`
//! or `error`; each event's `data:` is the `ChatEvent` whose `type` is the SSE `event:`), and
//! `GET /api/chat/conversations`, `GET`/`DELETE /api/chat/conversations/{id}`. A refused request
//! (bad message, unknown conversation, service or model, no LLM configured) is an HTTP error before
//! any stream. The client hanging up, or the daemon closing, drops the exchange, which cancels the
//! call to the provider. Adapters over `ops/chat.rs`.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::extract::{Body, Id, IdPath};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{ChatEvent, ChatRequest, Code, Conversation, ConversationSummary};

fn sse_event(ev: &ChatEvent) -> Result<SseEvent, Infallible> {
    let data = serde_json::to_value(ev).unwrap_or_default();
    let kind = data["type"].as_str().unwrap_or("error").to_string();
    Ok(SseEvent::default().event(kind).data(data.to_string()))
}

#[utoipa::path(
    post,
    path = "/chat",
    request_body = ChatRequest,
    responses(
        (status = 200, description = "Server-Sent Events: `conversation`, `delta`s, `tool`s, `proposal`s, then `done` or `error` (each `data:` a ChatEvent)", content_type = "text/event-stream", body = String),
        (status = 404, description = "No such conversation or service", body = ErrorBody),
        (status = 409, description = "No LLM configured", body = ErrorBody),
        (status = 429, description = "A token budget is used up", body = ErrorBody),
    ),
)]
pub async fn chat(
    State(app): State<AppState>,
    Body(req): Body<ChatRequest>,
) -> Result<Response, Error> {
    let exchange = app.ops.chat(req).await?;
    let (tx, rx) = mpsc::channel::<ChatEvent>(64);
    let mut closing = app.closing.clone();
    tokio::spawn(async move {
        let closed = tx.clone();
        let shutting_down = tokio::select! {
            () = exchange.run(tx) => false,
            _ = closing.wait_for(|c| *c) => true,
        };
        if shutting_down {
            let _ = closed
                .send(ChatEvent::Error {
                    code: Code::ShuttingDown.as_str().into(),
                    message: "the daemon is shutting down; the chat was cancelled".into(),
                })
                .await;
        }
    });
    let stream = ReceiverStream::new(rx).map(|ev| sse_event(&ev));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response())
}

#[utoipa::path(
    get,
    path = "/chat/conversations",
    responses((status = 200, description = "OK", body = Vec<ConversationSummary>)),
)]
pub async fn list(State(app): State<AppState>) -> Result<Json<Vec<ConversationSummary>>, Error> {
    Ok(Json(app.ops.chat_conversations().await?))
}

#[utoipa::path(
    get,
    path = "/chat/conversations/{id}",
    params(IdPath),
    responses((status = 200, description = "OK", body = Conversation)),
)]
pub async fn get(State(app): State<AppState>, Id(id): Id) -> Result<Json<Conversation>, Error> {
    Ok(Json(app.ops.chat_conversation(&id).await?))
}

#[utoipa::path(
    delete,
    path = "/chat/conversations/{id}",
    params(IdPath),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(State(app): State<AppState>, Id(id): Id) -> Result<StatusCode, Error> {
    app.ops.delete_chat_conversation(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
