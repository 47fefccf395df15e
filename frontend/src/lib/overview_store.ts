// The overview's data: every service as a row of signals (so a live event re-renders one row), the
// health heartbeats and memory sparklines of all services from one `GET /api/overview`, supervisor
// figures, cron jobs due, running jobs and recent failures. Loaded with a handful of parallel calls
// (never one per row) and kept current by the event bus: lifecycle/health/metrics events patch rows in
// the frame they arrive in; a REST re-read (debounced) follows to pick up what events do not carry.
import { batch, signal, type Signal } from "@preact/signals";
import { ApiError, get } from "../api";
import { reconnected, subscribe } from "../live";
import { push, SLOTS, type Beat } from "./heartbeat";
import { visible } from "./text";
import { applyEvent, applyMetrics, describe, isFailure, live, viewFailure, type LiveView } from "./service_state";
import type {
  CronEvent,
  JobView,
  MetricsEvent,
  OverviewResponse,
  ServiceEvent,
  ServiceView,
  StatusResponse,
  SupervisorStatus,
} from "./types";

export interface Row {
  name: string;
  view: Signal<LiveView>;
  beats: Signal<Beat[]>;
  /** Memory samples (MiB), oldest first: the last hour, then live samples. */
  mem: Signal<number[]>;
}

export interface Failure {
  key: string;
  service: string;
  time: string;
  text: string;
}

/** Memory points a sparkline keeps (an hour at one-minute steps, plus live samples). */
const MEM_POINTS = 90;
const FAILURES = 20;
/** Probe results and resource points are re-read this often (health events only report changes). */
const OVERVIEW_REFRESH_MS = 30_000;

export const rows = signal<Row[]>([]);
export const loaded = signal(false);
export const loadError = signal<string | null>(null);
export const supervisor = signal<SupervisorStatus | null>(null);
export const cronDue = signal<{ name: string; next_run_at: string }[]>([]);
export const jobs = signal<JobView[]>([]);
export const failures = signal<Failure[]>([]);
/** False when the daemon has no `/api/overview` yet (heartbeats and sparklines then fill live only). */
export const overviewAvailable = signal(true);

const byName = new Map<string, Row>();

function rowFor(v: ServiceView, at: number): Row {
  let r = byName.get(v.name);
  if (r) {
    r.view.value = live(v, at);
    return r;
  }
  r = { name: v.name, view: signal(live(v, at)), beats: signal([]), mem: signal([]) };
  byName.set(v.name, r);
  return r;
}

function setServices(list: ServiceView[]) {
  const at = Date.now();
  batch(() => {
    const seen = new Set<string>();
    const next = list.map((v) => {
      seen.add(v.name);
      return rowFor(v, at);
    });
    for (const name of [...byName.keys()]) if (!seen.has(name)) byName.delete(name);
    next.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const prev = rows.value;
    if (prev.length !== next.length || prev.some((r, i) => r !== next[i])) rows.value = next;
    // Failures still visible in the views, for services without a live failure listed yet.
    const listed = new Set(failures.value.map((f) => f.service));
    const fromViews: Failure[] = [];
    for (const v of list) {
      const f = viewFailure(v);
      if (f && !listed.has(v.name)) fromViews.push({ key: `view:${v.name}:${f.time}`, service: v.name, ...f });
    }
    if (fromViews.length) addFailures(fromViews);
  });
}

function addFailures(fs: Failure[]) {
  const keys = new Set(failures.value.map((f) => f.key));
  const merged = [...failures.value, ...fs.filter((f) => !keys.has(f.key))];
  merged.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  failures.value = merged.slice(0, FAILURES);
}

function setOverview(o: OverviewResponse) {
  batch(() => {
    for (const s of o.services) {
      const r = byName.get(s.name);
      if (!r) continue;
      r.beats.value = s.health.slice(-SLOTS);
      r.mem.value = s.resources.map((p) => p.memory_mb).slice(-MEM_POINTS);
    }
    cronDue.value = o.cron_due;
  });
}

// The first load of the overview asks for the services as soon as this module is evaluated, in
// parallel with the shell's sign-in check, instead of one round trip after it (navigation-to-rows time
// is a goal of the dashboard). Used once, if still fresh.
let early: { at: number; services: Promise<ServiceView[]>; status: Promise<StatusResponse> } | null = null;
if (typeof location !== "undefined" && location.pathname === "/") {
  early = { at: Date.now(), services: get<ServiceView[]>("/api/services"), status: get<StatusResponse>("/api/status") };
  // Refused (not signed in yet): forget it, the overview asks again once it is shown.
  const drop = () => (early = null);
  early.services.catch(drop);
  early.status.catch(drop);
}
function takeEarly() {
  const e = early;
  early = null;
  return e && Date.now() - e.at < 5000 ? e : null;
}

async function loadServices(first = false) {
  const e = first ? takeEarly() : null;
  if (e) {
    const [services, status] = await Promise.all([e.services, e.status]);
    setServices(services);
    supervisor.value = status.supervisor;
    return;
  }
  setServices(await get<ServiceView[]>("/api/services"));
}

async function loadOverview() {
  if (!overviewAvailable.value) return loadCronFallback();
  try {
    setOverview(await get<OverviewResponse>("/api/overview"));
  } catch (e) {
    // An older daemon without the endpoint: heartbeats and sparklines fill from live events, and the
    // cron figures come from the cron status instead.
    if (e instanceof ApiError && e.status === 404) {
      overviewAvailable.value = false;
      return loadCronFallback();
    }
    throw e;
  }
}

async function loadCronFallback() {
  const st = await get<{ jobs: Record<string, { enabled: boolean; next_run_at?: string }> }>("/api/cron/status");
  const until = Date.now() + 86_400_000;
  cronDue.value = Object.entries(st.jobs)
    .filter(([, j]) => j.enabled && j.next_run_at && Date.parse(j.next_run_at) <= until)
    .map(([name, j]) => ({ name, next_run_at: j.next_run_at! }))
    .sort((a, b) => (a.next_run_at < b.next_run_at ? -1 : 1));
}

async function loadStatus() {
  supervisor.value = (await get<StatusResponse>("/api/status")).supervisor;
}

async function loadJobs() {
  const [running, queued] = await Promise.all([
    get<{ jobs: JobView[] }>("/api/jobs?status=running&limit=100"),
    get<{ jobs: JobView[] }>("/api/jobs?status=queued&limit=100"),
  ]);
  jobs.value = [...running.jobs, ...queued.jobs];
}

function report(e: unknown) {
  loadError.value = e instanceof Error ? e.message : String(e);
}

/** Re-reads after a burst of events, at most once per `ms`. */
function debounced(fn: () => Promise<void>, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      fn().catch(report);
    }, ms);
  };
}

let users = 0;
let stopLive: (() => void) | null = null;

/** Loads everything and follows the bus while an overview is mounted. Returns the stop function. */
export function start(): () => void {
  users++;
  const all = (early ? loadServices(true) : Promise.all([loadServices(), loadStatus()])).then(() => {
    loaded.value = true;
    loadError.value = null;
  });
  all.catch(report);
  // Heartbeats need the rows to exist; the rest can arrive in any order.
  all.then(() => loadOverview()).catch(report);
  loadJobs().catch(report);
  if (!stopLive) stopLive = follow();
  return () => {
    users--;
    if (users === 0 && stopLive) {
      stopLive();
      stopLive = null;
    }
  };
}

function follow(): () => void {
  const refreshServices = debounced(() => loadServices(), 750);
  const refreshJobs = debounced(loadJobs, 500);
  const refreshCron = debounced(loadOverview, 1000);
  const refreshStatus = debounced(loadStatus, 2000);
  const unsubs = [
    subscribe("lifecycle", (evs) => {
      const fails: Failure[] = [];
      let unknown = false;
      for (const ev of evs) {
        const r = byName.get(ev.service);
        if (r) r.view.value = applyEvent(r.view.value, ev);
        else unknown = true;
        if (isFailure(ev)) fails.push({ key: `ev:${ev.id}`, service: ev.service, time: ev.time, text: describe(ev) });
      }
      if (fails.length) addFailures(fails);
      // Counts, last exit, next start and added/removed services come with the REST view.
      refreshServices();
      refreshStatus();
      if (unknown) refreshServices();
    }),
    subscribe("health", (evs) => {
      const fails: Failure[] = [];
      for (const ev of evs) {
        const r = byName.get(ev.service);
        if (!r) continue;
        r.view.value = applyEvent(r.view.value, ev);
        if (ev.health === "healthy" || ev.health === "unhealthy")
          r.beats.value = push(r.beats.value, { time: ev.time, passed: ev.health === "healthy" });
        if (isFailure(ev)) fails.push({ key: `ev:${ev.id}`, service: ev.service, time: ev.time, text: describe(ev) });
      }
      if (fails.length) addFailures(fails);
    }),
    subscribe("metrics", (evs) => {
      for (const m of evs) {
        if (m.kind !== "service") continue;
        const r = byName.get(m.name);
        if (!r) continue;
        r.view.value = applyMetrics(r.view.value, m);
        const mem = r.mem.value;
        r.mem.value = mem.length >= MEM_POINTS ? [...mem.slice(1), m.memory_mb] : [...mem, m.memory_mb];
      }
    }),
    subscribe("job", (evs) => {
      const fails = evs.filter(isFailure).map((ev) => ({ key: `ev:${ev.id}`, service: ev.service, time: ev.time, text: describe(ev) }));
      if (fails.length) addFailures(fails);
      refreshJobs();
    }),
    subscribe("cron", (evs) => {
      const fails = evs
        .filter((e) => e.phase === "finished" && e.status !== "succeeded")
        .map((e) => ({
          key: `cron:${e.id}`,
          service: `cron ${e.job}`,
          time: e.time,
          text: visible(`execution ${e.execution} ${e.status}${e.message ? `: ${e.message}` : ""}`),
        }));
      if (fails.length) addFailures(fails);
      refreshCron();
    }),
  ];
  const timer = setInterval(() => loadOverview().catch(report), OVERVIEW_REFRESH_MS);
  let lastReconnect = reconnected.value;
  const unsubReconnect = reconnected.subscribe((n) => {
    if (n === lastReconnect) return;
    lastReconnect = n;
    // Metrics are not replayed after a reconnect; re-read everything once.
    Promise.all([loadServices(), loadStatus(), loadOverview(), loadJobs()]).catch(report);
  });
  return () => {
    for (const u of unsubs) u();
    unsubReconnect();
    clearInterval(timer);
  };
}
