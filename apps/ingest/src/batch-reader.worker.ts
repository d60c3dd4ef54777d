import { parentPort, workerData } from "node:worker_threads";
import { createFastEventReader } from "@sluice/events";
import type { BatchReply, BatchRequest } from "./batch-reader";

// A batch reader thread: runs the fast path over the batch bodies it is sent and replies with the
// messages packed into one transferred buffer (see batch-reader.ts).

const { maxFutureSkewMs } = workerData as { maxFutureSkewMs: number };
const fast = createFastEventReader({ maxFutureSkewMs });
const port = parentPort;
if (port === null) throw new Error("batch-reader.worker.ts runs as a worker thread");

port.on("message", ({ id, body, receivedAt }: BatchRequest) => {
  let events: ReturnType<typeof fast.batch>;
  try {
    events = fast.batch(Buffer.from(body.buffer, body.byteOffset, body.byteLength), receivedAt);
  } catch {
    // A body the fast path throws on (a bug: it declines what it cannot read) goes to the general path,
    // which decides it, instead of taking the thread and the bodies queued behind it down.
    events = undefined;
  }
  if (events === undefined || events.length === 0) {
    port.postMessage({ id } satisfies BatchReply);
    return;
  }
  // Every value (and the key inside it) is a view of one buffer, the values back to back from the first.
  const first = events[0] as (typeof events)[number];
  const last = events[events.length - 1] as (typeof events)[number];
  const base = first.value.byteOffset;
  const region = new Uint8Array(first.value.buffer, base, last.value.byteOffset + last.value.length - base);
  // A small buffer may sit in Node's shared allocation pool, which must not be transferred.
  const bytes = region.byteLength === region.buffer.byteLength ? region : region.slice();
  const spans = new Int32Array(events.length * 4);
  let ids = "";
  let campaigns: (string | undefined)[] | undefined;
  events.forEach((event, k) => {
    spans[4 * k] = event.value.byteOffset - base;
    spans[4 * k + 1] = event.value.byteOffset - base + event.value.length;
    spans[4 * k + 2] = event.key.byteOffset - base;
    spans[4 * k + 3] = event.key.byteOffset - base + event.key.length;
    ids += event.eventId;
    if (event.campaignId !== undefined) {
      campaigns ??= new Array(events.length);
      campaigns[k] = event.campaignId;
    }
  });
  port.postMessage({ id, events: { bytes: bytes.buffer, spans, ids, campaigns } } satisfies BatchReply, [
    bytes.buffer as ArrayBuffer,
    spans.buffer,
  ]);
});
