// Cron in the browser: add a job through the form (a field error first), run it now, see its output
// (live while it runs) and its history.
import { test, expect, unique } from "./fixtures";

test("add a cron job, run it now, see its output and history", async ({ page, daemon }) => {
  const name = unique("nightly");
  await page.goto("/cron");
  await expect(page.getByRole("heading", { level: 1, name: "Cron jobs" })).toBeVisible();
  await page.getByRole("link", { name: "Add cron job" }).click();
  await expect(page).toHaveURL(/\/cron\/new$/);
  await page.getByLabel("name", { exact: true }).fill(name);
  // A bad schedule first: the API names the field and the form shows it there.
  await page.getByLabel("schedule", { exact: true }).fill("61 * * * *");
  await page.getByLabel("command", { exact: true }).fill("echo cron-started; sleep 4; echo cron-finished");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#schedule-error")).toBeVisible();
  await expect(page.getByLabel("schedule", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await page.getByLabel("schedule", { exact: true }).fill("0 3 * * *");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).not.toHaveURL(/\/cron\/new$/);
  await daemon.api("GET", `/api/cron/${name}`);

  await page.goto("/cron");
  const row = page.getByTestId(`cron-row-${name}`);
  await expect(row).toContainText("0 3 * * *");
  await expect(row.getByTestId("schedule-description")).toContainText(/3:00|03:00/);

  await row.getByRole("button", { name: `Run ${name} now` }).click();
  await page.goto(`/cron/${name}`);
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  const executions = page.getByRole("table", { name: "Executions" }).getByTestId("execution-row");
  await expect(executions).toHaveCount(1);
  await executions.first().click();
  const output = page.getByTestId("execution-output");
  // Live while it runs: the first line shows before the job has ended.
  await expect(output).toContainText("cron-started");
  const running = await daemon.api("GET", `/api/cron/${name}/executions`);
  expect(running.executions[0].status, "the output was shown only after the execution ended").toBe("running");
  await expect(output).toContainText("cron-finished", { timeout: 15_000 });
  await expect(executions.first()).toContainText(/succeeded/i);
  await expect(executions.first()).toContainText(/manual/i);

  // A second run adds to the history, newest first.
  const runNow = page.getByRole("button", { name: `Run ${name} now` });
  if (await runNow.count()) await runNow.click();
  else await daemon.api("POST", `/api/cron/${name}/run`);
  await expect(executions).toHaveCount(2, { timeout: 15_000 });
  const history = await daemon.api("GET", `/api/cron/${name}/executions`);
  expect(history.executions.length).toBe(2);
});
