// Every screen, with real data behind it, checked by axe-core (0 serious or critical violations, each
// listed when not) and for sideways scrolling of the page itself, and photographed at 1280x800 and 390x844 in the light and the dark theme into
// target/dashboard-screens/<screen>-<size>-<theme>.png (PR reviews look at them; CI keeps them).
import { mkdir } from "node:fs/promises";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import type { Page, Locator } from "@playwright/test";
import { test, expect, SIGNED_OUT } from "./fixtures";
import { brokenService, evaluate, FIXER_SCRIPT_TOML, freePort, repoRoot, sh, waitFor, type Daemon } from "./harness";

const OUT = path.join(repoRoot, "target", "dashboard-screens");
const SIZES = [
  { name: "1280x800", width: 1280, height: 800 },
  { name: "390x844", width: 390, height: 844 },
] as const;
const THEMES = ["light", "dark"] as const;

interface Screen {
  name: string;
  path: string;
  /** Something that is there once the screen shows its data. */
  ready: (page: Page) => Locator;
  /** Signed out (the login page). */
  anonymous?: boolean;
}

const SCREENS: Screen[] = [
  { name: "login", path: "/login", anonymous: true, ready: (p) => p.getByLabel("Token") },
  { name: "overview", path: "/", ready: (p) => p.getByTestId("service-row-web").getByTestId("state") },
  { name: "service", path: "/services/web", ready: (p) => p.getByRole("heading", { level: 2, name: "Events" }) },
  { name: "logs", path: "/services/worker/logs", ready: (p) => p.getByTestId("log-line").first() },
  { name: "service-new", path: "/services/new", ready: (p) => p.getByLabel("command", { exact: true }) },
  { name: "service-edit", path: "/services/web/edit", ready: (p) => p.getByLabel("command", { exact: true }) },
  { name: "cron", path: "/cron", ready: (p) => p.getByTestId("cron-row-backup") },
  { name: "cron-detail", path: "/cron/backup", ready: (p) => p.getByTestId("execution-row").first() },
  { name: "cron-new", path: "/cron/new", ready: (p) => p.getByLabel("schedule", { exact: true }) },
  { name: "plugins", path: "/plugins", ready: (p) => p.getByRole("table", { name: "Plugins" }).getByRole("row").nth(1) },
  { name: "proxy", path: "/proxy", ready: (p) => p.getByRole("table", { name: "Routes" }).getByRole("cell", { name: "web", exact: true }) },
  { name: "audit", path: "/audit", ready: (p) => p.getByRole("table", { name: "Policy decisions" }).getByText("rm -rf /") },
  { name: "onboard", path: "/onboard", ready: (p) => p.getByLabel(/^Project/) },
  { name: "chat", path: "/chat", ready: (p) => p.getByRole("heading", { level: 2, name: "Conversations" }) },
  { name: "supervisor", path: "/supervisor", ready: (p) => p.getByRole("table", { name: "Sessions" }).getByRole("row").nth(1) },
];

// The admin spec runs with a Caddy too; sharing its option values lets both share one worker. The
// scripted fixer gives the fix screen a proposal waiting for approval.
test.use({ daemonOptions: { caddy: true, plugins: ["fixer-script"], toml: FIXER_SCRIPT_TOML } });

let seeded = false;
/** Services, a cron job with executions, a custom restart, policy decisions and a fix awaiting
 *  approval, so no screen is empty. */
async function seed(daemon: Daemon) {
  if (seeded) return;
  seeded = true;
  const port = await freePort();
  await daemon.addService("web", ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1"], {
    port,
    expose_caddy: true,
    env: { API_KEY: "s3cret-value", MODE: "demo" },
    health: { probe: "http", interval_s: 1 },
  });
  await daemon.addService(
    "worker",
    `i=0; while true; do i=$((i+1)); printf '\\033[32mINFO\\033[0m job %s done\\n' $i; [ $((i % 7)) -eq 0 ] && echo "warning: slow step $i" >&2; sleep 0.3; done`,
  );
  await daemon.addService("crashy", "echo starting; sleep 1; echo 'fatal: cannot open config' >&2; exit 3", {
    restart: "on-failure",
    max_restarts: 1,
    backoff: { initial_delay_ms: 200 },
  }, false);
  await daemon.addService("idle", sh.sleeper(), { enabled: false }, false);
  await daemon.api("POST", "/api/cron", { name: "backup", schedule: "*/30 * * * *", command: "echo backing up; echo done" });
  await daemon.api("POST", "/api/cron", { name: "report", schedule: "0 8 * * MON-FRI", command: "echo report", enabled: false });
  await daemon.api("POST", "/api/cron/backup/run");
  await daemon.api("POST", "/api/services/web/custom-restart", {
    pre_commands: [{ command_type: "shell", command: "echo building", is_safe: true }],
    post_commands: [{ command_type: "shell", command: "echo checked", is_safe: true }],
    args: [],
  });
  await evaluate(daemon, "rm -rf /");
  await evaluate(daemon, "make build");
  await brokenService(daemon, "broken", "model");
  const fix = await daemon.api("POST", "/api/services/broken/fix");
  SCREENS.push({ name: "fix", path: `/fixes/${fix.id}`, ready: (p) => p.getByRole("button", { name: "Approve" }) });
  await waitFor("the seeded cron execution and job to end", async () => {
    const ex = await daemon.api("GET", "/api/cron/backup/executions");
    const jobs = await daemon.api("GET", "/api/jobs?service=web");
    const f = await daemon.api("GET", `/api/fixes/${fix.id}`);
    return ex.executions[0]?.status === "succeeded" && jobs.jobs[0]?.status === "succeeded" && f.status === "awaiting-approval";
  }, 30_000);
}

/**
 * axe's serious and critical violations. Contrast depends on the theme and layout (scroll regions,
 * hidden columns) on the size, and contrast is most of axe's cost: every rule at 1280x800 light,
 * contrast alone in dark, everything but contrast at 390x844 light; 390x844 dark is only photographed.
 */
async function axe(page: Page, size: string, theme: string): Promise<string[]> {
  let builder = new AxeBuilder({ page });
  if (theme === "dark") {
    if (size !== SIZES[0].name) return [];
    builder = builder.withRules(["color-contrast"]);
  } else if (size !== SIZES[0].name) builder = builder.disableRules(["color-contrast"]);
  const result = await builder.analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 5).join(", ")}`);
}

/** How far the page scrolls sideways and the outermost elements sticking out, or null. */
async function sideways(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const root = document.documentElement;
    const by = root.scrollWidth - root.clientWidth;
    if (by <= 0) return null;
    // Inside a box that scrolls or clips sideways. (Approximate for absolutely positioned elements:
    // one whose containing block is outside that box escapes its clipping, so those always count.)
    const clipped = (el: Element | Node) => {
      if (el instanceof Element && ["absolute", "fixed"].includes(getComputedStyle(el).position)) return false;
      for (let p = el.parentElement; p && p !== root; p = p.parentElement)
        if (getComputedStyle(p).overflowX !== "visible") return true;
      return false;
    };
    const culprits = [document.body, ...document.body.querySelectorAll("*")]
      .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5 && !clipped(el))
      .filter((el, _, all) => !all.some((o) => o !== el && o.contains(el)))
      .slice(0, 3)
      .map((el) => `${el.tagName.toLowerCase()}${el.className ? `.${String(el.className).trim().split(/\s+/).join(".")}` : ""}`);
    // Text can run past a box that fits (a long word, a user agent): its parent is named then.
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let n = walker.nextNode(); n && culprits.length < 3; n = walker.nextNode()) {
      const parent = n.parentElement;
      if (!parent || !n.textContent?.trim() || clipped(n)) continue;
      range.selectNodeContents(n);
      if (range.getBoundingClientRect().right > root.clientWidth + 0.5)
        culprits.push(`text "${n.textContent.trim().slice(0, 40)}" in ${parent.tagName.toLowerCase()}${parent.className ? `.${String(parent.className).trim().split(/\s+/).join(".")}` : ""}`);
    }
    return `the page scrolls sideways by ${by} px (${culprits.join(", ") || "no element or text found past the edge"})`;
  });
}

test.beforeAll(async ({ daemon }) => {
  test.setTimeout(90_000);
  await mkdir(OUT, { recursive: true });
  await seed(daemon);
});

// One test for all screens: a failing screen is listed with the others instead of costing a new
// worker (a new daemon and seed) per failure.
test("every screen: axe and screenshots", async ({ page, browser, daemon }) => {
  test.setTimeout(180_000);
  const problems: string[] = [];
  for (const screen of SCREENS) {
    await test.step(screen.name, async () => {
      let target = page;
      let ownContext = null;
      if (screen.anonymous) {
        ownContext = await browser.newContext({ baseURL: daemon.url, storageState: SIGNED_OUT });
        target = await ownContext.newPage();
      }
      try {
        for (const theme of THEMES) {
          for (const size of SIZES) {
            // Loaded at each size and theme, as a phone or a dark desktop would (canvases are sized
            // and painted for the viewport and colours they start with).
            await target.emulateMedia({ colorScheme: theme });
            await target.setViewportSize({ width: size.width, height: size.height });
            await target.goto(screen.path);
            await expect(screen.ready(target)).toBeVisible();
            for (const v of await axe(target, size.name, theme)) problems.push(`${screen.name} [${size.name} ${theme}] ${v}`);
            // Usable on a phone: wide tables scroll inside their own box, the page itself does not.
            const overflow = await sideways(target);
            if (overflow) problems.push(`${screen.name} [${size.name} ${theme}] ${overflow}`);
            await target.screenshot({
              path: path.join(OUT, `${screen.name}-${size.name}-${theme}.png`),
              fullPage: true,
              animations: "disabled",
            });
          }
        }
      } catch (e) {
        problems.push(`${screen.name}: ${String(e).split("\n").slice(0, 3).join(" ")}`);
      } finally {
        await ownContext?.close();
        await page.emulateMedia({ colorScheme: "light" });
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    });
  }
  expect(problems, "screens with serious or critical accessibility violations, that scroll sideways on a phone, or that did not render").toEqual([]);
});
