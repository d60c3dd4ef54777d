import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const BIN_DIR = join(PACKAGE_DIR, "node_modules", ".bin");

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

describe("generated code", () => {
  let scratch: string | undefined;
  afterAll(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  // The committed src/gen is what the apps import; regenerating must reproduce it byte for byte.
  it("matches what buf generate produces from the .proto files", async () => {
    scratch = await mkdtemp(join(tmpdir(), "sluice-proto-"));
    await promisify(execFile)(join(BIN_DIR, "buf"), ["generate", "--output", scratch], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, PATH: `${BIN_DIR}${delimiter}${process.env.PATH ?? ""}` },
      timeout: 60_000,
    });
    const committedDir = join(PACKAGE_DIR, "src", "gen");
    const freshDir = join(scratch, "src", "gen");
    const committed = await listFiles(committedDir);
    expect(await listFiles(freshDir)).toEqual(committed);
    expect(committed.length).toBeGreaterThan(0);
    for (const file of committed) {
      expect(await readFile(join(freshDir, file), "utf8"), file).toBe(await readFile(join(committedDir, file), "utf8"));
    }
  }, 60_000);
});
