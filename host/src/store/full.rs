//! A full disk. `StoreError::is_full` recognises SQLite's "database or disk is full" (and the I/O
//! errors a full disk causes), so a request that could not be stored answers `insufficient_storage`
//! rather than a generic failure.
//!
//! The state the daemon records on its own (service events and the other stored bus events, runtime
//! records) is never dropped for lack of space: a write that fails so is kept in memory, in order, in
//! the `Spool`, and a background task retries it every `RETRY_EVERY` until it is stored. Events in the
//! spool already have their ids (the next ones after the table's sequence; the events table has one
//! writer, the bus), so the bus broadcasts them at once and nothing waits for the disk: the API keeps
//! answering, and readers that flush the bus are not held up. While the spool is not empty every new
//! event and runtime record joins it, so order is kept (a runtime record replaces the spooled one of its
//! service). What is still spooled when the daemon stops is lost, with a warning naming the count.
//!
//! A write that fails for lack of space can leave its connection inside a transaction (SQLite keeps a
//! transaction open after some failed statements, and sqlx's own count can disagree with SQLite's
//! after a failed COMMIT). Such a connection would hold the write lock for good and lock every other
//! writer out, even once space is back, so `connection_is_clean` is checked whenever a connection
//! goes back to the pool, and a dirty one is closed (which rolls back) instead of reused.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

use super::{Result, RuntimeRecord, Store, StoreError};
use crate::wire::{Event, Payload};

const RETRY_EVERY: Duration = Duration::from_secs(1);

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

/// A stored bus event waiting for space: a service event or another stored topic.
#[derive(Clone, Debug)]
pub(super) enum Spooled {
    Service(Event),
    Bus(Payload),
}

#[derive(Debug, Default)]
struct SpoolState {
    /// Events with the ids they were given, oldest first.
    events: VecDeque<(i64, Spooled)>,
    /// The id the next spooled event gets (meaningful while `events` is not empty).
    next_id: i64,
    /// The latest runtime record of each service that could not be stored.
    runtime: BTreeMap<String, RuntimeRecord>,
    draining: bool,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct Spool(Mutex<SpoolState>);

impl Spool {
    fn lock(&self) -> std::sync::MutexGuard<'_, SpoolState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Rows waiting for space (events, runtime records).
    pub(super) fn pending(&self) -> (usize, usize) {
        let s = self.lock();
        (s.events.len(), s.runtime.len())
    }
}

impl Store {
    /// Stores an event of the events table (`id` None: the next id), spooling it when the disk is full
    /// or the spool already holds events; returns its id.
    pub(super) async fn store_event(&self, event: Spooled) -> Result<i64> {
        if let Some(id) = self.join_spool(&event) {
            return Ok(id);
        }
        match self.insert_spooled(None, &event).await {
            Err(e) if e.may_be_full() => {
                let next = self.next_event_id().await?;
                let id = {
                    let mut s = self.spool.lock();
                    if s.events.is_empty() {
                        s.next_id = next;
                    }
                    let id = s.next_id;
                    s.next_id += 1;
                    s.events.push_back((id, event));
                    id
                };
                tracing::warn!(error = %e, id, "cannot store an event: the disk is full; it is kept in memory and retried");
                self.start_draining();
                Ok(id)
            }
            other => other,
        }
    }

    /// The id the event gets if the spool holds events already.
    fn join_spool(&self, event: &Spooled) -> Option<i64> {
        let mut s = self.spool.lock();
        if s.events.is_empty() {
            return None;
        }
        let id = s.next_id;
        s.next_id += 1;
        s.events.push_back((id, event.clone()));
        Some(id)
    }

    async fn insert_spooled(&self, id: Option<i64>, event: &Spooled) -> Result<i64> {
        match event {
            Spooled::Service(e) => self.insert_event_row(id, e).await,
            Spooled::Bus(p) => self.insert_bus_event_row(id, p).await,
        }
    }

    /// The table's AUTOINCREMENT sequence + 1 (readable on a full disk).
    async fn next_event_id(&self) -> Result<i64> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
                .fetch_optional(&self.pool)
                .await?;
        Ok(seq.unwrap_or(0) + 1)
    }

    /// Saves a runtime record, spooling it when the disk is full or records are spooled already.
    pub(super) async fn store_runtime(&self, r: &RuntimeRecord) -> Result<()> {
        {
            let mut s = self.spool.lock();
            if !s.runtime.is_empty() {
                s.runtime.insert(r.service.clone(), r.clone());
                return Ok(());
            }
        }
        match self.save_runtime_row(r).await {
            Err(e) if e.may_be_full() => {
                tracing::warn!(error = %e, service = %r.service, "cannot store a runtime record: the disk is full; it is kept in memory and retried");
                self.spool
                    .lock()
                    .runtime
                    .insert(r.service.clone(), r.clone());
                self.start_draining();
                Ok(())
            }
            other => other,
        }
    }

    fn start_draining(&self) {
        {
            let mut s = self.spool.lock();
            if s.draining {
                return;
            }
            s.draining = true;
        }
        let store = self.clone();
        tokio::spawn(async move { store.drain().await });
    }

    /// Retries the spool in order until it is empty; a row failing for another reason than space is
    /// dropped with an error (retrying it would block everything after it forever).
    async fn drain(&self) {
        loop {
            tokio::time::sleep(RETRY_EVERY).await;
            loop {
                let front = self.spool.lock().events.front().cloned();
                let Some((id, event)) = front else { break };
                match self.insert_spooled(Some(id), &event).await {
                    Ok(_) => {}
                    Err(e) if e.may_be_full() => break,
                    Err(e) => {
                        tracing::error!(error = %e, id, "cannot store a spooled event; dropped")
                    }
                }
                self.spool.lock().events.pop_front();
            }
            let runtime: Vec<RuntimeRecord> = self.spool.lock().runtime.values().cloned().collect();
            for r in runtime {
                match self.save_runtime_row(&r).await {
                    Ok(()) => {}
                    Err(e) if e.may_be_full() => break,
                    Err(e) => {
                        tracing::error!(error = %e, service = %r.service, "cannot store a spooled runtime record; dropped")
                    }
                }
                let mut s = self.spool.lock();
                if s.runtime.get(&r.service) == Some(&r) {
                    s.runtime.remove(&r.service);
                }
            }
            let mut s = self.spool.lock();
            if s.events.is_empty() && s.runtime.is_empty() {
                s.draining = false;
                tracing::info!("the database can be written again; every spooled event is stored");
                return;
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
        let failed = |why: String| {
            StoreError::Corrupt(format!(
                "the integrity check (PRAGMA quick_check) failed: {why}"
            ))
        };
        // A damaged header or b-tree can make the check itself fail rather than report.
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if rows.len() == 1 && rows[0] == "ok" {
            return Ok(());
        }
        let shown: Vec<&str> = rows.iter().take(5).map(String::as_str).collect();
        Err(failed(shown.join("; ")))
    }
}

/// True when `conn` is outside any transaction, for SQLite and for sqlx alike. A deferred `BEGIN`
/// takes no lock; it fails when a transaction is already open.
pub(super) async fn connection_is_clean(conn: &mut SqliteConnection) -> bool {
    if conn.is_in_transaction() {
        return false;
    }
    match sqlx::query("BEGIN").execute(&mut *conn).await {
        Ok(_) => sqlx::query("ROLLBACK").execute(&mut *conn).await.is_ok(),
        Err(_) => false,
    }
}
