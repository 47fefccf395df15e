import { afterEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { LocationProvider } from "preact-iso";
import { Login, codeFromHash } from "./login";
import { signedIn } from "../api";

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.innerHTML = "";
  signedIn.value = null;
});

const settle = () => act(async () => { await new Promise((r) => setTimeout(r, 0)); });

describe("Login", () => {
  it("reads the code from the fragment only", () => {
    expect(codeFromHash("#code=abc123")).toBe("abc123");
    expect(codeFromHash("#x=1")).toBeNull();
    expect(codeFromHash("")).toBeNull();
  });

  it("takes the code out of the URL before signing in with it, then goes to the overview", async () => {
    history.replaceState(null, "", "/login#code=s3cret");
    const calls: { url: string; body: string; hashAtCall: string }[] = [];
    vi.stubGlobal("fetch", async (url: string, init: RequestInit) => {
      calls.push({ url, body: String(init.body), hashAtCall: location.hash });
      return new Response(JSON.stringify({ id: "x" }), { status: 201 });
    });
    const root = document.createElement("div");
    document.body.append(root);
    await act(() => render(<LocationProvider><Login /></LocationProvider>, root));
    await settle();
    expect(calls).toEqual([{ url: "/api/login", body: '{"code":"s3cret"}', hashAtCall: "" }]);
    expect(location.href).not.toContain("s3cret");
    expect(signedIn.value).toBe(true);
    expect(location.pathname).toBe("/");
    expect(localStorage.length + sessionStorage.length).toBe(0);
  });

  it("signs in with a pasted token and shows a refusal as an alert", async () => {
    history.replaceState(null, "", "/login");
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ error: { code: "unauthorized", message: "wrong token" } }), { status: 401 }));
    const root = document.createElement("div");
    document.body.append(root);
    await act(() => render(<LocationProvider><Login /></LocationProvider>, root));
    const input = root.querySelector<HTMLInputElement>("#login-token")!;
    expect(input.type).toBe("password");
    expect(root.querySelector("label[for=login-token]")!.textContent).toBe("Token");
    input.value = "nope";
    await act(() => void input.dispatchEvent(new Event("input", { bubbles: true })));
    await act(() => void root.querySelector("form")!.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true })));
    await settle();
    expect(root.querySelector("[role=alert]")!.textContent).toMatch(/not accepted/);
    expect(location.pathname).toBe("/login");
  });
});
