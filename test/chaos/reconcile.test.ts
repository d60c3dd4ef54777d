import { describe, expect, it } from "vitest";
import { reconcile } from "./reconcile";

const ledger = { sent: new Set(["a", "b", "c", "d"]), acknowledged: new Set(["a", "b", "c"]) };
const stored = (ids: string[], overrides: { viewTotal?: number; deadLetters?: number } = {}) => ({
  rows: ids.length,
  ids,
  viewTotal: overrides.viewTotal ?? ids.length,
  deadLetters: overrides.deadLetters ?? 0,
});

describe("chaos reconciliation", () => {
  it("passes when every acknowledged event is stored once", () => {
    expect(reconcile(ledger, stored(["a", "b", "c"]))).toMatchObject({ ok: true, storedUnacknowledged: 0, distinctStored: 3 });
  });

  it("allows an unacknowledged but sent event to be stored once, and counts it", () => {
    expect(reconcile(ledger, stored(["a", "b", "c", "d"]))).toMatchObject({ ok: true, storedUnacknowledged: 1 });
  });

  it("fails on a lost acknowledged event", () => {
    const verdict = reconcile(ledger, stored(["a", "b"]));
    expect(verdict.ok).toBe(false);
    expect(verdict.lost).toEqual(["c"]);
  });

  it("fails on a doubled event, even one never acknowledged", () => {
    expect(reconcile(ledger, stored(["a", "b", "c", "a"])).doubled).toEqual(["a"]);
    expect(reconcile(ledger, stored(["a", "b", "c", "d", "d"])).ok).toBe(false);
  });

  it("fails on a stored event that was never sent", () => {
    expect(reconcile(ledger, stored(["a", "b", "c", "x"])).unknown).toEqual(["x"]);
  });

  it("fails when the view total or the dead letters disagree", () => {
    expect(reconcile(ledger, stored(["a", "b", "c"], { viewTotal: 4 })).ok).toBe(false);
    expect(reconcile(ledger, stored(["a", "b", "c"], { deadLetters: 1 })).ok).toBe(false);
  });
});
