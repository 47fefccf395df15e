// The dependency graph around one service (`GET /api/graph`), shaped for the service page: which
// services and edges to show (its dependencies transitively, its dependents transitively), what state
// each edge is in, the sentence each edge reads as (the SVG's text equivalent), and the layout (dagre;
// no DOM here, so all of it is unit-tested in dep_graph.test.ts). Drawing is components/dep_graph.tsx.
import type { Graph, GraphEdge, GraphNode, Status } from "../gen/api";

/** `satisfied`: the condition holds; `unmet`: not yet; `blocked`: the dependency failed for good. */
export type EdgeState = "satisfied" | "unmet" | "blocked";

export interface SubEdge extends GraphEdge {
  state: EdgeState;
  /** Why it is not satisfied, from the dependent's `waiting_for`, when it says. */
  reason?: string;
}

export interface Subgraph {
  /** The service whose page this is. */
  center: string;
  nodes: GraphNode[];
  /** `service` -> `dependency`, in the API's order (by service, then dependency). */
  edges: SubEdge[];
}

/**
 * The part of `graph` connected to `center` through dependency chains: everything it needs
 * (transitively), everything that needs it (transitively), and the edges among those. Null when
 * `center` has no edge at all (the page then shows nothing), or when the answer is not a graph.
 */
export function around(graph: Partial<Graph> | null | undefined, center: string): Subgraph | null {
  const edges = Array.isArray(graph?.edges) ? graph.edges : [];
  const nodes = Array.isArray(graph?.nodes) ? graph.nodes : [];
  if (!edges.some((e) => e.service === center || e.dependency === center)) return null;
  const reach = (from: keyof GraphEdge, to: keyof GraphEdge) => {
    const seen = new Set([center]);
    const todo = [center];
    while (todo.length) {
      const cur = todo.pop()!;
      for (const e of edges)
        if (e[from] === cur && !seen.has(e[to] as string)) {
          seen.add(e[to] as string);
          todo.push(e[to] as string);
        }
    }
    return seen;
  };
  const names = new Set([...reach("service", "dependency"), ...reach("dependency", "service")]);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // A name the graph has no node for cannot be registered (validation refuses unknown dependencies);
  // it is drawn as stopped rather than dropped, so the edge stays visible.
  const subNodes = [...names].sort().map((n) => byName.get(n) ?? { name: n, status: "stopped" as Status });
  const subByName = new Map(subNodes.map((n) => [n.name, n]));
  const subEdges = edges
    .filter((e) => names.has(e.service) && names.has(e.dependency))
    .map((e) => withState(e, subByName.get(e.service), subByName.get(e.dependency)));
  return { center, nodes: subNodes, edges: subEdges };
}

/** The edge's state: the API's `satisfied`, else blocked when the dependent's `waiting_for` says so
 *  (or the dependency is fatal), else unmet, with the reason the dependent is waiting, if any. */
export function withState(e: GraphEdge, service?: GraphNode, dependency?: GraphNode): SubEdge {
  if (e.satisfied) return { ...e, state: "satisfied" };
  const w = service?.waiting_for?.find((x) => x.service === e.dependency);
  const blocked = w?.blocked === true || dependency?.status === "fatal";
  const out: SubEdge = { ...e, state: blocked ? "blocked" : "unmet" };
  if (w?.reason) out.reason = w.reason;
  return out;
}

/** What the edge's label says in brackets: `healthy, satisfied`, `started, restarts with it, unmet:
 *  db is starting`. */
export function edgeDetails(e: SubEdge): string {
  const parts: string[] = [e.condition];
  if (e.restart) parts.push("restarts with it");
  parts.push(e.reason ? `${e.state}: ${e.reason}` : e.state);
  return parts.join(", ");
}

/** The edge as a sentence: `api depends on db (healthy, satisfied)`. */
export function edgeText(e: SubEdge): string {
  return `${e.service} depends on ${e.dependency} (${edgeDetails(e)})`;
}

/** The short label drawn on the edge: the condition, and ↻ when it restarts with its dependency. */
export function edgeLabel(e: GraphEdge): string {
  return e.restart ? `${e.condition} ↻` : e.condition;
}

/** A node's second line: its status, and its health when it has a check. */
export function nodeStatusText(n: GraphNode): string {
  return n.health_status && n.health_status !== "unknown" ? `${n.status} · ${n.health_status}` : n.status;
}

/** How many services `center` needs and how many need it, directly or not (for the description). */
export function counts(sub: Subgraph): { dependencies: number; dependents: number } {
  const walk = (from: "service" | "dependency", to: "service" | "dependency") => {
    const seen = new Set<string>();
    const todo = [sub.center];
    while (todo.length) {
      const cur = todo.pop()!;
      for (const e of sub.edges)
        if (e[from] === cur && !seen.has(e[to]) && e[to] !== sub.center) {
          seen.add(e[to]);
          todo.push(e[to]);
        }
    }
    return seen.size;
  };
  return { dependencies: walk("service", "dependency"), dependents: walk("dependency", "service") };
}
