import type { ClickHouse } from "@sluice/clickhouse";
import type { Readiness } from "@sluice/http";
import type { EventConsumer } from "./consumer";
import type { Sink } from "./sink";

export interface WorkerReadinessDeps {
  readiness: Readiness;
  consumer: Pick<EventConsumer, "joined">;
  sink: Pick<Sink, "healthy" | "lastError">;
  db: Pick<ClickHouse, "ping">;
}

/** Ready means: joined the consumer group, and ClickHouse answers and the last write did not fail. */
export function registerWorkerReadiness(deps: WorkerReadinessDeps): void {
  deps.readiness.register("consumer", () =>
    deps.consumer.joined ? { ok: true } : { ok: false, detail: "not a member of the consumer group" },
  );
  deps.readiness.register("clickhouse", async () => {
    if (!deps.sink.healthy) return { ok: false, detail: deps.sink.lastError ?? "ClickHouse writes are failing" };
    const ok = await deps.db.ping().catch(() => false);
    return ok ? { ok } : { ok, detail: "ClickHouse does not answer ping" };
  });
}
