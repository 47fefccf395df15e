// The Dependencies section of a service's page: the graph around the service from `GET /api/graph`
// drawn as an SVG DAG (dependencies above their dependents, arrows pointing at what a service needs,
// each node in its status colour and linking to its page, each edge labelled with its condition, ↻
// for `restart`, dashed when unmet, red when blocked), and the same graph as a list of sentences for
// screen readers and tests. Renders nothing when the service has no edge (or the daemon no graph).
// Re-read when a service in it changes state (lifecycle and health events), or after a reconnect.
import { useEffect, useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, get, seg } from "../api";
import { reconnected, subscribe } from "../live";
import { around, counts, edgeDetails, edgeLabel, edgeText, nodeStatusText, type Subgraph } from "../lib/dep_graph";
import type { Layout } from "../lib/dep_layout";
import type { Graph } from "../gen/api";
import type { ServiceEvent } from "../lib/types";

const STATES = ["satisfied", "unmet", "blocked"] as const;

// dagre is loaded with the first graph to draw, not with every service page.
let layoutModule: Promise<typeof import("../lib/dep_layout")> | null = null;

type Laid = { layout: Layout; pathOf: (points: { x: number; y: number }[]) => string };

function useLayout(sub: Subgraph): Laid | null {
  const [out, setOut] = useState<Laid | null>(null);
  useEffect(() => {
    let alive = true;
    layoutModule ??= import("../lib/dep_layout");
    layoutModule.then(
      (m) => alive && setOut({ layout: m.layout(sub), pathOf: m.pathOf }),
      // Without the drawing, the list still says it all.
      () => {},
    );
    return () => {
      alive = false;
    };
  }, [sub]);
  return out;
}

function Drawing({ sub }: { sub: Subgraph }) {
  const loc = useLocation() as ReturnType<typeof useLocation> | undefined;
  const laid = useLayout(sub);
  if (!laid) return null;
  const { layout: l, pathOf } = laid;
  const c = counts(sub);
  // The router follows HTML links only (an SVG <a> is not one to it): a plain click goes through it
  // here, so opening a node's page keeps the tab's state instead of reloading the app.
  const follow = (e: MouseEvent, href: string) => {
    if (!loc || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    loc.route(href);
  };
  return (
    <div class="dep-graph-wrap">
      <svg
        class="dep-graph"
        width={l.width}
        height={l.height}
        viewBox={`0 0 ${l.width} ${l.height}`}
        aria-labelledby="dep-graph-title"
        aria-describedby="dep-graph-desc"
        data-testid="dep-graph-svg"
      >
        <title id="dep-graph-title">Dependency graph of {sub.center}</title>
        <desc id="dep-graph-desc">
          {`${sub.center} needs ${c.dependencies} ${c.dependencies === 1 ? "service" : "services"} and ${c.dependents} ${c.dependents === 1 ? "service needs" : "services need"} it. `}
          Arrows point from a service to what it depends on, labelled with the condition (↻: restarts with
          it); dashed: the condition does not hold yet; red: blocked. The list below says the same in words.
        </desc>
        <defs>
          {STATES.map((s) => (
            <marker key={s} id={`dep-arrow-${s}`} class={`dep-arrow ${s}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" />
            </marker>
          ))}
        </defs>
        {l.edges.map(({ edge, points, labelX, labelY, labelWidth: w }) => {
          const label = edgeLabel(edge);
          return (
            <g key={`${edge.service}>${edge.dependency}`} class={`dep-edge ${edge.state}`} data-state={edge.state}>
              <title>{edgeText(edge)}</title>
              <path d={pathOf(points)} marker-end={`url(#dep-arrow-${edge.state})`} />
              <rect class="dep-label-bg" x={labelX - w / 2} y={labelY - 9} width={w} height={18} rx={4} />
              <text x={labelX} y={labelY} text-anchor="middle" dominant-baseline="central">
                {label}
              </text>
            </g>
          );
        })}
        {l.nodes.map(({ node, x, y, width, height }) => (
          <a
            key={node.name}
            href={`/services/${seg(node.name)}`}
            class={`dep-node ${node.status}${node.name === sub.center ? " center" : ""}`}
            onClick={(e) => follow(e, `/services/${seg(node.name)}`)}
          >
            <title>{`${node.name}: ${nodeStatusText(node)}`}</title>
            <rect x={x} y={y} width={width} height={height} rx={6} />
            <text x={x + width / 2} y={y + 16} text-anchor="middle" class="dep-name">
              {node.name}
            </text>
            <text x={x + width / 2} y={y + 32} text-anchor="middle" class="dep-status">
              {nodeStatusText(node)}
            </text>
          </a>
        ))}
      </svg>
    </div>
  );
}

export function DepGraph({ name }: { name: string }) {
  const [graph, setGraph] = useState<Graph | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    let known: Graph | null = null;
    const load = () =>
      get<Graph>("/api/graph").then(
        (g) => {
          if (!alive) return;
          known = g;
          setGraph(g);
          setError(null);
        },
        (e: unknown) => {
          if (!alive) return;
          // A daemon without the graph (404) simply has nothing to draw.
          if (e instanceof ApiError && e.status === 404) setGraph(null);
          else setError(e instanceof Error ? e.message : String(e));
        },
      );
    setGraph(null);
    load();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const refresh = () => {
      clearTimeout(timer);
      timer = setTimeout(load, 300);
    };
    // A service of this graph changed, or one the graph does not know yet (it may be a new dependent).
    const onEvents = (evs: ServiceEvent[]) => {
      const sub = around(known, name);
      const shown = new Set(sub?.nodes.map((n) => n.name) ?? [name]);
      const all = new Set(known?.nodes?.map((n) => n.name) ?? []);
      if (evs.some((e) => shown.has(e.service) || !all.has(e.service))) refresh();
    };
    let lastReconnect = reconnected.value;
    const unsubs = [
      subscribe("lifecycle", onEvents),
      subscribe("health", onEvents),
      reconnected.subscribe((n) => {
        if (n === lastReconnect) return;
        lastReconnect = n;
        load();
      }),
    ];
    return () => {
      alive = false;
      clearTimeout(timer);
      for (const u of unsubs) u();
    };
  }, [name]);

  const sub = useMemo(() => around(graph, name), [graph, name]);
  if (!sub)
    return error ? (
      <p class="muted" data-testid="dep-graph-error">
        Dependency graph unavailable: {error}
      </p>
    ) : null;
  return (
    <section aria-labelledby="h-deps" data-testid="dep-graph">
      <h2 id="h-deps">Dependencies</h2>
      <Drawing sub={sub} />
      <ul class="plain dep-list" data-testid="dep-list" aria-label={`Dependencies of ${name} in words`}>
        {sub.edges.map((e) => (
          <li key={`${e.service}>${e.dependency}`} data-state={e.state}>
            <a href={`/services/${seg(e.service)}`}>{e.service}</a>
            {" depends on "}
            <a href={`/services/${seg(e.dependency)}`}>{e.dependency}</a>
            {` (${edgeDetails(e)})`}
          </li>
        ))}
      </ul>
    </section>
  );
}
