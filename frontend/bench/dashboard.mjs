// The dashboard's benchmark, in Debian's chromium through playwright-core, against a real daemon that
// `cargo xtask bench dashboard` started (release build with the dashboard embedded) and describes in
// TEND_BENCH_URL, TEND_BENCH_DATA_DIR and TEND_BIN; figures go to the JSON file TEND_BENCH_OUT, which
// xtask turns into its table. Measures:
//  1. first load: JS + CSS bytes transferred (compressed bodies) and the time from navigation to the
//     overview with 200 services in the DOM (fresh browser context each time, so a cold cache);
//  2. a service writing 200,000 lines as fast as it can while its log view follows: the most log rows
//     (and elements) the view ever had in the DOM, the tab's JS heap before and after (after a GC),
//     then a second burst during which "Pause" and "Resume" are clicked up to 5 times each: input to the
//     frame showing the new state;
//  3. a service killed with SIGKILL from outside: kill to the overview's state badge changing, ~20 times.
// Every wait has a deadline; nothing here decides pass or fail (xtask compares with the goals).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const URL_ = need("TEND_BENCH_URL").replace(/\/$/, "");
const DATA_DIR = need("TEND_BENCH_DATA_DIR");
const TEND = need("TEND_BIN");
const OUT = need("TEND_BENCH_OUT");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

const SERVICES = 200;
const LOADS = 7;
const BURST_LINES = 200_000;
const KILLS = 20;
const PAUSES = 5;

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run this through \`cargo xtask bench dashboard\`)`);
  return v;
}

const token = readFileSync(path.join(DATA_DIR, "token"), "utf8").trim();
const log = (msg) => console.log(`==> ${msg}`);
const now = () => performance.timeOrigin + performance.now();

async function api(method, p, body) {
  const headers = { authorization: `Bearer ${token}` };
  const init = { method, headers };
  if (method !== "GET" && method !== "DELETE") {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(`${URL_}${p}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function waitFor(what, check, timeoutMs = 60_000, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function signIn(browser) {
  const link = execFileSync(TEND, ["--data-dir", DATA_DIR, "dashboard", "--no-open"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).match(
    /https?:\/\/\S+\/login#code=\S+/,
  )?.[0];
  if (!link) throw new Error("`tend dashboard --no-open` printed no sign-in link");
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  await page.getByRole("heading", { level: 1, name: "Services" }).waitFor({ timeout: 30_000 });
  const state = await context.storageState();
  await context.close();
  return state;
}

async function serviceCount(status) {
  const list = await api("GET", "/api/services");
  return list.filter((s) => s.name.startsWith("svc-") && (!status || s.status === status)).length;
}

// ---- 1. first load -------------------------------------------------------------------------------
async function firstLoad(browser, state) {
  log(`first load: ${SERVICES} services, ${LOADS} loads in fresh contexts`);
  for (let i = 0; i < SERVICES; i++) {
    await api("POST", "/api/services", { name: `svc-${String(i).padStart(3, "0")}`, command: "exec sleep 100000" });
  }
  await waitFor(`${SERVICES} services running`, async () => (await serviceCount("running")) === SERVICES, 120_000, 200);
  const renders = [];
  let bytes = null;
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext({ storageState: state });
    const page = await context.newPage();
    // Records the moment the DOM first holds every row, from the page's own clock (0 = navigation).
    await page.addInitScript((n) => {
      const check = () => {
        if (window.__rendered === undefined && document.querySelectorAll('[data-testid^="service-row-svc-"]').length >= n)
          window.__rendered = performance.now();
      };
      new MutationObserver(check).observe(document, { childList: true, subtree: true });
    }, SERVICES);
    const pending = [];
    const files = [];
    page.on("requestfinished", (req) => {
      const type = req.resourceType();
      if (type !== "script" && type !== "stylesheet") return;
      pending.push(
        req.sizes().then(async (sizes) => {
          const res = await req.response();
          files.push({ url: req.url().replace(URL_, ""), type, bytes: sizes.responseBodySize, encoding: res?.headers()["content-encoding"] ?? "identity" });
        }),
      );
    });
    await page.goto(`${URL_}/`, { waitUntil: "commit" });
    const t = await page.waitForFunction(() => window.__rendered, null, { timeout: 30_000, polling: 50 });
    renders.push(await t.jsonValue());
    await page.waitForLoadState("load");
    await Promise.all(pending);
    if (bytes === null) bytes = files;
    await context.close();
  }
  const js = bytes.filter((f) => f.type === "script").reduce((a, f) => a + f.bytes, 0);
  const css = bytes.filter((f) => f.type === "stylesheet").reduce((a, f) => a + f.bytes, 0);
  return { services: SERVICES, loads: LOADS, js_bytes: js, css_bytes: css, files: bytes, render_ms: renders, render_median_ms: median(renders) };
}

// ---- 2. log burst -------------------------------------------------------------------------------
async function logBurst(browser, state) {
  log(`log burst: ${BURST_LINES} lines as fast as possible while the view follows, then a second with Pause/Resume clicks`);
  const dir = mkdtempSync(path.join(tmpdir(), "tend-bench-dashboard-"));
  const go1 = path.join(dir, "go1");
  const go2 = path.join(dir, "go2");
  const wait = (f) => `while [ ! -e '${f}' ]; do sleep 0.05; done`;
  const command =
    `${wait(go1)}; seq -f 'first burst line %g, padded to look like a real log line' 1 ${BURST_LINES}; ` +
    `${wait(go2)}; seq -f 'second burst line %g, padded to look like a real log line' 1 ${BURST_LINES}; exec sleep 100000`;
  await api("POST", "/api/services", { name: "burst", command, restart: "never" });
  const context = await browser.newContext({ storageState: state });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return (await cdp.send("Runtime.getHeapUsage")).usedSize / 1048576;
  };
  await page.goto(`${URL_}/services/burst/logs`);
  await page.getByTestId("log-view").waitFor({ timeout: 30_000 });
  // Samples the view every frame: the most rows and elements it ever held.
  await page.evaluate(() => {
    const w = window;
    w.__maxRows = 0;
    w.__maxNodes = 0;
    const view = document.querySelector('[data-testid="log-view"]');
    const sample = () => {
      w.__maxRows = Math.max(w.__maxRows, view.querySelectorAll('[data-testid="log-line"]').length);
      w.__maxNodes = Math.max(w.__maxNodes, view.getElementsByTagName("*").length);
      requestAnimationFrame(sample);
    };
    requestAnimationFrame(sample);
  });
  const heapBefore = await heap();
  const lastLine = async () => {
    const r = await api("GET", "/api/services/burst/logs?tail=1");
    const m = /line (\d+)/.exec(r.lines[0]?.line ?? "");
    return { text: r.lines[0]?.line ?? "", n: m ? Number(m[1]) : 0 };
  };

  const started = now();
  writeFileSync(go1, "");
  await waitFor("the first burst in the daemon's log", async () => {
    const l = await lastLine();
    return l.text.startsWith("first") && l.n === BURST_LINES;
  }, 300_000, 50);
  const stored = now();
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="log-view"]')?.textContent?.includes(`first burst line ${n},`),
    BURST_LINES,
    { timeout: 300_000, polling: 100 },
  );
  const shown = now();
  const heapAfter = await heap();

  // Second burst: "Pause" (and then "Resume") clicked up to PAUSES times while the daemon is still
  // storing it. The page measures each click from the input's timestamp (pointerdown) to the frame
  // after the toggle shows its new state.
  await page.evaluate(() => {
    const w = window;
    w.__clicks = [];
    const toggle = () => [...document.querySelectorAll("button")].find((b) => /^(Pause|Resume)$/.test(b.textContent?.trim() ?? ""));
    const pressed = () => toggle()?.getAttribute("aria-pressed") === "true" || toggle()?.textContent?.trim() === "Resume";
    document.addEventListener(
      "pointerdown",
      (e) => {
        const b = e.target instanceof Element ? e.target.closest("button") : null;
        if (b && b === toggle()) w.__clicks.push({ label: b.textContent.trim(), down: e.timeStamp, wasPressed: pressed(), frame: undefined });
      },
      { capture: true },
    );
    new MutationObserver(() => {
      const c = w.__clicks[w.__clicks.length - 1];
      if (c && c.frame === undefined && pressed() !== c.wasPressed) requestAnimationFrame(() => (c.frame ??= performance.now()));
    }).observe(document.body, { attributes: true, childList: true, characterData: true, subtree: true });
  });
  writeFileSync(go2, "");
  await waitFor("the second burst to be under way", async () => {
    const l = await lastLine();
    return l.text.startsWith("second") && l.n >= 2000 ? l : undefined;
  }, 120_000, 5);
  const pauses = [];
  const resumes = [];
  // "During the burst" from the page's side: until the view shows its last line (the daemon stores
  // 200,000 lines in about a second; the page is busy with them for a few more).
  const caughtUp = () =>
    page.evaluate((n) => !!document.querySelector('[data-testid="log-view"]')?.textContent?.includes(`second burst line ${n},`), BURST_LINES);
  for (let i = 0; i < PAUSES; i++) {
    const at = await lastLine();
    if (i > 0 && (await caughtUp())) break;
    for (const [label, into] of [["Pause", pauses], ["Resume", resumes]]) {
      await page.getByRole("button", { name: label, exact: true }).click();
      const done = await page.waitForFunction(
        () => {
          const c = window.__clicks[window.__clicks.length - 1];
          return c && c.frame !== undefined && c.frame - c.down;
        },
        null,
        { timeout: 30_000 },
      );
      into.push({ ms: await done.jsonValue(), at_line: at.text.startsWith("second") ? at.n : 0 });
    }
  }
  await waitFor("the second burst in the daemon's log", async () => {
    const l = await lastLine();
    return l.text.startsWith("second") && l.n === BURST_LINES;
  }, 300_000, 50);
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="log-view"]')?.textContent?.includes(`second burst line ${n},`),
    BURST_LINES,
    { timeout: 300_000, polling: 100 },
  );
  const heapEnd = await heap();
  const maxRows = await page.evaluate(() => window.__maxRows);
  const maxNodes = await page.evaluate(() => window.__maxNodes);
  await context.close();
  rmSync(dir, { recursive: true, force: true });
  await api("DELETE", "/api/services/burst");
  return {
    lines: BURST_LINES,
    max_rows: maxRows,
    max_elements: maxNodes,
    heap_before_mb: heapBefore,
    heap_after_first_burst_mb: heapAfter,
    heap_after_both_mb: heapEnd,
    first_burst_stored_s: (stored - started) / 1000,
    first_burst_shown_s: (shown - started) / 1000,
    pause_clicks: pauses,
    pause_median_ms: median(pauses.map((p) => p.ms)),
    pause_max_ms: Math.max(...pauses.map((p) => p.ms)),
    resume_clicks: resumes,
    resume_max_ms: Math.max(...resumes.map((p) => p.ms)),
  };
}

// ---- 3. kill to DOM -----------------------------------------------------------------------------
async function killLatency(browser, state) {
  log(`state change: ${KILLS} SIGKILLs from outside to the overview's state badge`);
  await api("POST", "/api/services", {
    name: "victim",
    command: "exec sleep 100000",
    restart: "always",
    max_restarts: 1000,
    backoff: { initial_delay_ms: 300, multiplier: 1.0, jitter: 0 },
  });
  const context = await browser.newContext({ storageState: state });
  const page = await context.newPage();
  await page.goto(`${URL_}/`);
  const badge = '[data-testid="service-row-victim"] [data-testid="state"]';
  await page.locator(badge).filter({ hasText: /^running$/ }).waitFor({ timeout: 30_000 });
  const samples = [];
  let lastPid = 0;
  for (let i = 0; i < KILLS; i++) {
    const svc = await waitFor("victim running with a new pid", async () => {
      const s = await api("GET", "/api/services/victim");
      return s.status === "running" && s.pid && s.pid !== lastPid ? s : undefined;
    }, 30_000);
    lastPid = svc.pid;
    await page.locator(badge).filter({ hasText: /^running$/ }).waitFor({ timeout: 30_000 });
    await page.evaluate((sel) => {
      window.__changed = undefined;
      const el = document.querySelector(sel);
      const obs = new MutationObserver(() => {
        const now = document.querySelector(sel);
        if ((now?.textContent ?? "").trim() !== "running" && window.__changed === undefined) {
          window.__changed = performance.timeOrigin + performance.now();
          obs.disconnect();
        }
      });
      // The row's subtree: the badge may be replaced rather than changed in place.
      obs.observe(el.closest('[data-testid="service-row-victim"]') ?? document.body, { childList: true, characterData: true, subtree: true, attributes: true });
    }, badge);
    const t0 = now();
    process.kill(svc.pid, "SIGKILL");
    const seen = await page.waitForFunction(() => window.__changed, null, { timeout: 30_000, polling: 50 });
    samples.push((await seen.jsonValue()) - t0);
  }
  await context.close();
  return { kills: KILLS, samples_ms: samples, p50_ms: percentile(samples, 50), p95_ms: percentile(samples, 95), max_ms: Math.max(...samples) };
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
try {
  const state = await signIn(browser);
  const first = await firstLoad(browser, state);
  const logs = await logBurst(browser, state);
  const kill = await killLatency(browser, state);
  writeFileSync(OUT, JSON.stringify({ first_load: first, logs, kill }, null, 2) + "\n");
  log(`figures in ${OUT}`);
} finally {
  await browser.close();
}
