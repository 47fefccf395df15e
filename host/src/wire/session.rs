//! Dashboard sign-in on the wire: `POST /api/sessions/code` (a one-time code), `POST /api/login`
//! (code or token -> a session in an `HttpOnly` cookie), `POST /api/logout`, `GET /api/sessions`,
//! `DELETE /api/sessions/{id}`. No type here ever carries a session's secret: it travels only in the
//! `Set-Cookie` header.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "tend_session";

/// `POST /api/login`: exactly one of `code` (from `tend dashboard`) or `token` (the API token, pasted
/// by hand).
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct LoginRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `POST /api/sessions/code`: a sign-in code, valid once until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SignInCode {
    pub code: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
}

/// One session (`GET /api/sessions`, and the answer of `POST /api/login`). `id` is a public name for
/// it, not its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    /// Updated at most once a minute.
    pub last_seen_at: String,
    pub expires_at: String,
    /// The `User-Agent` of the sign-in request (at most 256 characters).
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Whether this is the session of the request that asked.
    pub current: bool,
}

/// `POST /api/logout` and `DELETE /api/sessions/{id}`: the session that ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct SessionEnded {
    /// `signed_out` (logout) or `revoked` (delete).
    pub status: String,
    pub id: String,
}
