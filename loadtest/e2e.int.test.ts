import { randomUUID } from "node:crypto";
import { toEventRow } from "@sluice/clickhouse";
import { createTestDatabase, type TestDatabase } from "@sluice/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countRun, judge } from "./e2e";

type EventMessage = Parameters<typeof toEventRow>[0];

// The end-to-end check against a real ClickHouse `events` table: rows are found by the run id in
// their metadata, a doubled row and a missing one are both caught, unacknowledged ids are told apart.
describe("countRun against ClickHouse", () => {
  let database: TestDatabase;
  const since = Date.now() - 60_000;
  const ids = Array.from({ length: 4 }, () => randomUUID());
  const unacked = randomUUID();

  function event(id: string, runId: string): EventMessage {
    return {
      event_id: id,
      event_name: "page_view",
      user_id: "u1",
      timestamp: Date.now(),
      metadata: { run_id: runId, amount: 3, ok: true },
      received_at: Date.now(),
    };
  }

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: true });
    // Run "a": four acknowledged events, the first stored twice; one unacknowledged event stored anyway.
    // Run "b": an event of another run, which must not be counted.
    const rows = [...ids, ids[0] as string, unacked].map((id, offset) =>
      toEventRow(event(id, "run-a"), { topic: "events", partition: 0, offset: String(offset) }),
    );
    rows.push(toEventRow(event(randomUUID(), "run-b"), { topic: "events", partition: 0, offset: "99" }));
    await database.db.insert("events", rows);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it("counts rows, distinct ids and stored unacknowledged ids of one run", async () => {
    expect(await countRun(database.db, "run-a", since, [unacked, randomUUID()])).toEqual({
      rows: 6,
      uniqueIds: 5,
      unackedStored: 1,
    });
    expect(await countRun(database.db, "run-b", since, [])).toEqual({ rows: 1, uniqueIds: 1, unackedStored: 0 });
    expect(await countRun(database.db, "run-c", since, [])).toEqual({ rows: 0, uniqueIds: 0, unackedStored: 0 });
  });

  it("fails the run loudly for the doubled row, and for an acknowledged event that is missing", async () => {
    const counts = await countRun(database.db, "run-a", since, [unacked]);
    expect(judge(4, 1, counts)).toMatchObject({ ok: false, doubled: 1, missing: 0 });
    expect(judge(5, 1, counts)).toMatchObject({ ok: false, doubled: 1, missing: 1 });
  });
});
