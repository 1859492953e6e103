import type { AuditExportCursors } from "../store/audit-export-cursors.js";
import type { AuditRetention, PrunePlan } from "../store/audit-retention.js";

export interface AuditPrunerOptions {
  readonly retention: AuditRetention;
  readonly retentionMs: number;
  /** Sinks under audit.export: nothing a sink has not had yet is deleted. */
  readonly sinks: readonly string[];
  readonly cursors?: AuditExportCursors;
  readonly now?: () => number;
}

/** The plan a prune would carry out now, or undefined when nothing is old enough (and anchored, and exported). */
export async function planPrune(options: AuditPrunerOptions): Promise<PrunePlan | undefined> {
  const now = options.now ?? Date.now;
  let maxSeq = Number.MAX_SAFE_INTEGER;
  for (const sink of options.sinks) {
    const cursor = options.cursors === undefined ? 0 : await options.cursors.get(sink);
    maxSeq = Math.min(maxSeq, cursor);
  }
  const plan = await options.retention.plan(new Date(now() - options.retentionMs).toISOString(), maxSeq);
  return plan === undefined || plan.events === 0 ? undefined : plan;
}

export interface AuditPruner {
  /** One prune now; resolves with what was deleted. */
  pruneNow(): Promise<PrunePlan | undefined>;
  stop(): void;
}

/**
 * Deletes events older than audit.retention every `everyMs`, up to the newest signed checkpoint old enough and
 * exported to every sink; records each prune as an `audit_pruned` event (through the gateway's writer).
 */
export function startAuditPruner(
  options: AuditPrunerOptions & {
    readonly everyMs: number;
    /** When to run the first time; default: after `everyMs`. */
    readonly firstAfterMs?: number;
    readonly record: (data: Readonly<Record<string, unknown>>) => Promise<void>;
    readonly onError?: (error: unknown) => void;
  },
): AuditPruner {
  let running: Promise<PrunePlan | undefined> | undefined;
  const pruneNow = (): Promise<PrunePlan | undefined> => {
    running ??= (async () => {
      const plan = await planPrune(options);
      if (plan === undefined) return undefined;
      const deleted = await options.retention.prune(plan);
      // Another replica of a shared store pruned this far first: nothing to record here.
      if (deleted === 0) return undefined;
      await options.record({
        through: plan.through,
        anchorHash: plan.anchorHash,
        anchorSeq: plan.anchorSeq,
        throughTs: plan.throughTs,
        events: deleted,
      });
      return plan;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  const run = () => void pruneNow().catch((error: unknown) => options.onError?.(error));
  const timer = setInterval(run, options.everyMs);
  timer.unref();
  // A first run soon after start, not one interval later.
  const first = options.firstAfterMs === undefined ? undefined : setTimeout(run, options.firstAfterMs);
  first?.unref();
  return {
    pruneNow,
    stop: () => {
      clearInterval(timer);
      clearTimeout(first);
    },
  };
}
