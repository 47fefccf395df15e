import { afterEach, describe, expect, it, vi } from "vitest";
import { get, markSignedIn, signedIn } from "./api";

function deferred() {
  let resolve!: (r: Response) => void;
  const promise = new Promise<Response>((r) => (resolve = r));
  return { promise, resolve };
}

const unauthorized = () =>
  new Response(JSON.stringify({ error: { code: "unauthorized", message: "not signed in" } }), { status: 401 });

describe("sign-in state", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("a 401 to a request sent before the latest sign-in does not sign out", async () => {
    const slow = deferred();
    vi.stubGlobal("fetch", vi.fn(() => slow.promise));
    signedIn.value = null;
    const before = get("/api/status").catch((e: unknown) => e);
    markSignedIn();
    slow.resolve(unauthorized());
    await before;
    expect(signedIn.value).toBe(true);
  });

  it("a 401 to a request sent after it does", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => unauthorized()));
    markSignedIn();
    await get("/api/status").catch(() => undefined);
    expect(signedIn.value).toBe(false);
  });
});
