// `pnpm exec tsx bench/ingest/producer-cpu.ts [rounds] [sends]`: the client CPU one idempotent (acks=-1)
// produce request costs, kafkajs against @platformatic/kafka, with the ingest app's own message values
// (the bench-ingest events, validated and serialized as the app does: ~400 bytes each), keyed by user_id,
// sent one request at a time to a private broker. Rounds alternate the clients so drift on a shared
// machine hits both; the figure per client is the median over rounds.
import { startPrivateKafka, testLogger } from "@sluice/testing";
import { Partitioners } from "kafkajs";
import { createLaneProducer } from "../../apps/ingest/src/lane-producer";
import { createEventValidator, serializeEventMessage } from "../../packages/events/src/index";
import { createKafka, type Kafka } from "../../packages/kafka/src/index";
import { singleBodies } from "./common";

const ROUNDS = Number(process.argv[2] ?? 5);
const SENDS = Number(process.argv[3] ?? 200);
const SIZES = [100, 500];
const TOPIC = "producer-cpu";

interface Message {
  key: string;
  value: Buffer;
}
type Send = (messages: Message[]) => Promise<unknown>;

const validate = createEventValidator({ maxFutureSkewMs: 300_000, now: Date.now });
const messages: Message[] = singleBodies.map((body) => {
  const parsed = validate(JSON.parse(body));
  if (!parsed.success) throw new Error("a bench event is invalid");
  return { key: parsed.data.user_id, value: Buffer.from(serializeEventMessage(parsed.data, Date.now())) };
});

/** CPU µs per request over `SENDS` sequential requests of `size` messages each. */
async function measure(send: Send, size: number): Promise<number> {
  let next = 0;
  const batch = () => {
    const out = messages.slice(next, next + size);
    next = (next + size) % (messages.length - size);
    return out;
  };
  for (let i = 0; i < 20; i += 1) await send(batch());
  const before = process.cpuUsage();
  for (let i = 0; i < SENDS; i += 1) await send(batch());
  const used = process.cpuUsage(before);
  return (used.user + used.system) / SENDS;
}

/** The lane producer ingest used before: kafkajs, idempotent, retried until acknowledged, Java-compatible partitioning. */
function kafkajsLaneProducer(kafka: Kafka) {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 },
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const broker = await startPrivateKafka();
try {
  const kafka = createKafka({ brokers: [broker.address], clientId: "producer-cpu" }, testLogger);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 6, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const kafkajs = kafkajsLaneProducer(kafka);
  await kafkajs.connect();
  const platformatic = createLaneProducer({ brokers: [broker.address], clientId: "producer-cpu", produceTimeoutMs: 5000 });
  await platformatic.connect();
  const clients: [string, Send][] = [
    ["kafkajs", (batch) => kafkajs.sendBatch({ acks: -1, timeout: 5000, topicMessages: [{ topic: TOPIC, messages: batch }] })],
    [
      "@platformatic/kafka",
      (batch) =>
        platformatic.sendBatch(
          TOPIC,
          batch.map((m) => ({ key: Buffer.from(m.key), value: m.value })),
        ),
    ],
  ];
  const results = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = round % 2 === 0 ? clients : [...clients].reverse();
    for (const [name, send] of order) {
      for (const size of SIZES) {
        const key = `${name} ${size}`;
        results.set(key, [...(results.get(key) ?? []), await measure(send, size)]);
      }
    }
  }
  for (const size of SIZES) {
    for (const [name] of clients) {
      const us = median(results.get(`${name} ${size}`) ?? []);
      process.stdout.write(
        `${name.padEnd(20)} ${String(size).padStart(4)} messages: ${us.toFixed(0).padStart(6)} µs CPU per request, ` +
          `${(us / size).toFixed(2)} µs per message (rounds: ${(results.get(`${name} ${size}`) ?? []).map((v) => v.toFixed(0)).join(", ")})\n`,
      );
    }
  }
  await Promise.all([kafkajs.disconnect(), platformatic.disconnect()]);
} finally {
  await broker.destroy();
}
