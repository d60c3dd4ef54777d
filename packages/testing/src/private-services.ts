import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { uniqueName } from "./names";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const SERVICES = `${REPO}/scripts/services.sh`;

/** A free TCP port on loopback, picked by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A Kafka broker or ClickHouse server of a test's own, on free ports under its own folder, so a
 * test may stop, restart or starve it without disturbing the shared services other tests use.
 */
export interface PrivateService {
  /** `host:port` for Kafka, `http://host:port` for ClickHouse. */
  address: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

async function privateService(
  kind: "kafka" | "clickhouse",
  env: Record<string, string>,
  address: string,
): Promise<PrivateService> {
  const dir = `${REPO}/.local/test-services/${uniqueName(kind)}`;
  const fullEnv = { ...process.env, ...env, SLUICE_LOCAL_DIR: dir };
  const call = (command: string) => run("bash", [SERVICES, command], { env: fullEnv, timeout: 120_000 }).then(() => undefined);
  const service: PrivateService = {
    address,
    start: () => call(`start-${kind}`),
    stop: () => call(`stop-${kind}`),
    async destroy() {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await service.start();
  return service;
}

/** Starts a private single-node Kafka (small heap) on free ports; the topics Sluice needs are created. */
export async function startPrivateKafka(): Promise<PrivateService> {
  const port = await freePort();
  const controller = await freePort();
  return privateService(
    "kafka",
    {
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controller),
      KAFKA_HEAP: "256m",
      // A broker that lives for one test never repays the optimising JIT: C1 alone halves its start-up CPU.
      KAFKA_JVM_EXTRA: "-XX:TieredStopAtLevel=1",
    },
    `127.0.0.1:${port}`,
  );
}

/** Starts a private ClickHouse server on free ports. */
export async function startPrivateClickHouse(): Promise<PrivateService> {
  const http = await freePort();
  const tcp = await freePort();
  return privateService(
    "clickhouse",
    // Tests stop it to simulate an outage. After SIGTERM it goes on serving open keep-alive connections
    // for ~30 s, which would stretch a 10 s outage to 40 s: 3 s of grace, then SIGKILL.
    { CLICKHOUSE_HTTP_PORT: String(http), CLICKHOUSE_TCP_PORT: String(tcp), STOP_GRACE_SECONDS: "3" },
    `http://127.0.0.1:${http}`,
  );
}
