//! How an `ops::Error` reads over HTTP: **the one place mapping an error code to a status**, and the
//! JSON error body. Internals were already logged and replaced by `ops::Error::internal`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::ops::Error;
use crate::wire::{Code, ErrorBody};

/// The HTTP status of each code.
pub fn status(code: Code) -> StatusCode {
    match code {
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict => StatusCode::CONFLICT,
        Code::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Code::Unauthorized => StatusCode::UNAUTHORIZED,
        Code::Forbidden => StatusCode::FORBIDDEN,
        Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        // Something behind tend (Caddy's admin API) failed: tend acted as a gateway.
        Code::Unavailable => StatusCode::BAD_GATEWAY,
        // An LLM provider that did not answer within the model's `timeout_s`.
        Code::Timeout => StatusCode::GATEWAY_TIMEOUT,
        Code::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        // A request body that did not arrive in time (`[api] body_timeout_s`); on the control port, a
        // connection closed for silence.
        Code::IdleTimeout => StatusCode::REQUEST_TIMEOUT,
        // Connection-level code of the control port; never produced over HTTP.
        Code::TooManyConnections => StatusCode::SERVICE_UNAVAILABLE,
        // Failed sign-ins over the limit (`ops/sessions.rs`; the login handler adds `Retry-After`), an
        // LLM token budget used up.
        Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status(self.code);
        (
            status,
            Json(ErrorBody {
                error: self.detail(),
            }),
        )
            .into_response()
    }
}
