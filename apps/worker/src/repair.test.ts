import { raw } from "@sluice/clickhouse";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { describe, expect, it } from "vitest";
import { createWorkerMetrics } from "./metrics";
import { createViewRepair, judgeGroups, judgeUnits } from "./repair";
import { type AggregateView, type GroupCount, type LandedUnit, type RowView, VIEWS, type ViewStore } from "./views";

const COUNT = VIEWS.find((view): view is AggregateView => view.kind === "aggregate" && view.check.kind === "count");

const unit = (insertedAt: number, rows: number): LandedUnit => ({
  month: 202603,
  insertedAt,
  names: ["page_view"],
  from: 0,
  to: 1,
  rows,
});

const COUNTING = VIEWS.filter((view) => view.kind === "aggregate" && view.check.kind === "count").map((view) => view.target);

/**
 * A simulated ClickHouse for the counting views: units of landed rows per group, how often each view
 * was fed each unit, and other inserts' rows (in `events`, and in the views once fed). Row and max
 * views are scripted.
 */
class SimStore implements ViewStore {
  landed: LandedUnit[] = [];
  groups = new Map<LandedUnit, Record<string, number>>();
  /** How often a view was fed a unit, by `target/insertedAt`. */
  fed = new Map<string, number>();
  others: Record<string, { raw: number; view: number }> = {};
  /** Successive answers of runningInserts (then none). */
  running: string[][] = [];
  /** Called before each look at the counting view, to let others' inserts move on. */
  onLook: (look: number) => void = () => {};
  looks = 0;
  /** Rows each row view's target lacks. */
  missing: Record<string, number> = {};
  isBehind = false;
  log: string[] = [];

  add(landed: LandedUnit, groups: Record<string, number>, fed: boolean) {
    this.landed.push(landed);
    this.groups.set(landed, groups);
    for (const target of COUNTING) this.fed.set(`${target}/${landed.insertedAt}`, fed ? 1 : 0);
  }
  /** Per group: rows in events and rows the view counts. */
  totals(target = "events_hourly") {
    const totals: Record<string, { raw: number; view: number }> = {};
    const at = (group: string) => {
      totals[group] ??= { raw: 0, view: 0 };
      return totals[group];
    };
    for (const [landed, groups] of this.groups) {
      for (const [group, rows] of Object.entries(groups)) {
        at(group).raw += rows;
        at(group).view += rows * (this.fed.get(`${target}/${landed.insertedAt}`) ?? 0);
      }
    }
    for (const [group, { raw: r, view }] of Object.entries(this.others)) {
      at(group).raw += r;
      at(group).view += view;
    }
    return totals;
  }
  async units() {
    return this.landed;
  }
  async runningInserts() {
    return this.running.shift() ?? [];
  }
  async missingRows(view: RowView) {
    return this.missing[view.target] ?? 0;
  }
  async replayMissingRows(view: RowView) {
    this.log.push(`replay missing ${view.target}`);
    this.missing[view.target] = 0;
  }
  async behind() {
    return this.isBehind;
  }
  async countGroups(view: AggregateView, _scope: unknown, landed: LandedUnit): Promise<GroupCount[]> {
    this.onLook(this.looks++);
    const totals = this.totals(view.target);
    return Object.entries(this.groups.get(landed) ?? {}).map(([key, batch]) => ({
      key,
      batch,
      raw: totals[key]?.raw ?? 0,
      view: totals[key]?.view ?? 0,
    }));
  }
  async replay(view: AggregateView, _scope: unknown, landed: LandedUnit) {
    this.log.push(`replay ${view.target} ${landed.insertedAt}`);
    const key = `${view.target}/${landed.insertedAt}`;
    if (view.check.kind === "count") this.fed.set(key, (this.fed.get(key) ?? 0) + 1);
    else this.isBehind = false;
  }
}

function setup(store: SimStore, views = VIEWS, unsureDeadlineMs = 200) {
  const metrics = createWorkerMetrics(createRegistry("repair-test"));
  const repair = createViewRepair({
    store,
    views,
    logger: createLogger({ name: "test", level: "silent" }),
    metrics,
    recheckMs: 1,
    unsureDeadlineMs,
    settleTimeoutMs: 200,
  });
  const repaired = async () =>
    Object.fromEntries((await metrics.viewRepairs.get()).values.map((value) => [value.labels.view, value.value]));
  return { repair, repaired };
}

const scope = raw("1");
const countOnly = COUNT ? [COUNT] : [];

describe("judgeGroups", () => {
  const group = (batch: number, rawRows: number, view: number) => ({ key: "", batch, raw: rawRows, view });

  it("fed: some group is short by less than the unit's rows in it", () => {
    expect(judgeGroups([group(5, 100, 100)])).toBe("fed");
    expect(judgeGroups([group(5, 100, 95), group(3, 50, 50)])).toBe("fed");
    expect(judgeGroups([group(5, 100, 98), group(3, 50, 40)])).toBe("fed");
    expect(judgeGroups([])).toBe("fed");
  });

  it("missing: every group is short by exactly the unit's rows", () => {
    expect(judgeGroups([group(5, 100, 95), group(3, 50, 47)])).toBe("missing");
  });

  it("unsure: every group is short by at least the unit's rows, some by more", () => {
    expect(judgeGroups([group(5, 100, 90), group(3, 50, 47)])).toBe("unsure");
  });
});

describe("judgeUnits", () => {
  const group = (key: string, batch: number, rawRows: number, view: number) => ({ key, batch, raw: rawRows, view });

  it("several units missing in shared groups are missing together", () => {
    const verdicts = judgeUnits(
      new Map([
        ["u1", [group("a", 3, 10, 5)]],
        ["u2", [group("a", 2, 10, 5), group("b", 4, 4, 0)]],
      ]),
    );
    expect(Object.fromEntries(verdicts)).toEqual({ u1: "missing", u2: "missing" });
  });

  it("finds the one subset that explains the shortfall; a fed unit covered by it stays unsure until they are replayed", () => {
    const verdicts = judgeUnits(
      new Map([
        ["u1", [group("a", 3, 20, 15)]],
        ["u2", [group("a", 2, 20, 15), group("b", 1, 1, 0)]],
        ["u3", [group("a", 4, 20, 15)]],
      ]),
    );
    expect(Object.fromEntries(verdicts)).toEqual({ u1: "missing", u2: "missing", u3: "unsure" });
  });

  it("stays unsure when others' rows are missing too, and keeps a proven fed unit fed", () => {
    const verdicts = judgeUnits(
      new Map([
        ["u1", [group("a", 3, 11, 5)]],
        ["u2", [group("a", 2, 11, 5)]],
        ["u3", [group("c", 2, 9, 9)]],
      ]),
    );
    expect(Object.fromEntries(verdicts)).toEqual({ u1: "unsure", u2: "unsure", u3: "fed" });
  });
});

describe("view repair", () => {
  it("replays a counting view the unit missed, once, after seeing the same shortfall twice", async () => {
    const store = new SimStore();
    const cut = unit(1, 7);
    store.add(unit(0, 10), { a: 6, b: 4 }, true);
    store.add(cut, { a: 3, c: 4 }, false);
    const { repair, repaired } = setup(store, countOnly);
    await repair.repair(scope);
    expect(store.log).toEqual(["replay events_hourly 1"]);
    // The fed unit is looked at once, the cut one twice.
    expect(store.looks).toBe(3);
    expect(store.totals()).toEqual({ a: { raw: 9, view: 9 }, b: { raw: 4, view: 4 }, c: { raw: 4, view: 4 } });
    expect(await repaired()).toEqual({ events_hourly_mv: 7 });
  });

  it("leaves a view alone that was fed (the insert's answer was lost)", async () => {
    const store = new SimStore();
    store.add(unit(1, 7), { a: 3, c: 4 }, true);
    const { repair } = setup(store, countOnly);
    await repair.repair(scope);
    expect(store.log).toEqual([]);
    expect(store.looks).toBe(1);
  });

  it("is idempotent: a second repair, or one after a crash mid-repair, changes nothing", async () => {
    const store = new SimStore();
    store.add(unit(1, 7), { a: 3, c: 4 }, false);
    const { repair } = setup(store, countOnly);
    await repair.repair(scope);
    await repair.repair(scope);
    await setup(store, countOnly).repair.repair(scope);
    expect(store.log).toEqual(["replay events_hourly 1"]);
    expect(store.totals()).toEqual({ a: { raw: 3, view: 3 }, c: { raw: 4, view: 4 } });
  });

  it("does not replay when an exact-looking shortfall was another insert in flight", async () => {
    const store = new SimStore();
    store.add(unit(1, 7), { a: 3, c: 4 }, true);
    // Another worker's insert: raw part visible, view part not yet — for the first look only.
    store.others = { a: { raw: 3, view: 0 }, c: { raw: 4, view: 0 } };
    store.onLook = (look) => {
      if (look === 1) store.others = { a: { raw: 3, view: 3 }, c: { raw: 4, view: 4 } };
    };
    const { repair } = setup(store, countOnly);
    await repair.repair(scope);
    expect(store.log).toEqual([]);
  });

  it("waits out an ambiguous shortfall that another worker's repair resolves", async () => {
    const store = new SimStore();
    const ours = unit(1, 7);
    store.add(ours, { a: 3, c: 4 }, true);
    // Another cut insert, not yet repaired by its worker, short in both of our groups by more than our rows.
    store.others = { a: { raw: 5, view: 0 }, c: { raw: 6, view: 0 } };
    store.onLook = (look) => {
      if (look === 3) store.others = { a: { raw: 5, view: 5 }, c: { raw: 6, view: 6 } };
    };
    const { repair } = setup(store, countOnly, 10_000);
    await repair.repair(scope);
    expect(store.log).toEqual([]);
    expect(store.looks).toBe(4);
  });

  it("replays when an ambiguous shortfall outlasts the deadline", async () => {
    const store = new SimStore();
    store.add(unit(1, 7), { a: 3, c: 4 }, false);
    store.others = { a: { raw: 5, view: 0 }, c: { raw: 6, view: 0 } };
    const { repair } = setup(store, countOnly, 30);
    await repair.repair(scope);
    expect(store.log).toEqual(["replay events_hourly 1"]);
    expect(store.totals()).toEqual({ a: { raw: 8, view: 3 }, c: { raw: 10, view: 4 } });
  });

  it("two cut inserts of ours in the same groups: replays both without waiting for the deadline", async () => {
    const store = new SimStore();
    store.add(unit(1, 3), { a: 3 }, false);
    store.add(unit(2, 2), { a: 2, b: 1 }, false);
    store.add(unit(3, 4), { a: 4 }, true);
    const { repair } = setup(store, countOnly, 60_000);
    await repair.repair(scope);
    expect(store.log.sort()).toEqual(["replay events_hourly 1", "replay events_hourly 2"]);
    expect(store.totals()).toEqual({ a: { raw: 9, view: 9 }, b: { raw: 1, view: 1 } });
  });

  it("inserts the rows a row view lacks and replays a max view that is behind", async () => {
    const store = new SimStore();
    store.add(unit(1, 7), { a: 7 }, true);
    store.missing = { events_by_id: 7 };
    store.isBehind = true;
    const { repair, repaired } = setup(store);
    await repair.repair(scope);
    expect(store.log.sort()).toEqual(["replay events_offsets 1", "replay missing events_by_id"]);
    expect(await repaired()).toEqual({ events_by_id_mv: 7, events_offsets_mv: 7 });
    store.log = [];
    await repair.repair(scope);
    expect(store.log).toEqual([]);
  });

  it("does nothing when no rows landed", async () => {
    const store = new SimStore();
    store.missing = { events_by_id: 3 };
    store.isBehind = true;
    const { repair } = setup(store);
    await repair.repair(scope);
    expect(store.log).toEqual([]);
    expect(store.looks).toBe(0);
  });

  it("reports a failing view only after the other views' checks have ended", async () => {
    const store = new SimStore();
    store.add(unit(1, 7), { a: 7 }, false);
    store.behind = async () => {
      throw new Error("Code: 159, e.displayText() = DB::Exception: Timeout exceeded");
    };
    const { repair } = setup(store);
    await expect(repair.repair(scope)).rejects.toThrow(/Timeout exceeded/);
    // The counting views' checks had already finished (and replayed) when the error came out.
    expect(store.log.sort()).toEqual(["replay events_hourly 1", "replay events_rollup 1"]);
  });

  it("settle waits for the inserts running when it looked, not for ones that start later", async () => {
    const store = new SimStore();
    store.running = [
      ["a", "b"],
      ["b", "c"],
      ["c", "d"],
    ];
    const { repair } = setup(store);
    await repair.settle();
    expect(store.running).toEqual([]);
  });

  it("settle stops waiting for an insert that never finishes", async () => {
    const store = new SimStore();
    store.running = Array.from({ length: 100 }, () => ["stuck"]);
    const { repair } = setup(store);
    const started = Date.now();
    await repair.settle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(store.running.length).toBeGreaterThan(0);
  });
});
