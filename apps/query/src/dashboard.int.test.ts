import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { toEventRow } from "@sluice/clickhouse";
import type { EventMessage } from "@sluice/events";
import { type HttpServer, startHttpServer } from "@sluice/http";
import { createTestDatabase, type TestDatabase } from "@sluice/testing";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./testing";

// Debian's chromium, installed by scripts/ensure-chromium.sh (make test-int runs it).
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOTS = fileURLToPath(new URL("../../../.local/screenshots/", import.meta.url));
const API_KEY = "dashboard-test-key";
const H = 3_600_000;

const now = Date.now();
const thisHour = Math.floor(now / H) * H;
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

function seed(): EventMessage[] {
  const events: EventMessage[] = [];
  const add = (
    count: number,
    event: Omit<EventMessage, "event_id" | "user_id" | "received_at">,
    receivedAt: number,
    users = count,
  ) => {
    for (let i = 0; i < count; i++) {
      events.push({
        ...event,
        event_id: crypto.randomUUID(),
        user_id: `${event.event_name}-${i % users}`,
        received_at: receivedAt,
      });
    }
  };
  add(5, { event_name: "page_view", timestamp: thisHour - 3 * H + 60_000, channel: "web" }, now - 3 * H);
  add(3, { event_name: "signup", timestamp: thisHour - 3 * H + 120_000, channel: "mobile" }, now - 3 * H);
  add(2, { event_name: "purchase", timestamp: thisHour - H + 60_000, channel: "api" }, now - H);
  add(30, { event_name: "page_view", timestamp: now - 5 * 60_000, channel: "web" }, now, 10);
  return events;
}

describe("dashboard in headless Chromium", () => {
  const events = seed();
  let database: TestDatabase;
  let server: HttpServer;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    database = await createTestDatabase({ migrate: true });
    await database.db.insert(
      "events",
      events.map((e, i) => toEventRow(e, { topic: "events", partition: 0, offset: String(i) })),
    );
    const { app } = buildTestApp({ db: database.db, apiKeys: [API_KEY] });
    server = await startHttpServer((request) => app.fetch(request), { port: 0, host: "127.0.0.1" });
    profile = await mkdtemp(join(tmpdir(), "sluice-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 720 },
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await database?.drop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("asks for the key, then charts the seeded events per hour by channel, top events, users and ingest rate", async () => {
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/?refresh=1000`);
    await expect.poll(() => page.textContent("#status"), { timeout: 10_000 }).toContain("needs a key");

    await page.fill("#api-key", API_KEY);
    await page.dispatchEvent("#api-key", "change");
    await page.waitForSelector("body[data-loaded=true]", { timeout: 15_000 });

    expect(await page.textContent("#total-events")).toBe(String(events.length));
    // page_view-0..9 (the first five also viewed earlier), signup-0..2, purchase-0..1.
    expect(await page.textContent("#unique-users")).toBe(String(10 + 3 + 2));
    expect(await page.textContent("#ingest-rate")).toBe("0.5 /s");

    const legend = await page.$$eval("#legend [data-channel]", (items) =>
      Object.fromEntries(items.map((item) => [item.getAttribute("data-channel"), Number(item.getAttribute("data-total"))])),
    );
    expect(legend).toEqual({ web: 35, mobile: 3, api: 2 });

    const bars = await page.$$eval("#chart rect[data-count]", (rects) =>
      rects.map((r) => ({
        hour: r.getAttribute("data-hour"),
        channel: r.getAttribute("data-channel"),
        count: Number(r.getAttribute("data-count")),
      })),
    );
    const expected = new Map<string, number>();
    for (const e of events) {
      const key = `${iso(Math.floor(e.timestamp / H) * H)} ${e.channel}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(new Map(bars.map((b) => [`${b.hour} ${b.channel}`, b.count]))).toEqual(expected);
    expect(await page.getAttribute(`#chart g[data-hour="${iso(thisHour - 3 * H)}"]`, "data-total")).toBe("8");
    expect(await page.$$eval("#chart g[data-hour]", (groups) => groups.length)).toBe(24);

    const top = await page.$$eval("#top-events tr", (rows) => rows.map((row) => row.getAttribute("data-event")));
    expect(top).toEqual(["page_view", "signup", "purchase"]);

    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "dashboard.png"), fullPage: true });
  });
});
