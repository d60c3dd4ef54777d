import { describe, expect, it } from "vitest";
import { loadProfile } from "./profile";

describe("the load profile", () => {
  it("is the standard one at scale 1: 1 min ramp to 2,000/s, 3 min hold, 15 s spike to 20,000/s held 30 s, 2 min back at 2,000/s", () => {
    const stages = loadProfile(1, 1);
    expect(stages.map((s) => [s.name, s.seconds, s.target])).toEqual([
      ["ramp-up", 60, 2000],
      ["steady", 180, 2000],
      ["spike-up", 15, 20000],
      ["spike", 30, 20000],
      ["fall-back", 10, 2000],
      ["recovery", 120, 2000],
      ["ramp-down", 10, 0],
    ]);
    expect(stages.at(-1)?.endS).toBe(425);
    expect(stages[2]).toMatchObject({ fromRate: 2000, startS: 240, plannedRequests: 165_000 });
  });

  it("LOAD_SCALE shortens every stage to whole seconds (at least one) and keeps the rates", () => {
    const stages = loadProfile(0.15, 1);
    expect(stages.map((s) => s.seconds)).toEqual([9, 27, 2, 5, 2, 18, 2]);
    expect(stages.map((s) => s.target)).toEqual([2000, 2000, 20000, 20000, 2000, 2000, 0]);
    expect(loadProfile(0.001, 1).every((s) => s.seconds === 1)).toBe(true);
  });

  it("LOAD_RATE_SCALE scales the rates and never rounds a non-zero target to 0", () => {
    expect(loadProfile(1, 0.0001).map((s) => s.target)).toEqual([1, 1, 2, 2, 1, 1, 0]);
  });

  it("refuses a scale that is not a positive number", () => {
    expect(() => loadProfile(0, 1)).toThrow(/positive/);
    expect(() => loadProfile(1, Number.NaN)).toThrow(/positive/);
  });
});
