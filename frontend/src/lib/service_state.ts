// How live events change what the screens show about a service, and how events read as text: pure
// functions over the wire shapes (tested in service_state.test.ts). The REST view stays the source of
// truth; these patches make the change visible in the frame it arrives in, and the next REST read
// replaces them.
import type { ServiceEvent, ServiceView, MetricsEvent, ServiceState } from "./types";
import type { WaitingFor } from "../gen/api";
import { visible } from "./text";

/** A row's view plus when its `uptime_s` was true (ms since epoch), for a ticking uptime. */
export interface LiveView extends ServiceView {
  seen_at: number;
}

export function live(view: ServiceView, at: number): LiveView {
  return { ...view, seen_at: at };
}

/** Uptime in seconds at `now`, for a running service. */
export function uptimeAt(v: LiveView, now: number): number | undefined {
  if (v.status !== "running" || v.uptime_s === undefined) return undefined;
  return v.uptime_s + Math.max(0, now - v.seen_at) / 1000;
}

/** The view after a lifecycle or health event about it. */
export function applyEvent(v: LiveView, ev: ServiceEvent): LiveView {
  if (ev.kind === "health") return { ...v, health_status: ev.health ?? v.health_status };
  if (ev.kind !== "lifecycle") return v;
  const at = Date.parse(ev.time) || Date.now();
  const next: LiveView = { ...v, status: ev.to };
  // What a waiting service waits for comes with the REST view that follows; it is over once it moves on.
  if (ev.to !== "waiting") delete next.waiting_for;
  if (ev.to === "running") {
    next.pid = ev.pid ?? v.pid;
    next.uptime_s = 0;
    next.seen_at = at;
  } else if (ev.to !== "starting" && ev.to !== "stopping") {
    delete next.pid;
    delete next.uptime_s;
    delete next.cpu_percent;
    delete next.memory_mb;
  }
  if (ev.from === "running" || ev.from === "stopping" || ev.from === "starting") {
    if (ev.exit_code !== undefined || ev.signal !== undefined) {
      next.last_exit = { code: ev.exit_code, signal: ev.signal, at: ev.time };
    }
  }
  // The daemon counts a restart when it schedules one (`restart 7/10 in 57.5 s`).
  if (ev.to === "backoff") next.restart_count = v.restart_count + 1;
  else delete next.next_start_at;
  if (ev.to === "running" || ev.to === "stopped") {
    if (v.health || v.health_check_url) next.health_status = "unknown";
    else delete next.health_status;
  }
  return next;
}

/** The view with the runtime state an action answered (`POST .../start|stop|restart`): fields the
 *  answer leaves out (no pid once stopped, ...) are gone from the view too. */
export function withState(v: LiveView, state: ServiceState, at: number): LiveView {
  const { pid: _p, uptime_s: _u, last_exit: _l, next_start_at: _n, health_status: _h, memory_mb: _m, cpu_percent: _c, waiting_for: _w, ...spec } = v;
  return {
    ...spec,
    status: state.status,
    restart_count: state.restart_count,
    ...(state.pid !== undefined ? { pid: state.pid } : {}),
    ...(state.uptime_s !== undefined ? { uptime_s: state.uptime_s } : {}),
    ...(state.last_exit !== undefined ? { last_exit: state.last_exit } : {}),
    ...(state.next_start_at !== undefined ? { next_start_at: state.next_start_at } : {}),
    ...(state.health_status !== undefined ? { health_status: state.health_status } : {}),
    ...(state.memory_mb !== undefined ? { memory_mb: state.memory_mb } : {}),
    ...(state.cpu_percent !== undefined ? { cpu_percent: state.cpu_percent } : {}),
    ...(state.waiting_for?.length ? { waiting_for: state.waiting_for } : {}),
    seen_at: at,
  };
}

export function applyMetrics(v: LiveView, m: MetricsEvent): LiveView {
  return { ...v, cpu_percent: m.cpu_percent, memory_mb: m.memory_mb };
}

/** One unmet dependency as text: `db (healthy): db is starting`, `, blocked` when it failed for good. */
export function waitingText(w: WaitingFor): string {
  return visible(`${w.service} (${w.condition}${w.blocked ? ", blocked" : ""})${w.reason ? `: ${w.reason}` : ""}`);
}

/** A waiting service's reasons in one line (the overview's tooltip), or undefined when there are none. */
export function waitingTitle(ws: WaitingFor[] | undefined): string | undefined {
  return ws?.length ? `waiting for ${ws.map(waitingText).join("; ")}` : undefined;
}

/** `exit code 3`, `signal SIGKILL`, or "" when the event carries neither. */
export function exitText(code: number | undefined, signal: string | undefined): string {
  if (signal) return `signal ${signal}`;
  if (code !== undefined) return `exit code ${code}`;
  return "";
}

/** Did this event report something going wrong (a crash, a give-up, a failing health check)? */
export function isFailure(ev: ServiceEvent): boolean {
  if (ev.kind === "health") return ev.health === "unhealthy";
  if (ev.kind === "job") return /\b(failed|interrupted)\b/.test(ev.reason);
  if (ev.kind === "caddy") return /fail/i.test(ev.reason);
  return ev.to === "backoff" || ev.to === "fatal" || (ev.to === "exited" && ev.exit_code !== 0);
}

/** One line describing an event for the timeline and the failures list (control characters shown). */
export function describe(ev: ServiceEvent): string {
  return visible(describeRaw(ev));
}

function describeRaw(ev: ServiceEvent): string {
  switch (ev.kind) {
    case "health":
      return ev.reason || `health ${ev.health ?? "changed"}`;
    case "job":
    case "caddy":
      return ev.reason;
    default: {
      const exit = exitText(ev.exit_code, ev.signal);
      const parts = [`${ev.from} → ${ev.to}`];
      if (exit) parts.push(exit);
      if (ev.reason) parts.push(ev.reason);
      return parts.join(": ");
    }
  }
}

/** A failure still showing in a service's view (for the overview before any live event arrived). */
export function viewFailure(v: ServiceView): { time: string; text: string } | null {
  const e = v.last_exit;
  if (v.status === "fatal") return { time: e?.at ?? "", text: `fatal${e ? ` after ${exitText(e.code, e.signal)}` : ""}` };
  if (!e || v.status === "stopped" || v.status === "stopping") return null;
  // The service's own stop signal ended a run someone stopped or restarted: not a failure.
  const bad = (e.signal !== undefined && e.signal !== v.stop_signal) || (e.code !== undefined && e.code !== 0);
  if (!bad) return null;
  return { time: e.at, text: `${v.status === "backoff" ? "crashed, in backoff" : "last run ended"}: ${exitText(e.code, e.signal)}` };
}
