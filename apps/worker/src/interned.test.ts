import { describe, expect, it } from "vitest";
import { internName, internNameBytes } from "./interned";

const bytes = (text: string) => Buffer.from(`x${text}y`, "latin1");
const nameOf = (text: string) => internNameBytes(bytes(text), 1, 1 + text.length);

describe("interned event names", () => {
  it("gives one shared string per name, from bytes or from text", () => {
    const fromBytes = nameOf("page_view");
    expect(fromBytes).toBe("page_view");
    expect(nameOf("page_view")).toBe(fromBytes);
    expect(internName(`page_${"view"}`)).toBe(fromBytes);
    expect(nameOf("purchase")).toBe("purchase");
    expect(nameOf("")).toBe("");
  });

  it("tells apart names whose bytes hash alike", () => {
    // "Aa" and "BB" hash alike (65 * 31 + 97 = 66 * 31 + 66), so the second finds the first's entry.
    expect(nameOf("Aa")).toBe("Aa");
    expect(nameOf("BB")).toBe("BB");
    expect(nameOf("Aa")).toBe("Aa");
  });
});
