//! Background jobs: one row per job, its request and steps kept whole as JSON (the wire shapes), the
//! columns that are filtered on kept plain. The job runner rewrites a job's row as each step moves.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Result, Store, StoreError};
use crate::wire::{CustomRestartRequest, JobStatus, JobStep, JobView, Origin};

/// A job about to be recorded (status `queued`).
#[derive(Clone, Debug)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub service: &'a str,
    pub origin: &'a str,
    pub created_at: &'a str,
    pub request: &'a CustomRestartRequest,
    pub steps: &'a [JobStep],
}

/// Filters of `list_jobs`.
#[derive(Clone, Debug, Default)]
pub struct JobQuery {
    pub service: Option<String>,
    pub status: Option<JobStatus>,
    pub limit: u32,
}

const COLUMNS: &str =
    "id, kind, service, origin, status, created_at, started_at, finished_at, request, steps, error";

fn corrupt(id: i64, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("job {id} {what}: {e}"))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode a job: {e}")))
}

fn job_row(r: &SqliteRow) -> Result<JobView> {
    let id: i64 = r.get("id");
    let status: String = r.get("status");
    let request: String = r.get("request");
    let steps: String = r.get("steps");
    let origin: String = r.get("origin");
    Ok(JobView {
        id: id.to_string(),
        kind: r.get("kind"),
        service: r.get("service"),
        origin: Origin::parse(&origin).ok_or_else(|| corrupt(id, "origin", &origin))?,
        status: JobStatus::parse(&status).ok_or_else(|| corrupt(id, "status", &status))?,
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
        request: serde_json::from_str(&request).map_err(|e| corrupt(id, "request", e))?,
        steps: serde_json::from_str(&steps).map_err(|e| corrupt(id, "steps", e))?,
        error: r.get("error"),
    })
}

/// A job id as the API shows it (a decimal string); anything else names no job.
fn parse_id(id: &str) -> Option<i64> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

impl Store {
    /// Records a new job as `queued`; returns its id.
    pub async fn insert_job(&self, new: &NewJob<'_>) -> Result<String> {
        let done = sqlx::query(
            "INSERT INTO jobs (kind, service, origin, status, created_at, request, steps)
             VALUES (?, ?, ?, 'queued', ?, ?, ?)",
        )
        .bind(new.kind)
        .bind(new.service)
        .bind(new.origin)
        .bind(new.created_at)
        .bind(to_json(new.request)?)
        .bind(to_json(&new.steps)?)
        .execute(&self.pool)
        .await?;
        Ok(done.last_insert_rowid().to_string())
    }

    /// Writes what changes as a job runs: status, times, steps and error.
    pub async fn save_job(&self, job: &JobView) -> Result<()> {
        let id = parse_id(&job.id).ok_or_else(|| corrupt(0, "id", &job.id))?;
        sqlx::query(
            "UPDATE jobs SET status = ?, started_at = ?, finished_at = ?, steps = ?, error = ?
             WHERE id = ?",
        )
        .bind(job.status.as_str())
        .bind(&job.started_at)
        .bind(&job.finished_at)
        .bind(to_json(&job.steps)?)
        .bind(&job.error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<JobView>> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_row).transpose()
    }

    /// Jobs, newest first.
    pub async fn list_jobs(&self, q: &JobQuery) -> Result<Vec<JobView>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs
             WHERE (?1 IS NULL OR service = ?1) AND (?2 IS NULL OR status = ?2)
             ORDER BY id DESC LIMIT ?3"
        ))
        .bind(&q.service)
        .bind(q.status.map(JobStatus::as_str))
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// Jobs left queued or running, oldest first (at boot: their runner died with the old daemon).
    pub async fn unfinished_jobs(&self) -> Result<Vec<JobView>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE status IN ('queued', 'running') ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{StepPhase, StepStatus};

    fn step() -> JobStep {
        JobStep {
            phase: StepPhase::Restart,
            index: 0,
            command: "app --x".into(),
            command_type: None,
            argv: vec!["app".into(), "--x".into()],
            decision: None,
            reason: None,
            status: StepStatus::Pending,
            exit_code: None,
            signal: None,
            pid: None,
            started_at: None,
            duration_ms: None,
            output_tail: String::new(),
            message: None,
        }
    }

    #[tokio::test]
    async fn jobs_round_trip_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let request = CustomRestartRequest {
            args: vec!["--x".into()],
            ..Default::default()
        };
        let new = |service| NewJob {
            kind: "custom-restart",
            service,
            origin: "rest",
            created_at: "2030-01-01T00:00:00.000000Z",
            request: &request,
            steps: &[],
        };
        let a = store.insert_job(&new("web")).await.unwrap();
        let b = store.insert_job(&new("db")).await.unwrap();
        let mut job = store.get_job(&a).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Queued);
        assert_eq!(job.request, request);
        job.status = JobStatus::Failed;
        job.steps = vec![step()];
        job.error = Some("boom".into());
        store.save_job(&job).await.unwrap();
        assert_eq!(store.get_job(&a).await.unwrap().unwrap(), job);

        let all = store
            .list_jobs(&JobQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<_> = all.iter().map(|j| j.id.clone()).collect();
        assert_eq!(ids, [b.clone(), a.clone()], "newest first");
        let failed = store
            .list_jobs(&JobQuery {
                status: Some(JobStatus::Failed),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        let db = store
            .list_jobs(&JobQuery {
                service: Some("db".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(db[0].id, b);
        let unfinished = store.unfinished_jobs().await.unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].id, b);
        for bad in ["", "x", "-1", "1.0", " 1", "99999999999999999999"] {
            assert!(store.get_job(bad).await.unwrap().is_none(), "{bad:?}");
        }

        // Every status the wire knows is one the table accepts (its CHECK constraint).
        for status in JobStatus::ALL {
            job.status = status;
            store.save_job(&job).await.unwrap();
            assert_eq!(store.get_job(&a).await.unwrap().unwrap().status, status);
        }
    }
}
