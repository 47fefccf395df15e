import { describe, expect, it } from "vitest";
import { visible } from "./text";

describe("visible", () => {
  it("shows control characters as symbols and keeps tabs and newlines", () => {
    expect(visible("\x1b[31mred\x1b[0m")).toBe("\u241b[31mred\u241b[0m");
    expect(visible("a\tb\nc\x00\x7f")).toBe("a\tb\nc\u2400\u2421");
    expect(visible("plain")).toBe("plain");
  });
});
