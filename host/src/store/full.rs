//! A full disk. `StoreError::is_full` recognises SQLite's "database or disk is full" (and the I/O
//! errors a full disk causes), so a request that could not be stored answers `insufficient_storage`
//! rather than a generic failure. The background writers of state (service events and runtime records,
//! bus events, health checks) retry such a failure with backoff instead of dropping the row: a
//! transition recorded late is still recorded. One budget bounds the retrying of all of them together
//! per full-disk streak, so a disk that stays full cannot hold a writer (or the shutdown that flushes
//! it) for longer than `RETRY_BUDGET`; after that they fail at once until a write succeeds again.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Result, Store, StoreError};

const RETRY_BUDGET: Duration = Duration::from_secs(30);
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(2);

/// SQLite's primary result codes for "full" and "I/O error".
const SQLITE_FULL: i64 = 13;
const SQLITE_IOERR: i64 = 10;

impl StoreError {
    /// True when the write failed because the disk (or the database's quota) is full.
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Sqlx(sqlx::Error::Database(e)) => {
                let primary = e
                    .code()
                    .and_then(|c| c.parse::<i64>().ok())
                    .map(|c| c & 0xff);
                primary == Some(SQLITE_FULL) || e.message().contains("disk is full")
            }
            StoreError::Sqlx(sqlx::Error::Io(e)) => e.raw_os_error() == Some(libc::ENOSPC),
            _ => false,
        }
    }

    /// `is_full`, or an I/O error that a full disk can also cause (a WAL or shm file that cannot grow).
    fn may_be_full(&self) -> bool {
        self.is_full()
            || matches!(self, StoreError::Sqlx(sqlx::Error::Database(e))
                if e.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff) == Some(SQLITE_IOERR))
    }
}

/// When the current full-disk streak began (None while writes succeed).
#[derive(Debug, Default)]
pub(super) struct FullStreak(Mutex<Option<Instant>>);

impl FullStreak {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the streak if needed; true while it is within the retry budget.
    fn may_retry(&self) -> bool {
        let mut since = self.lock();
        since.get_or_insert_with(Instant::now).elapsed() < RETRY_BUDGET
    }

    fn clear(&self) {
        let mut since = self.lock();
        if since.take().is_some() {
            tracing::info!("the database can be written again");
        }
    }
}

impl Store {
    /// Runs the write `op`, retrying a full-disk failure with backoff (see the module docs).
    pub(super) async fn retry_full<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut delay = FIRST_DELAY;
        let mut warned = false;
        loop {
            match op().await {
                Ok(v) => {
                    self.full.clear();
                    return Ok(v);
                }
                Err(e) if e.may_be_full() && self.full.may_retry() => {
                    if !warned {
                        tracing::warn!(error = %e, "cannot store {what}: the disk looks full; retrying");
                        warned = true;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_DELAY);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A write the daemon's state depends on, done at boot before anything is started: if it fails
    /// (a full disk, a read-only file system), nothing the daemon would start could be recorded.
    pub async fn check_writable(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        // Rewriting the header's cookie with its own value dirties a page: the commit must reach the WAL.
        sqlx::query(&format!("PRAGMA user_version = {version}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `PRAGMA quick_check`: the reason when the database file is damaged.
    pub(super) async fn quick_check(&self) -> Result<()> {
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&self.pool)
            .await?;
        if rows.len() == 1 && rows[0] == "ok" {
            return Ok(());
        }
        let shown: Vec<&str> = rows.iter().take(5).map(String::as_str).collect();
        Err(StoreError::Corrupt(format!(
            "the integrity check (PRAGMA quick_check) failed: {}",
            shown.join("; ")
        )))
    }
}
