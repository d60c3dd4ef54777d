import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createTestTopic, freePort, services, testKafka, uniqueName } from "@sluice/testing";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../../..", import.meta.url));

type Outcome = "accepted" | "unavailable" | "connection" | "hung" | `other ${number}`;

describe("graceful shutdown", () => {
  it("loses no acknowledged event when SIGTERM arrives during a burst, and exits in time", async () => {
    const kafka = testKafka("ingest-shutdown");
    const topic = await createTestTopic(kafka, "shutdown", 3);
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
      cwd: REPO,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        NODE_ENV: "test",
        LOG_LEVEL: "warn",
        SERVER_HOST: "127.0.0.1",
        SERVER_PORT: String(port),
        METRICS_PORT: String(await freePort()),
        GRPC_PORT: String(await freePort()),
        KAFKA_BROKERS: services.kafkaBrokers.join(","),
        KAFKA_TOPIC: topic,
      },
    });
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      child.once("exit", (code) => resolve({ code, at: Date.now() })),
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (
      (await fetch(`${url}/ready`).then(
        (r) => r.status,
        () => 0,
      )) !== 200
    ) {
      if (Date.now() > deadline) throw new Error("ingest did not become ready");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const outcomes = new Map<string, Outcome>();
    const batched = new Set<string>();
    // One event to /events, or a batch to /events/batch (100 events, ~13 KB: read on the batch reader thread).
    const send = async (ids: string[]): Promise<void> => {
      const events = ids.map((id) => ({
        event_id: id,
        event_name: "burst",
        user_id: `u-${id.slice(-3)}`,
        timestamp: Date.now(),
      }));
      const batch = ids.length > 1;
      if (batch) for (const id of ids) batched.add(id);
      let outcome: Outcome;
      try {
        const res = await fetch(`${url}${batch ? "/events/batch" : "/events"}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(batch ? { events } : events[0]),
          signal: AbortSignal.timeout(15_000),
        });
        await res.arrayBuffer();
        outcome = res.status === 202 ? "accepted" : res.status === 503 ? "unavailable" : `other ${res.status}`;
      } catch (error) {
        outcome = error instanceof Error && error.name === "TimeoutError" ? "hung" : "connection";
      }
      for (const id of ids) outcomes.set(id, outcome);
    };
    // 20 concurrent senders (4 of them sending batches) keep going until 2 s after SIGTERM, which lands
    // once the burst is in full swing.
    let next = 0;
    let burstEnds = Date.now() + 30_000;
    const senders = Array.from({ length: 20 }, async (_, sender) => {
      while (next < 5000 && Date.now() < burstEnds) {
        next += 1;
        await send(Array.from({ length: sender < 4 ? 100 : 1 }, () => randomUUID()));
      }
    });
    const swing = Date.now() + 10_000;
    while ([...outcomes.values()].filter((o) => o === "accepted").length < 50 && Date.now() < swing) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const signalledAt = Date.now();
    child.kill("SIGTERM");
    burstEnds = signalledAt + 2000;
    await Promise.all(senders);
    const exit = await exited;

    const counts = { accepted: 0, unavailable: 0, connection: 0, hung: 0, other: 0 };
    for (const outcome of outcomes.values()) {
      if (outcome.startsWith("other")) counts.other += 1;
      else counts[outcome as keyof typeof counts] += 1;
    }
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    expect(counts.hung).toBe(0);
    expect(counts.other).toBe(0);
    expect(counts.accepted).toBeGreaterThanOrEqual(50);
    expect(stderr).not.toContain("batch reader thread failed");
    expect(counts.unavailable + counts.connection).toBeGreaterThan(0);

    const accepted = new Set([...outcomes].filter(([, o]) => o === "accepted").map(([id]) => id));
    const onTopic = new Set<string>();
    const consumer = kafka.consumer({ groupId: uniqueName("shutdown-check") });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const complete = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          onTopic.add((JSON.parse(String(message.value)) as { event_id: string }).event_id);
          if ([...accepted].every((id) => onTopic.has(id))) resolve();
        },
      });
    });
    await Promise.race([complete, new Promise((resolve) => setTimeout(resolve, 20_000))]);
    await consumer.disconnect();
    const missing = [...accepted].filter((id) => !onTopic.has(id));
    expect(missing).toEqual([]);
    // Batches were acknowledged too, not only single events.
    expect([...accepted].filter((id) => batched.has(id)).length).toBeGreaterThanOrEqual(100);
  });
});
