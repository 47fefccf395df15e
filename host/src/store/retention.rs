//! Retention of the history tables that grow with use: the policy audit trail, custom-restart jobs and
//! stored bus events. Each has an age limit and a row limit (0 = none); pruning deletes in small
//! chunks so it never holds the write lock for long. Jobs still queued or running are never pruned.
//! The schedule (at boot, then periodically) is the caller's (`logs/retention.rs`).

use serde::Deserialize;

use super::{Result, Store};

/// Rows per DELETE, as for log lines.
const CHUNK: i64 = 5000;

/// The `[retention]` table of `tend.toml`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Seconds between two pruning rounds (the first runs at boot); at least 1.
    pub interval_s: u64,
    /// Policy decisions (`GET /api/audit`) older than this many days go; 0 keeps them.
    pub audit_days: u32,
    /// At most this many policy decisions are kept, the newest; 0 = no limit.
    pub audit_max_rows: u64,
    /// Finished custom-restart jobs (`GET /api/jobs`) older than this many days go; 0 keeps them.
    pub jobs_days: u32,
    /// At most this many jobs are kept, the newest (queued and running ones always stay); 0 = no limit.
    pub jobs_max_rows: u64,
    /// Stored events (`GET /api/services/{name}/events`, `GET /api/events` replays) older than this
    /// many days go; 0 keeps them.
    pub events_days: u32,
    /// At most this many stored events are kept, the newest; 0 = no limit.
    pub events_max_rows: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            interval_s: 3600,
            audit_days: 90,
            audit_max_rows: 100_000,
            jobs_days: 90,
            jobs_max_rows: 10_000,
            events_days: 30,
            events_max_rows: 200_000,
        }
    }
}

impl RetentionSettings {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.interval_s == 0 || self.interval_s > 7 * 86_400 {
            return Err(format!(
                "[retention] interval_s must be between 1 and 604800, got {}",
                self.interval_s
            ));
        }
        for (key, days) in [
            ("audit_days", self.audit_days),
            ("jobs_days", self.jobs_days),
            ("events_days", self.events_days),
        ] {
            if days > 36_500 {
                return Err(format!(
                    "[retention] {key} must be at most 36500, got {days}"
                ));
            }
        }
        Ok(())
    }
}

/// One table's pruning: its name, time column and which rows may go at all.
struct Table {
    name: &'static str,
    time: &'static str,
    prunable: &'static str,
}

const AUDIT: Table = Table {
    name: "policy_audit",
    time: "time",
    prunable: "1",
};
const JOBS: Table = Table {
    name: "jobs",
    time: "created_at",
    prunable: "status NOT IN ('queued', 'running')",
};
const EVENTS: Table = Table {
    name: "events",
    time: "time",
    prunable: "1",
};

/// What one pruning round deleted, per table.
#[derive(Debug, Default, PartialEq)]
pub struct Pruned {
    pub audit: u64,
    pub jobs: u64,
    pub events: u64,
}

impl Store {
    /// One pruning round of the audit, jobs and events tables: rows older than `now - days` (times
    /// compared as stored text, `older_than(days)` gives the cutoff) and rows beyond the newest
    /// `max_rows`.
    pub async fn prune_history(
        &self,
        s: &RetentionSettings,
        older_than: impl Fn(u32) -> Option<String>,
    ) -> Result<Pruned> {
        Ok(Pruned {
            audit: self
                .prune_table(&AUDIT, older_than(s.audit_days), s.audit_max_rows)
                .await?,
            jobs: self
                .prune_table(&JOBS, older_than(s.jobs_days), s.jobs_max_rows)
                .await?,
            events: self
                .prune_table(&EVENTS, older_than(s.events_days), s.events_max_rows)
                .await?,
        })
    }

    async fn prune_table(&self, t: &Table, cutoff: Option<String>, max_rows: u64) -> Result<u64> {
        let mut total = 0;
        if let Some(cutoff) = cutoff {
            let sql = format!(
                "DELETE FROM {name} WHERE id IN (SELECT id FROM {name} WHERE {time} < ? AND {prunable} LIMIT ?)",
                name = t.name,
                time = t.time,
                prunable = t.prunable
            );
            total += self.delete_chunks(&sql, Some(&cutoff)).await?;
        }
        if max_rows > 0 {
            // The id of the newest row beyond the limit; it and everything older may go.
            let offset = i64::try_from(max_rows).unwrap_or(i64::MAX);
            let sql = format!(
                "DELETE FROM {name} WHERE id IN (SELECT id FROM {name} WHERE {prunable} AND id <= \
                 (SELECT id FROM {name} ORDER BY id DESC LIMIT 1 OFFSET {offset}) LIMIT ?)",
                name = t.name,
                prunable = t.prunable
            );
            total += self.delete_chunks(&sql, None).await?;
        }
        Ok(total)
    }

    async fn delete_chunks(&self, sql: &str, cutoff: Option<&str>) -> Result<u64> {
        let mut total = 0;
        loop {
            let mut query = sqlx::query(sql);
            if let Some(c) = cutoff {
                query = query.bind(c);
            }
            let done = query.bind(CHUNK).execute(&self.pool).await?.rows_affected();
            total += done;
            if done < CHUNK as u64 {
                return Ok(total);
            }
        }
    }
}
