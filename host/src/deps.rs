//! Service dependencies (`depends_on`) as pure functions over names: the start order in groups (Kahn
//! levels), the reverse stop order, what a start pulls in, who depends on a service, cycle detection,
//! the cross-service validation every registration path calls (`check`), and whether a dependency's
//! condition holds given its status (`readiness`). No processes, no clocks, no registry: the supervisor
//! hands in snapshots and carries out what these decide (unit-tested in `deps/tests.rs`).

use std::collections::{BTreeMap, BTreeSet};

use crate::spec::FieldError;
use crate::wire::{
    Dependencies, DependencyCondition, HealthState, RestartPolicy, ServiceSpec, Status,
};

/// Who depends on whom: each service's `depends_on`, by name. Edges to names that are not nodes are
/// kept for `unknown` and ignored by every other function.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    deps: BTreeMap<String, Dependencies>,
}

impl Graph {
    pub fn of<'a>(specs: impl IntoIterator<Item = &'a ServiceSpec>) -> Graph {
        Graph {
            deps: specs
                .into_iter()
                .map(|s| (s.name.clone(), s.depends_on.clone()))
                .collect(),
        }
    }

    fn edges_of<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.deps
            .get(name)
            .into_iter()
            .flat_map(|d| d.names())
            .filter(|d| self.deps.contains_key(*d))
    }

    /// `(service, missing dependency)` for every edge to a service that does not exist.
    pub fn unknown(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, deps) in &self.deps {
            for dep in deps.names() {
                if !self.deps.contains_key(dep) {
                    out.push((name.clone(), dep.to_string()));
                }
            }
        }
        out
    }

    /// A dependency cycle as the names along it, first name repeated at the end (`[a, b, a]`); the
    /// search starts at `first` when given (so the cycle a change created is named from that service),
    /// then at every name in order.
    pub fn cycle(&self, first: Option<&str>) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        fn visit<'a>(
            g: &'a Graph,
            name: &'a str,
            marks: &mut BTreeMap<&'a str, Mark>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            match marks.get(name).copied().unwrap_or(Mark::New) {
                Mark::Done => return None,
                Mark::OnPath => {
                    let at = path.iter().position(|n| *n == name).unwrap_or(0);
                    let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
                    cycle.push(name.to_string());
                    return Some(cycle);
                }
                Mark::New => {}
            }
            marks.insert(name, Mark::OnPath);
            path.push(name);
            for dep in g.edges_of(name) {
                if let Some(c) = visit(g, dep, marks, path) {
                    return Some(c);
                }
            }
            path.pop();
            marks.insert(name, Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        let starts = first
            .into_iter()
            .filter(|f| self.deps.contains_key(*f))
            .chain(self.deps.keys().map(String::as_str));
        for start in starts {
            if let Some(c) = visit(self, start, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
        None
    }

    /// The start order of every service in groups: a group's services depend only on earlier groups'
    /// (so each group starts in parallel); each group sorted by name. Services on a cycle (which
    /// validation rejects) come last, as one group.
    pub fn start_groups(&self) -> Vec<Vec<String>> {
        self.groups_within(&self.deps.keys().cloned().collect())
    }

    /// The start groups of `set` alone (edges leaving the set are ignored).
    pub fn groups_within(&self, set: &BTreeSet<String>) -> Vec<Vec<String>> {
        let mut pending: BTreeMap<&str, usize> = set
            .iter()
            .filter(|n| self.deps.contains_key(*n))
            .map(|n| {
                let blocking = self.edges_of(n).filter(|d| set.contains(*d)).count();
                (n.as_str(), blocking)
            })
            .collect();
        let mut groups = Vec::new();
        loop {
            let ready: Vec<&str> = pending
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(name, _)| *name)
                .collect();
            if ready.is_empty() {
                break;
            }
            for name in &ready {
                pending.remove(name);
            }
            for (name, n) in pending.iter_mut() {
                *n -= self.edges_of(name).filter(|d| ready.contains(d)).count();
            }
            groups.push(ready.into_iter().map(String::from).collect());
        }
        if !pending.is_empty() {
            groups.push(pending.keys().map(|s| s.to_string()).collect());
        }
        groups
    }

    /// The stop order: the start groups reversed (dependents before what they depend on).
    pub fn stop_groups(&self) -> Vec<Vec<String>> {
        let mut groups = self.start_groups();
        groups.reverse();
        groups
    }

    /// Everything `name` needs, transitively (not `name` itself).
    pub fn requires(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = self.edges_of(name).collect();
        while let Some(n) = todo.pop() {
            if n != name && seen.insert(n.to_string()) {
                todo.extend(self.edges_of(n));
            }
        }
        seen
    }

    /// The services that list `name` in their `depends_on`.
    pub fn dependents(&self, name: &str) -> BTreeSet<String> {
        self.deps
            .iter()
            .filter(|(_, d)| d.get(name).is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Everything that needs `name`, transitively (not `name` itself).
    pub fn all_dependents(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            for d in self.dependents(&n) {
                if d != name && seen.insert(d.clone()) {
                    todo.push(d);
                }
            }
        }
        seen
    }
}

/// The cross-service rules of a set of services (every registration path calls this with the set as
/// it would be after the change; `changed` is the service being registered or replaced, `None` at boot):
/// every dependency exists, there is no cycle, `healthy` needs a health check on the dependency and
/// `completed` a dependency that does not restart after success. The error names the changed
/// service's field (`depends_on`, `depends_on.<dep>.condition`, or `health`/`restart` when the change
/// broke a dependent's condition); at boot the message starts with the service it concerns.
pub fn check(specs: &[&ServiceSpec], changed: Option<&str>) -> Result<(), FieldError> {
    let graph = Graph::of(specs.iter().copied());
    let about = |service: &str, message: String| -> String {
        if Some(service) == changed {
            message
        } else {
            format!("service {service:?}: {message}")
        }
    };
    if let Some((service, dep)) = graph
        .unknown()
        .into_iter()
        .min_by_key(|(s, _)| Some(s.as_str()) != changed)
    {
        return Err(FieldError {
            field: "depends_on".into(),
            message: about(&service, format!("unknown service {dep:?}")),
        });
    }
    if let Some(cycle) = graph.cycle(changed) {
        return Err(FieldError {
            field: "depends_on".into(),
            message: format!("a dependency cycle: {}", cycle.join(" -> ")),
        });
    }
    let by_name: BTreeMap<&str, &ServiceSpec> =
        specs.iter().map(|s| (s.name.as_str(), *s)).collect();
    // The changed service's own edges first, so its error names its own field.
    let mut order: Vec<&ServiceSpec> = specs.to_vec();
    order.sort_by_key(|s| Some(s.name.as_str()) != changed);
    for spec in order {
        for (dep_name, dep) in spec.depends_on.iter() {
            let Some(target) = by_name.get(dep_name) else {
                continue;
            };
            let problem = match dep.condition {
                DependencyCondition::Healthy if target.effective_health().is_none() => Some((
                    "health",
                    format!("{dep_name:?} has no health check, which condition \"healthy\" needs"),
                )),
                DependencyCondition::Completed if target.restart == RestartPolicy::Always => {
                    Some((
                        "restart",
                        format!(
                            "{dep_name:?} restarts after it exits (restart = \"always\"); condition \
                             \"completed\" needs restart = \"never\" or \"on-failure\""
                        ),
                    ))
                }
                _ => None,
            };
            let Some((their_field, message)) = problem else {
                continue;
            };
            let field = if Some(dep_name) == changed && Some(spec.name.as_str()) != changed {
                their_field.to_string()
            } else {
                format!("depends_on.{dep_name}.condition")
            };
            return Err(FieldError {
                field,
                message: about(&spec.name, message),
            });
        }
    }
    Ok(())
}

/// What a dependency's condition needs to know about it.
#[derive(Clone, Copy, Debug)]
pub struct DepState<'a> {
    pub status: Status,
    pub health: Option<HealthState>,
    /// The exit code of its last run, when it exited with one.
    pub exit_code: Option<i32>,
    /// The reason of its last transition (shown when it blocks).
    pub reason: &'a str,
}

/// Whether one dependency's condition holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not yet; the reason says what it is doing.
    Pending(String),
    /// It failed for good (fatal, or exited so that the condition can never hold until it is started
    /// again): dependents wait without a timeout.
    Blocked(String),
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        *self == Readiness::Ready
    }
}

/// Whether `condition` holds for the dependency `name` in state `s`.
pub fn readiness(name: &str, condition: DependencyCondition, s: DepState<'_>) -> Readiness {
    use DependencyCondition as C;
    let pending = |what: &str| Readiness::Pending(format!("{name} is {what}"));
    let failed = |what: String| {
        let why = if s.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", s.reason)
        };
        Readiness::Blocked(format!("{name} {what}{why}"))
    };
    match s.status {
        Status::Fatal => failed("is fatal".into()),
        Status::Running => match condition {
            C::Started => Readiness::Ready,
            C::Healthy if s.health == Some(HealthState::Healthy) => Readiness::Ready,
            C::Healthy => pending("running, not healthy yet"),
            C::Completed => pending("running, not completed yet"),
        },
        Status::Exited => match (condition, s.exit_code) {
            (C::Completed | C::Started, Some(0)) => Readiness::Ready,
            (C::Healthy, _) => failed("exited, so it cannot become healthy".into()),
            _ => failed("exited unsuccessfully".into()),
        },
        Status::Stopped => pending("stopped"),
        Status::Waiting => pending("waiting for its own dependencies"),
        Status::Starting => pending("starting"),
        Status::Backoff => pending("restarting (backoff)"),
        Status::Stopping => pending("stopping"),
    }
}

#[cfg(test)]
mod tests;
