//! A small persistent key-value store private to the plugin, kept by the daemon across restarts.

use crate::bindings::tend::plugin::kv as host;

pub fn get(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}

/// Fails when the key or value exceeds the plugin's limits.
pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
    host::set(key, value)
}

pub fn delete(key: &str) {
    host::delete(key);
}
