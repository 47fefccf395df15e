//! Calling `proxy-config` plugins: `PluginHost::generate` (as `check` is for probes) and the plain data
//! its callers see, so that nothing outside `plugins` names a WIT type.

use std::time::Duration;

use wasmtime::Store;

use super::PluginHost;
use super::bindings::{World, proxy_config as wit};
use super::loader::Exports;
use super::outcome::Outcome;
use super::sandbox::CallState;

/// One exposed service, as a `proxy-config` plugin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProxyService {
    pub name: String,
    pub upstream_host: String,
    pub upstream_port: u16,
    pub subdomain: Option<String>,
    pub path: Option<String>,
    /// `healthy`, `unhealthy` or `unknown`.
    pub health: &'static str,
    pub headers: Vec<(String, String)>,
}

/// What a `proxy-config` plugin generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The proxy's native JSON (not yet parsed: the caller checks its shape).
    pub config_json: String,
    /// The human-readable rendering (a Caddyfile for the built-in generator).
    pub rendered: String,
}

impl PluginHost {
    /// Calls `generate` of a `proxy-config` plugin with the exposed services and the settings JSON.
    /// Never blocks the async runtime; never panics.
    pub async fn generate(
        &self,
        plugin: &str,
        services: &[ProxyService],
        settings_json: String,
    ) -> Outcome<ProxyConfig> {
        let services: Vec<wit::ExposedService> = services
            .iter()
            .map(|s| wit::ExposedService {
                name: s.name.clone(),
                upstream_host: s.upstream_host.clone(),
                upstream_port: s.upstream_port,
                subdomain: s.subdomain.clone(),
                path: s.path.clone(),
                health: s.health.to_string(),
                headers: s.headers.clone(),
            })
            .collect();
        let settings = wit::Settings {
            json: settings_json,
        };
        let (outcome, _) = self
            .call_export(
                plugin,
                World::ProxyConfig,
                Duration::MAX,
                None,
                None,
                |p, _| {
                    let Exports::ProxyConfig(pre) = &p.exports else {
                        return None;
                    };
                    let pre = pre.clone();
                    Some(move |mut store: Store<CallState>| async move {
                        let generator = pre.instantiate_async(&mut store).await?;
                        let generated = generator
                            .call_generate(&mut store, &services, &settings)
                            .await?;
                        Ok(match generated {
                            Ok(g) => Outcome::Ok(ProxyConfig {
                                config_json: g.config_json,
                                rendered: g.rendered,
                            }),
                            Err(message) => Outcome::PluginError(message),
                        })
                    })
                },
            )
            .await;
        outcome
    }
}
