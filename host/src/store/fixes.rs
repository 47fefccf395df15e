//! Auto-fix records: one row per fix or restore, the whole `FixView` kept as JSON, the target and
//! status as plain columns. The fix engine rewrites a row as the fix moves.

use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::wire::{FixView, TargetKind};

fn kind_str(k: TargetKind) -> &'static str {
    match k {
        TargetKind::Service => "service",
        TargetKind::CronJob => "cron-job",
    }
}

fn decode(id: i64, record: &str) -> Result<FixView> {
    let mut v: FixView =
        serde_json::from_str(record).map_err(|e| StoreError::Corrupt(format!("fix {id}: {e}")))?;
    v.id = id.to_string();
    Ok(v)
}

fn encode(v: &FixView) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode a fix: {e}")))
}

fn parse_id(id: &str) -> Option<i64> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

impl Store {
    /// Records a new fix; answers its id (the record's own `id` is ignored).
    pub async fn insert_fix(&self, fix: &FixView) -> Result<String> {
        let done = sqlx::query(
            "INSERT INTO fixes (target_kind, target, status, created_at, updated_at, record)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(kind_str(fix.target))
        .bind(&fix.name)
        .bind(fix.status.as_str())
        .bind(&fix.created_at)
        .bind(&fix.updated_at)
        .bind(encode(fix)?)
        .execute(&self.pool)
        .await?;
        Ok(done.last_insert_rowid().to_string())
    }

    pub async fn save_fix(&self, fix: &FixView) -> Result<()> {
        let id =
            parse_id(&fix.id).ok_or_else(|| StoreError::Corrupt(format!("fix id {:?}", fix.id)))?;
        sqlx::query("UPDATE fixes SET status = ?, updated_at = ?, record = ? WHERE id = ?")
            .bind(fix.status.as_str())
            .bind(&fix.updated_at)
            .bind(encode(fix)?)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn get_fix(&self, id: &str) -> Result<Option<FixView>> {
        let Some(id) = parse_id(id) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT id, record FROM fixes WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(r.get("id"), &r.get::<String, _>("record")))
            .transpose()
    }

    /// A target's fixes, newest first.
    pub async fn list_fixes(
        &self,
        kind: TargetKind,
        name: &str,
        limit: u32,
    ) -> Result<Vec<FixView>> {
        let rows = sqlx::query(
            "SELECT id, record FROM fixes WHERE target_kind = ? AND target = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(kind_str(kind))
        .bind(name)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| decode(r.get("id"), &r.get::<String, _>("record")))
            .collect()
    }

    /// Fixes a previous daemon left in a running state (`diagnosing`, `applying`, `verifying`).
    pub async fn unfinished_fixes(&self) -> Result<Vec<FixView>> {
        let rows = sqlx::query(
            "SELECT id, record FROM fixes WHERE status IN ('diagnosing', 'applying', 'verifying') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| decode(r.get("id"), &r.get::<String, _>("record")))
            .collect()
    }
}
