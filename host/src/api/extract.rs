//! Request extractors whose rejections are `ops::Error`s: JSON bodies (content type, size, syntax;
//! shape errors naming the field come from `ops::typed`), query strings, names and ids in paths, and
//! the caller's `Origin`. Every bad input is `invalid` naming the field (`body`, the parameter,
//! `name`, `id`). `NamePath` and `IdPath` only describe the path segments in the OpenAPI document.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::ops::{self, Error};
use crate::spec;
use crate::wire::Code;

/// A JSON body parsed to a `serde_json::Value`; typed parsing happens in `ops::typed` so that the
/// error can name the field.
pub struct JsonBody(pub serde_json::Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
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
            return Err(Error::new(
                Code::UnsupportedMediaType,
                "expected a body with Content-Type: application/json",
            ));
        }
        // A body trickled in a byte at a time would hold its connection (and a handler) for ever.
        let limit = state.body_timeout;
        let read = tokio::time::timeout(limit, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                Error::new(
                    Code::IdleTimeout,
                    format!(
                        "the request body did not arrive within {} s ([api] body_timeout_s)",
                        limit.as_secs()
                    ),
                )
            })?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(Code::TooLarge, "request body is larger than 1 MiB")
            } else {
                Error::invalid("body", format!("cannot read the request body: {rejection}"))
            }
        })?;
        ops::json(&bytes).map(JsonBody)
    }
}

/// A JSON body deserialized into `T`, shape errors naming the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        let JsonBody(value) = JsonBody::from_request(req, state).await?;
        ops::typed(value).map(Body)
    }
}

/// A query string; unknown parameters are rejected.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(query_error)
    }
}

/// A query string whose list fields take a repeated parameter (`service=a&service=b`), which
/// [`Query`] cannot; unknown parameters are rejected.
pub struct ListQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ListQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_html_form::Deserializer::from_bytes(query.as_bytes());
        serde_path_to_error::deserialize(de)
            .map(ListQuery)
            .map_err(query_error)
    }
}

fn query_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let inner = e.inner().to_string();
    let field =
        ops::backticked_after(&inner, "unknown field ").unwrap_or_else(|| e.path().to_string());
    Error::invalid(field, inner)
}

/// The path segment `key`, as axum decoded it.
async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    key: &str,
) -> Result<String, Error> {
    let axum::extract::Path(params) =
        axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::invalid(key, e.to_string()))?;
    params
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .ok_or_else(|| Error::invalid(key, "missing from the path"))
}

/// A validated service (or cron job) name from the path.
pub struct Name(pub String);

/// How the document describes [`Name`]'s path segment.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only described, never built: `Name` extracts the segment
pub struct NamePath {
    /// Service or cron job name.
    #[param(pattern = r"^[a-z0-9][a-z0-9_-]{0,62}$")]
    name: String,
}

/// How the document describes [`Id`]'s path segment (an unknown one is 404).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // only described, never built: `Id` extracts the segment
pub struct IdPath {
    /// The object's id.
    id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Name {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let name = path_param(parts, state, "name").await?;
        spec::validate_name(&name).map_err(|e| Error::invalid("name", e.message))?;
        Ok(Name(name))
    }
}

/// The execution id of `/api/cron/{name}/executions/{id}`: a whole number, else `invalid` naming `id`.
pub struct ExecutionId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ExecutionId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let id = path_param(parts, state, "id").await?;
        id.parse().map(ExecutionId).map_err(|_| {
            Error::invalid(
                "id",
                format!("{id:?} is not an execution id (a whole number)"),
            )
        })
    }
}

/// The one path segment of `/api/jobs/{id}...` or `/api/plugins/{name}`, as given (an unknown one is
/// `not_found` further on).
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let axum::extract::Path(params) =
            axum::extract::Path::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| Error::invalid("id", e.to_string()))?;
        params
            .into_iter()
            .next()
            .map(|(_, v)| Id(v))
            .ok_or_else(|| Error::invalid("id", "missing from the path"))
    }
}

/// Who is asking, for audit and job records: `dashboard` when signed in with the session cookie, `cli`
/// when the `tend` CLI says so in its client header (`x-tend-client: cli`), else `rest`.
pub struct Origin(pub crate::wire::Origin);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(super::auth::Caller::Session(_)) = parts.extensions.get() {
            return Ok(Origin(crate::wire::Origin::Dashboard));
        }
        let cli = parts
            .headers
            .get(crate::wire::CLIENT_HEADER)
            .is_some_and(|v| v.as_bytes() == b"cli");
        Ok(Origin(if cli {
            crate::wire::Origin::Cli
        } else {
            crate::wire::Origin::Rest
        }))
    }
}
