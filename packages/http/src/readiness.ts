/** Outcome of one dependency check. */
export interface CheckResult {
  ok: boolean;
  detail?: string;
}

export type ReadinessCheck = () => Promise<CheckResult> | CheckResult;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

/**
 * Tracks whether an app should receive traffic: every named check must pass and the app must not
 * be draining. Shutdown flips `draining` first so load balancers stop sending work.
 */
export class Readiness {
  private draining = false;
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Adds a named dependency check (broker, ClickHouse, consumer, ...). */
  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Marks the app as shutting down; readiness answers 503 from now on. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Runs every check concurrently; a check that throws counts as failed with its message. */
  async report(): Promise<ReadinessReport> {
    const checks: Record<string, CheckResult> = {};
    if (this.draining) checks.shutdown = { ok: false, detail: "shutting down" };
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          checks[name] = await check();
        } catch (error) {
          checks[name] = { ok: false, detail: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
