import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { FakeSource } from "../testing/fake_event_source";
import type { Graph } from "../gen/api";

// The Dependencies section against a stubbed `GET /api/graph`: the drawing's title and description,
// nodes and edges with their states and links, the list of sentences, a re-read when a service in it
// changes, and nothing at all for a service without edges.

const graphs: Graph[] = [];
const answer = (): Graph => graphs[Math.min(calls - 1, graphs.length - 1)]!;
let calls = 0;
let frames: FrameRequestCallback[] = [];

const unmet: Graph = {
  nodes: [
    { name: "api", status: "waiting", waiting_for: [{ service: "db", condition: "healthy", reason: "db is starting", blocked: false }] },
    { name: "db", status: "starting" },
    { name: "lone", status: "running" },
    { name: "worker", status: "stopped" },
  ],
  edges: [
    { service: "api", dependency: "db", condition: "healthy", restart: false, satisfied: false },
    { service: "worker", dependency: "api", condition: "started", restart: true, satisfied: false },
  ],
  order: [["db", "lone"], ["api"], ["worker"]],
};
const met: Graph = {
  ...unmet,
  nodes: [{ name: "api", status: "running" }, { name: "db", status: "running", health_status: "healthy" }, { name: "lone", status: "running" }, { name: "worker", status: "running" }],
  edges: unmet.edges.map((e) => ({ ...e, satisfied: true })),
};

beforeEach(() => {
  frames = [];
  calls = 0;
  graphs.splice(0, graphs.length, unmet, met);
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal("fetch", async (url: string) => {
    if (url !== "/api/graph") return new Response("{}", { status: 404 });
    calls++;
    return new Response(JSON.stringify(answer()), { status: 200 });
  });
});
afterEach(() => vi.unstubAllGlobals());

const settle = () => act(async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); });

async function mount(name: string) {
  const { DepGraph } = await import("./dep_graph");
  const root = document.createElement("div");
  document.body.append(root);
  await act(() => render(<DepGraph name={name} />, root));
  await settle();
  return root;
}

describe("DepGraph", () => {
  it("draws the graph around the service, says it in words, and re-reads it when one of them changes", async () => {
    const live = await import("../live");
    const root = await mount("api");
    expect(root.querySelector("h2")!.textContent).toBe("Dependencies");
    // The drawing follows once its layout module is loaded.
    await vi.waitFor(() => expect(root.querySelector("svg")).not.toBeNull());
    await settle();
    const svg = root.querySelector("svg")!;
    expect(svg.querySelector("title")!.textContent).toBe("Dependency graph of api");
    expect(svg.getAttribute("aria-labelledby")).toBe("dep-graph-title");
    expect(svg.querySelector("desc")!.textContent).toContain("api needs 1 service and 1 service needs it.");
    const nodes = [...svg.querySelectorAll("a.dep-node")];
    expect(nodes.map((a) => [a.getAttribute("href"), a.getAttribute("class")])).toEqual([
      ["/services/api", "dep-node waiting center"],
      ["/services/db", "dep-node starting"],
      ["/services/worker", "dep-node stopped"],
    ]);
    const edges = [...svg.querySelectorAll("g.dep-edge")];
    expect(edges.map((g) => [g.getAttribute("data-state"), g.querySelector("text")!.textContent])).toEqual([
      ["unmet", "healthy"],
      ["unmet", "started ↻"],
    ]);
    expect(edges[0]!.querySelector("path")!.getAttribute("marker-end")).toBe("url(#dep-arrow-unmet)");
    const items = () => [...root.querySelectorAll("[data-testid=dep-list] li")].map((li) => li.textContent);
    expect(items()).toEqual(["api depends on db (healthy, unmet: db is starting)", "worker depends on api (started, restarts with it, unmet)"]);
    const links = [...root.querySelectorAll("[data-testid=dep-list] a")].map((a) => a.getAttribute("href"));
    expect(links).toEqual(["/services/api", "/services/db", "/services/worker", "/services/api"]);

    // An event about a service outside the graph changes nothing; one about db re-reads it (after
    // the debounce: timers are faked from here, so "nothing happened" needs no waiting).
    live.connect();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      FakeSource.last.emit("lifecycle", { id: 1, kind: "lifecycle", service: "lone", time: "t", from: "running", to: "stopped", reason: "" });
      await act(() => { for (const f of frames.splice(0)) f(0); });
      vi.advanceTimersByTime(5_000);
      expect(calls).toBe(1);
      FakeSource.last.emit("health", { id: 2, kind: "health", service: "db", time: "t", from: "running", to: "running", health: "healthy", reason: "" });
      await act(() => { for (const f of frames.splice(0)) f(0); });
      vi.advanceTimersByTime(5_000);
      expect(calls).toBe(2);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(() => expect(items()[0]).toBe("api depends on db (healthy, satisfied)"));
    expect(calls).toBe(2);
    await vi.waitFor(() => expect(root.querySelector("svg g.dep-edge")!.getAttribute("data-state")).toBe("satisfied"));
    live.disconnect();
  });

  it("shows nothing for a service without edges, or when the daemon has no graph", async () => {
    const root = await mount("lone");
    expect(root.innerHTML).toBe("");
    vi.stubGlobal("fetch", async () => new Response(JSON.stringify({ error: { code: "not_found", message: "no route" } }), { status: 404 }));
    const none = await mount("api");
    expect(none.innerHTML).toBe("");
  });
});
