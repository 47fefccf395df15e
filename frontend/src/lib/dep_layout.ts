// The layout of a dependency subgraph (lib/dep_graph.ts) for the SVG: dagre places the nodes and
// routes the edges, dependencies above their dependents. Its own module so that dagre is loaded only
// by pages that draw a graph. No DOM (node sizes are estimated from text lengths); tested in
// dep_graph.test.ts.
import dagre from "@dagrejs/dagre";
import type { GraphNode } from "../gen/api";
import { edgeLabel, nodeStatusText, type SubEdge, type Subgraph } from "./dep_graph";

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
  /** Centre and width of the label. */
  labelX: number;
  labelY: number;
  labelWidth: number;
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

const labelWidth = (e: SubEdge) => edgeLabel(e).length * LABEL_CHAR_W + 8;

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
    g.setEdge(e.dependency, e.service, { width: labelWidth(e), height: 16, labelpos: "c" });
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
    return { edge: e, points, labelX: l.x ?? mid.x, labelY: l.y ?? mid.y, labelWidth: labelWidth(e) };
  });
  return { width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), nodes, edges };
}

/** An SVG path through the points, straight segments (dagre already routes around nodes). */
export function pathOf(points: { x: number; y: number }[]): string {
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

