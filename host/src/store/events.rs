//! The events table: every stored topic of the event bus under one id sequence. Service events
//! (lifecycle, health, caddy, job) have columns of their own; other topics keep their payload as JSON.
//! Also the health-check results (one service's history, or every service's recent ones at once).

use std::collections::BTreeMap;

use sqlx::Row;

use super::full::Spooled;
use super::{Result, Store, StoreError};
use crate::wire::{
    BusEvent, Event, EventKind, HealthCheck, HealthPoint, HealthState, Payload, Status, Topic,
};

const COLUMNS: &str =
    "id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health, data";

/// The kinds that are service events (`Event`); the other stored topics have a JSON payload.
const SERVICE_KINDS: &str = "('lifecycle', 'health', 'caddy', 'job')";

fn kind_str(k: EventKind) -> &'static str {
    match k {
        EventKind::Lifecycle => "lifecycle",
        EventKind::Health => "health",
        EventKind::Caddy => "caddy",
        EventKind::Job => "job",
    }
}

fn to_event(r: &sqlx::sqlite::SqliteRow) -> Result<Event> {
    let status = |i: usize| -> Result<Status> {
        let s: Option<String> = r.get(i);
        let s = s.unwrap_or_default();
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
        service: r.get::<Option<String>, _>(1).unwrap_or_default(),
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
    /// Stores a service event (its `id` is ignored); returns the id it got. A full disk spools it
    /// (`full.rs`).
    pub async fn insert_event(&self, e: &Event) -> Result<i64> {
        self.store_event(Spooled::Service(e.clone())).await
    }

    /// One row; `id` None takes the next id (see `full.rs` for explicit ones).
    pub(super) async fn insert_event_row(&self, id: Option<i64>, e: &Event) -> Result<i64> {
        let id: i64 = sqlx::query(
            "INSERT INTO events (id, service, time, from_state, to_state, pid, exit_code, signal, reason, kind, health)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
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
        // `execute`, not `RETURNING` + `fetch_one`: an autocommit statement commits when it is stepped
        // to its end, and a commit that fails there (a full disk) must not be lost with the dropped
        // row stream, leaving an id for a row that was never stored.
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Events of one service (or all, with `None`), oldest first, at most `limit` of the newest.
    pub async fn list_events(&self, service: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        let rows = match service {
            Some(s) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM events WHERE service = ? AND kind IN {SERVICE_KINDS} ORDER BY id DESC LIMIT ?) ORDER BY id"
                ))
                .bind(s)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM events WHERE kind IN {SERVICE_KINDS} ORDER BY id DESC LIMIT ?) ORDER BY id"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(to_event).collect()
    }

    /// Stores an event of a topic that is not a service event (its payload as JSON); returns its id.
    /// A full disk spools it (`full.rs`).
    pub async fn insert_bus_event(&self, payload: &Payload) -> Result<i64> {
        // Checked here, not when a spooled one is retried.
        if matches!(payload, Payload::Service(_) | Payload::Metrics(_)) {
            return Err(StoreError::Corrupt(format!(
                "{} events are not stored as JSON",
                payload.topic()
            )));
        }
        self.store_event(Spooled::Bus(payload.clone())).await
    }

    pub(super) async fn insert_bus_event_row(
        &self,
        id: Option<i64>,
        payload: &Payload,
    ) -> Result<i64> {
        let data = match payload {
            Payload::Service(_) | Payload::Metrics(_) => {
                return Err(StoreError::Corrupt(format!(
                    "{} events are not stored as JSON",
                    payload.topic()
                )));
            }
            Payload::Cron(e) => serde_json::to_string(e),
            Payload::Caddy(e) => serde_json::to_string(e),
            Payload::Plugin(e) => serde_json::to_string(e),
            Payload::Policy(e) => serde_json::to_string(e),
            Payload::Agent(e) => serde_json::to_string(e),
        }
        .map_err(|e| StoreError::Corrupt(format!("cannot encode an event: {e}")))?;
        let id: i64 = sqlx::query(
            "INSERT INTO events (id, service, time, kind, data) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(payload.service())
        .bind(payload.time())
        .bind(payload.topic().as_str())
        .bind(data)
        // As in `insert_event`: the commit's failure must surface.
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(id)
    }

    /// Stored events with an id greater than `after`, oldest first, at most `limit`, of the given
    /// topics (stored ones only) and, if given, about one service.
    pub async fn events_after(
        &self,
        after: i64,
        topics: &[Topic],
        service: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BusEvent>> {
        let kinds: Vec<&str> = topics
            .iter()
            .filter(|t| t.persisted())
            .map(|t| t.as_str())
            .collect();
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; kinds.len()].join(", ");
        let service_clause = if service.is_some() {
            " AND service = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM events WHERE id > ? AND kind IN ({marks}){service_clause} ORDER BY id LIMIT ?"
        );
        let mut q = sqlx::query(&sql).bind(after);
        for k in &kinds {
            q = q.bind(*k);
        }
        if let Some(s) = service {
            q = q.bind(s);
        }
        let rows = q.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(to_bus_event).collect()
    }

    /// The greatest event id stored (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64> {
        let id: Option<i64> = sqlx::query("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?
            .get(0);
        Ok(id.unwrap_or(0))
    }
}

fn to_bus_event(r: &sqlx::sqlite::SqliteRow) -> Result<BusEvent> {
    let id: i64 = r.get(0);
    let kind: String = r.get(9);
    let topic = Topic::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("event {id}: unknown kind {kind:?}")))?;
    let data = || -> Result<String> {
        r.get::<Option<String>, _>(11)
            .ok_or_else(|| StoreError::Corrupt(format!("event {id} ({kind}) has no data")))
    };
    fn decode<T: serde::de::DeserializeOwned>(id: i64, text: &str) -> Result<T> {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("event {id}: cannot decode its data: {e}")))
    }
    let payload = match topic {
        Topic::Lifecycle | Topic::Health | Topic::Caddy | Topic::Job
            if r.get::<Option<String>, _>(11).is_none() =>
        {
            Payload::Service(to_event(r)?)
        }
        Topic::Caddy => Payload::Caddy(decode(id, &data()?)?),
        Topic::Cron => Payload::Cron(decode(id, &data()?)?),
        Topic::Plugin => Payload::Plugin(decode(id, &data()?)?),
        Topic::Policy => Payload::Policy(decode(id, &data()?)?),
        Topic::Agent => Payload::Agent(decode(id, &data()?)?),
        Topic::Lifecycle | Topic::Health | Topic::Job | Topic::Metrics => {
            return Err(StoreError::Corrupt(format!(
                "event {id}: {kind} with a JSON payload"
            )));
        }
    };
    Ok(BusEvent { id, payload })
}

/// Health check results kept per service; older ones are pruned as new ones arrive.
const HEALTH_HISTORY: i64 = 500;

impl Store {
    /// Stores a check result and prunes the service's history.
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

    /// The newest `limit` checks of each of `services`, oldest first, in one query (an index seek per
    /// service); services without checks are absent.
    pub async fn recent_health_checks(
        &self,
        services: &[String],
        limit: u32,
    ) -> Result<BTreeMap<String, Vec<HealthPoint>>> {
        let names =
            serde_json::to_string(services).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rows = sqlx::query(
            "SELECT h.service, h.time, h.passed, h.latency_ms
             FROM json_each(?1) AS s JOIN health_checks AS h ON h.id IN
                 (SELECT id FROM health_checks WHERE service = s.value ORDER BY id DESC LIMIT ?2)
             ORDER BY h.service, h.id",
        )
        .bind(names)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out: BTreeMap<String, Vec<HealthPoint>> = BTreeMap::new();
        for r in rows {
            out.entry(r.get(0)).or_default().push(HealthPoint {
                time: r.get(1),
                passed: r.get(2),
                latency_ms: r.get::<i64, _>(3) as u32,
            });
        }
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recent_health_checks_are_the_newest_of_each_service() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        for i in 0..5u32 {
            for service in ["a", "b"] {
                let check = HealthCheck {
                    time: format!("2030-01-01T00:00:0{i}.000000Z"),
                    result: "healthy".into(),
                    passed: i % 2 == 0,
                    message: String::new(),
                    latency_ms: i,
                };
                store.insert_health_check(service, &check).await.unwrap();
            }
        }
        let names = ["a", "c"].map(String::from);
        let got = store.recent_health_checks(&names, 3).await.unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["a"]);
        let latencies: Vec<u32> = got["a"].iter().map(|h| h.latency_ms).collect();
        assert_eq!(latencies, [2, 3, 4]);
        assert!(got["a"][0].passed && !got["a"][1].passed);
    }
}
