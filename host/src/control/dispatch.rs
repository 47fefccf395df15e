//! Carries out a parsed request by calling the same `ops::Ops` methods the REST handlers call, and
//! puts the answer (a `wire` type) or the error (its code, message and field) on the line. Session
//! verbs (`auth`, `help`, `quit`) belong to the connection, not here.

use crate::ops::{Error, Ops};
use crate::wire::{Action, ControlBody, ControlRequest, ControlResponse, LogParams, Origin};
use crate::workflow::Cancelled;

/// The answer line to `request`.
pub async fn run(ops: &Ops, request: ControlRequest) -> ControlResponse {
    match body(ops, request).await {
        Ok(body) => ControlResponse::new(body),
        Err(e) => failed(e),
    }
}

/// An error as a line: `{"ok": false, "error": {"code", "message", "field"}}`.
pub fn failed(e: Error) -> ControlResponse {
    ControlResponse::new(ControlBody::Error(e.detail()))
}

async fn body(ops: &Ops, request: ControlRequest) -> Result<ControlBody, Error> {
    Ok(match request {
        ControlRequest::Status { name: None } => ControlBody::Status(ops.status()),
        ControlRequest::Status { name: Some(name) } => {
            ControlBody::Service(Box::new(ops.service(&name)?))
        }
        ControlRequest::Start { name } => ControlBody::Result(ops.act(&name, Action::Start).await?),
        ControlRequest::Stop { name } => ControlBody::Result(ops.act(&name, Action::Stop).await?),
        ControlRequest::Restart { name } => {
            ControlBody::Result(ops.act(&name, Action::Restart).await?)
        }
        ControlRequest::Logs { name, n } => {
            let params = LogParams {
                tail: Some(n),
                ..LogParams::default()
            };
            ControlBody::Lines(ops.logs(&name, &params).await?.lines)
        }
        ControlRequest::CustomRestart { name, request } => ControlBody::Job(Box::new(
            ops.custom_restart(&name, request, Origin::Tcp).await?,
        )),
        ControlRequest::Job { id } => ControlBody::Job(Box::new(ops.job(&id).await?)),
        ControlRequest::Cancel { id } => {
            let job = match ops.cancel_job(&id).await? {
                Cancelled::Ended(job) | Cancelled::Stopping(job) => job,
            };
            ControlBody::Job(Box::new(job))
        }
        ControlRequest::Shutdown => {
            ops.shutdown();
            ControlBody::Message(
                "shutting down: every service is being stopped; the connection closes when the \
                 daemon is done"
                    .into(),
            )
        }
        ControlRequest::Auth { .. } | ControlRequest::Help | ControlRequest::Quit => {
            // Handled by the connection; reaching here is a bug, answered rather than panicked on.
            return Err(Error::internal("a session verb reached dispatch"));
        }
    })
}
