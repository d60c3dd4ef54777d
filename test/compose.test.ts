import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOCAL_COMPOSE = `${ROOT}.local/bin/docker-compose`;

/** `docker compose` when the plugin exists, else the binary scripts/ensure-compose.sh built. */
function compose(args: string[]): string {
  const command = existsSync(LOCAL_COMPOSE) ? [LOCAL_COMPOSE, ...args] : ["docker", "compose", ...args];
  const [bin, ...rest] = command as [string, ...string[]];
  return execFileSync(bin, rest, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("docker-compose.yml", () => {
  it("parses (docker compose config -q)", () => {
    expect(() => compose(["config", "-q"])).not.toThrow();
  });

  it("defines the pipeline's services with health-gated start order", () => {
    const config = JSON.parse(compose(["config", "--format", "json"])) as {
      services: Record<string, { depends_on?: Record<string, { condition: string }> }>;
    };
    expect(Object.keys(config.services)).toEqual(expect.arrayContaining(["redpanda", "clickhouse", "ingest", "worker", "query"]));
    expect(config.services.worker?.depends_on?.redpanda?.condition).toBe("service_healthy");
    expect(config.services.query?.depends_on?.clickhouse?.condition).toBe("service_healthy");
  });
});
