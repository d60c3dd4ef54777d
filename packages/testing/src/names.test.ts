import { describe, expect, it } from "vitest";
import { isStaleTestName, uniqueName } from "./names";

const HOUR = 3_600_000;

describe("isStaleTestName", () => {
  const now = Date.now();

  it("reads the time uniqueName wrote, in both separator styles", () => {
    const name = uniqueName("worker-events");
    expect(isStaleTestName(name, now + 2 * HOUR, HOUR)).toBe(true);
    expect(isStaleTestName(name.replaceAll("_", "-"), now + 2 * HOUR, HOUR)).toBe(true);
  });

  it("keeps names younger than the age limit", () => {
    expect(isStaleTestName(uniqueName("ingest").replaceAll("_", "-"), now + HOUR / 2, HOUR)).toBe(false);
  });

  it("never matches names uniqueName did not make", () => {
    for (const name of [
      "events",
      "events.dlq",
      "campaigns",
      "__consumer_offsets",
      "sluice_bench_query",
      "orders-20261123-abcdef",
    ]) {
      expect(isStaleTestName(name, now + 1000 * HOUR, HOUR)).toBe(false);
    }
  });
});
