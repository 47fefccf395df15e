// The chat in the browser against a real daemon whose model is a scripted OpenAI-compatible server
// (e2e/llm_script.ts, real HTTP): "Ask about this service" on a service's page, the answer streamed
// in as text (markup the model wrote stays text), the tool the model used with the live answer the
// daemon gave it, and the proposed restart doing nothing until confirmed, then really restarting the
// service (its pid changes). The chat screen lists the conversation, reopens it and deletes it; Stop
// makes the daemon hang up on the model.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { test, expect, unique } from "./fixtures";
import { repoRoot, sh, waitFor } from "./harness";
import { ScriptedLlm } from "./llm_script";

let llm: ScriptedLlm | null = null;
test.use({
  daemonOptions: {
    toml: async () => {
      llm ??= await ScriptedLlm.start();
      return llm.toml();
    },
  },
});
test.afterAll(async () => {
  await llm?.stop();
  llm = null;
});

const SHOTS = path.join(repoRoot, "target", "dashboard-screens");

test("ask about a service: streamed text, a tool use, and a confirmed proposal restarts it", async ({ page, daemon }) => {
  test.setTimeout(90_000);
  const name = unique("asked");
  await daemon.addService(name, sh.sleeper());
  const before = (await daemon.service(name)).pid as number;
  expect(before).toBeGreaterThan(0);
  llm!.push(
    { text: ["Let me ", "look at ", name, ". "], tools: [{ name: "service_status", arguments: { name } }] },
    { text: [`${name} runs `, "<b>fine</b>. "], tools: [{ name: "propose_action", arguments: { action: "restart", service: name, reason: "a restart picks up the new settings" } }] },
    { text: ["I proposed ", "a restart."] },
  );
  const asked = llm!.requests.length;

  await page.goto(`/services/${name}`);
  await page.getByRole("button", { name: "Ask about this service" }).click();
  const chat = page.getByTestId("service-chat");
  await chat.getByLabel("Message").fill("Is it healthy?");
  await chat.getByRole("button", { name: "Send" }).click();
  const answer = chat.getByTestId("chat-answer");
  await expect(answer).toContainText("I proposed a restart.", { timeout: 30_000 });
  await expect(answer).toContainText(`Let me look at ${name}.`);
  // The model's markup is shown as text, never made an element.
  await expect(answer).toContainText(`${name} runs <b>fine</b>.`);
  await expect(answer.locator("b")).toHaveCount(0);
  await expect(chat.getByRole("button", { name: "Stop" })).toHaveCount(0);

  // The tool: its name, and (folded) the answer the daemon gave the model from live data.
  const tool = answer.getByTestId("tool-use").filter({ hasText: "service_status" });
  await expect(tool).toHaveCount(1);
  await tool.locator("summary").click();
  await expect(tool.locator("pre")).toContainText(String(before));
  const sent = JSON.stringify(llm!.requests[asked + 1]);
  expect(sent).toContain(String(before));
  expect(JSON.parse(JSON.stringify(llm!.requests[asked])).stream).toBe(true);

  // The proposal: nothing happens without the click; cancelling changes nothing; confirming restarts.
  const card = answer.getByTestId("proposal");
  await expect(card).toContainText("a restart picks up the new settings");
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, "chat-service-1280x800-light.png"), fullPage: true });
  expect((await daemon.service(name)).pid).toBe(before);
  await card.getByRole("button", { name: `Restart ${name}…` }).click();
  const dialog = page.getByRole("dialog", { name: `Restart ${name}?` });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  expect((await daemon.service(name)).pid).toBe(before);
  await card.getByRole("button", { name: `Restart ${name}…` }).click();
  await page.getByRole("dialog", { name: `Restart ${name}?` }).getByRole("button", { name: `Restart ${name}`, exact: true }).click();
  await expect(card.getByTestId("proposal-result")).toContainText("restart: done");
  await waitFor(`${name} to run with a new pid`, async () => {
    const s = await daemon.service(name);
    return s.status === "running" && s.pid !== before ? s : undefined;
  });
});

test("the chat screen lists a conversation, reopens it with its tools, and deletes it", async ({ page, daemon }) => {
  test.setTimeout(60_000);
  const name = unique("listed");
  await daemon.addService(name, sh.sleeper());
  llm!.push({ tools: [{ name: "service_status", arguments: { name } }] }, { text: [`${name} is `, "running."] });

  await page.goto(`/chat?service=${name}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`about ${name}`);
  await page.getByLabel("Message").fill(`How is ${name}?`);
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("chat-answer")).toContainText(`${name} is running.`, { timeout: 30_000 });
  // The new conversation is opened by id and listed.
  await expect(page).toHaveURL(/\/chat\?c=/);
  const row = page.getByTestId("conversation").filter({ hasText: `How is ${name}?` });
  await expect(row).toHaveCount(1);
  const id = new URL(page.url()).searchParams.get("c")!;
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, "chat-1280x800-light.png"), fullPage: true });

  // Reopened from the list: the stored exchange, the tool with it.
  await page.goto("/chat");
  await page.getByTestId("conversation").filter({ hasText: `How is ${name}?` }).getByRole("link").click();
  await expect(page.getByTestId("chat-user")).toContainText(`How is ${name}?`);
  await expect(page.getByTestId("chat-assistant").last()).toContainText(`${name} is running.`);
  await expect(page.getByTestId("tool-use").filter({ hasText: "service_status" }).first()).toBeVisible();

  await row.getByRole("button", { name: /^Delete conversation/ }).click();
  await page.getByRole("dialog", { name: "Delete this conversation?" }).getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("conversation").filter({ hasText: `How is ${name}?` })).toHaveCount(0);
  await expect(page).toHaveURL(/\/chat$/);
  await expect(daemon.api("GET", `/api/chat/conversations/${id}`)).rejects.toThrow(/404/);
});

test("Stop aborts the answer: the daemon hangs up on the model, and nothing of it is kept", async ({ page }) => {
  llm!.push({ text: ["Thinking about ", "it"], hang: true });
  const abandoned = llm!.abandoned;
  await page.goto("/chat");
  await page.getByLabel("Message").fill("Take your time.");
  await page.getByRole("button", { name: "Send" }).click();
  await expect(page.getByTestId("chat-answer")).toContainText("Thinking about it", { timeout: 30_000 });
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(page.getByTestId("chat-stopped")).toBeVisible();
  await waitFor("the scripted model to see the daemon hang up", () => llm!.abandoned > abandoned);
  // Stored: the person's message, never the partial answer.
  await expect(page).toHaveURL(/\/chat\?c=/);
  const id = new URL(page.url()).searchParams.get("c")!;
  await page.goto(`/chat?c=${id}`);
  await expect(page.getByTestId("chat-user")).toContainText("Take your time.");
  await expect(page.getByTestId("chat-assistant")).toHaveCount(0);
});
