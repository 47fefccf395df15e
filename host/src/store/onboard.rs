//! Onboarding jobs: one row per job, the whole `OnboardJob` kept as JSON, the project and status as
//! plain columns. The onboarding job rewrites its row at every step.

use sqlx::Row;

use super::{Result, Store, StoreError, now_rfc3339};
use crate::wire::{OnboardJob, OnboardStatus};

fn status_str(s: OnboardStatus) -> &'static str {
    match s {
        OnboardStatus::Queued => "queued",
        OnboardStatus::Running => "running",
        OnboardStatus::Succeeded => "succeeded",
        OnboardStatus::Failed => "failed",
    }
}

fn decode(id: i64, record: &str) -> Result<OnboardJob> {
    let mut j: OnboardJob = serde_json::from_str(record)
        .map_err(|e| StoreError::Corrupt(format!("onboarding job {id}: {e}")))?;
    j.id = id.to_string();
    Ok(j)
}

fn encode(j: &OnboardJob) -> Result<String> {
    serde_json::to_string(j)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode an onboarding job: {e}")))
}

fn parse_id(id: &str) -> Option<i64> {
    if id.is_empty() || id.len() > 18 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

impl Store {
    /// Records a new job; answers its id (the record's own `id` is ignored).
    pub async fn insert_onboard_job(&self, j: &OnboardJob) -> Result<String> {
        let done = sqlx::query(
            "INSERT INTO onboard_jobs (project, status, created_at, updated_at, record)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&j.project)
        .bind(status_str(j.status))
        .bind(&j.created_at)
        .bind(now_rfc3339())
        .bind(encode(j)?)
        .execute(&self.pool)
        .await?;
        Ok(done.last_insert_rowid().to_string())
    }

    pub async fn save_onboard_job(&self, j: &OnboardJob) -> Result<()> {
        let id = parse_id(&j.id)
            .ok_or_else(|| StoreError::Corrupt(format!("onboarding job id {:?}", j.id)))?;
        sqlx::query("UPDATE onboard_jobs SET status = ?, updated_at = ?, record = ? WHERE id = ?")
            .bind(status_str(j.status))
            .bind(now_rfc3339())
            .bind(encode(j)?)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_onboard_job(&self, id: &str) -> Result<Option<OnboardJob>> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT id, record FROM onboard_jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(r.get("id"), &r.get::<String, _>("record")))
            .transpose()
    }

    /// Newest first.
    pub async fn list_onboard_jobs(&self, limit: u32) -> Result<Vec<OnboardJob>> {
        let rows = sqlx::query("SELECT id, record FROM onboard_jobs ORDER BY id DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| decode(r.get("id"), &r.get::<String, _>("record")))
            .collect()
    }

    /// Jobs a previous daemon left `queued` or `running`.
    pub async fn unfinished_onboard_jobs(&self) -> Result<Vec<OnboardJob>> {
        let rows = sqlx::query(
            "SELECT id, record FROM onboard_jobs WHERE status IN ('queued', 'running') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| decode(r.get("id"), &r.get::<String, _>("record")))
            .collect()
    }
}
