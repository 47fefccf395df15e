//! The SQLite store. **Only this module speaks SQL.** It owns the schema (`host/migrations`), opens the
//! database in WAL mode (refusing a damaged one) and offers typed functions; callers never see rows or
//! queries. A full disk is recognised (`StoreError::is_full`); events and runtime records that cannot
//! be written wait in memory and are retried (`full.rs`).

mod audit;
mod chat;
mod cron;
mod events;
mod fixes;
mod full;
mod jobs;
mod llm;
mod logs;
mod metrics;
mod onboard;
mod plugins;
mod retention;
mod services;
mod sessions;

#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod logs_tests;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::{AuditQuery, NewAudit};
pub use chat::NewChatMessage;
pub use cron::{ExecutionEnd, NewExecution};
pub use jobs::{JobQuery, NewJob};
pub use llm::{LlmCall, LlmUsageRow};
pub use logs::{LogQuery, NewLogChunk, NewLogLine};
pub use metrics::{MetricBucket, MetricSample};
pub use retention::RetentionSettings;

pub use services::RuntimeRecord;
pub use sessions::{NewSession, StoredSession};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// State writes waiting for disk space (`full.rs`).
    spool: std::sync::Arc<full::Spool>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, checks its integrity (`PRAGMA quick_check`)
    /// and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Store> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Page cache per connection, chosen on purpose: 8 MiB, so the pool's 4 connections hold at
            // most 32 MiB of a large database (it was 32 MiB each, 128 MiB in all). Log lines are stored
            // as chunks, one row per read of a pipe, so an insert touches a few pages, and the hot
            // index pages of a day of logs fit. A small database uses only the pages it has.
            // Checkpoints every 1000 pages: not rarer, since a checkpoint needs room in the database
            // file for what the WAL holds, so a WAL of tens of MiB could not be checkpointed (nor
            // shrink) on a nearly full disk.
            .pragma("cache_size", "-8192")
            .pragma("wal_autocheckpoint", "1000")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .after_release(|conn, _| {
                Box::pin(async move { Ok(full::connection_is_clean(conn).await) })
            })
            .connect_with(options)
            .await?;
        let store = Store {
            pool,
            spool: Default::default(),
        };
        // Before migrating: a damaged file is refused with the reason rather than written to.
        store.quick_check().await?;
        sqlx::migrate!("./migrations").run(&store.pool).await?;
        Ok(store)
    }

    /// Checkpoints the WAL and closes every connection.
    pub async fn close(&self) {
        let (events, runtime) = self.spool.pending();
        if events + runtime > 0 {
            tracing::error!(
                events,
                runtime_records = runtime,
                "the disk is still full: state kept in memory is lost at this stop"
            );
        }
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }
}

/// Current time as stored: RFC 3339, UTC, microseconds. Lexical order equals time order.
pub fn now_rfc3339() -> String {
    fmt_time(chrono::Utc::now())
}

pub fn fmt_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
