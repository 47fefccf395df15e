//! The SQLite store. **Only this module speaks SQL.** It owns the schema (`host/migrations`), opens the
//! database in WAL mode (refusing a damaged one) and offers typed functions; callers never see rows or
//! queries. A full disk is recognised (`StoreError::is_full`) and the background writers of state retry
//! it (`full.rs`).

mod audit;
mod cron;
mod events;
mod full;
mod jobs;
mod logs;
mod metrics;
mod plugins;
mod retention;
mod services;

#[cfg(test)]
mod compat_tests;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::{AuditQuery, NewAudit};
pub use cron::{ExecutionEnd, NewExecution};
pub use jobs::{JobQuery, NewJob};
pub use logs::{LogQuery, NewLogLine};
pub use metrics::{MetricBucket, MetricSample};
pub use retention::RetentionSettings;

pub use services::RuntimeRecord;

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
    /// The full-disk retry budget of the background writers (`full.rs`).
    full: std::sync::Arc<full::FullStreak>,
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
            // Log batches are large: a bigger page cache and rarer checkpoints keep inserts cheap.
            .pragma("cache_size", "-32768")
            .pragma("wal_autocheckpoint", "8192")
            .pragma("temp_store", "memory");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options)
            .await?;
        let store = Store {
            pool,
            full: Default::default(),
        };
        // Before migrating: a damaged file is refused with the reason rather than written to.
        store.quick_check().await?;
        sqlx::migrate!("./migrations").run(&store.pool).await?;
        Ok(store)
    }

    /// Checkpoints the WAL and closes every connection.
    pub async fn close(&self) {
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
