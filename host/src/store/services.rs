//! Service definitions and their last known runtime.

use sqlx::Row;

use super::{Result, Store, StoreError, now_rfc3339};
use crate::wire::{ServiceSpec, Source};

#[derive(Clone, Debug)]
pub struct StoredService {
    pub spec: ServiceSpec,
    pub source: Source,
}

/// What the daemon last recorded about a service's process, used to find leftovers after a crash.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeRecord {
    pub service: String,
    pub status: String,
    pub pid: Option<u32>,
    pub pid_start: Option<u64>,
    pub instance: Option<String>,
    pub restart_count: u32,
}

fn source_str(s: Source) -> &'static str {
    match s {
        Source::Api => "api",
        Source::Config => "config",
    }
}

fn parse_row(name: String, spec: String, source: String) -> Result<StoredService> {
    let spec: ServiceSpec = serde_json::from_str(&spec)
        .map_err(|e| StoreError::Corrupt(format!("service {name}: {e}")))?;
    let source = match source.as_str() {
        "config" => Source::Config,
        _ => Source::Api,
    };
    Ok(StoredService { spec, source })
}

impl Store {
    pub async fn list_services(&self) -> Result<Vec<StoredService>> {
        let rows = sqlx::query("SELECT name, spec, source FROM services ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| parse_row(r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    pub async fn get_service(&self, name: &str) -> Result<Option<StoredService>> {
        let row = sqlx::query("SELECT name, spec, source FROM services WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| parse_row(r.get(0), r.get(1), r.get(2)))
            .transpose()
    }

    /// Inserts a new service; returns false (and changes nothing) if the name is taken.
    pub async fn insert_service(&self, spec: &ServiceSpec, source: Source) -> Result<bool> {
        let now = now_rfc3339();
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done = sqlx::query(
            "INSERT INTO services (name, spec, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
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

    /// Makes the stored `config` services the file's, in one transaction (a boot with many services
    /// pays for one commit, not one per service): each of `specs` is inserted or, when its stored
    /// definition or source differs, replaced (an unchanged row is not written); `config` services
    /// not among them are removed with their runtime records. Answers the names removed.
    pub async fn reconcile_config_services(&self, specs: &[ServiceSpec]) -> Result<Vec<String>> {
        let now = now_rfc3339();
        let mut tx = self.pool.begin().await?;
        for spec in specs {
            let json =
                serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO services (name, spec, source, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, source = excluded.source,
                 updated_at = excluded.updated_at
                 WHERE services.spec IS NOT excluded.spec OR services.source IS NOT excluded.source",
            )
            .bind(&spec.name)
            .bind(json)
            .bind(source_str(Source::Config))
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        let stored: Vec<String> = sqlx::query_scalar("SELECT name FROM services WHERE source = ?")
            .bind(source_str(Source::Config))
            .fetch_all(&mut *tx)
            .await?;
        let mut removed = Vec::new();
        for name in stored {
            if specs.iter().any(|s| s.name == name) {
                continue;
            }
            for sql in [
                "DELETE FROM services WHERE name = ?",
                "DELETE FROM runtime WHERE service = ?",
            ] {
                sqlx::query(sql).bind(&name).execute(&mut *tx).await?;
            }
            removed.push(name);
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Replaces the definition of an existing service; `false` when there is none. Never inserts: a
    /// replace racing a delete cannot bring the deleted row back.
    pub async fn update_service(&self, spec: &ServiceSpec, source: Source) -> Result<bool> {
        let json = serde_json::to_string(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let done =
            sqlx::query("UPDATE services SET spec = ?, source = ?, updated_at = ? WHERE name = ?")
                .bind(json)
                .bind(source_str(source))
                .bind(now_rfc3339())
                .bind(&spec.name)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_service(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM services WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM runtime WHERE service = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a service's runtime state (a full disk spools it, `full.rs`).
    pub async fn save_runtime(&self, r: &RuntimeRecord) -> Result<()> {
        self.store_runtime(r).await
    }

    pub(super) async fn save_runtime_row(&self, r: &RuntimeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO runtime (service, status, pid, pid_start, instance, restart_count, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (service) DO UPDATE SET status = excluded.status, pid = excluded.pid,
             pid_start = excluded.pid_start, instance = excluded.instance,
             restart_count = excluded.restart_count,
             updated_at = excluded.updated_at",
        )
        .bind(&r.service)
        .bind(&r.status)
        .bind(r.pid.map(i64::from))
        .bind(r.pid_start.map(|v| v as i64))
        .bind(&r.instance)
        .bind(i64::from(r.restart_count))
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn list_runtime(&self) -> Result<Vec<RuntimeRecord>> {
        let rows = sqlx::query(
            "SELECT service, status, pid, pid_start, instance, restart_count FROM runtime",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| RuntimeRecord {
                service: r.get(0),
                status: r.get(1),
                pid: r.get::<Option<i64>, _>(2).map(|v| v as u32),
                pid_start: r.get::<Option<i64>, _>(3).map(|v| v as u64),
                instance: r.get(4),
                restart_count: r.get::<i64, _>(5) as u32,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, command: &str) -> ServiceSpec {
        serde_json::from_value(serde_json::json!({"name": name, "command": command})).unwrap()
    }

    async fn row(s: &Store, name: &str) -> Option<(String, String, String)> {
        sqlx::query_as("SELECT spec, source, updated_at FROM services WHERE name = ?")
            .bind(name)
            .fetch_optional(&s.pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn reconciling_writes_what_changed_and_removes_what_left_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).await.unwrap();
        assert!(
            s.insert_service(&spec("api", "a"), Source::Api)
                .await
                .unwrap()
        );
        let first = [spec("web", "w"), spec("old", "o"), spec("api", "f")];
        assert!(
            s.reconcile_config_services(&first)
                .await
                .unwrap()
                .is_empty()
        );
        let (_, source, _) = row(&s, "api").await.unwrap();
        assert_eq!(source, "config", "the file wins over an API service");
        s.save_runtime(&RuntimeRecord {
            service: "old".into(),
            status: "stopped".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let (_, _, web_at) = row(&s, "web").await.unwrap();
        let (_, _, api_at) = row(&s, "api").await.unwrap();

        let second = [spec("web", "w"), spec("api", "f2")];
        let removed = s.reconcile_config_services(&second).await.unwrap();
        assert_eq!(removed, ["old"]);
        assert!(row(&s, "old").await.is_none());
        assert!(
            s.list_runtime().await.unwrap().is_empty(),
            "runtime removed too"
        );
        let (_, _, web_again) = row(&s, "web").await.unwrap();
        assert_eq!(
            web_again, web_at,
            "an unchanged definition is not rewritten"
        );
        let (api_spec, _, api_again) = row(&s, "api").await.unwrap();
        assert!(api_spec.contains("f2"), "{api_spec}");
        assert!(api_again > api_at, "a changed definition is stored");
    }
}
