import { AppError, type HttpServer, type HttpServerOptions, Readiness, startHttpServer } from "@sluice/http";
import { createLogger } from "@sluice/logger";
import { createRegistry } from "@sluice/metrics";
import { createApp, createIngestCore, createIngestFastLane, type IngestAppConfig, type IngestDeps } from "../app";
import type { NodeBindings } from "../body";
import type { CampaignRules } from "../campaigns";
import type { EventPublisher, MessageText, OutgoingMessage } from "../publisher";

/** A publisher that records what it was given (decoded as text), or fails like a broker that did not acknowledge. */
export class FakePublisher implements EventPublisher {
  readonly published: MessageText[] = [];
  failWith: AppError | undefined;

  async publish(messages: OutgoingMessage[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    for (const { key, value } of messages) this.published.push({ key: key.toString("utf8"), value: value.toString("utf8") });
  }

  /** The published values, parsed. */
  get values(): Record<string, unknown>[] {
    return this.published.map((m) => JSON.parse(m.value) as Record<string, unknown>);
  }
}

/** A broker outage as the real publisher reports it. */
export const brokerDown = () => new AppError("UNAVAILABLE", "no acknowledgement within 5000 ms", [], 5);

export const TEST_CONFIG: IngestAppConfig = {
  INGEST_API_KEYS: [],
  RATE_LIMIT_PER_SEC: undefined,
  RATE_LIMIT_BURST: undefined,
  MAX_FUTURE_SKEW_MS: 300_000,
  MAX_BODY_BYTES: 1_048_576,
  MAX_BATCH_BODY_BYTES: 16_777_216,
  MAX_MESSAGE_BYTES: 1_000_000,
  ACCESS_LOG_SAMPLE_RATE: 0,
};

/** Builds the ingest app and its `POST /events` fast lane over fakes; every part can be overridden. */
export function buildTestApp(overrides: Partial<Omit<IngestDeps, "config">> & { config?: Partial<IngestAppConfig> } = {}) {
  const publisher = (overrides.publisher as FakePublisher | undefined) ?? new FakePublisher();
  const readiness = overrides.readiness ?? new Readiness();
  const registry = overrides.registry ?? createRegistry("test");
  const campaigns: CampaignRules = overrides.campaigns ?? { requiredMetadata: () => undefined };
  const deps: IngestDeps = {
    logger: overrides.logger ?? createLogger({ name: "test", level: "silent" }),
    registry,
    readiness,
    publisher,
    campaigns,
    config: { ...TEST_CONFIG, ...overrides.config },
    ...(overrides.now ? { now: overrides.now } : {}),
  };
  const core = overrides.core ?? createIngestCore(deps);
  const app = createApp({ ...deps, core });
  const fastLane = createIngestFastLane({ ...deps, core });
  return { app, fastLane, core, publisher, readiness, registry };
}

/** Serves a test app on a loopback port as main does: the fast lane first, then Hono. */
export function serveTestApp(
  built: Pick<ReturnType<typeof buildTestApp>, "app" | "fastLane">,
  options: Omit<HttpServerOptions, "port" | "host" | "fastLane"> = {},
): Promise<HttpServer> {
  return startHttpServer((request, env) => built.app.fetch(request, env as NodeBindings), {
    ...options,
    port: 0,
    host: "127.0.0.1",
    fastLane: built.fastLane,
  });
}
