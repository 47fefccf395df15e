import { describe, expect, it } from "vitest";
import { around, counts, edgeLabel, edgeText } from "./dep_graph";
import { layout, pathOf } from "./dep_layout";
import type { Graph, GraphEdge, GraphNode } from "../gen/api";

const node = (name: string, over: Partial<GraphNode> = {}): GraphNode => ({ name, status: "running", ...over });
const edge = (service: string, dependency: string, over: Partial<GraphEdge> = {}): GraphEdge => ({
  service,
  dependency,
  condition: "started",
  restart: false,
  satisfied: true,
  ...over,
});

// db <- api (healthy) <- worker (restart), api <- web; cache <- worker; a lone service; an unrelated pair.
const graph: Graph = {
  nodes: [
    node("api", { status: "waiting", waiting_for: [{ service: "db", condition: "healthy", reason: "db is starting", blocked: false }] }),
    node("cache"),
    node("db", { status: "starting", health_status: "unknown" }),
    node("lone"),
    node("other"),
    node("web", { status: "waiting" }),
    node("worker", { status: "stopped" }),
    node("x"),
  ],
  edges: [
    edge("api", "db", { condition: "healthy", satisfied: false }),
    edge("other", "x"),
    edge("web", "api", { satisfied: false }),
    edge("worker", "api", { restart: true, satisfied: false }),
    edge("worker", "cache"),
  ],
  order: [["cache", "db", "lone", "x"], ["api", "other"], ["web", "worker"]],
};

describe("around", () => {
  it("keeps the service's dependencies and dependents, transitively, and the edges among them", () => {
    const sub = around(graph, "api")!;
    expect(sub.nodes.map((n) => n.name)).toEqual(["api", "db", "web", "worker"]);
    expect(sub.edges.map((e) => `${e.service}>${e.dependency}`)).toEqual(["api>db", "web>api", "worker>api"]);
    expect(counts(sub)).toEqual({ dependencies: 1, dependents: 2 });
  });

  it("follows chains both ways from a leaf: db's dependents' dependents, not their other dependencies", () => {
    const sub = around(graph, "db")!;
    expect(sub.nodes.map((n) => n.name)).toEqual(["api", "db", "web", "worker"]);
    expect(counts(sub)).toEqual({ dependencies: 0, dependents: 3 });
    const w = around(graph, "worker")!;
    expect(w.nodes.map((n) => n.name)).toEqual(["api", "cache", "db", "worker"]);
    expect(counts(w)).toEqual({ dependencies: 3, dependents: 0 });
  });

  it("is null for a service without edges, and for an answer that is not a graph", () => {
    expect(around(graph, "lone")).toBeNull();
    expect(around(graph, "nobody")).toBeNull();
    expect(around({}, "api")).toBeNull();
    expect(around(null, "api")).toBeNull();
  });

  it("gives each edge its state: satisfied, unmet with the dependent's reason, blocked", () => {
    const blockedGraph: Graph = {
      ...graph,
      nodes: graph.nodes.map((n) =>
        n.name === "api" ? { ...n, waiting_for: [{ service: "db", condition: "healthy", reason: "db is fatal: gave up", blocked: true }] } : n,
      ),
    };
    const texts = (g: Graph, c: string) => around(g, c)!.edges.map(edgeText);
    expect(texts(graph, "api")).toEqual([
      "api depends on db (healthy, unmet: db is starting)",
      "web depends on api (started, unmet)",
      "worker depends on api (started, restarts with it, unmet)",
    ]);
    expect(texts(blockedGraph, "api")[0]).toBe("api depends on db (healthy, blocked: db is fatal: gave up)");
    expect(around(blockedGraph, "api")!.edges[0]!.state).toBe("blocked");
    // A fatal dependency blocks even before the dependent says so.
    const fatal: Graph = { ...graph, nodes: graph.nodes.map((n) => (n.name === "x" ? { ...n, status: "fatal" } : n)) };
    const ox = around(fatal, "x")!.edges[0]!;
    expect([ox.state, edgeText(ox)]).toEqual(["satisfied", "other depends on x (started, satisfied)"]);
    const unmetFatal: Graph = { ...fatal, edges: fatal.edges.map((e) => (e.service === "other" ? { ...e, satisfied: false } : e)) };
    expect(around(unmetFatal, "x")!.edges[0]!.state).toBe("blocked");
  });

  it("draws an edge to a name the graph has no node for as a stopped node", () => {
    const sub = around({ nodes: [node("a")], edges: [edge("a", "ghost")], order: [] }, "a")!;
    expect(sub.nodes).toEqual([node("a"), { name: "ghost", status: "stopped" }]);
  });
});

describe("layout", () => {
  it("puts dependencies above their dependents, arrows ending at the dependency, inside the drawing", () => {
    const l = layout(around(graph, "api")!);
    const at = Object.fromEntries(l.nodes.map((n) => [n.node.name, n]));
    expect(at.db!.y).toBeLessThan(at.api!.y);
    expect(at.api!.y).toBeLessThan(at.worker!.y);
    expect(at.worker!.y).toBe(at.web!.y);
    for (const n of l.nodes) {
      expect(n.x).toBeGreaterThanOrEqual(0);
      expect(n.y).toBeGreaterThanOrEqual(0);
      expect(n.x + n.width).toBeLessThanOrEqual(l.width);
      expect(n.y + n.height).toBeLessThanOrEqual(l.height);
    }
    const apiDb = l.edges.find((e) => e.edge.service === "api")!;
    const first = apiDb.points[0]!;
    const last = apiDb.points[apiDb.points.length - 1]!;
    // Starts at api's box, ends at db's.
    expect(first.y).toBeGreaterThan(last.y);
    expect(Math.abs(last.y - (at.db!.y + at.db!.height))).toBeLessThan(1);
    expect(pathOf(apiDb.points)).toMatch(/^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/);
    expect(apiDb.labelY).toBeGreaterThan(last.y);
    expect(apiDb.labelY).toBeLessThan(first.y);
  });

  it("labels edges with the condition and ↻ for restart", () => {
    expect(edgeLabel(edge("a", "b", { condition: "healthy" }))).toBe("healthy");
    expect(edgeLabel(edge("a", "b", { restart: true }))).toBe("started ↻");
  });
});
