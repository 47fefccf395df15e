//! Plugins (list, inspect, reload) and the Caddy integration (what would be applied, apply now).
//! Behaviour is `PluginHost`'s and `Caddy`'s.

use super::{Error, Ops, Result};
use crate::wire::{CaddyConfigView, CaddyReloadReport, PluginInfo, ReloadReport};

impl Ops {
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.plugins.list()
    }

    pub fn plugin(&self, name: &str) -> Result<PluginInfo> {
        self.plugins
            .info(name)
            .ok_or_else(|| Error::not_found(format!("no plugin named {name:?}")))
    }

    /// Rescans the plugin directory; the report names each plugin's outcome.
    pub async fn reload_plugins(&self) -> ReloadReport {
        self.plugins.reload().await
    }

    pub async fn caddy_config(&self) -> CaddyConfigView {
        self.caddy.view().await
    }

    /// Applies now, even when nothing changed. A failure is `unavailable` with the reason (the last
    /// good configuration stays in force and the retry schedule continues); a disabled integration,
    /// `conflict`.
    pub async fn caddy_reload(&self) -> Result<CaddyReloadReport> {
        let action = self.caddy.reload().await?;
        Ok(CaddyReloadReport {
            action,
            status: self.caddy.status(),
        })
    }
}
