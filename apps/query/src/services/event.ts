import { z } from "@hono/zod-openapi";
import type { ClickHouse } from "@sluice/clickhouse";
import { AppError } from "@sluice/http";
import { type FailedEvent, type FoundEvent, findEvent } from "../queries/events";
import { readFromClickHouse } from "../queries/guard";

/** The parameters of an event look-up, as GET /events/{event_id} declares them. */
export const eventLookupParamsSchema = z.object({
  event_id: z
    .string()
    .min(1)
    .max(256)
    .openapi({ param: { name: "event_id", in: "path" }, example: "0190a0b0-0000-7000-8000-000000000001" }),
});

/** The stored event, else its dead-letter record; NOT_FOUND when neither exists, 503 when ClickHouse is unreachable. */
export async function lookupEvent(db: ClickHouse, eventId: string): Promise<FoundEvent | FailedEvent> {
  const found = await readFromClickHouse(() => findEvent(db, eventId));
  if (found === undefined) throw new AppError("NOT_FOUND", "no stored or failed event with this id");
  return found;
}
