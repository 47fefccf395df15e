import { describe as suite, expect, it } from "vitest";
import { applyEvent, applyMetrics, describe, isFailure, live, uptimeAt, viewFailure, waitingTitle, withState } from "./service_state";
import type { ServiceEvent, ServiceView } from "./types";

const view = (over: Partial<ServiceView> = {}): ServiceView =>
  ({ name: "web", command: "x", env: {}, enabled: true, restart: "always", max_restarts: 10, stop_signal: "SIGTERM",
     stop_timeout_s: 10, watch_dirs: [], expose_caddy: false, depends_on: {}, source: "api", status: "running",
     pid: 10, uptime_s: 100, restart_count: 0, ...over }) as ServiceView;
const ev = (over: Partial<ServiceEvent>): ServiceEvent =>
  ({ id: 1, kind: "lifecycle", service: "web", time: "2026-12-05T12:00:00.000Z", from: "running", to: "backoff", reason: "", ...over }) as ServiceEvent;

suite("service_state", () => {
  it("a crash moves the row to backoff with the exit and no pid", () => {
    const v = applyEvent(live(view(), 0), ev({ exit_code: 3, reason: "exited" }));
    expect(v.status).toBe("backoff");
    expect(v.pid).toBeUndefined();
    expect(v.last_exit).toEqual({ code: 3, signal: undefined, at: "2026-12-05T12:00:00.000Z" });
    expect(viewFailure(v)?.text).toBe("crashed, in backoff: exit code 3");
  });

  it("running -> backoff counts a restart; running resets uptime from the event time", () => {
    let v = applyEvent(live(view(), 0), ev({ exit_code: 3 }));
    expect(v.restart_count).toBe(1);
    v = applyEvent(v, ev({ from: "backoff", to: "starting" }));
    expect(v.restart_count).toBe(1);
    v = applyEvent(v, ev({ from: "starting", to: "running", pid: 77, time: "2026-12-05T12:00:10.000Z" }));
    expect(v.pid).toBe(77);
    expect(uptimeAt(v, Date.parse("2026-12-05T12:00:15.000Z"))).toBe(5);
  });

  it("uptime ticks from when the view was read and is absent when not running", () => {
    const v = live(view({ uptime_s: 10 }), 1000);
    expect(uptimeAt(v, 3000)).toBe(12);
    expect(uptimeAt({ ...v, status: "stopped" }, 3000)).toBeUndefined();
  });

  it("health and metrics events patch their fields only", () => {
    const v = applyEvent(live(view(), 0), ev({ kind: "health", from: "running", to: "running", health: "unhealthy" }));
    expect(v.status).toBe("running");
    expect(v.health_status).toBe("unhealthy");
    const m = applyMetrics(v, { time: "", kind: "service", name: "web", memory_mb: 12, cpu_percent: 3 });
    expect([m.memory_mb, m.cpu_percent, m.pid]).toEqual([12, 3, 10]);
  });

  it("an action's answer replaces the runtime fields, dropping those it leaves out", () => {
    const v = withState(live(view({ memory_mb: 5, cpu_percent: 1 }), 0), { status: "stopped", restart_count: 2, last_exit: { signal: "SIGTERM", at: "t" } }, 9);
    expect(v.status).toBe("stopped");
    expect([v.pid, v.uptime_s, v.memory_mb, v.cpu_percent]).toEqual([undefined, undefined, undefined, undefined]);
    expect(v.restart_count).toBe(2);
    expect(v.command).toBe("x");
    const r = withState(v, { status: "running", pid: 99, uptime_s: 0.1, restart_count: 2 }, 10);
    expect([r.pid, r.seen_at, r.last_exit]).toEqual([99, 10, undefined]);
  });

  it("describes events and tells failures apart", () => {
    expect(describe(ev({ signal: "SIGKILL", reason: "killed" }))).toBe("running → backoff: signal SIGKILL: killed");
    expect(isFailure(ev({}))).toBe(true);
    expect(isFailure(ev({ to: "stopped" }))).toBe(false);
    expect(isFailure(ev({ to: "exited", exit_code: 0 }))).toBe(false);
    expect(isFailure(ev({ kind: "health", health: "unhealthy" }))).toBe(true);
    expect(isFailure(ev({ kind: "job", reason: "custom-restart job 7 failed: x" }))).toBe(true);
    expect(viewFailure(view({ status: "stopped", last_exit: { code: 1, at: "" } }))).toBeNull();
    expect(viewFailure(view({ status: "running", last_exit: { code: 0, at: "" } }))).toBeNull();
    expect(viewFailure(view({ status: "running", last_exit: { signal: "SIGTERM", at: "" } }))).toBeNull();
    expect(viewFailure(view({ status: "running", last_exit: { signal: "SIGKILL", at: "t" } }))?.text).toBe("last run ended: signal SIGKILL");
  });

  it("a waiting service keeps what it waits for until it moves on; an action's answer brings it", () => {
    const waitingFor = [
      { service: "db", condition: "healthy" as const, reason: "db is starting", blocked: false },
      { service: "setup", condition: "completed" as const, reason: "setup exited with code 2", blocked: true },
    ];
    let v = withState(live(view(), 0), { status: "waiting", restart_count: 0, waiting_for: waitingFor }, 1);
    expect(v.waiting_for).toEqual(waitingFor);
    expect(waitingTitle(v.waiting_for)).toBe(
      "waiting for db (healthy): db is starting; setup (completed, blocked): setup exited with code 2",
    );
    v = applyEvent(v, ev({ from: "stopped", to: "waiting" }));
    expect(v.waiting_for).toEqual(waitingFor);
    v = applyEvent(v, ev({ from: "waiting", to: "starting" }));
    expect(v.waiting_for).toBeUndefined();
    expect(waitingTitle(v.waiting_for)).toBeUndefined();
    expect(withState(live(view({ status: "waiting", waiting_for: waitingFor }), 0), { status: "stopped", restart_count: 0 }, 1).waiting_for).toBeUndefined();
  });
});
