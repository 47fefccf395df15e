//! The supervisor: one actor per service, the actions the API asks of them, events and status. The API
//! calls only `Supervisor` methods; it knows nothing of HTTP. The registry of services (lookups,
//! create/update/remove) is in `registry.rs`; boot-time reconciliation with the config file and with
//! whatever a killed predecessor left running is in `boot.rs`; dependencies (ordered start and stop,
//! the cross-service check, the graph) in `deps.rs`.

mod actor;
mod boot;
pub use boot::stop_leftovers_unrecorded;
mod deps;
mod health;
// `tend agent` runs one service with the same restart rules and the same probe call.
pub use actor::policy_of;
pub use health::check_once;
mod recorder;
mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;

use crate::failure::Failure;
use crate::lifecycle::Transition;
use crate::logs::LogHub;
use crate::plugins::PluginHost;
use crate::process::Tree;
use crate::store::{RuntimeRecord, Store, fmt_time, now_rfc3339};
use crate::wire::{
    Event, EventKind, HealthCheck, HealthReport, HealthState, ServiceState, Status, StatusResponse,
    SupervisorStatus,
};
use actor::Cmd;
use recorder::Recorder;
use registry::{Entry, live_state};

pub type Result<T, E = Failure> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
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
    /// Bumped on every transition and health change, for actors that watch their dependencies.
    states: tokio::sync::watch::Sender<u64>,
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
        tracing::info!(service = name, from = t.from.as_str(), to = t.to.as_str(), pid = t.pid, reason = %t.reason, "transition");
        let reason = t.reason.clone();
        // Published before the registry shows the new state: whoever sees the state and then reads the
        // events (which flushes the bus) finds this transition there.
        self.recorder.record(
            Event {
                id: 0,
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
        if let Some(entry) = self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
        {
            entry.state = state;
            entry.state_at = Instant::now();
            entry.reason = reason;
        }
        self.states_moved();
    }
}

impl Shared {
    fn health_check(&self, name: &str, check: HealthCheck) {
        self.recorder.health_check(name.to_string(), check);
    }

    fn health_event(&self, name: &str, status: Status, health: HealthState, reason: String) {
        self.recorder.event(Event {
            id: 0,
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

impl Supervisor {
    pub(super) fn check_open(&self) -> Result<()> {
        if self.closing.load(Ordering::SeqCst) {
            Err(Failure::ShuttingDown)
        } else {
            Ok(())
        }
    }

    pub async fn act(&self, name: &str, action: Action) -> Result<ServiceState> {
        self.check_open()?;
        match action {
            Action::Start => self.start_with_deps(name, "start requested").await,
            Action::Stop => self.stop_with_dependents(name).await,
            Action::Restart => {
                // A restart of a service that is not running is a start: it needs its dependencies.
                self.start_deps_of(name).await?;
                self.restart_because(name, "restart requested").await
            }
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

    pub async fn health(&self, name: &str, limit: u32) -> Result<HealthReport> {
        let (check, state, failures) = {
            let registry = self.registry();
            let e = registry
                .get(name)
                .ok_or_else(|| Failure::not_found("service", name))?;
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

    pub(super) fn changed(&self) {
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
                containment: None,
            },
            services,
        }
    }

    /// Stops every service, dependents before their dependencies (`deps::Graph::stop_groups`), each
    /// group at once and each service within its own stop timeout, and writes out all events.
    pub async fn shutdown(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for group in self.stop_groups() {
            let txs: Vec<_> = {
                let registry = self.registry();
                group
                    .iter()
                    .filter_map(|n| registry.get(n).map(|e| e.tx.clone()))
                    .collect()
            };
            let stops = txs.into_iter().map(|tx| async move {
                let (reply, rx) = oneshot::channel();
                if tx.send(Cmd::Finish(reply)).await.is_ok() {
                    let _ = rx.await;
                }
            });
            futures_util::future::join_all(stops).await;
        }
        self.shared.recorder.flush().await;
    }
}
