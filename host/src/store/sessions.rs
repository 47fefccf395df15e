//! Dashboard sessions (`sessions`): insert, look up by the SHA-256 of the cookie's secret (never the
//! secret itself), touch, list, delete, prune. Rows past `expires_at` are never returned. Knows nothing
//! of cookies or HTTP; times are the stored RFC 3339 strings, compared lexically.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Result, Store};

/// A session as stored (without its secret's hash, which never leaves the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub user_agent: Option<String>,
}

/// A session to record; `created_at` is also its first `last_seen_at`.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub secret_sha256: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
    pub user_agent: Option<&'a str>,
}

const COLUMNS: &str = "id, created_at, last_seen_at, expires_at, user_agent";

fn from_row(r: &SqliteRow) -> StoredSession {
    StoredSession {
        id: r.get(0),
        created_at: r.get(1),
        last_seen_at: r.get(2),
        expires_at: r.get(3),
        user_agent: r.get(4),
    }
}

impl Store {
    pub async fn insert_session(&self, s: &NewSession<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, secret_sha256, created_at, last_seen_at, expires_at, user_agent)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
        )
        .bind(s.id)
        .bind(s.secret_sha256)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The unexpired session whose secret hashes to `secret_sha256`, at time `now`.
    pub async fn session_by_secret(
        &self,
        secret_sha256: &str,
        now: &str,
    ) -> Result<Option<StoredSession>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE secret_sha256 = ?1 AND expires_at > ?2"
        ))
        .bind(secret_sha256)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// Sets `last_seen_at = now` unless it is already at or after `stale_before` (so a busy session
    /// costs one write a minute, not one per request).
    pub async fn touch_session(&self, id: &str, now: &str, stale_before: &str) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?3")
            .bind(id)
            .bind(now)
            .bind(stale_before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Unexpired sessions at `now`, newest first.
    pub async fn list_sessions(&self, now: &str) -> Result<Vec<StoredSession>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE expires_at > ?1 ORDER BY created_at DESC, id"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// Deletes session `id`; `false` if there was none.
    pub async fn delete_session(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every session expired at `now`; returns how many.
    pub async fn prune_sessions(&self, now: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        (dir, store)
    }

    fn new<'a>(id: &'a str, hash: &'a str, expires_at: &'a str) -> NewSession<'a> {
        NewSession {
            id,
            secret_sha256: hash,
            created_at: "2026-01-01T00:00:00.000000Z",
            expires_at,
            user_agent: Some("test"),
        }
    }

    #[tokio::test]
    async fn sessions_are_found_by_hash_until_they_expire() {
        let (_dir, s) = store().await;
        s.insert_session(&new("a", "ha", "2026-01-02T00:00:00.000000Z"))
            .await
            .unwrap();
        s.insert_session(&new("b", "hb", "2026-01-01T01:00:00.000000Z"))
            .await
            .unwrap();
        let noon = "2026-01-01T12:00:00.000000Z";
        let a = s.session_by_secret("ha", noon).await.unwrap().unwrap();
        assert_eq!(a.id, "a");
        assert_eq!(a.last_seen_at, a.created_at);
        assert_eq!(
            s.session_by_secret("hb", noon).await.unwrap(),
            None,
            "expired"
        );
        assert_eq!(s.session_by_secret("nope", noon).await.unwrap(), None);
        let listed: Vec<_> = s.list_sessions(noon).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(s.prune_sessions(noon).await.unwrap(), 1);
        assert_eq!(s.prune_sessions(noon).await.unwrap(), 0);
        assert!(s.delete_session("a").await.unwrap());
        assert!(!s.delete_session("a").await.unwrap());
    }

    #[tokio::test]
    async fn touch_writes_only_when_stale() {
        let (_dir, s) = store().await;
        s.insert_session(&new("a", "ha", "2027-01-01T00:00:00.000000Z"))
            .await
            .unwrap();
        let t1 = "2026-01-01T00:00:30.000000Z";
        // Seen less than a minute ago: left alone.
        s.touch_session("a", t1, "2025-12-31T23:59:30.000000Z")
            .await
            .unwrap();
        let got = s.session_by_secret("ha", t1).await.unwrap().unwrap();
        assert_eq!(got.last_seen_at, "2026-01-01T00:00:00.000000Z");
        let t2 = "2026-01-01T00:02:00.000000Z";
        s.touch_session("a", t2, "2026-01-01T00:01:00.000000Z")
            .await
            .unwrap();
        let got = s.session_by_secret("ha", t2).await.unwrap().unwrap();
        assert_eq!(got.last_seen_at, t2);
    }
}
