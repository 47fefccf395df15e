//! Dashboard sign-in: one-time codes (only their SHA-256 kept, in memory; single use; 120 s), sessions
//! (in the store: a random public id, the SHA-256 of a random secret, an expiry `[api] session_ttl_h`
//! after sign-in), the limiter of failed sign-ins, listing and revoking. A session's secret is handed
//! once to the front end that sets the cookie; it is never stored, logged, or part of a `wire` answer,
//! and neither is the token. Sign-ins, sign-outs and revocations are recorded in the daemon log (as
//! the control port's failed `auth` is) by public id only. Knows no HTTP: cookies are `api`'s.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Error, Ops, Result};
use crate::store::{NewSession, StoredSession, fmt_time};
use crate::wire::{Code, LoginRequest, SessionEnded, SessionView, SignInCode};

/// How long a sign-in code is valid.
pub const CODE_TTL: Duration = Duration::from_secs(120);
/// Unused codes kept at once; beyond it the one closest to expiry is dropped.
const MAX_CODES: usize = 64;
/// Failed sign-ins allowed per [`FAILURE_WINDOW`]; past them every sign-in is refused until the
/// oldest failure leaves the window, so a code or token cannot be guessed by trying.
pub const MAX_FAILURES: usize = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_S: i64 = 60;
const MAX_USER_AGENT: usize = 256;
/// Longer presented secrets or codes are not even hashed.
const MAX_SECRET_LEN: usize = 256;

/// The sign-in state shared by every front end: outstanding codes and recent failures, plus what
/// checks a token and how long a session lasts. Cheap to clone.
#[derive(Clone)]
pub struct SignIn {
    state: Arc<Mutex<State>>,
    token: Arc<str>,
    ttl: Duration,
}

#[derive(Default)]
struct State {
    /// SHA-256 of each unused code -> when it expires.
    codes: HashMap<[u8; 32], Instant>,
    /// When each failed sign-in of the last [`FAILURE_WINDOW`] happened, oldest first.
    failures: VecDeque<Instant>,
}

/// A new session: the secret for the cookie (never stored) and what the client may see of it.
pub struct Login {
    pub secret: String,
    pub max_age_s: u64,
    pub session: SessionView,
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex<const N: usize>() -> String {
    hex(&rand::random::<[u8; N]>())
}

impl SignIn {
    pub fn new(token: Arc<str>, ttl: Duration) -> SignIn {
        SignIn {
            state: Arc::default(),
            token,
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh code, remembered (hashed) until `now + CODE_TTL`.
    fn new_code(&self, now: Instant) -> String {
        let code = random_hex::<16>();
        let mut st = self.lock();
        st.codes.retain(|_, until| *until > now);
        if st.codes.len() >= MAX_CODES
            && let Some(first) = st.codes.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k)
        {
            st.codes.remove(&first);
        }
        st.codes.insert(sha256(&code), now + CODE_TTL);
        code
    }

    /// Whether `code` is an unused, unexpired code; using it ends it.
    fn take_code(&self, code: &str, now: Instant) -> bool {
        let mut st = self.lock();
        st.codes.retain(|_, until| *until > now);
        st.codes.remove(&sha256(code)).is_some()
    }

    fn token_matches(&self, given: &str) -> bool {
        bool::from(given.as_bytes().ct_eq(self.token.as_bytes()))
    }

    /// `None` while sign-ins are allowed at `now`; else how long until one is.
    fn blocked_for(&self, now: Instant) -> Option<Duration> {
        let mut st = self.lock();
        while st
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            st.failures.pop_front();
        }
        if st.failures.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *st.failures.front()?;
        Some(FAILURE_WINDOW.saturating_sub(now.duration_since(oldest)))
    }

    fn failed(&self, now: Instant) {
        let mut st = self.lock();
        st.failures.push_back(now);
        // Only the last MAX_FAILURES decide; more would only be memory.
        while st.failures.len() > MAX_FAILURES {
            st.failures.pop_front();
        }
    }

    /// Whole seconds (at least 1) until a sign-in is allowed again; 0 when it is now.
    pub fn retry_after_s(&self) -> u64 {
        self.blocked_for(Instant::now()).map_or(0, whole_seconds)
    }
}

/// `d` rounded up to whole seconds, at least 1.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs_f64().ceil().max(1.0) as u64
}

fn view(s: StoredSession, current: Option<&str>) -> SessionView {
    SessionView {
        current: current == Some(s.id.as_str()),
        id: s.id,
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
        user_agent: s.user_agent,
    }
}

/// How a sign-in proves itself.
enum Proof {
    Code(String),
    Token(String),
}

impl Proof {
    /// Exactly one of `code` and `token`, not empty.
    fn of(req: LoginRequest) -> Result<Proof> {
        let (field, proof) = match (req.code, req.token) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "body",
                    "give either `code` or `token`, not both",
                ));
            }
            (None, None) => {
                return Err(Error::invalid(
                    "code",
                    "missing: give `code` (from `tend dashboard`) or `token`",
                ));
            }
            (Some(c), None) => ("code", Proof::Code(c)),
            (None, Some(t)) => ("token", Proof::Token(t)),
        };
        let (Proof::Code(v) | Proof::Token(v)) = &proof;
        if v.trim().is_empty() {
            return Err(Error::invalid(field, "must not be empty"));
        }
        Ok(proof)
    }

    fn method(&self) -> &'static str {
        match self {
            Proof::Code(_) => "code",
            Proof::Token(_) => "token",
        }
    }
}

impl Ops {
    /// A one-time sign-in code for `tend dashboard`'s link.
    pub fn sign_in_code(&self) -> SignInCode {
        let code = self.sign_in.new_code(Instant::now());
        let expires = chrono::Utc::now() + CODE_TTL;
        SignInCode {
            code,
            expires_at: fmt_time(expires),
        }
    }

    /// Signs in with a one-time code or the token: a new session, its secret for the cookie. Refused
    /// (`unauthorized`) for a wrong, used or expired code or a wrong token; `too_many_requests`, whatever
    /// is given, after [`MAX_FAILURES`] failures in a minute.
    pub async fn login(&self, req: LoginRequest, user_agent: Option<&str>) -> Result<Login> {
        let proof = Proof::of(req)?;
        let now = Instant::now();
        if let Some(wait) = self.sign_in.blocked_for(now) {
            tracing::warn!("dashboard sign-in refused: too many failed sign-ins");
            return Err(Error::new(
                Code::TooManyRequests,
                format!(
                    "too many failed sign-ins; try again in {} s",
                    whole_seconds(wait)
                ),
            ));
        }
        let ok = match &proof {
            Proof::Code(c) => c.len() <= MAX_SECRET_LEN && self.sign_in.take_code(c.trim(), now),
            Proof::Token(t) => self.sign_in.token_matches(t.trim()),
        };
        if !ok {
            self.sign_in.failed(now);
            tracing::warn!(method = proof.method(), "dashboard sign-in refused");
            return Err(Error::new(
                Code::Unauthorized,
                match proof {
                    Proof::Code(_) => {
                        "wrong, used or expired sign-in code (run `tend dashboard` for a new link)"
                    }
                    Proof::Token(_) => "wrong token (see the `token` file in the data dir)",
                },
            ));
        }
        let secret = random_hex::<32>();
        let id = random_hex::<8>();
        let created = chrono::Utc::now();
        let expires =
            created + chrono::Duration::from_std(self.sign_in.ttl).map_err(Error::internal)?;
        let created_at = fmt_time(created);
        self.store.prune_sessions(&created_at).await?;
        let user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());
        let stored = StoredSession {
            id: id.clone(),
            created_at: created_at.clone(),
            last_seen_at: created_at,
            expires_at: fmt_time(expires),
            user_agent,
        };
        self.store
            .insert_session(&NewSession {
                id: &stored.id,
                secret_sha256: &hex(&sha256(&secret)),
                created_at: &stored.created_at,
                expires_at: &stored.expires_at,
                user_agent: stored.user_agent.as_deref(),
            })
            .await?;
        tracing::info!(session = %id, method = proof.method(), "dashboard sign-in");
        Ok(Login {
            secret,
            max_age_s: self.sign_in.ttl.as_secs(),
            session: view(stored, Some(&id)),
        })
    }

    /// The id of the unexpired session whose secret is `secret`, if any; notes that it was seen.
    pub async fn session_for(&self, secret: &str) -> Result<Option<String>> {
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Ok(None);
        }
        let now = chrono::Utc::now();
        let now_s = fmt_time(now);
        let Some(s) = self
            .store
            .session_by_secret(&hex(&sha256(secret)), &now_s)
            .await?
        else {
            return Ok(None);
        };
        let stale_before = fmt_time(now - chrono::Duration::seconds(TOUCH_EVERY_S));
        // `last_seen_at` is informative: a failed write (a full disk) must not refuse the request.
        if let Err(e) = self.store.touch_session(&s.id, &now_s, &stale_before).await {
            tracing::debug!(error = %e, "cannot note that a dashboard session was seen");
        }
        Ok(Some(s.id))
    }

    /// Unexpired sessions, newest first; `current` marks the caller's own.
    pub async fn sessions(&self, current: Option<&str>) -> Result<Vec<SessionView>> {
        let now = fmt_time(chrono::Utc::now());
        self.store.prune_sessions(&now).await?;
        let list = self.store.list_sessions(&now).await?;
        Ok(list.into_iter().map(|s| view(s, current)).collect())
    }

    /// Ends session `id` (`not_found` if there is none).
    pub async fn revoke_session(&self, id: &str) -> Result<SessionEnded> {
        if id.len() > MAX_SECRET_LEN || !self.store.delete_session(id).await? {
            return Err(Error::not_found("no such session"));
        }
        tracing::info!(session = %id, "dashboard session revoked");
        Ok(SessionEnded {
            status: "revoked".into(),
            id: id.to_string(),
        })
    }

    /// Ends the caller's own session; `conflict` when it signed in with no session (the token).
    pub async fn logout(&self, current: Option<&str>) -> Result<SessionEnded> {
        let Some(id) = current else {
            return Err(Error::new(
                Code::Conflict,
                "this request carries the bearer token, not a session: there is nothing to sign out \
                 (revoke a session with DELETE /api/sessions/{id})",
            ));
        };
        self.store.delete_session(id).await?;
        tracing::info!(session = %id, "dashboard sign-out");
        Ok(SessionEnded {
            status: "signed_out".into(),
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in() -> SignIn {
        SignIn::new("the-token".into(), Duration::from_secs(3600))
    }

    #[test]
    fn a_code_works_once_and_expires() {
        let s = sign_in();
        let t0 = Instant::now();
        let code = s.new_code(t0);
        // Kept as its hash only.
        assert!(s.lock().codes.contains_key(&sha256(&code)));
        assert!(!s.take_code("not-the-code", t0));
        assert!(s.take_code(&code, t0));
        assert!(!s.take_code(&code, t0), "second use");
        let late = s.new_code(t0);
        assert!(!s.take_code(&late, t0 + CODE_TTL), "expired");
    }

    #[test]
    fn codes_are_bounded() {
        let s = sign_in();
        let t0 = Instant::now();
        let first = s.new_code(t0);
        for i in 0..MAX_CODES {
            s.new_code(t0 + Duration::from_millis(i as u64 + 1));
        }
        assert_eq!(s.lock().codes.len(), MAX_CODES);
        assert!(!s.take_code(&first, t0), "the oldest made room");
    }

    #[test]
    fn failures_past_the_limit_block_for_the_rest_of_the_minute() {
        let s = sign_in();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(s.blocked_for(t0), None, "failure {i}");
            s.failed(t0);
        }
        let wait = s.blocked_for(t0 + Duration::from_secs(20)).unwrap();
        assert_eq!(wait, Duration::from_secs(40));
        assert_eq!(s.blocked_for(t0 + FAILURE_WINDOW), None);
    }

    #[test]
    fn the_token_is_compared_whole() {
        let s = sign_in();
        assert!(s.token_matches("the-token"));
        assert!(!s.token_matches("the-toke"));
        assert!(!s.token_matches(""));
    }

    #[test]
    fn a_login_names_what_is_wrong() {
        let field = |req: LoginRequest| Proof::of(req).err().and_then(|e| e.field);
        assert_eq!(field(LoginRequest::default()).as_deref(), Some("code"));
        let both = LoginRequest {
            code: Some("a".into()),
            token: Some("b".into()),
        };
        assert_eq!(field(both).as_deref(), Some("body"));
        let empty = LoginRequest {
            token: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(field(empty).as_deref(), Some("token"));
    }
}
