//! Dependencies at the supervisor: what actors learn about their dependencies from the registry
//! (`Shared::assess`, `runs_of`), the cross-service check every registration calls (`check_graph`),
//! a start that starts the stopped dependencies first, a stop that stops running dependents first,
//! and `GET /api/graph`. The rules themselves are the pure `crate::deps`.

use std::collections::{BTreeMap, BTreeSet};

use super::actor::Cmd;
use super::registry::Entry;
use super::{Result, Shared, Supervisor};
use crate::deps::{self, DepState, Graph, Readiness};
use crate::failure::Failure;
use crate::wire::{
    self, Dependencies, GraphEdge, GraphNode, ServiceSpec, ServiceState, Status, WaitingFor,
};

fn dep_state(e: &Entry) -> DepState<'_> {
    DepState {
        status: e.state.status,
        health: e.state.health,
        exit_code: e.state.last_exit.as_ref().and_then(|x| x.code),
        reason: &e.reason,
    }
}

fn readiness_in(
    registry: &BTreeMap<String, Entry>,
    name: &str,
    condition: wire::DependencyCondition,
) -> Readiness {
    match registry.get(name) {
        Some(e) => deps::readiness(name, condition, dep_state(e)),
        None => Readiness::Blocked(format!("{name} is not registered")),
    }
}

/// A dependency a start should start: not running and not done (`exited` with 0 counts as done, so a
/// completed setup job is not run again).
fn needs_start(s: &ServiceState) -> bool {
    match s.status {
        Status::Stopped | Status::Fatal => true,
        Status::Exited => s.last_exit.as_ref().and_then(|x| x.code) != Some(0),
        _ => false,
    }
}

/// A dependent a stop should stop first: it runs or is about to.
fn active(s: &ServiceState) -> bool {
    !matches!(s.status, Status::Stopped | Status::Exited | Status::Fatal)
}

impl Shared {
    /// Whether every dependency's condition holds; whether one of them is blocked; and the unmet ones.
    pub(super) fn assess(&self, deps: &Dependencies) -> (bool, bool, Vec<WaitingFor>) {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let mut waiting_for = Vec::new();
        for (name, dep) in deps.iter() {
            let (reason, blocked) = match readiness_in(&registry, name, dep.condition) {
                Readiness::Ready => continue,
                Readiness::Pending(r) => (r, false),
                Readiness::Blocked(r) => (r, true),
            };
            waiting_for.push(WaitingFor {
                service: name.to_string(),
                condition: dep.condition,
                reason,
                blocked,
            });
        }
        let blocked = waiting_for.iter().any(|w| w.blocked);
        (waiting_for.is_empty(), blocked, waiting_for)
    }

    /// The run numbers (spawns so far) of these services.
    pub(super) fn runs_of<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, u64> {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        names
            .into_iter()
            .filter_map(|n| Some((n.to_string(), registry.get(n)?.runs)))
            .collect()
    }

    pub(super) fn set_waiting(&self, name: &str, waiting_for: Vec<WaitingFor>) {
        if let Some(entry) = self
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(name)
            && entry.state.status == Status::Waiting
        {
            entry.state.waiting_for = waiting_for;
        }
    }

    /// Tells the actors that watch their dependencies that some service's state changed.
    pub(super) fn states_moved(&self) {
        self.states.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Supervisor {
    /// The cross-service rules (`deps::check`) for the registry with `spec` added or replacing its
    /// namesake: the one check of the API, onboarding and every other registration path.
    pub(super) fn check_graph(&self, spec: &ServiceSpec) -> Result<()> {
        let registry = self.registry();
        let mut specs: Vec<&ServiceSpec> = registry
            .values()
            .map(|e| &e.spec)
            .filter(|s| s.name != spec.name)
            .collect();
        specs.push(spec);
        deps::check(&specs, Some(&spec.name))?;
        Ok(())
    }

    /// The services that depend on `name`, for a removal: it may not leave them dangling.
    pub(super) fn check_no_dependents(&self, name: &str) -> Result<()> {
        let graph = Graph::of(self.registry().values().map(|e| &e.spec));
        let dependents = graph.dependents(name);
        if dependents.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = dependents.iter().map(|d| format!("{d:?}")).collect();
        Err(Failure::Conflict(format!(
            "service {name:?} is a dependency of {} (depends_on); change or remove them first",
            list.join(", ")
        )))
    }

    /// Starts `name` after starting its dependencies that are not running (transitively), in
    /// dependency order, each group at once. Nobody waits here: each waits for its own dependencies.
    pub(super) async fn start_with_deps(&self, name: &str, reason: &str) -> Result<ServiceState> {
        self.start_deps_of(name).await?;
        self.send(name, |reply| Cmd::Start {
            reason: reason.into(),
            reply,
        })
        .await
    }

    /// Starts the dependencies of `name` that are not running and not done (transitively), in
    /// dependency order, each group at once.
    pub(super) async fn start_deps_of(&self, name: &str) -> Result<()> {
        let groups = {
            let registry = self.registry();
            if !registry.contains_key(name) {
                return Err(Failure::not_found("service", name));
            }
            let graph = Graph::of(registry.values().map(|e| &e.spec));
            let pull: BTreeSet<String> = graph
                .requires(name)
                .into_iter()
                .filter(|d| registry.get(d).is_some_and(|e| needs_start(&e.state)))
                .collect();
            graph.groups_within(&pull)
        };
        for group in groups {
            let starts = group.iter().map(|dep| {
                self.send(dep, |reply| Cmd::Start {
                    reason: format!("started as a dependency of {name}"),
                    reply,
                })
            });
            for r in futures_util::future::join_all(starts).await {
                r?;
            }
        }
        Ok(())
    }

    /// Stops `name` after stopping what depends on it and runs (transitively), dependents first,
    /// each group at once.
    pub(super) async fn stop_with_dependents(&self, name: &str) -> Result<ServiceState> {
        let groups = {
            let registry = self.registry();
            if !registry.contains_key(name) {
                return Err(Failure::not_found("service", name));
            }
            let graph = Graph::of(registry.values().map(|e| &e.spec));
            let set: BTreeSet<String> = graph
                .all_dependents(name)
                .into_iter()
                .filter(|d| registry.get(d).is_some_and(|e| active(&e.state)))
                .collect();
            let mut groups = graph.groups_within(&set);
            groups.reverse();
            groups
        };
        for group in groups {
            let stops = group.iter().map(|d| self.send(d, Cmd::Stop));
            // A dependent removed meanwhile is no reason not to stop this one.
            futures_util::future::join_all(stops).await;
        }
        self.send(name, Cmd::Stop).await
    }

    /// The stop groups of every service (`Graph::stop_groups`).
    pub(super) fn stop_groups(&self) -> Vec<Vec<String>> {
        Graph::of(self.registry().values().map(|e| &e.spec)).stop_groups()
    }

    /// `GET /api/graph`: every service with its state, every edge with whether it holds, the order.
    pub fn graph(&self) -> wire::Graph {
        let registry = self.registry();
        let graph = Graph::of(registry.values().map(|e| &e.spec));
        let nodes = registry
            .iter()
            .map(|(name, e)| GraphNode {
                name: name.clone(),
                status: e.state.status,
                health: e.state.health,
                waiting_for: e.state.waiting_for.clone(),
            })
            .collect();
        let mut edges = Vec::new();
        for (name, e) in registry.iter() {
            for (dep, d) in e.spec.depends_on.iter() {
                edges.push(GraphEdge {
                    service: name.clone(),
                    dependency: dep.to_string(),
                    condition: d.condition,
                    restart: d.restart,
                    satisfied: readiness_in(&registry, dep, d.condition).is_ready(),
                });
            }
        }
        wire::Graph {
            nodes,
            edges,
            order: graph.start_groups(),
        }
    }
}
