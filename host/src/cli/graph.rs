//! `tend graph [NAME]`: the dependency graph as a tree, like `systemctl list-dependencies` or `cargo
//! tree`: each service nothing depends on (or NAME) at the root, what it depends on indented below,
//! each line with the edge's condition and the service's current state; `--json` prints `GET
//! /api/graph` as received.

use std::collections::{BTreeMap, BTreeSet};

use super::client::CliError;
use super::commands::{Ctx, out, out_raw};
use crate::wire::{Graph, GraphEdge, GraphNode};

pub async fn run(ctx: &Ctx, name: Option<&str>) -> Result<(), CliError> {
    let answer = ctx.client.get(&["api", "graph"], &[]).await?;
    if ctx.json {
        return out_raw(&answer);
    }
    let graph: Graph = answer.parse()?;
    if let Some(name) = name
        && !graph.nodes.iter().any(|n| n.name == name)
    {
        return Err(CliError::Other(anyhow::anyhow!(
            "service {name:?} not found"
        )));
    }
    out(&render(&graph, name))
}

/// The tree. A service reached a second time is shown with `(*)` and not expanded again.
pub fn render(graph: &Graph, only: Option<&str>) -> String {
    if graph.nodes.is_empty() {
        return "no services\n".into();
    }
    let nodes: BTreeMap<&str, &GraphNode> =
        graph.nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let mut deps: BTreeMap<&str, Vec<&GraphEdge>> = BTreeMap::new();
    for e in &graph.edges {
        deps.entry(e.service.as_str()).or_default().push(e);
    }
    let depended: BTreeSet<&str> = graph.edges.iter().map(|e| e.dependency.as_str()).collect();
    let roots: Vec<&str> = match only {
        Some(name) => vec![name],
        None => nodes
            .keys()
            .copied()
            .filter(|n| !depended.contains(n))
            .collect(),
    };
    let mut text = String::new();
    let mut shown = BTreeSet::new();
    for root in roots {
        text.push_str(&format!("{root}: {}\n", state(nodes.get(root).copied())));
        shown.insert(root);
        children(root, "", &nodes, &deps, &mut shown, &mut text);
    }
    text
}

fn children<'a>(
    name: &str,
    indent: &str,
    nodes: &BTreeMap<&str, &GraphNode>,
    deps: &BTreeMap<&str, Vec<&'a GraphEdge>>,
    shown: &mut BTreeSet<&'a str>,
    text: &mut String,
) {
    let edges = deps.get(name).map(Vec::as_slice).unwrap_or(&[]);
    for (i, e) in edges.iter().enumerate() {
        let last = i + 1 == edges.len();
        let (branch, more) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let mut how = e.condition.as_str().to_string();
        if e.restart {
            how.push_str(", restart");
        }
        if !e.satisfied {
            how.push_str(", not met");
        }
        let again = !shown.insert(e.dependency.as_str());
        text.push_str(&format!(
            "{indent}{branch}{} ({how}): {}{}\n",
            e.dependency,
            state(nodes.get(e.dependency.as_str()).copied()),
            if again { " (*)" } else { "" }
        ));
        if !again {
            children(
                &e.dependency,
                &format!("{indent}{more}"),
                nodes,
                deps,
                shown,
                text,
            );
        }
    }
}

/// `running, healthy` / `waiting for db (healthy): db is starting`.
fn state(node: Option<&GraphNode>) -> String {
    let Some(n) = node else {
        return "unknown service".into();
    };
    let mut s = n.status.as_str().to_string();
    if let Some(h) = n.health {
        s.push_str(", ");
        s.push_str(h.as_str());
    }
    for w in &n.waiting_for {
        s.push_str(&format!(
            "; {} {} ({}): {}",
            if w.blocked {
                "blocked by"
            } else {
                "waiting for"
            },
            w.service,
            w.condition.as_str(),
            w.reason
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{DependencyCondition, HealthState, Status, WaitingFor};

    fn node(name: &str, status: Status) -> GraphNode {
        GraphNode {
            name: name.into(),
            status,
            health: None,
            waiting_for: Vec::new(),
        }
    }

    fn edge(service: &str, dependency: &str, condition: DependencyCondition) -> GraphEdge {
        GraphEdge {
            service: service.into(),
            dependency: dependency.into(),
            condition,
            restart: false,
            satisfied: true,
        }
    }

    #[test]
    fn roots_then_dependencies_indented_with_condition_and_state() {
        let mut db = node("db", Status::Running);
        db.health = Some(HealthState::Healthy);
        let mut worker = node("worker", Status::Waiting);
        worker.waiting_for = vec![WaitingFor {
            service: "api".into(),
            condition: DependencyCondition::Started,
            reason: "api is starting".into(),
            blocked: false,
        }];
        let mut api_db = edge("api", "db", DependencyCondition::Healthy);
        api_db.restart = true;
        let mut worker_api = edge("worker", "api", DependencyCondition::Started);
        worker_api.satisfied = false;
        let graph = Graph {
            nodes: vec![
                node("api", Status::Starting),
                node("cache", Status::Stopped),
                db,
                node("web", Status::Running),
                worker,
            ],
            edges: vec![
                api_db,
                edge("web", "api", DependencyCondition::Started),
                edge("web", "cache", DependencyCondition::Started),
                worker_api,
            ],
            order: Vec::new(),
        };
        let want = "\
web: running
├── api (started): starting
│   └── db (healthy, restart): running, healthy
└── cache (started): stopped
worker: waiting; waiting for api (started): api is starting
└── api (started, not met): starting (*)
";
        assert_eq!(render(&graph, None), want);
        assert_eq!(
            render(&graph, Some("api")),
            "api: starting\n└── db (healthy, restart): running, healthy\n"
        );
    }
}
