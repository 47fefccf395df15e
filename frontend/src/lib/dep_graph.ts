// The dependency graph around one service (`GET /api/graph`), shaped for the service page: which
// services and edges to show (its dependencies transitively, its dependents transitively), what state
// each edge is in, the sentence each edge reads as (the SVG's text equivalent), and the layout (dagre;
// no DOM here, so all of it is unit-tested in dep_graph.test.ts). Drawing is components/dep_graph.tsx.
import dagre from "@dagrejs/dagre";
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

export interface PlacedNode {
  node: GraphNode;
  /** Top-left corner and size, in SVG units. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  edge: SubEdge;
  /** From the dependent to its dependency (the arrowhead is at the dependency). */
  points: { x: number; y: number }[];
  /** Centre of the label. */
  labelX: number;
  labelY: number;
}

export interface Layout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

const CHAR_W = 7.4;
const NODE_H = 42;
const LABEL_CHAR_W = 6.6;
const MARGIN = 8;

/** Node widths fit the longer of the name and the status line (a sans-serif estimate, no DOM). */
export function nodeWidth(n: GraphNode): number {
  return Math.round(Math.max(96, Math.max(n.name.length, nodeStatusText(n).length) * CHAR_W + 24));
}

/**
 * Dependencies above their dependents (start order reads downwards), with room for the edge labels.
 * Edges are laid out dependency -> dependent and handed back reversed, so arrows point at what a
 * service depends on.
 */
export function layout(sub: Subgraph): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 46, edgesep: 16, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of sub.nodes) g.setNode(n.name, { width: nodeWidth(n), height: NODE_H });
  for (const e of sub.edges)
    g.setEdge(e.dependency, e.service, { width: edgeLabel(e).length * LABEL_CHAR_W + 8, height: 16, labelpos: "c" });
  dagre.layout(g);
  const graph = g.graph() as { width?: number; height?: number };
  const nodes = sub.nodes.map((n) => {
    const l = g.node(n.name) as { x: number; y: number; width: number; height: number };
    return { node: n, x: l.x - l.width / 2, y: l.y - l.height / 2, width: l.width, height: l.height };
  });
  const edges = sub.edges.map((e) => {
    const l = g.edge(e.dependency, e.service) as { points?: { x: number; y: number }[]; x?: number; y?: number };
    const points = [...(l.points ?? [])].reverse();
    const mid = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
    return { edge: e, points, labelX: l.x ?? mid.x, labelY: l.y ?? mid.y };
  });
  return { width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), nodes, edges };
}

/** An SVG path through the points, straight segments (dagre already routes around nodes). */
export function pathOf(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

