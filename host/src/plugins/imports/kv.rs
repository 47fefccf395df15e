//! `tend:plugin/kv`: each plugin's private key-value store, kept in the daemon's SQLite store under
//! the plugin's name (a user plugin overriding a built-in shares its data). Bounded in key length,
//! value size and key count.

use crate::plugins::bindings::host::tend::plugin::kv;
use crate::plugins::sandbox::CallState;

const MAX_KEY_BYTES: usize = 256;
const MAX_VALUE_BYTES: usize = 64 * 1024;
const MAX_KEYS: u32 = 1024;

impl kv::Host for CallState {
    async fn get(&mut self, key: String) -> Option<Vec<u8>> {
        match self
            .ctx
            .shared
            .store
            .plugin_kv_get(&self.ctx.plugin, &key)
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(target: "plugin", plugin = %self.ctx.plugin, error = %e, "kv get failed");
                None
            }
        }
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(format!("keys must be 1..={MAX_KEY_BYTES} bytes"));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("values must be at most {MAX_VALUE_BYTES} bytes"));
        }
        match self
            .ctx
            .shared
            .store
            .plugin_kv_set(&self.ctx.plugin, &key, &value, MAX_KEYS)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("the plugin already has {MAX_KEYS} keys")),
            Err(e) => {
                tracing::error!(target: "plugin", plugin = %self.ctx.plugin, error = %e, "kv set failed");
                Err("the daemon's store failed; see its log".into())
            }
        }
    }

    async fn delete(&mut self, key: String) {
        if let Err(e) = self
            .ctx
            .shared
            .store
            .plugin_kv_delete(&self.ctx.plugin, &key)
            .await
        {
            tracing::error!(target: "plugin", plugin = %self.ctx.plugin, error = %e, "kv delete failed");
        }
    }
}
