// `pnpm exec tsx bench/ingest/pair.ts <root A> <root B>`: two checkouts' ingest apps side by side, under
// the same fixed request rate at the same time, and the CPU each used per request. Run one after the
// other, two builds' figures differ by ±30 % on the shared box as other work comes and goes; run at
// once, both see the same load. MODE=no-broker serves each root's bench/ingest/no-broker-server.ts
// (the HTTP path alone); RATE (requests/s per app), SECS and ROUNDS set the load. Give an older
// commit as a `git archive` with its own node_modules links, as for APP_ROOT.
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createTestTopic, freePort, testKafka } from "@sluice/testing";
import autocannon from "autocannon";
import { cycleBodies } from "../bodies";
import { appNodeFlags } from "../node-flags";
import { cpuSeconds, singleBodies, stop, waitForPort } from "./common";

const roots = process.argv.slice(2, 4);
if (roots.length !== 2) throw new Error("usage: pair.ts <root A> <root B>");
const mode = process.env.MODE === "no-broker" ? "no-broker" : "kafka";
const rate = Number(process.env.RATE ?? 2500);
const seconds = Number(process.env.SECS ?? 10);
const rounds = Number(process.env.ROUNDS ?? 2);

interface App {
  root: string;
  port: number;
  child: ChildProcess;
}

async function start(root: string, topic: string): Promise<App> {
  const port = await freePort();
  const script =
    mode === "kafka" ? [join(root, "apps/ingest/src/main.ts")] : [join(root, "bench/ingest/no-broker-server.ts"), String(port)];
  const child = spawn(process.execPath, [...appNodeFlags(root), "--import", "tsx", ...script], {
    cwd: root,
    stdio: "ignore",
    env: {
      ...process.env,
      NODE_ENV: "development",
      LOG_LEVEL: "info",
      SERVER_HOST: "127.0.0.1",
      SERVER_PORT: String(port),
      METRICS_PORT: String(await freePort()),
      GRPC_PORT: String(await freePort()),
      KAFKA_TOPIC: topic,
    },
  });
  await waitForPort(child, `http://127.0.0.1:${port}/health`);
  return { root, port, child };
}

function load(app: App, durationS: number) {
  return autocannon({
    url: `http://127.0.0.1:${app.port}/events`,
    connections: 50,
    duration: durationS,
    overallRate: rate,
    method: "POST",
    headers: { "content-type": "application/json" },
    requests: cycleBodies(singleBodies),
  });
}

const kafka = testKafka("sluice-bench-pair");
const topic = mode === "kafka" ? await createTestTopic(kafka, "bench-pair", 6) : "unused";
const apps: App[] = [];
try {
  for (const root of roots) apps.push(await start(root, topic));
  await Promise.all(apps.map((app) => load(app, 3)));
  for (let round = 0; round < rounds; round += 1) {
    const before = apps.map((app) => cpuSeconds(app.child.pid as number));
    const results = await Promise.all(apps.map((app) => load(app, seconds)));
    const figures = apps.map((app, i) => {
      const result = results[i] as autocannon.Result;
      const us = ((cpuSeconds(app.child.pid as number) - (before[i] as number)) * 1e6) / Math.max(1, result.requests.total);
      return `${app.root}: ${us.toFixed(0)} µs/request, ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}`;
    });
    process.stdout.write(`${mode} at ${rate} req/s each: ${figures.join("  |  ")}  (load average ${loadavg()[0]?.toFixed(2)})\n`);
  }
} finally {
  for (const app of apps) await stop(app.child);
  if (mode === "kafka") {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}
