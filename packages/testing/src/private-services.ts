import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { uniqueName } from "./names";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../..", import.meta.url));
const SERVICES = `${REPO}/scripts/services.sh`;

/** The lowest port the kernel hands out as the local end of outgoing connections. */
function ephemeralLow(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    return Number(low) || 0;
  } catch {
    return 0;
  }
}

const LISTEN_PORTS_FROM = 10_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? resolve(undefined) : reject(error)));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on loopback for a server a test starts later. It is picked below the kernel's
 * ephemeral range: a port from that range, free when checked, was taken by an outgoing connection's
 * local end before the server bound it (CI failed with EADDRINUSE that way).
 */
export async function freePort(): Promise<number> {
  const below = ephemeralLow();
  if (below - LISTEN_PORTS_FROM >= 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = await tryListen(LISTEN_PORTS_FROM + Math.floor(Math.random() * (below - LISTEN_PORTS_FROM)));
      if (port !== undefined) return port;
    }
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error("no free port on loopback");
  return port;
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
