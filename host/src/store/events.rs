//! The events table: every lifecycle transition.

use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::wire::{Event, Status};

/// An event before it has an id.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub service: String,
    pub time: String,
    pub from: Status,
    pub to: Status,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub reason: String,
}

const COLUMNS: &str = "id, service, time, from_state, to_state, pid, exit_code, signal, reason";

fn to_event(r: sqlx::sqlite::SqliteRow) -> Result<Event> {
    let status = |i: usize| -> Result<Status> {
        let s: String = r.get(i);
        Status::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
    };
    Ok(Event {
        id: r.get(0),
        service: r.get(1),
        time: r.get(2),
        from: status(3)?,
        to: status(4)?,
        pid: r.get::<Option<i64>, _>(5).map(|v| v as u32),
        exit_code: r.get::<Option<i64>, _>(6).map(|v| v as i32),
        signal: r.get(7),
        reason: r.get(8),
    })
}

impl Store {
    pub async fn insert_event(&self, e: &NewEvent) -> Result<Event> {
        let id: i64 = sqlx::query(
            "INSERT INTO events (service, time, from_state, to_state, pid, exit_code, signal, reason)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&e.service)
        .bind(&e.time)
        .bind(e.from.as_str())
        .bind(e.to.as_str())
        .bind(e.pid.map(i64::from))
        .bind(e.exit_code.map(i64::from))
        .bind(&e.signal)
        .bind(&e.reason)
        .fetch_one(&self.pool)
        .await?
        .get(0);
        Ok(Event {
            id,
            service: e.service.clone(),
            time: e.time.clone(),
            from: e.from,
            to: e.to,
            pid: e.pid,
            exit_code: e.exit_code,
            signal: e.signal.clone(),
            reason: e.reason.clone(),
        })
    }

    /// Events of one service (or all, with `None`), oldest first, at most `limit` of the newest.
    pub async fn list_events(&self, service: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        let rows = match service {
            Some(s) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM events WHERE service = ? ORDER BY id DESC LIMIT ?) ORDER BY id"
                ))
                .bind(s)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM events ORDER BY id DESC LIMIT ?) ORDER BY id"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.into_iter().map(to_event).collect()
    }
}
