//! Cron jobs, their claimed fire times and their executions.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Result, Store, StoreError, now_rfc3339};
use crate::wire::{
    CapturedOutput, CronJobSpec, Execution, ExecutionStatus, LastRun, Source, Trigger,
};

#[derive(Clone, Debug)]
pub struct StoredCronJob {
    pub spec: CronJobSpec,
    pub source: Source,
    pub created_at: String,
    /// The latest fire time claimed for this job.
    pub last_slot: Option<String>,
}

/// A new execution row.
#[derive(Clone, Debug)]
pub struct NewExecution {
    pub job: String,
    pub trigger: Trigger,
    pub attempt: u32,
    pub scheduled_at: Option<String>,
    pub status: ExecutionStatus,
    pub message: Option<String>,
}

/// Everything known once an execution is over.
#[derive(Clone, Debug)]
pub struct ExecutionEnd {
    pub id: i64,
    pub status: ExecutionStatus,
    pub ended_at: String,
    pub duration_ms: Option<u64>,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub stdout: CapturedOutput,
    pub stderr: CapturedOutput,
    pub max_rss_bytes: Option<u64>,
    pub cpu_time_ms: Option<u64>,
    pub peak_cpu_percent: Option<f64>,
    pub message: Option<String>,
}

fn source_str(s: Source) -> &'static str {
    match s {
        Source::Api => "api",
        Source::Config => "config",
    }
}

const EXECUTION_COLUMNS: &str = "id, job, trigger, status, attempt, scheduled_at, created_at, started_at, \
     ended_at, duration_ms, pid, exit_code, signal, stdout, stdout_tail, stdout_bytes, stderr, \
     stderr_tail, stderr_bytes, log_file, max_rss_bytes, cpu_time_ms, peak_cpu_percent, message";

fn output(text: String, tail: String, bytes: i64) -> CapturedOutput {
    CapturedOutput {
        truncated: !tail.is_empty(),
        text,
        tail,
        bytes: bytes.max(0) as u64,
    }
}

fn execution_row(r: &SqliteRow) -> Result<Execution> {
    let trigger: String = r.get("trigger");
    let status: String = r.get("status");
    let opt_u64 = |c: &str| r.get::<Option<i64>, _>(c).map(|v| v.max(0) as u64);
    Ok(Execution {
        id: r.get("id"),
        job: r.get("job"),
        trigger: Trigger::parse(&trigger)
            .ok_or_else(|| StoreError::Corrupt(format!("execution trigger {trigger:?}")))?,
        status: ExecutionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("execution status {status:?}")))?,
        attempt: r.get::<i64, _>("attempt").max(0) as u32,
        scheduled_at: r.get("scheduled_at"),
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        duration_ms: opt_u64("duration_ms"),
        pid: opt_u64("pid").map(|p| p as u32),
        exit_code: r.get::<Option<i64>, _>("exit_code").map(|c| c as i32),
        signal: r.get("signal"),
        stdout: output(r.get("stdout"), r.get("stdout_tail"), r.get("stdout_bytes")),
        stderr: output(r.get("stderr"), r.get("stderr_tail"), r.get("stderr_bytes")),
        log_file: r.get::<Option<String>, _>("log_file").map(Into::into),
        max_rss_bytes: opt_u64("max_rss_bytes"),
        cpu_time_ms: opt_u64("cpu_time_ms"),
        peak_cpu_percent: r.get("peak_cpu_percent"),
        message: r.get("message"),
    })
}

impl From<&Execution> for LastRun {
    fn from(e: &Execution) -> LastRun {
        LastRun {
            id: e.id,
            trigger: e.trigger,
            status: e.status,
            scheduled_at: e.scheduled_at.clone(),
            started_at: e.started_at.clone(),
            ended_at: e.ended_at.clone(),
            exit_code: e.exit_code,
            signal: e.signal.clone(),
        }
    }
}

async fn insert_execution_on<'c, E>(conn: E, new: &NewExecution) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let done = sqlx::query(
        "INSERT INTO cron_executions (job, trigger, status, attempt, scheduled_at, created_at, message)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&new.job)
    .bind(new.trigger.as_str())
    .bind(new.status.as_str())
    .bind(i64::from(new.attempt))
    .bind(&new.scheduled_at)
    .bind(now_rfc3339())
    .bind(&new.message)
    .execute(conn)
    .await?;
    Ok(done.last_insert_rowid())
}

impl Store {
    pub async fn list_cron_jobs(&self) -> Result<Vec<StoredCronJob>> {
        let rows = sqlx::query(
            "SELECT j.name, j.spec, j.source, j.created_at, s.last_slot
             FROM cron_jobs j LEFT JOIN cron_slots s ON s.job = j.name ORDER BY j.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let name: String = r.get(0);
                let spec: String = r.get(1);
                let spec: CronJobSpec = serde_json::from_str(&spec)
                    .map_err(|e| StoreError::Corrupt(format!("cron job {name}: {e}")))?;
                let source: String = r.get(2);
                Ok(StoredCronJob {
                    spec,
                    source: if source == "config" {
                        Source::Config
                    } else {
                        Source::Api
                    },
                    created_at: r.get(3),
                    last_slot: r.get(4),
                })
            })
            .collect()
    }

    /// Inserts a new job; returns false (and changes nothing) if the name is taken.
    pub async fn insert_cron_job(&self, spec: &CronJobSpec, source: Source) -> Result<bool> {
        let now = now_rfc3339();
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "INSERT INTO cron_jobs (name, spec, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&spec.name)
        .bind(json)
        .bind(source_str(source))
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inserts or replaces a job definition (its creation time and claimed fire times are kept).
    pub async fn upsert_cron_job(&self, spec: &CronJobSpec, source: Source) -> Result<()> {
        let now = now_rfc3339();
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO cron_jobs (name, spec, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, source = excluded.source,
             updated_at = excluded.updated_at",
        )
        .bind(&spec.name)
        .bind(json)
        .bind(source_str(source))
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces the definition of an existing job; `false` when there is none. Never inserts: a
    /// replace racing a delete cannot bring the deleted row back.
    pub async fn update_cron_job(&self, spec: &CronJobSpec, source: Source) -> Result<bool> {
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done =
            sqlx::query("UPDATE cron_jobs SET spec = ?, source = ?, updated_at = ? WHERE name = ?")
                .bind(json)
                .bind(source_str(source))
                .bind(now_rfc3339())
                .bind(&spec.name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a job and its claimed fire times; its executions stay as history.
    pub async fn delete_cron_job(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM cron_jobs WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM cron_slots WHERE job = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims fire time `slot` (RFC 3339 as `fmt_time` writes it) for `new.job` and records the
    /// execution, atomically. `None`: the slot (or a later one) was claimed already; nothing changed.
    pub async fn claim_slot(&self, slot: &str, new: &NewExecution) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO cron_slots (job, last_slot) VALUES (?, ?)
             ON CONFLICT (job) DO UPDATE SET last_slot = excluded.last_slot
             WHERE excluded.last_slot > cron_slots.last_slot",
        )
        .bind(&new.job)
        .bind(slot)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let id = insert_execution_on(&mut *tx, new).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn insert_execution(&self, new: &NewExecution) -> Result<i64> {
        insert_execution_on(&self.pool, new).await
    }

    pub async fn mark_execution_started(
        &self,
        id: i64,
        started_at: &str,
        pid: u32,
        log_file: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE cron_executions SET status = 'running', started_at = ?, pid = ?, log_file = ?
             WHERE id = ?",
        )
        .bind(started_at)
        .bind(i64::from(pid))
        .bind(log_file)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends an execution that never ran (skipped, cancelled while queued).
    pub async fn mark_execution_skipped(&self, id: i64, message: &str) -> Result<()> {
        sqlx::query(
            "UPDATE cron_executions SET status = 'skipped', ended_at = ?, message = ? WHERE id = ?",
        )
        .bind(now_rfc3339())
        .bind(message)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_execution(&self, end: &ExecutionEnd) -> Result<()> {
        sqlx::query(
            "UPDATE cron_executions SET status = ?, ended_at = ?, duration_ms = ?, exit_code = ?,
             signal = ?, stdout = ?, stdout_tail = ?, stdout_bytes = ?, stderr = ?, stderr_tail = ?,
             stderr_bytes = ?, max_rss_bytes = ?, cpu_time_ms = ?, peak_cpu_percent = ?, message = ?
             WHERE id = ?",
        )
        .bind(end.status.as_str())
        .bind(&end.ended_at)
        .bind(end.duration_ms.map(|v| v as i64))
        .bind(end.exit_code)
        .bind(&end.signal)
        .bind(&end.stdout.text)
        .bind(&end.stdout.tail)
        .bind(end.stdout.bytes as i64)
        .bind(&end.stderr.text)
        .bind(&end.stderr.tail)
        .bind(end.stderr.bytes as i64)
        .bind(end.max_rss_bytes.map(|v| v as i64))
        .bind(end.cpu_time_ms.map(|v| v as i64))
        .bind(end.peak_cpu_percent)
        .bind(&end.message)
        .bind(end.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_execution(&self, id: i64) -> Result<Option<Execution>> {
        let sql = format!("SELECT {EXECUTION_COLUMNS} FROM cron_executions WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(execution_row).transpose()
    }

    /// A job's executions, newest first, with ids below `before_id` when given.
    pub async fn list_executions(
        &self,
        job: &str,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Execution>> {
        let sql = format!(
            "SELECT {EXECUTION_COLUMNS} FROM cron_executions WHERE job = ? AND id < ?
             ORDER BY id DESC LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(job)
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(execution_row).collect()
    }

    /// Executions a previous daemon left unfinished: running ones become `stopped`, queued ones
    /// `skipped`, both with `message`. Returns how many there were.
    pub async fn close_abandoned_executions(&self, message: &str) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE cron_executions SET
               status = CASE status WHEN 'running' THEN 'stopped' ELSE 'skipped' END,
               ended_at = ?, message = ?
             WHERE status IN ('running', 'queued')",
        )
        .bind(now_rfc3339())
        .bind(message)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes a job's finished executions beyond the newest `keep`; returns their log files.
    pub async fn prune_executions(&self, job: &str, keep: u32) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let cutoff: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM cron_executions WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
        )
        .bind(job)
        .bind(i64::from(keep))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(cutoff) = cutoff else {
            tx.rollback().await?;
            return Ok(Vec::new());
        };
        let files: Vec<Option<String>> = sqlx::query_scalar(
            "DELETE FROM cron_executions
             WHERE job = ? AND id <= ? AND status NOT IN ('running', 'queued')
             RETURNING log_file",
        )
        .bind(job)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(files.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(job: &str, slot: Option<&str>) -> NewExecution {
        NewExecution {
            job: job.into(),
            trigger: Trigger::Schedule,
            attempt: 0,
            scheduled_at: slot.map(Into::into),
            status: ExecutionStatus::Queued,
            message: None,
        }
    }

    #[tokio::test]
    async fn a_fire_time_is_claimed_once_and_only_forward() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let (a, b) = ("2024-01-01T00:00:01.000000Z", "2024-01-01T00:00:02.000000Z");
        let racing = new("j", Some(a));
        let claims =
            futures_util::future::join_all((0..8).map(|_| store.claim_slot(a, &racing))).await;
        let won: Vec<i64> = claims.into_iter().filter_map(|c| c.unwrap()).collect();
        assert_eq!(won.len(), 1, "{won:?}");
        assert!(
            store
                .claim_slot(b, &new("j", Some(b)))
                .await
                .unwrap()
                .is_some()
        );
        // An older fire time can no longer be claimed; another job's can.
        assert!(
            store
                .claim_slot(a, &new("j", Some(a)))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .claim_slot(a, &new("k", Some(a)))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(store.list_executions("j", None, 10).await.unwrap().len(), 2);
        store.close().await;
    }

    #[tokio::test]
    async fn pruning_keeps_the_newest_and_what_still_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(store.insert_execution(&new("j", None)).await.unwrap());
        }
        for &id in &ids[1..] {
            store
                .mark_execution_started(
                    id,
                    "2024-01-01T00:00:00Z",
                    1,
                    Some(&format!("/x/{id}.log")),
                )
                .await
                .unwrap();
            store.mark_execution_skipped(id, "done").await.unwrap();
        }
        // ids[0] is still queued: never pruned.
        let files = store.prune_executions("j", 2).await.unwrap();
        assert_eq!(
            files,
            vec![format!("/x/{}.log", ids[1]), format!("/x/{}.log", ids[2])]
        );
        let left: Vec<i64> = store
            .list_executions("j", None, 10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(left, vec![ids[4], ids[3], ids[0]]);
        assert_eq!(store.close_abandoned_executions("gone").await.unwrap(), 1);
        store.close().await;
    }
}
