// The log view in the browser: lines arrive live while following, pause holds the view, the
// server-side search finds lines, and "Download" hands over the log as a file.
import { readFile } from "node:fs/promises";
import { test, expect, unique } from "./fixtures";
import { sh } from "./harness";

/** The highest `tick N`/`marker N` number among the rendered rows. */
async function lastNumber(rows: import("@playwright/test").Locator): Promise<number> {
  const texts = await rows.allTextContents();
  let max = 0;
  for (const t of texts) for (const m of t.matchAll(/(?:tick|marker) (\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

test("logs follow live, pause, search and download", async ({ page, daemon }) => {
  const name = unique("logger");
  await daemon.addService(name, sh.ticker(0.1));
  await page.goto(`/services/${name}/logs`);
  const view = page.getByTestId("log-view");
  const rows = view.getByTestId("log-line");
  await expect(rows.first()).toBeVisible();

  // Following: newer lines keep arriving without any action.
  const first = await lastNumber(rows);
  await expect.poll(() => lastNumber(rows), { timeout: 10_000 }).toBeGreaterThan(first + 5);

  // Paused: the view stops moving while the service goes on writing.
  const pause = page.getByRole("button", { name: /^(Pause|Resume)$/ });
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(pause).toHaveAttribute("aria-pressed", "true");
  const held = await lastNumber(rows);
  const logged = async () => {
    const res = await daemon.api("GET", `/api/services/${name}/logs?tail=1`);
    return Number(/(\d+)/.exec(res.lines[0].line)?.[1] ?? 0);
  };
  await expect.poll(logged, { timeout: 10_000 }).toBeGreaterThan(held + 10);
  expect(await lastNumber(rows)).toBeLessThanOrEqual(held + 2);
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(pause).toHaveAttribute("aria-pressed", "false");
  await expect.poll(() => lastNumber(rows), { timeout: 10_000 }).toBeGreaterThan(held + 10);

  // Search (server-side): every row shown matches; clearing it brings the others back.
  await page.getByLabel("Search logs").fill("marker");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(rows.first()).toContainText("marker");
  await expect.poll(async () => (await rows.allTextContents()).every((t) => t.includes("marker"))).toBe(true);
  // A regex too.
  await page.getByLabel("Regex").check();
  await page.getByLabel("Search logs").fill("^marker [0-9]*0$");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(rows.first()).toContainText("marker");
  await expect.poll(async () => (await rows.allTextContents()).every((t) => /marker \d*0/.test(t))).toBe(true);
  await page.getByRole("button", { name: "Clear search" }).click();
  await expect(rows.filter({ hasText: "tick" }).first()).toBeVisible();

  // Download: a file with the service's output.
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download" }).click()]);
  const file = await download.path();
  const text = await readFile(file, "utf8");
  expect(text).toContain("tick 1");
  expect(text).toContain("marker 10");
});

test("the stream filter shows only stderr lines", async ({ page, daemon }) => {
  const name = unique("streams");
  await daemon.addService(name, "i=0; while true; do i=$((i+1)); echo out-$i; echo err-$i >&2; sleep 0.2; done");
  await page.goto(`/services/${name}/logs`);
  const rows = page.getByTestId("log-view").getByTestId("log-line");
  await expect(rows.filter({ hasText: "out-" }).first()).toBeVisible();
  await page.getByRole("combobox", { name: "Stream" }).selectOption("stderr");
  await expect(rows.filter({ hasText: "err-" }).first()).toBeVisible();
  await expect.poll(async () => (await rows.allTextContents()).some((t) => t.includes("out-"))).toBe(false);
});
