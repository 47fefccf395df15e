//! Plugin tables: each plugin's private key-value store (`plugin_kv`) and the ledger of compiled-code
//! cache files the daemon wrote itself (`plugin_cache`). Knows nothing of WebAssembly.

use sqlx::Row;

use super::{Result, Store, now_rfc3339};

impl Store {
    pub async fn plugin_kv_get(&self, plugin: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM plugin_kv WHERE plugin = ?1 AND key = ?2")
            .bind(plugin)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Stores `value` under `key`. Returns `false` (and stores nothing) when `key` is new and the
    /// plugin already has `max_keys` keys; the check and the write are one statement.
    pub async fn plugin_kv_set(
        &self,
        plugin: &str,
        key: &str,
        value: &[u8],
        max_keys: u32,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO plugin_kv (plugin, key, value, updated_at)
             SELECT ?1, ?2, ?3, ?4
             WHERE EXISTS (SELECT 1 FROM plugin_kv WHERE plugin = ?1 AND key = ?2)
                OR (SELECT COUNT(*) FROM plugin_kv WHERE plugin = ?1) < ?5
             ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(plugin)
        .bind(key)
        .bind(value)
        .bind(now_rfc3339())
        .bind(max_keys)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn plugin_kv_delete(&self, plugin: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM plugin_kv WHERE plugin = ?1 AND key = ?2")
            .bind(plugin)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that the daemon wrote cache file `file` (a name inside the cache dir) with this content hash.
    pub async fn plugin_cache_record(&self, file: &str, sha256: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO plugin_cache (file, sha256, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (file) DO UPDATE SET sha256 = excluded.sha256, created_at = excluded.created_at",
        )
        .bind(file)
        .bind(sha256)
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The content hash recorded for cache file `file`, if the daemon wrote it.
    pub async fn plugin_cache_sha256(&self, file: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT sha256 FROM plugin_cache WHERE file = ?1")
            .bind(file)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn kv_is_private_per_plugin_and_bounded_in_keys() {
        let (_dir, s) = store().await;
        assert!(s.plugin_kv_set("a", "k", b"1", 2).await.unwrap());
        assert_eq!(
            s.plugin_kv_get("a", "k").await.unwrap().as_deref(),
            Some(&b"1"[..])
        );
        assert_eq!(s.plugin_kv_get("b", "k").await.unwrap(), None);
        assert!(s.plugin_kv_set("a", "k2", b"2", 2).await.unwrap());
        assert!(
            !s.plugin_kv_set("a", "k3", b"3", 2).await.unwrap(),
            "third key refused"
        );
        assert!(
            s.plugin_kv_set("a", "k", b"new", 2).await.unwrap(),
            "overwrite allowed when full"
        );
        assert_eq!(
            s.plugin_kv_get("a", "k").await.unwrap().as_deref(),
            Some(&b"new"[..])
        );
        s.plugin_kv_delete("a", "k").await.unwrap();
        assert_eq!(s.plugin_kv_get("a", "k").await.unwrap(), None);
        assert!(
            s.plugin_kv_set("a", "k3", b"3", 2).await.unwrap(),
            "room again after delete"
        );
    }

    #[tokio::test]
    async fn cache_ledger_round_trips() {
        let (_dir, s) = store().await;
        assert_eq!(s.plugin_cache_sha256("x.cwasm").await.unwrap(), None);
        s.plugin_cache_record("x.cwasm", "aa").await.unwrap();
        s.plugin_cache_record("x.cwasm", "bb").await.unwrap();
        assert_eq!(
            s.plugin_cache_sha256("x.cwasm").await.unwrap().as_deref(),
            Some("bb")
        );
    }
}
