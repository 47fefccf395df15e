// Playwright fixtures over the harness: one real daemon per worker (a spec file that needs other
// daemon settings, e.g. a Caddy, sets `daemonOptions` and so gets a worker of its own), signed in once
// per worker with a one-time code (the session cookie is reused by every test's fresh context),
// `baseURL` pointing at the daemon. Every page fails its test when a JavaScript dialog opens (the XSS
// guard: a script that ran would typically `alert`), and page errors are attached to the report.
import { test as base, expect, type Browser, type Page, type BrowserContext } from "@playwright/test";
import { Daemon, type DaemonOptions } from "./harness";

type StorageState = Awaited<ReturnType<BrowserContext["storageState"]>>;

/**
 * A browser context signed in with the code of a `tend dashboard` link, exchanged by `POST /api/login`
 * from the context's own request client (its cookie jar is the context's), not through the page. The
 * page's sign-in is auth.spec's subject; here a UI race there (see its stale-401 test) would otherwise
 * fail every test that merely needs a session.
 */
export async function signedInContext(browser: Browser, daemon: Daemon): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: daemon.url, storageState: SIGNED_OUT });
  try {
    const code = new URL(await daemon.signInLink()).hash.replace(/^#code=/, "");
    const res = await context.request.post("/api/login", { data: { code }, headers: { origin: daemon.url } });
    if (!res.ok()) throw new Error(`POST /api/login answered ${res.status()}: ${await res.text()}`);
    return context;
  } catch (e) {
    await context.close();
    throw e;
  }
}

async function sessionState(browser: Browser, daemon: Daemon): Promise<StorageState> {
  const context = await signedInContext(browser, daemon);
  try {
    return await context.storageState();
  } finally {
    await context.close();
  }
}

export const test = base.extend<
  { dialogs: string[] },
  { daemonOptions: DaemonOptions; daemon: Daemon; session: StorageState }
>({
  daemonOptions: [{}, { scope: "worker", option: true }],
  daemon: [
    async ({ daemonOptions }, use) => {
      const daemon = await Daemon.start(daemonOptions);
      await use(daemon);
      await daemon.stop();
    },
    { scope: "worker", timeout: 60_000 },
  ],
  session: [
    async ({ browser, daemon }, use) => use(await sessionState(browser, daemon)),
    { scope: "worker", timeout: 60_000 },
  ],
  baseURL: async ({ daemon }, use) => use(daemon.url),
  storageState: async ({ session }, use) => use(session),
  dialogs: async ({ context }, use) => {
    const dialogs: string[] = [];
    const watch = (page: Page) => {
      page.on("dialog", (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        void d.dismiss().catch(() => {});
      });
      page.on("pageerror", (e) => test.info().annotations.push({ type: "pageerror", description: String(e) }));
    };
    context.pages().forEach(watch);
    context.on("page", watch);
    await use(dialogs);
    expect(dialogs, "a JavaScript dialog opened (did service data run as script?)").toEqual([]);
  },
  // Every test gets the dialog guard, whether or not it names `dialogs`.
  page: async ({ page, dialogs }, use) => {
    void dialogs;
    await use(page);
  },
});

export { expect };

/** For `browser.newContext`, which Playwright otherwise gives the worker's signed-in storage state. */
export const SIGNED_OUT: StorageState = { cookies: [], origins: [] };

/** A row of the overview's services table. */
export const serviceRow = (page: Page, name: string) => page.getByTestId(`service-row-${name}`);

/** A name unique within the worker's daemon, for tests that create things. */
let counter = 0;
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid % 10000}-${counter}`;
}
