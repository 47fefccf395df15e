import { describe, expect, it } from "vitest";
import { segments, strip } from "./ansi";

describe("ansi", () => {
  it("turns SGR colours into classed text pieces, markup stays text", () => {
    const s = segments("a \x1b[1;31m<img src=x onerror=alert(1)>\x1b[0m b");
    expect(s).toEqual([
      { text: "a ", cls: "" },
      { text: "<img src=x onerror=alert(1)>", cls: "ansi-bold ansi-red-fg" },
      { text: " b", cls: "" },
    ]);
  });

  it("starts every line from the default style", () => {
    segments("\x1b[32mgreen never reset");
    expect(segments("plain")).toEqual([{ text: "plain", cls: "" }]);
  });

  it("maps 256 and true colours to the nearest named colour", () => {
    expect(segments("\x1b[38;2;250;90;90mx")[0]!.cls).toBe("ansi-bright-red-fg");
    expect(segments("\x1b[48;5;21mx")[0]!.cls).toBe("ansi-blue-bg");
  });

  it("never passes an escape character on as text", () => {
    for (const line of ["a\x1bb", "\x1b[", "x\x1b[999", "\x1b]8;;", "ok\x07bell"]) {
      const text = segments(line).map((p) => p.text).join("") + strip(line);
      expect(text).not.toMatch(/[\x00-\x08\x0b-\x1f]/);
    }
  });

  it("drops hyperlink targets and strips sequences", () => {
    const s = segments("\x1b]8;;javascript:alert(1)\x07click\x1b]8;;\x07");
    expect(s.map((p) => p.text).join("")).not.toContain("javascript");
    expect(strip("\x1b[1;32mok\x1b[0m done")).toBe("ok done");
  });
});
