//! Request extractors whose rejections are `ApiError`s: JSON bodies (content type, size, syntax, and
//! shape errors naming the field), query strings and service names in paths.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::spec;

/// A JSON body parsed to a `serde_json::Value`; typed parsing happens in `typed` so that the error
/// can name the field.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "expected a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is larger than 1 MiB",
                )
            } else {
                ApiError::bad_request(format!("cannot read the request body: {rejection}"))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
    }
}

/// Deserializes `value` into `T`; a shape error (wrong type, unknown or missing field) names the field.
pub fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.inner().to_string();
        let mut path = e.path().to_string();
        if let Some(unknown) = backticked_after(&inner, "unknown field ") {
            // The path already ends at the unknown field, except at the top level.
            if path == "." {
                path = unknown;
            }
        } else if let Some(missing) = backticked_after(&inner, "missing field ") {
            path = if path == "." {
                missing
            } else {
                format!("{path}.{missing}")
            };
        }
        let message = if inner.contains("untagged enum CommandLine") {
            "expected a string (run through /bin/sh -c) or an array of strings (argv)".to_string()
        } else {
            inner
        };
        let err = ApiError::bad_request(format!("{path}: {message}"));
        if path == "." { err } else { err.field(path) }
    })
}

fn backticked_after(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_string())
}

/// A query string; unknown parameters are rejected.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let inner = e.inner().to_string();
                let field = backticked_after(&inner, "unknown field ")
                    .unwrap_or_else(|| e.path().to_string());
                ApiError::bad_request(format!("query parameter {field}: {inner}")).field(field)
            })
    }
}

/// A validated service name from the path.
pub struct Name(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Name {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(params) =
            axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let name = params
            .into_iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v)
            .ok_or_else(|| ApiError::bad_request("missing service name"))?;
        spec::validate_name(&name).map_err(|e| ApiError::bad_request(e.message).field("name"))?;
        Ok(Name(name))
    }
}

/// Who is asking, for audit and job records: `cli` when the `tend` CLI says so in its client header
/// (`x-tend-client: cli`), else `rest`.
pub struct Origin(pub &'static str);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let cli = parts
            .headers
            .get(crate::wire::CLIENT_HEADER)
            .is_some_and(|v| v.as_bytes() == b"cli");
        Ok(Origin(if cli { "cli" } else { "rest" }))
    }
}
