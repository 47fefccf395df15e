//! The events table: every lifecycle transition.

use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::wire::{Event, EventKind, HealthCheck, HealthState, Status};

/// An event before it has an id.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: EventKind,
    pub service: String,
    pub time: String,
    pub from: Status,
    pub to: Status,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub health: Option<HealthState>,
    pub reason: String,
}

const COLUMNS: &str =
    "id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health";

fn kind_str(k: EventKind) -> &'static str {
    match k {
        EventKind::Lifecycle => "lifecycle",
        EventKind::Health => "health",
        EventKind::Caddy => "caddy",
        EventKind::Job => "job",
    }
}

fn to_event(r: sqlx::sqlite::SqliteRow) -> Result<Event> {
    let status = |i: usize| -> Result<Status> {
        let s: String = r.get(i);
        Status::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown status {s:?}")))
    };
    let kind: String = r.get(9);
    let health: Option<String> = r.get(10);
    Ok(Event {
        id: r.get(0),
        kind: match kind.as_str() {
            "health" => EventKind::Health,
            "caddy" => EventKind::Caddy,
            "job" => EventKind::Job,
            _ => EventKind::Lifecycle,
        },
        service: r.get(1),
        time: r.get(2),
        from: status(3)?,
        to: status(4)?,
        pid: r.get::<Option<i64>, _>(5).map(|v| v as u32),
        exit_code: r.get::<Option<i64>, _>(6).map(|v| v as i32),
        signal: r.get(7),
        health: health.as_deref().and_then(HealthState::parse),
        reason: r.get(8),
    })
}

impl Store {
    pub async fn insert_event(&self, e: &NewEvent) -> Result<Event> {
        let id: i64 = sqlx::query(
            "INSERT INTO events (service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&e.service)
        .bind(&e.time)
        .bind(e.from.as_str())
        .bind(e.to.as_str())
        .bind(e.pid.map(i64::from))
        .bind(e.exit_code.map(i64::from))
        .bind(&e.signal)
        .bind(&e.reason)
        .bind(kind_str(e.kind))
        .bind(e.health.map(HealthState::as_str))
        .fetch_one(&self.pool)
        .await?
        .get(0);
        Ok(Event {
            id,
            kind: e.kind,
            service: e.service.clone(),
            time: e.time.clone(),
            from: e.from,
            to: e.to,
            pid: e.pid,
            exit_code: e.exit_code,
            signal: e.signal.clone(),
            health: e.health,
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

/// Health check results kept per service; older ones are pruned as new ones arrive.
const HEALTH_HISTORY: i64 = 500;

impl Store {
    pub async fn insert_health_check(&self, service: &str, c: &HealthCheck) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO health_checks (service, time, result, passed, message, latency_ms)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(service)
        .bind(&c.time)
        .bind(&c.result)
        .bind(c.passed)
        .bind(&c.message)
        .bind(i64::from(c.latency_ms))
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        sqlx::query("DELETE FROM health_checks WHERE service = ? AND id <= ?")
            .bind(service)
            .bind(id - HEALTH_HISTORY)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` checks of a service, oldest first.
    pub async fn list_health_checks(&self, service: &str, limit: u32) -> Result<Vec<HealthCheck>> {
        let rows = sqlx::query(
            "SELECT time, result, passed, message, latency_ms FROM
             (SELECT id, time, result, passed, message, latency_ms FROM health_checks
              WHERE service = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
        )
        .bind(service)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| HealthCheck {
                time: r.get(0),
                result: r.get(1),
                passed: r.get(2),
                message: r.get(3),
                latency_ms: r.get::<i64, _>(4) as u32,
            })
            .collect())
    }
}
