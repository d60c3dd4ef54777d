import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

// The images' HEALTHCHECK script, run as Docker runs it: a fresh node process whose exit code decides.
const SCRIPT = fileURLToPath(new URL("../deploy/docker/healthcheck.mjs", import.meta.url));
const run = promisify(execFile);

async function exitCode(port: number): Promise<number> {
  try {
    await run(process.execPath, [SCRIPT], {
      env: { SERVER_PORT: String(port), HEALTHCHECK_TIMEOUT_MS: "1000" },
      timeout: 10_000,
    });
    return 0;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

let server: Server | undefined;
const paths: string[] = [];

async function serve(status: number): Promise<number> {
  server = createServer((req, res) => {
    paths.push(req.url ?? "");
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  paths.length = 0;
});

describe("deploy/docker/healthcheck.mjs", () => {
  it("exits 0 when GET /health on SERVER_PORT answers 200", async () => {
    const port = await serve(200);
    expect(await exitCode(port)).toBe(0);
    expect(paths).toEqual(["/health"]);
  });

  it("exits 1 when the app answers an error status", async () => {
    const port = await serve(503);
    expect(await exitCode(port)).toBe(1);
  });

  it("exits 1 when nothing listens on the port", async () => {
    const port = await serve(200);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    expect(await exitCode(port)).toBe(1);
  });
});
