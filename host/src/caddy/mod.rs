//! The Caddy integration: keeps Caddy's configuration in step with the exposed services. One task
//! watches the supervisor (services created, updated or removed; lifecycle and health events), builds
//! the list of exposed services, has the `proxy-config` plugin generate the configuration, and applies
//! it through Caddy's admin API (`admin`) when it differs from the last applied one; then writes the
//! readable rendering to `CADDY_SUPERVISOR_FILE`. A failure (generator error, Caddy unreachable or
//! rejecting) leaves the last good configuration in force, is reported in the status and as an event
//! of each exposed service, and is retried with exponential backoff. While no service is exposed, the
//! integration is idle: it never contacts Caddy unless `[caddy] enabled = true`, an earlier run left
//! its rendering behind, or someone asks for a reload.
//!
//! It knows nothing of HTTP routes (`api/caddy.rs`) and never touches wasmtime (`PluginHost::generate`).

mod admin;
mod settings;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

pub use settings::{CaddyFile, CaddySettings};

use crate::events::{Bus, Note};
use crate::plugins::{Outcome, PluginHost, ProxyService};
use crate::store::{fmt_time, now_rfc3339};
use crate::supervisor::Supervisor;
use crate::wire::{
    CaddyConfigView, CaddyEvent, CaddyService, CaddyState, CaddyStatus, EventKind, HealthState,
    Payload, ServiceView, Status, Topic,
};
use admin::{Admin, Plan};

/// Quiet time after a change before generating: a burst of transitions becomes one apply.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// How often an applied configuration is checked to still be in Caddy (it forgets it on a restart).
const VERIFY_EVERY: Duration = Duration::from_secs(30);

/// Why a reload did not apply.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the Caddy integration is disabled ([caddy] enabled = false / CADDY_ENABLED=false)")]
    Disabled,
    #[error("{0}")]
    Failed(String),
}

/// Handle to the integration; cheap to clone.
#[derive(Clone)]
pub struct Caddy {
    inner: Arc<Inner>,
}

struct Inner {
    settings: CaddySettings,
    sup: Supervisor,
    bus: Bus,
    plugins: PluginHost,
    admin: Admin,
    state: Mutex<State>,
    /// One generate-and-apply at a time (the task's and `reload`'s).
    applying: tokio::sync::Mutex<()>,
    stop: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    active: bool,
    /// The document Caddy last accepted, its rendering, and the inputs it came from.
    applied: Option<(Value, String, Vec<ProxyService>)>,
    /// Inputs of the last failed attempt (a retry before the backoff ends needs new inputs).
    failed_inputs: Option<Vec<ProxyService>>,
    last_applied_at: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    failures: u32,
    next_retry: Option<(Instant, SystemTime)>,
    next_verify: Option<Instant>,
}

/// What one generation produced.
struct Generated {
    plan: Plan,
    doc: Value,
    caddyfile: String,
}

impl Caddy {
    /// Starts the integration's task. Contacts nothing until there is something to do.
    pub fn start(
        settings: CaddySettings,
        sup: Supervisor,
        plugins: PluginHost,
        bus: Bus,
    ) -> anyhow::Result<Caddy> {
        let admin = Admin::new(&settings.admin_url)?;
        let state = State {
            active: settings.enabled == Some(true)
                || (settings.enabled.is_none() && settings.supervisor_file.exists()),
            ..State::default()
        };
        let caddy = Caddy {
            inner: Arc::new(Inner {
                settings,
                sup,
                plugins,
                bus,
                admin,
                state: Mutex::new(state),
                applying: tokio::sync::Mutex::new(()),
                stop: Notify::new(),
                task: Mutex::new(None),
            }),
        };
        let task = tokio::spawn(caddy.clone().run());
        *caddy.inner.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(caddy)
    }

    pub async fn shutdown(&self) {
        self.inner.stop.notify_one();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run(self) {
        let mut changes = self.inner.sup.watch_changes();
        let mut events = self.inner.bus.subscribe();
        loop {
            if self.refresh_active() {
                self.sync(false).await.ok();
            }
            let (retry, verify) = {
                let st = self.state();
                (st.next_retry.map(|(at, _)| at), st.next_verify)
            };
            let sleep_until = |at: Option<Instant>| async move {
                match at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            // Resource samples (a `metrics` event per service per sample) change nothing here: they
            // do not wake the loop.
            let woken = loop {
                tokio::select! {
                    _ = self.inner.stop.notified() => break false,
                    changed = changes.changed() => break changed.is_ok(),
                    event = events.recv() => match event {
                        Ok(e) if e.topic() == Topic::Metrics => continue,
                        Err(broadcast::error::RecvError::Closed) => break false,
                        _ => break true,
                    },
                    _ = sleep_until(retry) => break true,
                    _ = sleep_until(verify) => {
                        self.verify().await;
                        break true;
                    }
                }
            };
            if !woken {
                break;
            }
            tokio::time::sleep(DEBOUNCE).await;
            while !matches!(
                events.try_recv(),
                Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed)
            ) {}
            changes.borrow_and_update();
        }
    }

    /// Whether the integration may contact Caddy; becomes true for good once a service is exposed.
    fn refresh_active(&self) -> bool {
        match self.inner.settings.enabled {
            Some(false) => false,
            Some(true) => true,
            None => {
                let exposed = self
                    .inner
                    .sup
                    .list()
                    .iter()
                    .any(|v| v.spec.expose_caddy && v.spec.port.is_some());
                let mut st = self.state();
                st.active |= exposed;
                st.active
            }
        }
    }

    /// The exposed services, sorted by name, as the generator sees them.
    fn exposed(&self) -> Vec<ProxyService> {
        let mut out: Vec<ProxyService> = self
            .inner
            .sup
            .list()
            .iter()
            .filter_map(proxy_service)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    async fn generate(&self, services: &[ProxyService]) -> Result<Generated, String> {
        let s = &self.inner.settings;
        let outcome = self
            .inner
            .plugins
            .generate(&s.plugin, services, s.generator_json().to_string())
            .await;
        let out = match outcome {
            Outcome::Ok(out) => out,
            Outcome::NotFound => {
                return Err(format!(
                    "generator plugin {:?} is not loaded (see GET /api/plugins)",
                    s.plugin
                ));
            }
            other => return Err(format!("generator plugin {:?}: {other}", s.plugin)),
        };
        let (plan, doc) = Plan::from_generated(&out.config_json)?;
        Ok(Generated {
            plan,
            doc,
            caddyfile: out.rendered,
        })
    }

    /// Generates and applies if the inputs changed (or always with `force`); answers what it did.
    async fn sync(&self, force: bool) -> Result<String, String> {
        let _one = self.inner.applying.lock().await;
        let services = self.exposed();
        if !force {
            let st = self.state();
            let pending_retry = st.next_retry.is_some_and(|(at, _)| Instant::now() < at);
            if st.failures == 0 && st.applied.as_ref().is_some_and(|a| a.2 == services) {
                return Ok("unchanged".into());
            }
            if st.failures > 0 && pending_retry && st.failed_inputs.as_ref() == Some(&services) {
                return Ok("waiting for the retry".into());
            }
        }
        let generated = match self.generate(&services).await {
            Ok(g) => g,
            Err(e) => return Err(self.failed(e, services)),
        };
        let unchanged = self
            .state()
            .applied
            .as_ref()
            .is_some_and(|a| a.0 == generated.doc);
        let action = if unchanged && !force {
            "unchanged".to_string()
        } else {
            match self
                .inner
                .admin
                .apply(&generated.plan, self.inner.settings.port)
                .await
            {
                Ok(action) => action,
                Err(e) => return Err(self.failed(e.to_string(), services)),
            }
        };
        let file_error = write_atomically(
            &self.inner.settings.supervisor_file,
            generated.caddyfile.as_bytes(),
        )
        .await
        .err();
        self.succeeded(generated, services, file_error);
        if action != "unchanged" {
            tracing::info!(target: "caddy", %action, "proxy config applied");
            self.published("applied", None);
        }
        Ok(action)
    }

    fn succeeded(&self, g: Generated, services: Vec<ProxyService>, file_error: Option<String>) {
        let recovered_after = {
            let mut st = self.state();
            let failures = st.failures;
            st.applied = Some((g.doc, g.caddyfile, services.clone()));
            st.last_applied_at = Some(now_rfc3339());
            st.failures = 0;
            st.failed_inputs = None;
            st.next_retry = None;
            st.next_verify = Some(Instant::now() + VERIFY_EVERY);
            if let Some(e) = &file_error {
                st.last_error = Some(e.clone());
                st.last_error_at = Some(now_rfc3339());
            }
            failures
        };
        if let Some(e) = file_error {
            tracing::warn!(target: "caddy", error = %e, "cannot write the Caddyfile rendering");
        }
        if recovered_after > 0 {
            for s in &services {
                self.note(
                    &s.name,
                    format!(
                        "caddy: proxy config applied after {recovered_after} failed attempt(s)"
                    ),
                );
            }
        }
    }

    /// A `caddy` event of an exposed service, with its status at the time.
    fn note(&self, service: &str, reason: String) {
        if let Some(status) = self.inner.sup.status_of(service) {
            self.inner
                .bus
                .note(service, status, EventKind::Caddy, Note::reason(reason));
        }
    }

    /// The daemon-wide `caddy` event of an attempt that changed something or failed.
    fn published(&self, result: &str, error: Option<String>) {
        let services = self.exposed().into_iter().map(|s| s.name).collect();
        self.inner.bus.publish(Payload::Caddy(CaddyEvent {
            time: now_rfc3339(),
            result: result.into(),
            services,
            error,
        }));
    }

    /// Records a failed attempt and schedules the retry; returns the error.
    fn failed(&self, error: String, services: Vec<ProxyService>) -> String {
        let first = {
            let mut st = self.state();
            st.failures += 1;
            let delay = self.inner.settings.retry_delay(st.failures);
            st.next_retry = Some((Instant::now() + delay, SystemTime::now() + delay));
            st.next_verify = None;
            st.last_error = Some(error.clone());
            st.last_error_at = Some(now_rfc3339());
            st.failed_inputs = Some(services.clone());
            st.failures == 1
        };
        tracing::warn!(target: "caddy", %error, "proxy config not applied; the last good one stays in force");
        self.published("failed", Some(error.clone()));
        if first {
            for s in &services {
                self.note(
                    &s.name,
                    format!(
                        "caddy: proxy config not applied (the last good one stays in force; retrying): {error}"
                    ),
                );
            }
        }
        error
    }

    /// Checks that Caddy still runs tend's route group (a restarted Caddy forgets it); re-applies if not.
    async fn verify(&self) {
        let expected = match &self.state().applied {
            Some((doc, ..)) => doc["route"].clone(),
            None => return,
        };
        self.state().next_verify = Some(Instant::now() + VERIFY_EVERY);
        match self.inner.admin.current_group().await {
            Ok(Some(current)) if current == expected => {}
            Ok(_) => {
                tracing::info!(target: "caddy", "tend's route group is missing or changed in Caddy; re-applying");
                self.sync(true).await.ok();
            }
            Err(e) => {
                let services = self.exposed();
                self.failed(e.to_string(), services);
            }
        }
    }

    /// `POST /api/caddy/reload`: generate and apply now, even if nothing changed.
    pub async fn reload(&self) -> Result<String, ReloadError> {
        if self.inner.settings.enabled == Some(false) {
            return Err(ReloadError::Disabled);
        }
        self.state().active = true;
        self.sync(true).await.map_err(ReloadError::Failed)
    }

    /// `GET /api/caddy/config`: what would be applied now, next to what was applied last.
    pub async fn view(&self) -> CaddyConfigView {
        let services = self.exposed();
        let generated = self.generate(&services).await;
        let applied = self.state().applied.as_ref().map(|a| a.0.clone());
        let (config, caddyfile, error) = match generated {
            Ok(g) => (Some(g.doc), Some(g.caddyfile), None),
            Err(e) => (None, None, Some(e)),
        };
        CaddyConfigView {
            plugin: self.inner.settings.plugin.clone(),
            settings: self.inner.settings.generator_json(),
            services: services.iter().map(wire_service).collect(),
            in_sync: config.is_some() && config == applied,
            config,
            caddyfile,
            error,
            applied,
            status: self.status(),
        }
    }

    /// The routes tend gives the services named in `names` (those of them that are exposed) and the
    /// generator's settings: `settings` and `services` of `GET /api/caddy/config`, narrowed to
    /// `names` (what an export carries over).
    pub fn routes_of(&self, names: &dyn Fn(&str) -> bool) -> (Value, Vec<CaddyService>) {
        let services = self
            .exposed()
            .iter()
            .filter(|s| names(&s.name))
            .map(wire_service)
            .collect();
        (self.inner.settings.generator_json(), services)
    }

    pub fn status(&self) -> CaddyStatus {
        let s = &self.inner.settings;
        let exposed = self
            .inner
            .sup
            .list()
            .iter()
            .filter(|v| proxy_service(v).is_some())
            .count();
        let st = self.state();
        let state = if s.enabled == Some(false) {
            CaddyState::Disabled
        } else if st.failures > 0 {
            CaddyState::Failing
        } else if st.applied.is_some() {
            CaddyState::Applied
        } else {
            CaddyState::Idle
        };
        CaddyStatus {
            state,
            admin_url: s.admin_url.clone(),
            plugin: s.plugin.clone(),
            exposed,
            last_applied_at: st.last_applied_at.clone(),
            last_error: st.last_error.clone(),
            last_error_at: st.last_error_at.clone(),
            failures: st.failures,
            next_retry_at: st.next_retry.map(|(_, at)| fmt_time(at.into())),
            supervisor_file: s.supervisor_file.clone(),
        }
    }
}

/// An exposed service (`expose_caddy` with a `port`) as the generator sees it.
fn proxy_service(v: &ServiceView) -> Option<ProxyService> {
    let spec = &v.spec;
    let port = spec.port.filter(|_| spec.expose_caddy)?;
    let subdomain = match (&spec.caddy_subdomain, &spec.caddy_path) {
        (Some(sub), _) => Some(sub.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(spec.name.clone()),
    };
    Some(ProxyService {
        name: spec.name.clone(),
        upstream_host: "127.0.0.1".into(),
        upstream_port: port,
        subdomain,
        path: spec.caddy_path.clone(),
        health: health_of(v.state.status, v.state.health),
        headers: spec
            .caddy_headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// A service that is not running counts as unhealthy (maintenance routing then answers for it); a
/// running one is what its health check says, `unknown` without one.
fn health_of(status: Status, health: Option<HealthState>) -> &'static str {
    match status {
        Status::Running | Status::Starting | Status::Stopping => match health {
            Some(HealthState::Healthy) => "healthy",
            Some(HealthState::Unhealthy) => "unhealthy",
            Some(HealthState::Unknown) | None => "unknown",
        },
        Status::Stopped | Status::Waiting | Status::Backoff | Status::Exited | Status::Fatal => {
            "unhealthy"
        }
    }
}

fn wire_service(s: &ProxyService) -> CaddyService {
    CaddyService {
        name: s.name.clone(),
        upstream: format!("{}:{}", s.upstream_host, s.upstream_port),
        subdomain: s.subdomain.clone(),
        path: s.path.clone(),
        health: s.health.to_string(),
        headers: s.headers.clone(),
    }
}

/// Writes through a temporary file beside the target and a rename, so readers never see half a file.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{}.tmp", name.unwrap_or_default()));
    let result = async {
        tokio::fs::create_dir_all(dir).await?;
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    result.map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_the_check_while_running_and_is_unhealthy_when_down() {
        assert_eq!(health_of(Status::Running, None), "unknown");
        assert_eq!(
            health_of(Status::Running, Some(HealthState::Healthy)),
            "healthy"
        );
        assert_eq!(
            health_of(Status::Running, Some(HealthState::Unhealthy)),
            "unhealthy"
        );
        for down in [
            Status::Stopped,
            Status::Backoff,
            Status::Exited,
            Status::Fatal,
        ] {
            assert_eq!(health_of(down, Some(HealthState::Healthy)), "unhealthy");
        }
    }
}
