import type { CheckResult } from "@sluice/http";
import type { Admin } from "@sluice/kafka";
import type { Logger } from "pino";

export interface BrokerProbe {
  /** The cached outcome of the latest probe, for /ready (never waits on the broker). */
  check(): CheckResult;
  stop(): void;
}

/**
 * Asks the broker for the event topic's metadata every `intervalMs` and caches the answer, so /ready
 * stays cheap and bounded however slow the broker is. A probe that takes longer than the interval
 * counts as a failure.
 */
export function startBrokerProbe(
  admin: Pick<Admin, "fetchTopicMetadata">,
  topic: string,
  intervalMs: number,
  logger: Logger,
): BrokerProbe {
  let result: CheckResult = { ok: false, detail: "not probed yet" };
  let running = false;
  let stopped = false;

  async function probe(): Promise<void> {
    if (running || stopped) return;
    running = true;
    let timeout: NodeJS.Timeout | undefined;
    const answered = admin.fetchTopicMetadata({ topics: [topic] }).then(
      (metadata) => {
        const partitions = metadata.topics[0]?.partitions ?? [];
        const leaderless = partitions.filter((p) => p.leader < 0).length;
        return leaderless === 0 && partitions.length > 0
          ? { ok: true }
          : { ok: false, detail: `topic ${topic}: ${leaderless} of ${partitions.length} partitions without a leader` };
      },
      (error: unknown) => ({ ok: false, detail: error instanceof Error ? error.message : String(error) }),
    );
    // A slow answer still holds `running`, so probes never pile up on a struggling broker.
    void answered.then(() => {
      running = false;
    });
    try {
      const late = new Promise<CheckResult>((resolve) => {
        timeout = setTimeout(() => resolve({ ok: false, detail: `broker did not answer within ${intervalMs} ms` }), intervalMs);
      });
      const next = await Promise.race([answered, late]);
      if (next.ok !== result.ok)
        logger[next.ok ? "info" : "warn"]({ detail: next.detail }, next.ok ? "broker reachable" : "broker unreachable");
      result = next;
    } finally {
      clearTimeout(timeout);
    }
  }

  void probe();
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  return {
    check: () => result,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
