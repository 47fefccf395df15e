// useLive: loads at mount, refetches when an event of its topic arrives, and never runs two loads at once
// (events during a load cause exactly one more).
import { render } from "preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useLive, type Live } from "./use_live";

afterEach(() => {
  document.body.innerHTML = "";
});

describe("useLive", () => {
  it("coalesces reloads asked for while one is in flight into one more", async () => {
    const pending: ((v: number) => void)[] = [];
    let calls = 0;
    const load = () =>
      new Promise<number>((resolve) => {
        calls++;
        pending.push(resolve);
      });
    let live: Live<number> | undefined;
    function Probe() {
      live = useLive(load, []);
      return <span>{live.data ?? "none"}</span>;
    }
    const root = document.createElement("div");
    document.body.appendChild(root);
    render(<Probe />, root);
    await vi.waitFor(() => expect(calls).toBe(1));
    live!.reload();
    live!.reload();
    live!.reload();
    expect(calls).toBe(1);
    pending.shift()!(1);
    await vi.waitFor(() => expect(calls).toBe(2));
    pending.shift()!(2);
    await vi.waitFor(() => expect(root.textContent).toBe("2"));
    expect(calls).toBe(2);
  });

  it("keeps the last data and reports an error of a later load", async () => {
    let fail = false;
    let live: Live<string> | undefined;
    function Probe() {
      live = useLive(() => (fail ? Promise.reject(new Error("daemon gone")) : Promise.resolve("ok")), []);
      return <span>{`${live.data}|${live.error}`}</span>;
    }
    const root = document.createElement("div");
    document.body.appendChild(root);
    render(<Probe />, root);
    await vi.waitFor(() => expect(root.textContent).toBe("ok|null"));
    fail = true;
    live!.reload();
    await vi.waitFor(() => expect(root.textContent).toBe("ok|daemon gone"));
  });
});
