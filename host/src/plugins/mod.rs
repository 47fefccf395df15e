//! WebAssembly plugins. **Only this module touches wasmtime.** It owns the engine and its epoch
//! ticker, discovery (built-ins embedded in the binary, user plugins in `<data_dir>/plugins`), the
//! compiled-code cache, hot reload, the per-call sandbox and the classification of call outcomes.
//! Callers see `PluginHost` and plain data; a plugin can neither block the caller's runtime nor
//! make a call panic.
//!
//! Map: `bindings` (the one `bindgen!`), `imports/` (one module per host interface), `manifest`,
//! `grants`, `settings`, `discover`, `cache`, `loader`, `registry` (snapshot + reload), `sandbox`
//! (per-call store), `call` (guarded execution), `outcome`, `stats`, `output`, `engine`, `watcher`,
//! `info`, `builtin`, `runtime`, `payload` (precompiled built-ins appended to the executable),
//! `aot` (the hidden commands that precompile them and compile a plugin in a child); one module per world's calls (`policy_call`, `proxy`, `fix_call`,
//! `onboard_call`, `export`)
//! and `agent` (the agent worlds' pool, deadlines and LLM seam).
//!
//! Agent worlds (`fixer`, `onboarder`) wait on models for minutes: their calls take slots from a
//! pool of their own (`agent::AGENT_CALLS`), never from the one probes, policies and proxy
//! generators share, so a health probe never queues behind an LLM call.

mod agent;
mod aot;
mod bindings;
mod builtin;
mod cache;
mod call;
mod discover;
mod engine;
mod export;
mod fix_call;
mod grants;
mod imports;
mod info;
mod loader;
mod manifest;
mod onboard_call;
mod outcome;
mod output;
mod pattern;
mod payload;
mod policy_call;
mod proxy;
mod registry;
mod runtime;
mod sandbox;
mod settings;
mod stats;
mod watcher;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use wasmtime::Engine;

pub use agent::{LlmError, LlmGateway};
pub use aot::{compile_plugin, precompile_builtins, remove_builtins};
pub use export::{ExportInput, Exported};
// Named by the answer checks' tests of `ops/export.rs`; elsewhere reached through `Exported`.
#[cfg(test)]
pub use export::ExportedDocument;
// For the fix engine (`host/src/fix/`), which calls `propose_fix`.
#[allow(unused_imports)]
pub use fix_call::FixCall;
pub use onboard_call::{PlanCall, PlanError, PluginPlan};
// Named by the plan tests of `onboard`; elsewhere reached through `PluginPlan`'s fields.
#[cfg(test)]
pub use onboard_call::{PluginCron, PluginService, PluginSetup};
pub use outcome::{Health, Outcome, ProbeTarget};
pub use policy_call::{PolicyAnswer, PolicyRequest};
pub use proxy::ProxyService;
pub use settings::PluginSettings;

use crate::store::Store;
use crate::wire::{PluginAction, PluginEvent, PluginInfo, ReloadAction, ReloadReport};
use bindings::World;
use bindings::host::tend::plugin::types::Target;
use grants::TargetAddr;
use loader::{Exports, LoadEnv};
use sandbox::{AgentCtx, CallCtx, Shared};
use stats::CallRecord;

/// The plugin host; cheap to clone.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linkers: imports::Linkers,
    cache: cache::Cache,
    settings: PluginSettings,
    shared: Arc<Shared>,
    user_dir: PathBuf,
    registry: registry::Registry,
    runtime: runtime::PluginRuntime,
    ticker: engine::Ticker,
    /// Ends the watcher task.
    stop_watching: Arc<tokio::sync::Notify>,
    /// True once the first load is done: calls wait for it (`PluginHost::loaded`).
    loaded: tokio::sync::watch::Sender<bool>,
    closed: AtomicBool,
    /// One permit per pooled instance: calls beyond the pool wait for a slot instead of failing.
    /// Agent worlds have their own (`agent_slots`); together they never exceed the engine's pool.
    slots: tokio::sync::Semaphore,
    agent_slots: tokio::sync::Semaphore,
    /// The LLM gateway agent calls complete through; `None` until the daemon sets one (`set_llm`).
    llm: RwLock<Option<Arc<dyn LlmGateway>>>,
    /// Loads, rejections, removals and suspensions are published as `plugin` events.
    bus: crate::events::Bus,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_watching.notify_one();
    }
}

impl PluginHost {
    /// Loads built-ins (embedded) and user plugins from `<data_dir>/plugins`, starts the epoch
    /// ticker and the file watcher. Refused plugins are logged and reported by `info`; they do not
    /// stop the start.
    pub async fn start(
        store: Store,
        bus: crate::events::Bus,
        data_dir: &Path,
        settings: PluginSettings,
    ) -> anyhow::Result<PluginHost> {
        let user_dir = data_dir.join("plugins");
        let host = PluginHost::new_in(store, bus, data_dir, user_dir, settings, false)?;
        host.load_in_background();
        host.loaded().await;
        Ok(host)
    }

    /// [`PluginHost::start`] without waiting for the load: the daemon's boot starts services while
    /// the plugins load (compiling them can take seconds on a fresh data dir). Every call of a plugin
    /// waits for the load ([`PluginHost::loaded`]); the daemon waits for it before serving the API,
    /// so `list` and `info` never show a half-loaded host.
    pub fn begin(
        store: Store,
        bus: crate::events::Bus,
        data_dir: &Path,
        settings: PluginSettings,
    ) -> anyhow::Result<PluginHost> {
        let user_dir = data_dir.join("plugins");
        let host = PluginHost::new_in(store, bus, data_dir, user_dir, settings, true)?;
        host.load_in_background();
        Ok(host)
    }

    /// [`PluginHost::start`] with the user plugins in `user_dir` instead of `<data_dir>/plugins`
    /// (`tend agent`: a throw-away data dir, the plugins next to the config file).
    pub async fn start_in(
        store: Store,
        bus: crate::events::Bus,
        data_dir: &Path,
        user_dir: PathBuf,
        settings: PluginSettings,
    ) -> anyhow::Result<PluginHost> {
        let host = PluginHost::new_in(store, bus, data_dir, user_dir, settings, true)?;
        host.load_in_background();
        host.loaded().await;
        Ok(host)
    }

    /// The host with nothing loaded yet.
    fn new_in(
        store: Store,
        bus: crate::events::Bus,
        data_dir: &Path,
        user_dir: PathBuf,
        settings: PluginSettings,
        compile_in_child: bool,
    ) -> anyhow::Result<PluginHost> {
        settings
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid plugin settings: {e}"))?;
        let engine = engine::new_engine(settings.max_memory_mb)?;
        let ticker = engine::Ticker::start(engine.clone())?;
        let runtime = runtime::PluginRuntime::new()?;
        let linkers = imports::linkers(&engine)
            .map_err(|e| anyhow::anyhow!("cannot link the plugin interfaces: {e:#}"))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&user_dir)
            .with_context(|| format!("cannot create {}", user_dir.display()))?;
        // The daemon and `tend agent` (whose executable is `tend`, and whose reaper runs) compile
        // in a child; `start` (the host's unit tests, in a test executable) in this process.
        let compiler = if compile_in_child {
            cache::Compiler::Child {
                max_memory_mb: settings.max_memory_mb,
            }
        } else {
            cache::Compiler::InProcess
        };
        let cache = cache::Cache::open(&engine, data_dir, store.clone(), compiler);
        let shared = Arc::new(Shared {
            store,
            http: imports::http_client()?,
        });
        let inner = Arc::new(Inner {
            engine,
            linkers,
            cache,
            settings,
            shared,
            user_dir,
            registry: registry::Registry::default(),
            runtime,
            ticker,
            stop_watching: Arc::default(),
            closed: AtomicBool::new(false),
            slots: tokio::sync::Semaphore::new(
                (engine::POOLED_CALLS - agent::AGENT_CALLS) as usize,
            ),
            agent_slots: tokio::sync::Semaphore::new(agent::AGENT_CALLS as usize),
            llm: RwLock::new(None),
            bus,
            loaded: tokio::sync::watch::channel(false).0,
        });
        Ok(PluginHost { inner })
    }

    /// The first load (built-ins and the user dir), then the watcher, in a task of their own.
    fn load_in_background(&self) {
        let host = self.clone();
        tokio::spawn(async move {
            let report = host.load().await;
            tracing::info!(
                plugins = host.inner.registry.snapshot().plugins.len(),
                rejected = report.rejected().count(),
                compiled = host.inner.cache.compiles(),
                "plugin host ready"
            );
            // Watching before anyone is told: a file dropped in right after sees a reload.
            if !host.inner.closed.load(Ordering::Relaxed) {
                host.start_watcher();
            }
            host.inner.loaded.send_replace(true);
        });
    }

    /// Resolves once the first load is done (or the host was shut down before it was).
    pub async fn loaded(&self) {
        let mut loaded = self.inner.loaded.subscribe();
        // The sender lives in `inner`, which `self` holds: the wait ends only by the load.
        let _ = loaded.wait_for(|done| *done).await;
    }

    /// Reloads after every burst of changes in the user plugin dir, from a task that holds the host
    /// only weakly (so dropping every `PluginHost` still frees it).
    fn start_watcher(&self) {
        let mut watcher = match watcher::watch(&self.inner.user_dir) {
            Ok(w) => w,
            Err(e) => {
                let error = format!("{e:#}");
                tracing::warn!(%error, "plugin hot reload disabled; use POST /api/plugins/reload");
                return;
            }
        };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let stop = self.inner.stop_watching.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    changed = watcher.changed() => if changed.is_none() { break },
                    _ = stop.notified() => break,
                }
                let Some(inner) = weak.upgrade() else { break };
                let report = PluginHost { inner }.load().await;
                let changed = report
                    .plugins
                    .iter()
                    .filter(|e| e.action != ReloadAction::Unchanged)
                    .count();
                if changed > 0 {
                    tracing::info!(changed, "plugin dir changed; reloaded");
                }
            }
        });
    }

    /// Calls `check` of a probe plugin. Never blocks the async runtime; never panics.
    pub async fn check(&self, plugin: &str, target: ProbeTarget) -> Outcome<Health> {
        let addr = TargetAddr {
            host: target.host.clone(),
            port: target.port,
        };
        let (outcome, _) = self
            .call_export(
                plugin,
                World::Probe,
                target.timeout,
                Some(addr),
                None,
                |p, timeout| {
                    let Exports::Probe(pre) = &p.exports else {
                        return None;
                    };
                    let pre = pre.clone();
                    let wit_target = Target {
                        config: outcome::merge_config(&p.manifest.config, &target.config)
                            .to_string(),
                        service: target.service,
                        host: target.host,
                        port: target.port,
                        timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
                    };
                    Some(
                        move |mut store: wasmtime::Store<sandbox::CallState>| async move {
                            let probe = pre.instantiate_async(&mut store).await?;
                            let health = probe.call_check(&mut store, &wit_target).await?;
                            Ok(Outcome::Ok(Health::from(health)))
                        },
                    )
                },
            )
            .await;
        outcome
    }

    /// The path every call of an export takes: lookup, world check, suspension, a pooled instance
    /// (from the agent pool for agent worlds), the guarded call under the deadline (`timeout` capped
    /// by the plugin's `limits.timeout_ms`, counted once an instance is free), the call's output to
    /// the log, and the plugin's stats. `agent` is what an agent call may see (project root, LLM).
    /// `prepare` gets the loaded plugin and the effective timeout, and returns the body to run on a
    /// fresh store (whose answer may itself be an error of the plugin's own, e.g. `PluginError`), or
    /// `None` when the plugin's exports are not of `world`. Also answers the plugin's manifest
    /// version, when one was loaded.
    async fn call_export<T, B, Fut>(
        &self,
        plugin: &str,
        world: World,
        timeout: Duration,
        target: Option<TargetAddr>,
        agent: Option<AgentCtx>,
        prepare: impl FnOnce(&loader::LoadedPlugin, Duration) -> Option<B>,
    ) -> (Outcome<T>, Option<String>)
    where
        B: FnOnce(wasmtime::Store<sandbox::CallState>) -> Fut,
        Fut: Future<Output = wasmtime::Result<Outcome<T>>> + Send + 'static,
        T: Send + 'static,
    {
        self.loaded().await;
        if self.inner.closed.load(Ordering::Relaxed) {
            return (Outcome::NotFound, None);
        }
        let Some(p) = self.inner.registry.get(plugin) else {
            return (Outcome::NotFound, None);
        };
        let version = Some(p.manifest.version.clone());
        let timeout = timeout.min(Duration::from_millis(p.limits.timeout_ms));
        let Some(body) = prepare(&p, timeout) else {
            let wrong = format!(
                "plugin {plugin} implements world `{}`, not `{}`",
                p.world.name(),
                world.name()
            );
            return (Outcome::WrongWorld(wrong), version);
        };
        {
            let mut stats = p.stats.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(until) = stats.suspended(SystemTime::now()) {
                stats.record_refused();
                return (Outcome::Suspended { until }, version);
            }
        }
        // The budget starts once a pooled instance is free.
        let pool = if agent::is_agent(world) {
            &self.inner.agent_slots
        } else {
            &self.inner.slots
        };
        let Ok(_slot) = pool.acquire().await else {
            return (Outcome::NotFound, version);
        };
        let started = Instant::now();
        let ctx = CallCtx {
            plugin: p.name.clone(),
            grants: p.grants.clone(),
            target,
            deadline: started + timeout,
            memory_mb: p.limits.memory_mb,
            max_response_bytes: p.limits.max_response_bytes,
            shared: self.inner.shared.clone(),
            agent,
        };
        let (result, trace) = call::guarded(
            &self.inner.runtime.handle,
            &self.inner.engine,
            &self.inner.ticker,
            ctx,
            body,
        )
        .await;
        let latency = started.elapsed();
        trace.emit_output(plugin);
        let outcome = result.unwrap_or_else(outcome::classify);
        // A command-policy call fails on its input (one hostile command can exhaust the budget):
        // the caller denies that request; it is not a trap of the plugin (issue 11).
        let counts_as_trap = world != World::CommandPolicy;
        self.record(&p, &outcome, latency, &trace.denials(), counts_as_trap);
        (outcome, version)
    }

    fn record<T>(
        &self,
        p: &loader::LoadedPlugin,
        outcome: &Outcome<T>,
        latency: Duration,
        denials: &[String],
        counts_as_trap: bool,
    ) {
        let error = match outcome {
            Outcome::Ok(_) => None,
            other => Some(other.to_string()),
        };
        if let Some(e) = &error {
            tracing::warn!(target: "plugin", plugin = %p.name, kind = outcome.kind(), "plugin call failed: {e}");
        }
        let call = CallRecord {
            kind: outcome.kind(),
            error,
            is_trap: counts_as_trap && outcome.is_trap(),
            latency,
            denials,
        };
        let suspended = p.stats.lock().unwrap_or_else(|e| e.into_inner()).record(
            call,
            SystemTime::now(),
            self.inner.settings.suspend_after_traps,
        );
        if let Some(until) = suspended {
            let until = crate::store::fmt_time(until.into());
            tracing::warn!(target: "plugin", plugin = %p.name, %until, "plugin suspended after trapping repeatedly");
            self.publish(
                &p.name,
                PluginAction::Suspended,
                Some(p.manifest.version.clone()),
                format!("trapped repeatedly; calls are refused until {until}"),
            );
        }
    }

    /// The LLM gateway agent calls' `llm` imports complete through (set once `[llm]` is
    /// configured; replaced on reconfiguration). Without one, `llm` answers `not-configured`.
    pub fn set_llm(&self, gateway: Option<Arc<dyn LlmGateway>>) {
        *self.inner.llm.write().unwrap_or_else(|e| e.into_inner()) = gateway;
    }

    fn llm(&self) -> Option<Arc<dyn LlmGateway>> {
        self.inner
            .llm
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn list(&self) -> Vec<PluginInfo> {
        info::all(&self.inner.registry.snapshot(), &self.inner.settings)
    }

    pub fn info(&self, name: &str) -> Option<PluginInfo> {
        info::one(&self.inner.registry.snapshot(), name, &self.inner.settings)
    }

    /// Rescans the plugin dir; per plugin: loaded / unchanged / rejected (reason, previous kept) / removed.
    pub async fn reload(&self) -> ReloadReport {
        self.loaded().await;
        self.load().await
    }

    /// The scan and load behind the first load, the watcher's reloads and `reload`.
    async fn load(&self) -> ReloadReport {
        if self.inner.closed.load(Ordering::Relaxed) {
            return ReloadReport::default();
        }
        let dir = self.inner.user_dir.clone();
        let offers = match tokio::task::spawn_blocking(move || {
            discover::scan(builtin::BUILTINS, &dir)
        })
        .await
        {
            Ok(offers) => offers,
            Err(e) => {
                tracing::error!(error = %e, "plugin dir scan failed");
                return ReloadReport::default();
            }
        };
        let i = &self.inner;
        let env = LoadEnv {
            engine: &i.engine,
            ticker: &i.ticker,
            linkers: &i.linkers,
            cache: &i.cache,
            settings: &i.settings,
            shared: &i.shared,
            runtime: &i.runtime.handle,
        };
        let report = i.registry.reload(&env, offers).await;
        for e in &report.plugins {
            let action = match e.action {
                ReloadAction::Unchanged => continue,
                ReloadAction::Loaded => PluginAction::Loaded,
                ReloadAction::Rejected => PluginAction::Rejected,
                ReloadAction::Removed => PluginAction::Removed,
            };
            let version = (action == PluginAction::Loaded)
                .then(|| {
                    self.inner
                        .registry
                        .snapshot()
                        .plugins
                        .get(&e.name)
                        .map(|p| p.manifest.version.clone())
                })
                .flatten();
            let mut message = e.reason.clone().unwrap_or_default();
            if e.previous_kept {
                message.push_str(" (the previous version stays loaded)");
            }
            self.publish(&e.name, action, version, message);
        }
        report
    }

    fn publish(
        &self,
        plugin: &str,
        action: PluginAction,
        version: Option<String>,
        message: String,
    ) {
        self.inner
            .bus
            .publish(crate::wire::Payload::Plugin(PluginEvent {
                time: crate::store::now_rfc3339(),
                plugin: plugin.to_string(),
                action,
                version,
                message,
            }));
    }

    /// Stops the ticker, the watcher and the plugin runtime, and unloads every plugin: later calls
    /// answer `NotFound`; calls in flight end as cancelled.
    pub fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Relaxed);
        // Nobody waits for a first load that will not come.
        self.inner.loaded.send_replace(true);
        self.inner.stop_watching.notify_one();
        self.inner.ticker.stop();
        self.inner.registry.clear();
        self.inner.runtime.shutdown();
    }

    /// Components compiled since start (the rest came from the on-disk cache or the executable's
    /// precompiled built-ins). For tests and benchmarks.
    pub fn compiles(&self) -> u64 {
        self.inner.cache.compiles()
    }

    /// Whether the epoch ticker waits for a call, and the epochs it bumped so far. For tests.
    #[cfg(test)]
    pub fn ticker_parked(&self) -> (bool, u64) {
        self.inner.ticker.parked()
    }

    /// `<data_dir>/plugins`, where user plugins live.
    pub fn user_dir(&self) -> &Path {
        &self.inner.user_dir
    }
}
