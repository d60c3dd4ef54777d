// Sluice load test (k6). Two scenarios run side by side:
// - `ingest`: ramping-arrival-rate over the stages of profile.json (open model: k6 starts requests at
//   the target rate whether or not earlier ones have been answered; when every VU is busy it drops
//   iterations and counts them in `dropped_iterations`). A share of the requests are batches.
// - `freshness`: once a second, one event with a unique event_name is posted and GET /metrics on the
//   query app is polled until it counts it; `freshness_ms` is the time from the 202 to that answer.
// Every event carries `metadata.run_id` and a client-generated `event_id`, so the end-to-end check
// (loadtest/run.ts) can compare what was acknowledged with what ClickHouse stored. Events sent without
// an acknowledgement are printed as `UNACKED <ids>` lines (k6 --console-output keeps them in a file).
//
// Environment: RUN_ID, INGEST_URL (http://127.0.0.1:8080), QUERY_URL (http://127.0.0.1:8081),
// INGEST_API_KEY, QUERY_API_KEY, LOAD_SCALE (stage durations, default 1), LOAD_RATE_SCALE (stage
// targets, default 1), BATCH_SHARE (0.1), BATCH_SIZE (10), MAX_VUS (1000), PRE_VUS (= MAX_VUS),
// REQUEST_TIMEOUT (10s), FRESHNESS_POLL_MS (200), FRESHNESS_TIMEOUT_S (60).
import { check, sleep } from "k6";
import exec from "k6/execution";
import http from "k6/http";
import { Counter, Trend } from "k6/metrics";

const env = __ENV;
const RUN_ID = env.RUN_ID || `adhoc-${Date.now()}`;
const INGEST_URL = env.INGEST_URL || "http://127.0.0.1:8080";
const QUERY_URL = env.QUERY_URL || "http://127.0.0.1:8081";
const LOAD_SCALE = Number(env.LOAD_SCALE || 1);
const LOAD_RATE_SCALE = Number(env.LOAD_RATE_SCALE || 1);
const BATCH_SHARE = Number(env.BATCH_SHARE || 0.1);
const BATCH_SIZE = Number(env.BATCH_SIZE || 10);
const MAX_VUS = Number(env.MAX_VUS || 1000);
// All VUs are made before the run by default: initialising one mid-run costs CPU the run is measuring.
const PRE_VUS = Number(env.PRE_VUS || MAX_VUS);
const REQUEST_TIMEOUT = env.REQUEST_TIMEOUT || "10s";
const FRESHNESS_POLL_MS = Number(env.FRESHNESS_POLL_MS || 200);
const FRESHNESS_TIMEOUT_S = Number(env.FRESHNESS_TIMEOUT_S || 60);

if (!(LOAD_SCALE > 0) || !(LOAD_RATE_SCALE > 0)) throw new Error("LOAD_SCALE and LOAD_RATE_SCALE must be positive numbers");
if (!(BATCH_SHARE >= 0 && BATCH_SHARE <= 1) || !(BATCH_SIZE >= 1 && BATCH_SIZE <= 1000)) {
  throw new Error("BATCH_SHARE must be within 0..1 and BATCH_SIZE within 1..1000");
}

// The same scaling as loadtest/profile.ts: whole seconds, at least one; a non-zero target stays >= 1.
const STAGES = JSON.parse(open("./profile.json")).stages.map((stage) => ({
  name: stage.name,
  seconds: Math.max(1, Math.round(stage.duration_s * LOAD_SCALE)),
  target: stage.target === 0 ? 0 : Math.max(1, Math.round(stage.target * LOAD_RATE_SCALE)),
}));
const TOTAL_SECONDS = STAGES.reduce((sum, stage) => sum + stage.seconds, 0);
const STAGE_ENDS_MS = [];
for (const stage of STAGES) STAGE_ENDS_MS.push((STAGE_ENDS_MS.at(-1) || 0) + stage.seconds * 1000);

const eventsSent = new Counter("events_sent");
const eventsAccepted = new Counter("events_accepted");
const eventsUnacked = new Counter("events_unacked");
const freshness = new Trend("freshness_ms", true);
const freshnessTimeouts = new Counter("freshness_timeouts");

const LATENCY = ["p(95)<100", "p(99)<200"];
const ERRORS = ["rate<0.01"];
const thresholds = {
  "http_req_duration{scenario:ingest}": LATENCY,
  "http_req_failed{scenario:ingest}": ERRORS,
};
// Per stage as well, so the summary shows which stage broke a limit (these also give per-stage counts).
for (const stage of STAGES) {
  thresholds[`http_req_duration{stage:${stage.name}}`] = LATENCY;
  thresholds[`http_req_failed{stage:${stage.name}}`] = ERRORS;
}

export const options = {
  discardResponseBodies: false,
  summaryTrendStats: ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"],
  thresholds,
  scenarios: {
    ingest: {
      executor: "ramping-arrival-rate",
      exec: "ingest",
      startRate: 0,
      timeUnit: "1s",
      preAllocatedVUs: Math.min(PRE_VUS, MAX_VUS),
      maxVUs: MAX_VUS,
      stages: STAGES.map((stage) => ({ duration: `${stage.seconds}s`, target: stage.target })),
      gracefulStop: "15s",
    },
    freshness: {
      executor: "constant-arrival-rate",
      exec: "probe",
      rate: 1,
      timeUnit: "1s",
      duration: `${TOTAL_SECONDS}s`,
      preAllocatedVUs: 5,
      maxVUs: FRESHNESS_TIMEOUT_S + 10,
      gracefulStop: `${FRESHNESS_TIMEOUT_S + 5}s`,
    },
  },
};

const EVENT_NAMES = [
  "page_view",
  "screen_view",
  "click",
  "search",
  "add_to_cart",
  "remove_from_cart",
  "checkout_started",
  "purchase",
  "signup",
  "login",
  "logout",
  "share",
  "video_play",
  "email_open",
  "push_open",
];
// Weighted towards web and mobile, as SDK traffic is; every channel appears.
const CHANNELS = ["web", "web", "web", "mobile", "mobile", "api", "email", "push", "desktop", "tv", "console", "other"];
const TAGS = ["returning", "beta", "promo", "vip", "ab:variant-a", "ab:variant-b", "newsletter"];
// Campaign ids the campaign registry does not know, so no required-metadata rule applies to them.
const CAMPAIGNS = ["lt-spring-sale", "lt-newsletter-42", "lt-retargeting-7", "lt-launch-week", "lt-black-friday"];
const USERS = 100_000;
const OS = ["ios", "android", "windows", "macos", "linux"];
const BROWSERS = ["safari", "chrome", "firefox", "edge"];
const PLANS = ["free", "pro", "team", "enterprise"];

const pick = (list) => list[Math.floor(Math.random() * list.length)];
const int = (n) => Math.floor(Math.random() * n);

/** One realistic event: typed metadata, tags, device, sometimes a campaign and items. */
function makeEvent(eventName) {
  const user = int(USERS);
  const name = eventName || pick(EVENT_NAMES);
  const channel = pick(CHANNELS);
  const metadata = {
    run_id: RUN_ID,
    path: `/products/${int(500)}`,
    referrer: pick(["google", "newsletter", "direct", "partner"]),
    load_ms: int(3000),
    logged_in: Math.random() < 0.6,
  };
  const event = {
    event_id: crypto.randomUUID(),
    event_name: name,
    user_id: `user-${user}`,
    timestamp: Date.now(),
    channel,
    session_id: `session-${user}-${int(5)}`,
    tags: TAGS.filter(() => Math.random() < 0.2),
    metadata,
    user_properties: { plan: PLANS[user % PLANS.length], age: 18 + (user % 60), beta: user % 7 === 0 },
    device: { category: channel === "mobile" ? "phone" : "desktop", os: pick(OS), browser: pick(BROWSERS), language: "en-US" },
  };
  if (Math.random() < 0.2) event.campaign_id = pick(CAMPAIGNS);
  if (channel === "mobile") event.app = { id: "com.example.shop", version: `3.${int(10)}.0` };
  if (name === "purchase" || name === "add_to_cart") {
    const items = Array.from({ length: 1 + int(3) }, () => ({
      id: `sku-${int(2000)}`,
      name: "Widget",
      price: Math.round(Math.random() * 20000) / 100,
      quantity: 1 + int(3),
    }));
    event.items = items;
    metadata.amount = items.reduce((sum, item) => sum + item.price * item.quantity, 0);
    metadata.currency = "EUR";
  }
  return event;
}

function headers(apiKey) {
  const h = { "content-type": "application/json" };
  if (apiKey) h.authorization = `Bearer ${apiKey}`;
  return h;
}

function stageNow() {
  const elapsed = Date.now() - exec.scenario.startTime;
  const index = STAGE_ENDS_MS.findIndex((end) => elapsed < end);
  return STAGES[index === -1 ? STAGES.length - 1 : index].name;
}

function unacked(ids, status) {
  if (ids.length === 0) return;
  eventsUnacked.add(ids.length);
  console.log(`UNACKED status=${status} ${ids.join(" ")}`);
}

/** Posts events (one, or a batch) and counts which the ingest acknowledged; returns the response. */
function send(events, batch, tags) {
  eventsSent.add(events.length);
  const ids = events.map((event) => event.event_id);
  const url = batch ? `${INGEST_URL}/events/batch` : `${INGEST_URL}/events`;
  const body = JSON.stringify(batch ? { events } : events[0]);
  const res = http.post(url, body, {
    headers: headers(env.INGEST_API_KEY),
    timeout: REQUEST_TIMEOUT,
    tags: { name: batch ? "POST /events/batch" : "POST /events", ...tags },
  });
  if (res.status === 202) {
    eventsAccepted.add(events.length);
  } else if (res.status === 207) {
    // Partial: the rejected indexes were not produced; the others were acknowledged.
    let rejected = [];
    try {
      rejected = (res.json("rejected") || []).map((r) => r.index);
    } catch (_) {
      rejected = ids.map((_, i) => i);
    }
    const rejectedSet = new Set(rejected);
    eventsAccepted.add(ids.length - rejectedSet.size);
    unacked(
      ids.filter((_, i) => rejectedSet.has(i)),
      207,
    );
  } else {
    unacked(ids, res.status);
  }
  return res;
}

export function ingest() {
  const tags = { stage: stageNow() };
  const batch = Math.random() < BATCH_SHARE;
  const events = Array.from({ length: batch ? BATCH_SIZE : 1 }, () => makeEvent());
  const res = send(events, batch, tags);
  check(res, { "ingest answered 202": (r) => r.status === 202 }, tags);
}

export function probe() {
  const eventName = `lt_probe_${RUN_ID}_${exec.scenario.iterationInTest}`;
  const res = send([makeEvent(eventName)], false, { probe: "send" });
  if (res.status !== 202) return;
  const ackedAt = Date.now();
  const seconds = Math.floor(ackedAt / 1000);
  const url = `${QUERY_URL}/metrics?event_name=${eventName}&group_by=channel&from=${seconds - 3600}&to=${seconds + 3600}`;
  const deadline = ackedAt + FRESHNESS_TIMEOUT_S * 1000;
  while (Date.now() < deadline) {
    const poll = http.get(url, { headers: headers(env.QUERY_API_KEY), timeout: "10s", tags: { name: "GET /metrics (probe)" } });
    if (poll.status === 200 && Number(poll.json("total_events")) >= 1) {
      freshness.add(Date.now() - ackedAt);
      return;
    }
    sleep(FRESHNESS_POLL_MS / 1000);
  }
  freshnessTimeouts.add(1);
}
