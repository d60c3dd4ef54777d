import { Writable } from "node:stream";
import type { FastEvent } from "@sluice/events";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { type BatchReader, createInlineBatchReader, createThreadedBatchReader } from "./batch-reader";

const SKEW = 300_000;
const silent = pino({ level: "silent" });

/** A logger whose error lines the test reads. */
function capture() {
  const lines: string[] = [];
  const logger = pino(
    { level: "error" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { logger, lines };
}
const readers: BatchReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.close()));
});

function threaded(options: Partial<Parameters<typeof createThreadedBatchReader>[0]> = {}): BatchReader {
  const reader = createThreadedBatchReader({ threads: 2, maxFutureSkewMs: SKEW, logger: silent, ...options });
  readers.push(reader);
  return reader;
}

/** A batch body of `count` events, each with its own id (so both readers give the same messages), some with a campaign. */
function body(count: number, seed: number, extra: Record<string, unknown> = {}): Buffer {
  const events = Array.from({ length: count }, (_, i) => ({
    event_id: `0190a0b0-0000-7000-8000-${String(seed * 10_000 + i).padStart(12, "0")}`,
    event_name: ["page_view", "signup"][i % 2],
    user_id: `user-${seed}-${i % 7}`,
    timestamp: 1_795_000_000_000 + i,
    ...(i % 5 === 0 ? { campaign_id: `spring-${i}` } : {}),
    metadata: { plan: "pro", seats: i },
    device: { os: "iOS", os_version: "18.1" },
  }));
  return Buffer.from(JSON.stringify({ events, ...extra }));
}

const asText = (events: FastEvent[] | undefined) =>
  events?.map((e) => ({ value: e.value.toString(), key: e.key.toString(), eventId: e.eventId, campaignId: e.campaignId }));

describe("threaded batch reader", () => {
  const inline = createInlineBatchReader({ maxFutureSkewMs: SKEW });

  it("gives the messages the inline reader gives, for concurrent bodies spread over its threads", async () => {
    const { logger, lines } = capture();
    const reader = threaded({ logger });
    const bodies = [body(100, 1), body(300, 2, { sent_at: 1_795_000_000_500 }), body(1000, 3), body(100, 4), body(2, 5)];
    const receivedAt = 1_795_000_001_000;
    const [ours, theirs] = await Promise.all([
      Promise.all(bodies.map((b) => reader.read(b, receivedAt))),
      Promise.all(bodies.map((b) => inline.read(b, receivedAt))),
    ]);
    expect(ours.map((events) => events?.length)).toEqual([100, 300, 1000, 100, 2]);
    expect(ours.map(asText)).toEqual(theirs.map(asText));
    // No thread failed (its bodies would have been read inline, with the same messages).
    expect(lines).toEqual([]);
  });

  it("gives each event without an id a fresh UUIDv7, and declines what the general path must decide", async () => {
    const reader = threaded();
    const events = Array.from({ length: 200 }, (_, i) => ({ event_name: "e", user_id: `u${i}`, timestamp: Date.now() }));
    const read = await reader.read(Buffer.from(JSON.stringify({ events })), Date.now());
    const ids = read?.map((event) => event.eventId) ?? [];
    expect(new Set(ids).size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const invalid = JSON.stringify({ events: [...events, { event_name: "e", timestamp: Date.now() }] });
    expect(await reader.read(Buffer.from(invalid), Date.now())).toBeUndefined();
    const spaced = JSON.stringify({ events }, null, 1);
    expect(await reader.read(Buffer.from(spaced), Date.now())).toBeUndefined();
  });

  it("reads every body inline while its threads cannot start, without restarting them per body", async () => {
    const { logger, lines } = capture();
    const reader = threaded({ threads: 1, logger, script: new URL("./testing/failing-batch-worker.ts", import.meta.url) });
    const receivedAt = 1_795_000_001_000;
    for (let i = 0; i < 20; i += 1) {
      expect(asText(await reader.read(body(100, i), receivedAt))).toEqual(asText(await inline.read(body(100, i), receivedAt)));
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("batch reader thread failed");
  });

  it("reads the bodies a thread held when it died inline, and logs the failure", async () => {
    const { logger, lines } = capture();
    const reader = threaded({ threads: 1, logger, script: new URL("./testing/exiting-batch-worker.ts", import.meta.url) });
    const receivedAt = 1_795_000_001_000;
    const bodies = [body(100, 1), body(200, 2), body(100, 3)];
    const read = await Promise.all(bodies.map((b) => reader.read(b, receivedAt)));
    const expected = await Promise.all(bodies.map((b) => inline.read(b, receivedAt)));
    expect(read.map(asText)).toEqual(expected.map(asText));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("exited with code 3");
  });

  it("reads inline after close, and with no threads at all", async () => {
    const receivedAt = 1_795_000_001_000;
    const expected = asText(await inline.read(body(100, 9), receivedAt));
    const reader = threaded();
    await reader.read(body(100, 8), receivedAt);
    await reader.close();
    expect(asText(await reader.read(body(100, 9), receivedAt))).toEqual(expected);
    expect(asText(await threaded({ threads: 0 }).read(body(100, 9), receivedAt))).toEqual(expected);
  });
});
