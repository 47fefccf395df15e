//! `PluginSettings`: what the daemon allows plugins at most (the `[plugins]` table of `tend.toml`).
//! Plain data with the contract's defaults; narrowing a plugin's grants with it is `grants`' job.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// Hosts any plugin may reach through `http`/`net`: `host` or `host:port`.
    pub allow_hosts: Vec<String>,
    /// Directories (and what is below them) plugins may be given read-only.
    pub allow_paths: Vec<PathBuf>,
    /// Daemon environment variables plugins may be given.
    pub allow_env: Vec<String>,
    /// Ceiling for a manifest's `limits.memory_mb`.
    pub max_memory_mb: u64,
    /// Ceiling for a manifest's `limits.timeout_ms` (and for every call's timeout).
    pub max_timeout_ms: u64,
    /// Traps in a row (timeouts and out-of-memory included) after which a plugin is suspended.
    pub suspend_after_traps: u32,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            allow_hosts: vec!["127.0.0.1".into(), "::1".into(), "localhost".into()],
            allow_paths: Vec::new(),
            allow_env: Vec::new(),
            max_memory_mb: 256,
            max_timeout_ms: 60_000,
            suspend_after_traps: 3,
        }
    }
}
