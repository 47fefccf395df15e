//! The registry of services: one `Entry` per service (its spec, where it came from, the latest state
//! its actor reported, its current process tree and run count, the reason of its latest transition,
//! and the actor's mailbox), the lookups readers use, and the bookkeeping of create/update/remove
//! (store row, actor, registry entry; the dependency checks of `deps.rs` first). Actors write their
//! service's entry only through `Shared::set_tree`/`set_health`/`set_waiting` and transitions;
//! everything else reads snapshots. An update never re-inserts a stored row (a racing delete wins:
//! 404), and an actor that panicked leaves its service `fatal`, still removable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::actor::{Actor, Cmd};
use super::{Result, Shared, Supervisor};
use crate::failure::Failure;
use crate::process::Tree;
use crate::spec;
use crate::wire::{HealthState, ServiceSpec, ServiceState, ServiceView, Source, Status};

/// One service as readers see it; its actor owns the truth.
pub(super) struct Entry {
    pub(super) spec: ServiceSpec,
    pub(super) source: Source,
    pub(super) state: ServiceState,
    /// When `state` was taken, to age its uptime.
    pub(super) state_at: Instant,
    pub(super) health_failures: u32,
    /// The process tree of the current run, for samplers.
    pub(super) tree: Option<Arc<Tree>>,
    /// Runs spawned so far: a dependent on a `restart = true` edge restarts when this moves.
    pub(super) runs: u64,
    /// The reason of the latest transition (a blocked dependent shows it).
    pub(super) reason: String,
    pub(super) tx: mpsc::Sender<Cmd>,
}

impl Shared {
    pub(super) fn set_tree(&self, name: &str, tree: Option<Arc<Tree>>) {
        if let Some(entry) = self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
        {
            if tree.is_some() {
                entry.runs += 1;
            }
            entry.tree = tree;
        }
    }

    pub(super) fn set_health(&self, name: &str, state: Option<HealthState>, failures: u32) {
        let changed = match self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
        {
            Some(entry) => {
                let changed = entry.state.health != state;
                entry.state.health = state;
                entry.health_failures = failures;
                changed
            }
            None => false,
        };
        if changed {
            self.states_moved();
        }
    }
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
        waiting_for: Vec::new(),
    }
}

impl Supervisor {
    pub(super) fn add_actor(&self, spec: ServiceSpec, source: Source, restart_count: u32) {
        let (tx, rx) = mpsc::channel(64);
        let name = spec.name.clone();
        let actor = Actor::new(spec.clone(), self.shared.clone(), restart_count);
        let actor_of = name.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            // A panicking actor cannot be resumed (its state is lost): say so in the service's state
            // (`fatal`, with the reason), so it is visible and every command answers at once.
            if let Err(why) = crate::panics::catch(actor.run(rx)).await {
                tracing::error!(service = %actor_of, panic = %why, "service actor panicked");
                if let Some(entry) = shared
                    .registry
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&actor_of)
                {
                    entry.state.status = Status::Fatal;
                    entry.state.pid = None;
                    entry.state.uptime_s = None;
                }
            }
        });
        self.registry().insert(
            name,
            Entry {
                state: stopped_state(&spec, restart_count),
                spec,
                source,
                state_at: Instant::now(),
                health_failures: 0,
                tree: None,
                runs: 0,
                reason: String::new(),
                tx,
            },
        );
    }

    pub(super) fn registry(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.shared
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(super) async fn send(
        &self,
        name: &str,
        cmd: impl FnOnce(oneshot::Sender<ServiceState>) -> Cmd,
    ) -> Result<ServiceState> {
        let tx = self
            .registry()
            .get(name)
            .map(|e| e.tx.clone())
            .ok_or_else(|| Failure::not_found("service", name))?;
        let (reply, rx) = oneshot::channel();
        tx.send(cmd(reply))
            .await
            .map_err(|_| Failure::not_found("service", name))?;
        rx.await.map_err(|_| Failure::not_found("service", name))
    }

    pub fn list(&self) -> Vec<ServiceView> {
        self.registry().values().map(view).collect()
    }

    pub fn get(&self, name: &str) -> Result<ServiceView> {
        self.registry()
            .get(name)
            .map(view)
            .ok_or_else(|| Failure::not_found("service", name))
    }

    pub async fn create(&self, spec: ServiceSpec) -> Result<ServiceView> {
        self.check_open()?;
        spec::validate(&spec)?;
        let name = spec.name.clone();
        if self.registry().contains_key(&name) {
            return Err(Failure::Conflict(format!(
                "a service named {name:?} already exists"
            )));
        }
        self.check_graph(&spec)?;
        if self.registry().contains_key(&name)
            || !self.shared.store.insert_service(&spec, Source::Api).await?
        {
            return Err(Failure::Conflict(format!(
                "a service named {name:?} already exists"
            )));
        }
        let enabled = spec.enabled;
        self.add_actor(spec, Source::Api, 0);
        if enabled {
            self.start_with_deps(&name, "start requested").await?;
        }
        self.changed();
        self.get(&name)
    }

    /// Whether `update`/`remove` may touch the service: it exists and the API owns it.
    pub fn check_editable(&self, name: &str) -> Result<()> {
        let source = self.registry().get(name).map(|e| e.source);
        Failure::check_editable("service", name, source)
    }

    pub async fn update(&self, spec: ServiceSpec) -> Result<ServiceView> {
        self.check_open()?;
        let name = spec.name.clone();
        self.check_editable(&name)?;
        spec::validate(&spec)?;
        self.check_graph(&spec)?;
        // An UPDATE, never an upsert: a DELETE that got there first stays done (404).
        if !self.shared.store.update_service(&spec, Source::Api).await? {
            return Err(Failure::not_found("service", &name));
        }
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
        self.check_editable(name)?;
        self.check_no_dependents(name)?;
        let state = match self.send(name, Cmd::Finish).await {
            Ok(state) => state,
            // An actor that panicked is gone but its entry stays (`fatal`): it can still be removed.
            Err(Failure::NotFound(why)) => match self.registry().get(name) {
                Some(entry) => live_state(entry),
                None => return Err(Failure::NotFound(why)),
            },
            Err(e) => return Err(e),
        };
        self.shared.store.delete_service(name).await?;
        self.registry().remove(name);
        self.changed();
        Ok(state)
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
}

/// Uptime moves on between transitions, so it is computed at read time.
pub(super) fn live_state(e: &Entry) -> ServiceState {
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
