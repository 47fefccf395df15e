//! Calling `proxy-config` plugins: `PluginHost::generate` (as `check` is for probes) and the plain data
//! its callers see, so that nothing outside `plugins` names a WIT type.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::bindings::proxy_config as wit;
use super::loader::Exports;
use super::outcome::{self, Outcome};
use super::sandbox::CallCtx;
use super::{PluginHost, call};

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
        if self.inner.closed.load(Ordering::Relaxed) {
            return Outcome::NotFound;
        }
        let Some(p) = self.inner.registry.get(plugin) else {
            return Outcome::NotFound;
        };
        let Exports::ProxyConfig(pre) = &p.exports else {
            return Outcome::WrongWorld(format!(
                "plugin {plugin} implements world `{}`, not `proxy-config`",
                p.world.name()
            ));
        };
        {
            let mut stats = p.stats.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(until) = stats.suspended(SystemTime::now()) {
                stats.record_refused();
                return Outcome::Suspended { until };
            }
        }
        let Ok(_slot) = self.inner.slots.acquire().await else {
            return Outcome::NotFound;
        };
        let started = Instant::now();
        let ctx = CallCtx {
            plugin: p.name.clone(),
            grants: p.grants.clone(),
            target: None,
            deadline: started + Duration::from_millis(p.limits.timeout_ms),
            memory_mb: p.limits.memory_mb,
            max_response_bytes: p.limits.max_response_bytes,
            shared: self.inner.shared.clone(),
        };
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
        let pre = pre.clone();
        let (result, trace) = call::guarded(
            &self.inner.runtime.handle,
            &self.inner.engine,
            ctx,
            move |mut store| async move {
                let generator = pre.instantiate_async(&mut store).await?;
                generator
                    .call_generate(&mut store, &services, &settings)
                    .await
            },
        )
        .await;
        let latency = started.elapsed();
        trace.emit_output(plugin);
        let outcome = match result {
            Ok(Ok(g)) => Outcome::Ok(ProxyConfig {
                config_json: g.config_json,
                rendered: g.rendered,
            }),
            Ok(Err(message)) => Outcome::PluginError(message),
            Err(f) => outcome::classify(f),
        };
        self.record(&p, &outcome, latency, &trace.denials());
        outcome
    }
}
