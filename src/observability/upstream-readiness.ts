/**
 * Readiness of each connection's upstream, checked in the background: the view behind /readyz and the
 * latch_upstream_ready gauge. /healthz stays liveness (is this process serving?); this says whether a
 * connection's target answers, for load balancers and operators. A check is cheap and uses no credential
 * (each protocol module says what answering means); its error is a code (ECONNREFUSED, timeout), never a URL.
 */

export interface UpstreamTarget {
  readonly connection: string;
  readonly protocol: string;
  /** Resolves once the upstream answered; rejects with an Error whose `code` says why. */
  probe(): Promise<void>;
}

export interface UpstreamCheck {
  readonly protocol: string;
  readonly ready: boolean;
  /** When the last check finished (ISO-8601); null before the first. */
  readonly checkedAt: string | null;
  readonly latencyMs: number | null;
  /** Why the last check failed: ECONNREFUSED, ETIMEDOUT, timeout, unexpected_reply, not_checked, ... */
  readonly error?: string;
}

export interface UpstreamReadiness {
  /** The last check of every connection, by name. */
  snapshot(): Readonly<Record<string, UpstreamCheck>>;
  /** Checks every upstream now; resolves when all have answered or failed. */
  checkAll(): Promise<void>;
  stop(): void;
}

export interface UpstreamReadinessOptions {
  readonly targets: readonly UpstreamTarget[];
  readonly intervalMs: number;
  /** latch_upstream_ready{connection} */
  readonly gauge?: { set(labels: { connection: string }, value: number): void };
  /** Called when a connection becomes ready or stops being ready. */
  readonly onChange?: (connection: string, check: UpstreamCheck) => void;
  readonly now?: () => number;
}

/** A code that is safe to show: an errno-like word or one of ours, never a message that could quote a URL. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^[A-Za-z0-9_]{1,40}$/.test(code) ? code : "error";
}

/** Starts checking at once, then every `intervalMs` after the previous round ended (rounds never overlap). */
export function startUpstreamReadiness(options: UpstreamReadinessOptions): UpstreamReadiness {
  const now = options.now ?? Date.now;
  const checks = new Map<string, UpstreamCheck>();
  for (const target of options.targets) {
    checks.set(target.connection, {
      protocol: target.protocol,
      ready: false,
      checkedAt: null,
      latencyMs: null,
      error: "not_checked",
    });
    options.gauge?.set({ connection: target.connection }, 0);
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let round: Promise<void> | undefined;

  const checkOne = async (target: UpstreamTarget): Promise<void> => {
    const started = now();
    let error: string | undefined;
    try {
      await target.probe();
    } catch (failure) {
      error = errorCode(failure);
    }
    if (stopped) return;
    const check: UpstreamCheck = {
      protocol: target.protocol,
      ready: error === undefined,
      checkedAt: new Date(now()).toISOString(),
      latencyMs: now() - started,
      ...(error === undefined ? {} : { error }),
    };
    const before = checks.get(target.connection);
    checks.set(target.connection, check);
    options.gauge?.set({ connection: target.connection }, check.ready ? 1 : 0);
    if (before?.ready !== check.ready) options.onChange?.(target.connection, check);
  };

  const checkAll = (): Promise<void> => {
    round ??= Promise.all(options.targets.map(checkOne)).then(() => {
      round = undefined;
    });
    return round;
  };

  const schedule = () => {
    if (stopped || options.targets.length === 0) return;
    timer = setTimeout(() => void checkAll().then(schedule), options.intervalMs);
    timer.unref();
  };
  void checkAll().then(schedule);

  return {
    snapshot: () => Object.fromEntries(checks),
    checkAll,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
