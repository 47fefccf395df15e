// Services in the browser: add one through the form and see it running without a reload, a field
// error shown next to its field, stop/start/restart from the overview, a crash seen live as
// backoff -> running, edit, delete with confirmation, and a custom restart with its progress.
import { test, expect, serviceRow, unique } from "./fixtures";
import { sh, waitFor } from "./harness";

test("add a service through the form and see it running without a reload", async ({ page, daemon }) => {
  const name = unique("added");
  await page.goto("/");
  await page.getByRole("link", { name: "Add service" }).click();
  await expect(page).toHaveURL(/\/services\/new$/);
  await expect(page.getByRole("heading", { level: 1, name: "Add service" })).toBeVisible();
  await page.getByLabel("name", { exact: true }).fill(name);
  await page.getByLabel("command", { exact: true }).fill(sh.ticker(1));
  // Marks the document: a full reload would lose it.
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${name}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText(name);
  await expect(page.getByTestId("state").first()).toHaveText("running");
  await page.getByRole("link", { name: "Overview" }).click();
  await expect(serviceRow(page, name).getByTestId("state")).toHaveText("running");
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  expect((await daemon.service(name)).status).toBe("running");
});

test("a field error from the API is shown next to its field and nothing is created", async ({ page, daemon }) => {
  await page.goto("/services/new");
  await page.getByLabel("name", { exact: true }).fill("Not A Valid Name!");
  await page.getByLabel("command", { exact: true }).fill(sh.sleeper());
  await page.getByRole("button", { name: "Save" }).click();
  const input = page.getByLabel("name", { exact: true });
  await expect(input).toHaveAttribute("aria-invalid", "true");
  await expect(input).toHaveAttribute("aria-describedby", /name-error/);
  const error = page.locator("#name-error");
  await expect(error).toBeVisible();
  await expect(error).not.toBeEmpty();
  await expect(page).toHaveURL(/\/services\/new$/);

  // An empty command is named too, on its own field (whoever finds it: the form or the API).
  await page.getByLabel("name", { exact: true }).fill(unique("nocmd"));
  await page.getByLabel("command", { exact: true }).fill("");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("#command-error")).toBeVisible();
  await expect(page.getByLabel("command", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/services\/new$/);
  const names = ((await daemon.api("GET", "/api/services")) as { name: string }[]).map((s) => s.name);
  expect(names.filter((n) => n.startsWith("nocmd") || n.startsWith("Not"))).toEqual([]);
});

test("stop, start and restart from the overview", async ({ page, daemon }) => {
  const name = unique("ctl");
  await daemon.addService(name, sh.sleeper());
  await page.goto("/");
  const row = serviceRow(page, name);
  const state = row.getByTestId("state");
  await expect(state).toHaveText("running");

  await row.getByRole("button", { name: `Stop ${name}`, exact: true }).click();
  await expect(state).toHaveText("stopped");
  expect((await daemon.service(name)).status).toBe("stopped");

  await row.getByRole("button", { name: `Start ${name}`, exact: true }).click();
  await expect(state).toHaveText("running");
  const before = await daemon.waitStatus(name, "running");

  await row.getByRole("button", { name: `Restart ${name}`, exact: true }).click();
  const after = await waitFor("a new pid", async () => {
    const s = await daemon.service(name);
    return s.status === "running" && s.pid && s.pid !== before.pid ? s : undefined;
  });
  await expect(row).toContainText(String(after.pid));
  await expect(state).toHaveText("running");
});

test("a crash is seen live as backoff, then running again", async ({ page, daemon }) => {
  const name = unique("crashy");
  // Runs 2 s, exits 1; restarted 1.5 s later: long enough in each state for the DOM to be seen in it.
  await daemon.addService(name, "sleep 2; exit 1", {
    restart: "always",
    backoff: { initial_delay_ms: 1500, multiplier: 1.0, jitter: 0 },
    max_restarts: 1000,
  });
  await page.goto("/");
  const row = serviceRow(page, name);
  const state = row.getByTestId("state");
  await expect(state).toHaveText("running");
  await expect(state).toHaveText("backoff", { timeout: 15_000 });
  await expect(state).toHaveText("running", { timeout: 15_000 });
  await expect(row.getByTestId("restarts")).not.toHaveText(/^\s*0\s*$/);
});

test("edit a service through the form", async ({ page, daemon }) => {
  const name = unique("edited");
  await daemon.addService(name, "echo before; exec sleep 100000");
  await page.goto(`/services/${name}`);
  await page.getByRole("link", { name: "Edit" }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${name}/edit$`));
  await expect(page.getByRole("heading", { level: 1, name: `Edit ${name}` })).toBeVisible();
  const command = page.getByLabel("command", { exact: true });
  await expect(command).toHaveValue(/echo before/);
  await command.fill("echo after-edit; exec sleep 100000");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${name}$`));
  await expect(page.getByText(/after-edit/).first()).toBeVisible();
  const svc = await daemon.service(name);
  expect(JSON.stringify(svc.command)).toContain("after-edit");
  await waitFor("the edited run's output", async () => {
    const logs = await daemon.api("GET", `/api/services/${name}/logs?tail=20`);
    return (logs.lines as { line: string }[]).some((l) => l.line.includes("after-edit"));
  });
});

test("delete a service after confirming", async ({ page, daemon }) => {
  const name = unique("doomed");
  await daemon.addService(name, sh.sleeper());
  await page.goto(`/services/${name}`);
  await page.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  // Cancel first: nothing happens.
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  expect((await daemon.service(name)).name).toBe(name);

  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page).not.toHaveURL(new RegExp(`/services/${name}$`));
  await page.getByRole("link", { name: "Overview" }).click();
  await expect(serviceRow(page, name)).toHaveCount(0);
  await expect(daemon.service(name)).rejects.toMatchObject({ status: 404 });
});

test("custom restart runs with live progress", async ({ page, daemon }) => {
  const name = unique("custom");
  await daemon.addService(name, sh.sleeper());
  await page.goto(`/services/${name}`);
  await expect(page.getByRole("heading", { level: 2, name: "Custom restart" })).toBeVisible();
  // The pre-command takes a moment so its "running" state can be seen before it ends.
  await page.getByLabel("Pre commands").fill("sleep 2; echo pre-step-done");
  await page.getByLabel("Post commands").fill("echo post-step-done");
  await page.getByRole("button", { name: "Run custom restart" }).click();
  const steps = page.getByTestId("job-steps");
  await expect(steps).toBeVisible();
  await expect(steps).toContainText("pre-step-done");
  await expect(steps.getByTestId("job-step").filter({ hasText: "pre-step-done" })).toHaveAttribute("data-status", "running");
  await expect(steps).toContainText("post-step-done");
  // Each step's status is also in its data-status (the text runs words together: "post[0]ok").
  const post = steps.getByTestId("job-step").filter({ hasText: "post-step-done" });
  await expect(post).toHaveAttribute("data-status", "ok", { timeout: 20_000 });
  await expect(steps).toContainText(/allow/i);
  const jobs = await daemon.api("GET", `/api/jobs?service=${name}`);
  expect(jobs.jobs[0].status).toBe("succeeded");
});

test("environment values are masked until revealed", async ({ page, daemon }) => {
  const name = unique("secretive");
  await daemon.addService(name, sh.sleeper(), { env: { API_KEY: "s3cret-value-42" } });
  await page.goto(`/services/${name}`);
  const definition = page.locator("section, div").filter({ has: page.getByRole("heading", { level: 2, name: "Definition" }) }).last();
  await expect(definition).toContainText("API_KEY");
  await expect(page.getByText("s3cret-value-42")).toHaveCount(0);
  await page.getByRole("button", { name: /^Reveal/ }).first().click();
  await expect(page.getByText("s3cret-value-42").first()).toBeVisible();
});
