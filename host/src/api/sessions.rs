//! Handlers for dashboard sign-in: `POST /api/sessions/code`, `POST /api/login`, `POST /api/logout`,
//! `GET /api/sessions`, `DELETE /api/sessions/{id}`. Adapters over `ops::Ops` (`ops/sessions.rs`);
//! what is HTTP here: the session cookie (`Set-Cookie`, `HttpOnly; SameSite=Strict; Path=/`), the
//! login's `Origin` check, `Retry-After` on `429`.

use axum::extract::{FromRequest, Request, State};
use axum::http::header::{RETRY_AFTER, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::AppState;
use super::auth::{Caller, check_login_origin};
use super::extract::{Body, Id, IdPath};
use crate::ops::Error;
use crate::wire::ErrorBody;
use crate::wire::{Code, LoginRequest, SESSION_COOKIE, SessionEnded, SessionView, SignInCode};

fn session_cookie(value: &str, max_age_s: u64) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_s}"
    ))
    .map_err(Error::internal)
}

/// 201 with a one-time sign-in code.
#[utoipa::path(
    post,
    path = "/sessions/code",
    responses((status = 201, description = "A one-time sign-in code", body = SignInCode)),
)]
pub async fn code(State(app): State<AppState>) -> (StatusCode, Json<SignInCode>) {
    (StatusCode::CREATED, Json(app.ops.sign_in_code()))
}

/// 201 with the new session, its secret only in `Set-Cookie`. Needs no credentials.
#[utoipa::path(
    post,
    path = "/login",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 201, description = "Signed in; the session secret is only in the cookie", body = SessionView, headers(("Set-Cookie" = String, description = "The session cookie (HttpOnly; SameSite=Strict)"))),
        (status = 401, description = "A wrong, used or expired code", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn login(State(app): State<AppState>, req: Request) -> Result<Response, Error> {
    check_login_origin(req.headers())?;
    let user_agent = req
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Body(body) = Body::<LoginRequest>::from_request(req, &app).await?;
    match app.ops.login(body, user_agent.as_deref()).await {
        Ok(login) => {
            let cookie = session_cookie(&login.secret, login.max_age_s)?;
            Ok((
                StatusCode::CREATED,
                [(SET_COOKIE, cookie)],
                Json(login.session),
            )
                .into_response())
        }
        Err(e) if e.code == Code::TooManyRequests => {
            let wait = app.ops.sign_in.retry_after_s().max(1);
            let mut response = e.into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(wait));
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

/// Ends the caller's session and clears the cookie.
#[utoipa::path(
    post,
    path = "/logout",
    responses(
        (status = 200, description = "Ended; the cookie is cleared", body = SessionEnded),
        (status = 409, description = "Not signed in with a session (a bearer token has none)", body = ErrorBody),
    ),
)]
pub async fn logout(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Error> {
    let ended = app.ops.logout(caller.session()).await?;
    Ok(([(SET_COOKIE, session_cookie("", 0)?)], Json(ended)).into_response())
}

#[utoipa::path(
    get,
    path = "/sessions",
    responses((status = 200, description = "OK", body = Vec<SessionView>)),
)]
pub async fn list(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Vec<SessionView>>, Error> {
    Ok(Json(app.ops.sessions(caller.session()).await?))
}

/// Ends session `id`; revoking one's own session also clears the cookie.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    params(IdPath),
    responses((status = 200, description = "OK", body = SessionEnded)),
)]
pub async fn revoke(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Id(id): Id,
) -> Result<Response, Error> {
    let ended = app.ops.revoke_session(&id).await?;
    if caller.session() == Some(id.as_str()) {
        return Ok(([(SET_COOKIE, session_cookie("", 0)?)], Json(ended)).into_response());
    }
    Ok(Json(ended).into_response())
}
