//! Calling `command-policy` plugins: `PluginHost::evaluate_policy` (as `check` is for probes) and the
//! plain data its callers see, so that nothing outside `plugins` names a WIT type.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use super::bindings::command_policy as wit;
use super::loader::Exports;
use super::outcome::{self, Outcome};
use super::sandbox::CallCtx;
use super::{PluginHost, call};

/// One question to a `command-policy` plugin (the WIT `command-request`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRequest {
    pub argv: Vec<String>,
    pub shell: Option<String>,
    pub command_type: String,
    pub cwd: String,
    pub service: String,
    pub environment: String,
    pub production: bool,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub allow_unsafe: bool,
    pub vars: Vec<(String, String)>,
    pub origin: String,
}

/// A `command-policy` plugin's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyAnswer {
    Allow,
    Deny(String),
}

/// The answer and the version (manifest `version`) of the plugin that gave it, when one was loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyCall {
    pub outcome: Outcome<PolicyAnswer>,
    pub version: Option<String>,
}

impl PluginHost {
    /// Calls `evaluate` of a `command-policy` plugin, within `timeout` (and the plugin's own
    /// `limits.timeout_ms`). Never blocks the async runtime; never panics.
    pub async fn evaluate_policy(
        &self,
        plugin: &str,
        request: PolicyRequest,
        timeout: Duration,
    ) -> PolicyCall {
        let refused = |outcome| PolicyCall {
            outcome,
            version: None,
        };
        if self.inner.closed.load(Ordering::Relaxed) {
            return refused(Outcome::NotFound);
        }
        let Some(p) = self.inner.registry.get(plugin) else {
            return refused(Outcome::NotFound);
        };
        let version = Some(p.manifest.version.clone());
        let Exports::CommandPolicy(pre) = &p.exports else {
            return PolicyCall {
                outcome: Outcome::WrongWorld(format!(
                    "plugin {plugin} implements world `{}`, not `command-policy`",
                    p.world.name()
                )),
                version,
            };
        };
        {
            let mut stats = p.stats.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(until) = stats.suspended(SystemTime::now()) {
                stats.record_refused();
                return PolicyCall {
                    outcome: Outcome::Suspended { until },
                    version,
                };
            }
        }
        let timeout = timeout.min(Duration::from_millis(p.limits.timeout_ms));
        // The budget starts once a pooled instance is free.
        let Ok(_slot) = self.inner.slots.acquire().await else {
            return refused(Outcome::NotFound);
        };
        let started = Instant::now();
        let ctx = CallCtx {
            plugin: p.name.clone(),
            grants: p.grants.clone(),
            target: None,
            deadline: started + timeout,
            memory_mb: p.limits.memory_mb,
            max_response_bytes: p.limits.max_response_bytes,
            shared: self.inner.shared.clone(),
        };
        let wit_request = wit::CommandRequest {
            argv: request.argv,
            shell: request.shell,
            command_type: request.command_type,
            cwd: request.cwd,
            service: request.service,
            environment: request.environment,
            production: request.production,
            is_safe: request.is_safe,
            allowed_in_production: request.allowed_in_production,
            allow_unsafe: request.allow_unsafe,
            vars: request.vars,
            origin: request.origin,
        };
        let pre = pre.clone();
        let (result, trace) = call::guarded(
            &self.inner.runtime.handle,
            &self.inner.engine,
            ctx,
            move |mut store| async move {
                let policy = pre.instantiate_async(&mut store).await?;
                policy.call_evaluate(&mut store, &wit_request).await
            },
        )
        .await;
        let latency = started.elapsed();
        trace.emit_output(plugin);
        let outcome = match result {
            Ok(wit::Decision::Allow) => Outcome::Ok(PolicyAnswer::Allow),
            Ok(wit::Decision::Deny(reason)) => Outcome::Ok(PolicyAnswer::Deny(reason)),
            Err(f) => outcome::classify(f),
        };
        self.record(&p, &outcome, latency, &trace.denials());
        PolicyCall { outcome, version }
    }
}
