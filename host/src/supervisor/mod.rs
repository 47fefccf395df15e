//! The supervisor: the registry of services, one actor per service, boot-time reconciliation with the
//! config file and with whatever a killed predecessor left running. The API calls only this module's
//! `Supervisor` methods; it knows nothing of HTTP.

mod actor;
mod health;
mod recorder;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot};

use crate::events::Bus;
use crate::lifecycle::Transition;
use crate::logs::LogHub;
use crate::plugins::PluginHost;
use crate::process::{self, Tree};
use crate::spec::{self, FieldError};
use crate::store::{NewEvent, RuntimeRecord, Store, StoreError, fmt_time, now_rfc3339};
use crate::wire::{
    Event, EventKind, HealthCheck, HealthReport, HealthState, ServiceSpec, ServiceState,
    ServiceView, Source, Status, StatusResponse, SupervisorStatus,
};
use actor::{Actor, Cmd};
use recorder::Recorder;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("service {0:?} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the daemon is shutting down")]
    ShuttingDown,
}

pub type Result<T, E = SupervisorError> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

struct Entry {
    spec: ServiceSpec,
    source: Source,
    state: ServiceState,
    /// When `state` was taken, to age its uptime.
    state_at: Instant,
    health_failures: u32,
    /// The process tree of the current run, for samplers.
    tree: Option<Arc<Tree>>,
    tx: mpsc::Sender<Cmd>,
}

/// State shared by the handle and the actors.
pub(crate) struct Shared {
    store: Store,
    hub: LogHub,
    plugins: PluginHost,
    /// Prefix of every `TEND_INSTANCE` marker this data dir's daemon hands out.
    node: String,
    recorder: Recorder,
    registry: Mutex<BTreeMap<String, Entry>>,
}

impl Shared {
    /// Called by an actor for each transition: updates the registry, queues the event and runtime row.
    fn transition(&self, name: &str, t: Transition, state: ServiceState, tree: Option<&Tree>) {
        let runtime = RuntimeRecord {
            service: name.to_string(),
            status: state.status.as_str().to_string(),
            pid: tree.map(|t| t.leader),
            pid_start: tree.map(|t| t.leader_start),
            instance: tree.map(|t| t.instance.clone()),
            restart_count: state.restart_count,
        };
        if let Some(entry) = self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
        {
            entry.state = state;
            entry.state_at = Instant::now();
        }
        tracing::info!(service = name, from = t.from.as_str(), to = t.to.as_str(), pid = t.pid, reason = %t.reason, "transition");
        self.recorder.record(
            NewEvent {
                kind: EventKind::Lifecycle,
                service: name.to_string(),
                time: now_rfc3339(),
                from: t.from,
                to: t.to,
                pid: t.pid,
                exit_code: t.exit.and_then(|e| e.code()),
                signal: t.exit.and_then(|e| e.signal_name()),
                health: None,
                reason: t.reason,
            },
            runtime,
        );
    }
}

impl Shared {
    fn set_tree(&self, name: &str, tree: Option<Arc<Tree>>) {
        if let Some(entry) = self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
        {
            entry.tree = tree;
        }
    }

    fn set_health(&self, name: &str, state: Option<HealthState>, failures: u32) {
        if let Some(entry) = self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
        {
            entry.state.health = state;
            entry.health_failures = failures;
        }
    }

    fn health_check(&self, name: &str, check: HealthCheck) {
        self.recorder.health_check(name.to_string(), check);
    }

    fn health_event(&self, name: &str, status: Status, health: HealthState, reason: String) {
        self.recorder.event(NewEvent {
            kind: EventKind::Health,
            service: name.to_string(),
            time: now_rfc3339(),
            from: status,
            to: status,
            pid: None,
            exit_code: None,
            signal: None,
            health: Some(health),
            reason,
        });
    }
}

/// Handle to the running supervisor; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    shared: Arc<Shared>,
    started: SystemTime,
    started_mono: Instant,
    data_dir: PathBuf,
    closing: Arc<AtomicBool>,
    /// Bumped whenever a service is created, updated or removed (see `watch_changes`).
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

fn stopped_state(spec: &ServiceSpec, restart_count: u32) -> ServiceState {
    ServiceState {
        status: Status::Stopped,
        pid: None,
        uptime_s: None,
        restart_count,
        last_exit: None,
        next_start_at: None,
        health: spec.effective_health().map(|_| HealthState::Unknown),
        memory_mb: None,
        cpu_percent: None,
    }
}

impl Supervisor {
    /// Loads the store, reconciles it with the config file, stops leftovers of a killed predecessor and
    /// starts every enabled service.
    pub async fn boot(
        store: Store,
        hub: LogHub,
        plugins: PluginHost,
        bus: Bus,
        node: String,
        data_dir: PathBuf,
        file_services: Vec<ServiceSpec>,
    ) -> anyhow::Result<Supervisor> {
        reconcile_file(&store, &file_services).await?;
        let recorder = Recorder::start(store.clone(), bus);
        let shared = Arc::new(Shared {
            store,
            hub,
            plugins,
            node,
            recorder,
            registry: Mutex::new(BTreeMap::new()),
        });
        let sup = Supervisor {
            shared,
            started: SystemTime::now(),
            started_mono: Instant::now(),
            data_dir,
            closing: Arc::new(AtomicBool::new(false)),
            changes: Arc::new(tokio::sync::watch::channel(0).0),
        };
        sup.stop_leftovers().await?;
        let services = sup.shared.store.list_services().await?;
        for s in &services {
            sup.add_actor(s.spec.clone(), s.source, 0);
        }
        for s in services.into_iter().filter(|s| s.spec.enabled) {
            sup.send(&s.spec.name, |reply| Cmd::Start {
                reason: "daemon boot",
                reply,
            })
            .await?;
        }
        Ok(sup)
    }

    /// Processes a SIGKILLed daemon left behind: recorded leaders (pid + start time, so a reused pid is
    /// never hit), their groups, and anything carrying this data dir's marker. They are stopped (their
    /// output pipes died with the old daemon, so they cannot be re-adopted with their logs).
    async fn stop_leftovers(&self) -> anyhow::Result<()> {
        let records = self.shared.store.list_runtime().await?;
        let mut victims: Vec<u32> = process::marked_with_prefix(&format!("{}.", self.shared.node));
        for r in &records {
            let (Some(pid), Some(start)) = (r.pid, r.pid_start) else {
                continue;
            };
            let tree = Tree::new(pid, start, r.instance.clone().unwrap_or_default());
            let leader_is_ours =
                process::stat(pid).is_some_and(|s| s.start_ticks == start && s.state != b'Z');
            let members = if leader_is_ours || r.instance.is_some() {
                tree.scan().members
            } else {
                Vec::new()
            };
            if !members.is_empty() {
                let from = Status::parse(&r.status).unwrap_or(Status::Running);
                let reason = format!(
                    "left running by a daemon that died ({} processes); stopped",
                    members.len()
                );
                tracing::warn!(service = %r.service, pid, "{reason}");
                self.shared.recorder.record(
                    NewEvent {
                        kind: EventKind::Lifecycle,
                        service: r.service.clone(),
                        time: now_rfc3339(),
                        from,
                        to: Status::Stopped,
                        pid: Some(pid),
                        exit_code: None,
                        signal: None,
                        health: None,
                        reason,
                    },
                    RuntimeRecord {
                        service: r.service.clone(),
                        status: "stopped".into(),
                        ..Default::default()
                    },
                );
            }
            victims.extend(members);
        }
        victims.sort_unstable();
        victims.dedup();
        if victims.is_empty() {
            return Ok(());
        }
        for &pid in &victims {
            process::signal_pid(pid, Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let give_up = deadline + Duration::from_secs(10);
        while victims.iter().any(|&p| process::alive(p)) {
            let now = Instant::now();
            if now >= give_up {
                let left: Vec<u32> = victims
                    .iter()
                    .copied()
                    .filter(|&p| process::alive(p))
                    .collect();
                tracing::error!(
                    ?left,
                    "leftover processes survive SIGKILL (uninterruptible sleep?); continuing"
                );
                break;
            }
            if now >= deadline {
                for &pid in &victims {
                    process::signal_pid(pid, Signal::SIGKILL);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.shared.recorder.flush().await;
        Ok(())
    }

    fn add_actor(&self, spec: ServiceSpec, source: Source, restart_count: u32) {
        let (tx, rx) = mpsc::channel(64);
        let name = spec.name.clone();
        let actor = Actor::new(spec.clone(), self.shared.clone(), restart_count);
        tokio::spawn(actor.run(rx));
        self.registry().insert(
            name,
            Entry {
                state: stopped_state(&spec, restart_count),
                spec,
                source,
                state_at: Instant::now(),
                health_failures: 0,
                tree: None,
                tx,
            },
        );
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.shared
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    async fn send(
        &self,
        name: &str,
        cmd: impl FnOnce(oneshot::Sender<ServiceState>) -> Cmd,
    ) -> Result<ServiceState> {
        let tx = self
            .registry()
            .get(name)
            .map(|e| e.tx.clone())
            .ok_or_else(|| SupervisorError::NotFound(name.into()))?;
        let (reply, rx) = oneshot::channel();
        tx.send(cmd(reply))
            .await
            .map_err(|_| SupervisorError::NotFound(name.into()))?;
        rx.await.map_err(|_| SupervisorError::NotFound(name.into()))
    }

    fn check_open(&self) -> Result<()> {
        if self.closing.load(Ordering::SeqCst) {
            Err(SupervisorError::ShuttingDown)
        } else {
            Ok(())
        }
    }

    pub fn list(&self) -> Vec<ServiceView> {
        self.registry().values().map(view).collect()
    }

    pub fn get(&self, name: &str) -> Result<ServiceView> {
        self.registry()
            .get(name)
            .map(view)
            .ok_or_else(|| SupervisorError::NotFound(name.into()))
    }

    pub async fn create(&self, spec: ServiceSpec) -> Result<ServiceView> {
        self.check_open()?;
        spec::validate(&spec)?;
        let name = spec.name.clone();
        if self.registry().contains_key(&name)
            || !self.shared.store.insert_service(&spec, Source::Api).await?
        {
            return Err(SupervisorError::Conflict(format!(
                "a service named {name:?} already exists"
            )));
        }
        let enabled = spec.enabled;
        self.add_actor(spec, Source::Api, 0);
        if enabled {
            self.send(&name, |reply| Cmd::Start {
                reason: "start requested",
                reply,
            })
            .await?;
        }
        self.changed();
        self.get(&name)
    }

    /// Whether `update`/`remove` may touch the service: it exists and the API owns it.
    pub fn check_editable(&self, name: &str) -> Result<()> {
        self.owned_by_api(name)
    }

    fn owned_by_api(&self, name: &str) -> Result<()> {
        match self.registry().get(name) {
            None => Err(SupervisorError::NotFound(name.into())),
            Some(e) if e.source == Source::Config => Err(SupervisorError::Conflict(format!(
                "service {name:?} is defined in the config file; change it there"
            ))),
            Some(_) => Ok(()),
        }
    }

    pub async fn update(&self, spec: ServiceSpec) -> Result<ServiceView> {
        self.check_open()?;
        let name = spec.name.clone();
        self.owned_by_api(&name)?;
        spec::validate(&spec)?;
        self.shared.store.upsert_service(&spec, Source::Api).await?;
        if let Some(e) = self.registry().get_mut(&name) {
            e.spec = spec.clone();
        }
        self.send(&name, |reply| Cmd::Update(Box::new(spec), reply))
            .await?;
        self.changed();
        self.get(&name)
    }

    pub async fn remove(&self, name: &str) -> Result<ServiceState> {
        self.check_open()?;
        self.owned_by_api(name)?;
        let state = self.send(name, Cmd::Finish).await?;
        self.shared.store.delete_service(name).await?;
        self.registry().remove(name);
        self.changed();
        Ok(state)
    }

    pub async fn act(&self, name: &str, action: Action) -> Result<ServiceState> {
        self.check_open()?;
        match action {
            Action::Start => {
                self.send(name, |reply| Cmd::Start {
                    reason: "start requested",
                    reply,
                })
                .await
            }
            Action::Stop => self.send(name, Cmd::Stop).await,
            Action::Restart => self.restart_because(name, "restart requested").await,
        }
    }

    /// Restarts a service, recording `reason` (e.g. a memory limit) on the transition.
    pub async fn restart_because(&self, name: &str, reason: &str) -> Result<ServiceState> {
        self.check_open()?;
        self.send(name, |reply| Cmd::Restart {
            reason: reason.into(),
            reply,
        })
        .await
    }

    /// Restarts a service (starts it if it is not running) with `args` appended to its command for
    /// that run only; later runs (crash restarts, plain restarts) use the spec's command. Answers once
    /// the new run is spawned (or the spawn failed).
    pub async fn restart_with_args(
        &self,
        name: &str,
        args: Vec<String>,
        reason: &str,
    ) -> Result<ServiceState> {
        self.check_open()?;
        self.send(name, |reply| Cmd::RestartWithArgs {
            reason: reason.into(),
            args,
            reply,
        })
        .await
    }

    /// Prefix of every `TEND_INSTANCE` marker of this data dir: processes the daemon starts for other
    /// purposes (job commands) carry `<node>.<...>` so a later daemon finds what a killed one left.
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// Records the latest resource sample of a service's tree (shown in its state until the next
    /// transition).
    pub fn set_usage(&self, name: &str, memory_mb: f64, cpu_percent: f64) {
        if let Some(e) = self.registry().get_mut(name)
            && e.tree.is_some()
        {
            e.state.memory_mb = Some(memory_mb);
            e.state.cpu_percent = Some(cpu_percent);
        }
    }

    /// Restarts a running service that is failing (over its memory limit, ...) like a crash: under its
    /// restart policy, with backoff, counting towards `max_restarts`.
    pub async fn restart_after_failure(&self, name: &str, reason: &str) -> Result<ServiceState> {
        self.check_open()?;
        self.send(name, |reply| Cmd::Fail {
            reason: reason.into(),
            reply,
        })
        .await
    }

    /// The process trees of every running service, for samplers.
    pub fn running_trees(&self) -> Vec<(String, Arc<Tree>)> {
        self.registry()
            .iter()
            .filter_map(|(n, e)| Some((n.clone(), e.tree.clone()?)))
            .collect()
    }

    /// Specs of every service, for samplers that need per-service settings.
    pub fn specs(&self) -> Vec<ServiceSpec> {
        self.registry().values().map(|e| e.spec.clone()).collect()
    }

    pub async fn health(&self, name: &str, limit: u32) -> Result<HealthReport> {
        let (check, state, failures) = {
            let registry = self.registry();
            let e = registry
                .get(name)
                .ok_or_else(|| SupervisorError::NotFound(name.into()))?;
            (e.spec.effective_health(), e.state.health, e.health_failures)
        };
        self.shared.recorder.flush().await;
        let history = self.shared.store.list_health_checks(name, limit).await?;
        Ok(HealthReport {
            service: name.into(),
            check,
            state,
            consecutive_failures: failures,
            history,
        })
    }

    /// Changes when a service is created, updated or removed (its value counts the changes).
    pub fn watch_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// The lifecycle status of a service, for events other parts of the daemon publish about it.
    pub fn status_of(&self, name: &str) -> Option<Status> {
        self.registry().get(name).map(|e| e.state.status)
    }

    pub async fn events(&self, service: Option<&str>, limit: u32) -> Result<Vec<Event>> {
        self.shared.recorder.flush().await;
        Ok(self.shared.store.list_events(service, limit).await?)
    }

    pub fn status(&self) -> StatusResponse {
        let registry = self.registry();
        let mut counts = BTreeMap::new();
        let services: BTreeMap<String, ServiceState> = registry
            .iter()
            .map(|(name, e)| {
                *counts
                    .entry(e.state.status.as_str().to_string())
                    .or_insert(0) += 1;
                (name.clone(), live_state(e))
            })
            .collect();
        StatusResponse {
            supervisor: SupervisorStatus {
                status: if self.closing.load(Ordering::SeqCst) {
                    "stopping"
                } else {
                    "running"
                }
                .into(),
                version: env!("CARGO_PKG_VERSION").into(),
                pid: std::process::id(),
                uptime_s: self.started_mono.elapsed().as_secs_f64(),
                started_at: fmt_time(self.started.into()),
                data_dir: self.data_dir.clone(),
                managed_services: services.len(),
                counts,
                // The daemon's own figures come from the metrics sampler (see `api::status`).
                memory_mb: None,
                cpu_percent: None,
                caddy: None,
            },
            services,
        }
    }

    /// Stops every service (each within its own stop timeout, all at once) and writes out all events.
    pub async fn shutdown(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let txs: Vec<_> = self.registry().values().map(|e| e.tx.clone()).collect();
        let stops = txs.into_iter().map(|tx| async move {
            let (reply, rx) = oneshot::channel();
            if tx.send(Cmd::Finish(reply)).await.is_ok() {
                let _ = rx.await;
            }
        });
        futures_util::future::join_all(stops).await;
        self.shared.recorder.flush().await;
    }
}

/// Uptime moves on between transitions, so it is computed at read time.
fn live_state(e: &Entry) -> ServiceState {
    let mut s = e.state.clone();
    if let Some(up) = s.uptime_s.as_mut() {
        *up += e.state_at.elapsed().as_secs_f64();
    }
    s
}

fn view(e: &Entry) -> ServiceView {
    ServiceView {
        spec: e.spec.clone(),
        source: e.source,
        state: live_state(e),
    }
}

/// Makes the store agree with the config file: file services are upserted as `config`, config services no
/// longer in the file are removed. The file wins over an API service of the same name.
async fn reconcile_file(store: &Store, file_services: &[ServiceSpec]) -> anyhow::Result<()> {
    let existing = store.list_services().await?;
    for spec in file_services {
        if let Some(old) = existing.iter().find(|s| s.spec.name == spec.name)
            && old.source == Source::Api
        {
            tracing::warn!(service = %spec.name, "the config file defines a service registered through the API; the file wins");
        }
        store.upsert_service(spec, Source::Config).await?;
    }
    for old in existing.iter().filter(|s| s.source == Source::Config) {
        if !file_services.iter().any(|s| s.name == old.spec.name) {
            tracing::info!(service = %old.spec.name, "removed from the config file; unregistering");
            store.delete_service(&old.spec.name).await?;
        }
    }
    Ok(())
}
