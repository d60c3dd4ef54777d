import { OpenAPIHono } from "@hono/zod-openapi";
import type { Campaign, CampaignSink } from "@sluice/campaigns";
import type { ClickHouse } from "@sluice/clickhouse";
import { AppError, apiKeyAuth, type CommonDeps, createKeyMatcher, installCommon, registerDocs } from "@sluice/http";
import type { MiddlewareHandler } from "hono";
import { registerCampaigns } from "./routes/campaigns";
import { registerDashboard } from "./routes/dashboard";
import { registerEventLookup } from "./routes/event";
import { registerMetrics } from "./routes/metrics";
import { registerOverview } from "./routes/overview";
import { registerSearch } from "./routes/search";
import type { MetricsCache } from "./services/metrics-cache";
import { invalidRequest } from "./services/validate";

/** What the campaign routes read: the registry tailing the topic (and taking our own writes at once). */
export interface CampaignReader {
  get(campaignId: string): Campaign | undefined;
  list(): Campaign[];
  apply(campaign: Campaign): void;
}

export interface QueryDeps extends CommonDeps {
  db: ClickHouse;
  campaigns: CampaignReader;
  publisher: CampaignSink;
  /** Read-only keys; with no keys at all the API is open (AUTH_DISABLED or a development setup). */
  apiKeys: readonly string[];
  /** Keys that may also write (POST /campaigns). */
  adminApiKeys?: readonly string[];
  now?: () => number;
  /** Reuses GET /metrics answers while their counts are unchanged (main builds one; tests may omit it). */
  metricsCache?: MetricsCache;
}

export type QueryApp = OpenAPIHono;

/** Paths of the API that need a key; the dashboard page, docs and probes stay open. */
const GUARDED = ["/metrics", "/events", "/events/*", "/campaigns", "/campaigns/*", "/overview"];

/** Lets only admin keys through to methods that write; read-only keys get 403. Runs after apiKeyAuth. */
function writesNeedAdmin(adminKeys: readonly string[]): MiddlewareHandler {
  const isAdmin = createKeyMatcher(adminKeys);
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && isAdmin(c.get("apiKey" as never)) === undefined) {
      throw new AppError("FORBIDDEN", "this key may only read; writes need a key from QUERY_ADMIN_API_KEYS");
    }
    await next();
  };
}

/** Builds the query HTTP app from its dependencies; no I/O happens here. */
export function createApp(deps: QueryDeps): QueryApp {
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) throw invalidRequest(result.error);
    },
  });
  installCommon(app, deps);
  const adminKeys = deps.adminApiKeys ?? [];
  if (deps.apiKeys.length > 0 || adminKeys.length > 0) {
    const auth = apiKeyAuth([...deps.apiKeys, ...adminKeys]);
    const writes = writesNeedAdmin(adminKeys);
    for (const path of GUARDED) app.use(path, auth, writes);
  }
  const now = deps.now ?? Date.now;
  registerMetrics(app, { db: deps.db, cache: deps.metricsCache, now });
  registerEventLookup(app, { db: deps.db });
  registerSearch(app, { db: deps.db, now });
  registerCampaigns(app, { campaigns: deps.campaigns, publisher: deps.publisher, logger: deps.logger });
  registerOverview(app, { db: deps.db, now });
  registerDashboard(app);
  registerDocs(app, {
    title: "Sluice query API",
    description: "Metrics, event look-up and search, campaigns. Send the key as `Authorization: Bearer <key>` or `x-api-key`.",
  });
  return app;
}
