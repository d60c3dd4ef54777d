import { randomUUID } from "node:crypto";

/** One event as an SDK would send it, with a client-generated id so retries are recognisable. */
interface ChaosEvent {
  event_id: string;
  event_name: string;
  user_id: string;
  timestamp: number;
  channel: "web" | "mobile" | "api";
  metadata: { n: number };
}

export interface LoadOptions {
  /** Base URL of the ingest app (it moves to a new port when restarted). */
  url: () => string;
  apiKey: string;
  /** Single POST /events requests per tick. */
  singlesPerTick: number;
  /** Events in the one POST /events/batch request per tick. */
  batchSize: number;
  tickMs: number;
  /** A request that takes longer counts as hung (a failure of the run). */
  requestTimeoutMs: number;
  /** Wait before an event answered 503 or refused is sent again with the same event_id. */
  retryDelayMs: number;
}

export interface LoadCounts {
  requests: number;
  /** Requests answered 202, and the events they carried. */
  accepted202: number;
  acceptedEvents: number;
  /** Requests answered 503 (every one must carry Retry-After). */
  unavailable503: number;
  missingRetryAfter: number;
  /** Requests that got no HTTP answer: connection refused or reset (ingest restarting). */
  refused: number;
  /** Requests with no answer within requestTimeoutMs. */
  hung: number;
  /** Any other status (400, 207, 500…): the run fails on these. */
  other: number;
  retries: number;
}

interface Answer {
  sentAt: number;
  answeredAt: number;
  status: number;
}

const CHANNELS = ["web", "mobile", "api"] as const;

/**
 * A steady load of events against the ingest app that keeps the client's ledger: every id sent, every
 * id answered 202, and the time of each answer. Batches answered 503 or refused are retried with the
 * same event_ids, as an SDK would, so the pipeline's de-duplication is exercised too.
 */
export class Load {
  readonly sent = new Set<string>();
  readonly acknowledged = new Set<string>();
  /** Events of single requests answered 503 or refused, which the client gave up on. */
  readonly abandoned = new Set<string>();
  readonly counts: LoadCounts = {
    requests: 0,
    accepted202: 0,
    acceptedEvents: 0,
    unavailable503: 0,
    missingRetryAfter: 0,
    refused: 0,
    hung: 0,
    other: 0,
    retries: 0,
  };
  /** Every answer's timing, to check that nothing was acknowledged while the broker was down. */
  readonly answers: Answer[] = [];
  readonly otherSamples: string[] = [];
  private readonly retryQueue: { event: ChaosEvent; due: number }[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0;

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
  }

  /** Stops generating new events; retries of failed ones go on until `drain` settles them. */
  stopGenerating(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Retries what is pending until every event sent has been acknowledged, or the deadline passes. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.retryQueue.length > 0 || this.inFlight.size > 0) && Date.now() < deadline) {
      this.sendDueRetries();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(this.inFlight);
  }

  get pendingRetries(): number {
    return this.retryQueue.length;
  }

  /** Sends one event as a batch (so it is retried) and resolves with its id once it was answered 202. */
  async marker(timeoutMs: number): Promise<{ id: string; acknowledgedAt: number }> {
    const event = this.event("chaos_marker");
    this.send("/events/batch", [event]);
    const deadline = Date.now() + timeoutMs;
    while (!this.acknowledged.has(event.event_id)) {
      if (Date.now() > deadline) throw new Error(`marker ${event.event_id} not acknowledged within ${timeoutMs} ms`);
      this.sendDueRetries();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { id: event.event_id, acknowledgedAt: Date.now() };
  }

  private event(name: string): ChaosEvent {
    const n = this.sequence++;
    return {
      event_id: randomUUID(),
      event_name: name,
      user_id: `user-${n % 97}`,
      timestamp: Date.now(),
      channel: CHANNELS[n % 3] ?? "web",
      metadata: { n },
    };
  }

  private tick(): void {
    for (let i = 0; i < this.options.singlesPerTick; i++) this.send("/events", [this.event(i % 2 === 0 ? "page_view" : "click")]);
    this.send(
      "/events/batch",
      Array.from({ length: this.options.batchSize }, () => this.event("purchase")),
    );
    this.sendDueRetries();
  }

  private sendDueRetries(): void {
    const now = Date.now();
    const due: ChaosEvent[] = [];
    while (this.retryQueue.length > 0 && (this.retryQueue[0]?.due ?? Infinity) <= now && due.length < 500) {
      const next = this.retryQueue.shift();
      if (next) due.push(next.event);
    }
    for (let i = 0; i < due.length; i += 50) {
      this.counts.retries += 1;
      this.send("/events/batch", due.slice(i, i + 50));
    }
  }

  private send(path: "/events" | "/events/batch", events: ChaosEvent[]): void {
    const request = this.request(path, events);
    this.inFlight.add(request);
    void request.finally(() => this.inFlight.delete(request));
  }

  private async request(path: "/events" | "/events/batch", events: ChaosEvent[]): Promise<void> {
    for (const event of events) this.sent.add(event.event_id);
    const body = JSON.stringify(path === "/events" ? events[0] : { events });
    const sentAt = Date.now();
    this.counts.requests += 1;
    let status: number;
    try {
      const res = await fetch(`${this.options.url()}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.options.apiKey}` },
        body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const text = await res.text();
      status = res.status;
      if (status === 202) {
        this.counts.accepted202 += 1;
        this.counts.acceptedEvents += events.length;
        for (const event of events) this.acknowledged.add(event.event_id);
      } else if (status === 503) {
        this.counts.unavailable503 += 1;
        if (!/^\d+$/.test(res.headers.get("retry-after") ?? "")) this.counts.missingRetryAfter += 1;
      } else {
        this.counts.other += 1;
        if (this.otherSamples.length < 5) this.otherSamples.push(`${path} → ${status} ${text.slice(0, 200)}`);
      }
    } catch (error) {
      status = 0;
      if (error instanceof Error && error.name === "TimeoutError") this.counts.hung += 1;
      else this.counts.refused += 1;
    }
    this.answers.push({ sentAt, answeredAt: Date.now(), status });
    // Batches are retried after "not taken" answers, as SDKs do; singles are abandoned, so events that
    // were answered 503 yet reached the broker stay unacknowledged and test "stored ⊆ sent, once".
    if ((status === 503 || status === 0) && path === "/events/batch") {
      const due = Date.now() + this.options.retryDelayMs;
      for (const event of events) this.retryQueue.push({ event, due });
    } else if (status === 503 || status === 0) {
      for (const event of events) this.abandoned.add(event.event_id);
    }
  }
}
