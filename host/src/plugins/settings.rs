//! `PluginSettings`: what the daemon allows plugins at most (the `[plugins]` table of `tend.toml`).
//! Plain data with the contract's defaults; narrowing a plugin's grants with it is `grants`' job.

use std::path::PathBuf;

use serde::Deserialize;

use super::pattern::HostPattern;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginSettings {
    /// Hosts any plugin may reach through `http`/`net` besides its `$target`: `host` or `host:port`.
    /// None by default: a probe reaches the service it checks (`$target`) and nothing else.
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
    /// Ports no plugin may connect to on any host, whatever the grants say: tend's own API and control
    /// ports and Caddy's admin API. Filled in by the daemon once it has bound them; not a file key.
    #[serde(skip)]
    pub reserved_ports: Vec<u16>,
}

impl PluginSettings {
    /// Rejects entries that could never match, so a typo does not silently allow nothing.
    pub fn validate(&self) -> Result<(), String> {
        for h in &self.allow_hosts {
            HostPattern::parse(h).map_err(|e| format!("plugins.allow_hosts: {e}"))?;
        }
        if let Some(p) = self.allow_paths.iter().find(|p| !p.is_absolute()) {
            return Err(format!(
                "plugins.allow_paths: {} is not absolute",
                p.display()
            ));
        }
        if self.max_memory_mb == 0 || self.max_timeout_ms == 0 {
            return Err("plugins.max_memory_mb and plugins.max_timeout_ms must be positive".into());
        }
        Ok(())
    }
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            allow_hosts: Vec::new(),
            allow_paths: Vec::new(),
            allow_env: Vec::new(),
            max_memory_mb: 256,
            max_timeout_ms: 60_000,
            suspend_after_traps: 3,
            reserved_ports: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_typos_are_not() {
        assert_eq!(PluginSettings::default().validate(), Ok(()));
        let bad = PluginSettings {
            allow_hosts: vec!["localhost:http".into()],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("plugins.allow_hosts"));
        let rel = PluginSettings {
            allow_paths: vec!["etc".into()],
            ..Default::default()
        };
        assert!(rel.validate().unwrap_err().contains("not absolute"));
        let zero = PluginSettings {
            max_timeout_ms: 0,
            ..Default::default()
        };
        assert!(zero.validate().is_err());
        let parsed: PluginSettings = toml::from_str("allow_env = [\"HOME\"]").unwrap();
        assert_eq!(
            parsed,
            PluginSettings {
                allow_env: vec!["HOME".into()],
                ..Default::default()
            }
        );
    }
}
