import type { AuditExportCursors } from "../store/audit-export-cursors.js";
import type { AuditRetention, PrunePlan } from "../store/audit-retention.js";
import type { LiveSessionStore } from "../store/live-session-store.js";

/**
 * How far before a live session's start a prune stops: the session's `session_start` is stamped by the gateway
 * that serves it, whose clock may run behind the pruning replica's by about this much.
 */
export const LIVE_SESSION_MARGIN_MS = 60_000;

export interface AuditPrunerOptions {
  readonly retention: AuditRetention;
  readonly retentionMs: number;
  /** Sinks under audit.export: nothing a sink has not had yet is deleted. */
  readonly sinks: readonly string[];
  readonly cursors?: AuditExportCursors;
  /**
   * Sessions open now: a prune stops before the oldest one's start, so its `session_start` stays. Replay reads
   * the session's subject, groups and connection there (policyInput version 2), and the sessions index and the
   * console list the session from it.
   */
  readonly liveSessions?: Pick<LiveSessionStore, "list">;
  readonly now?: () => number;
}

/** The cutoff a prune may go to: the retention's, or just before the oldest live session began. */
export async function pruneCutoff(options: AuditPrunerOptions): Promise<{ before: number; heldBy?: string }> {
  const now = options.now ?? Date.now;
  const before = now() - options.retentionMs;
  const oldest = (await options.liveSessions?.list())?.[0];
  if (oldest === undefined) return { before };
  const floor = Date.parse(oldest.startedAt) - LIVE_SESSION_MARGIN_MS;
  return floor < before ? { before: floor, heldBy: oldest.id } : { before };
}

/** The plan a prune would carry out now, or undefined when nothing is old enough (and anchored, and exported). */
export async function planPrune(
  options: AuditPrunerOptions,
  cutoff?: { readonly before: number },
): Promise<PrunePlan | undefined> {
  let maxSeq = Number.MAX_SAFE_INTEGER;
  for (const sink of options.sinks) {
    const cursor = options.cursors === undefined ? 0 : await options.cursors.get(sink);
    maxSeq = Math.min(maxSeq, cursor);
  }
  const { before } = cutoff ?? (await pruneCutoff(options));
  const plan = await options.retention.plan(new Date(before).toISOString(), maxSeq);
  return plan === undefined || plan.events === 0 ? undefined : plan;
}

export interface AuditPruner {
  /** One prune now; resolves with what was deleted. */
  pruneNow(): Promise<PrunePlan | undefined>;
  stop(): void;
}

/**
 * Deletes events older than audit.retention every `everyMs`, up to the newest signed checkpoint old enough,
 * exported to every sink and before every live session's start; records each prune as an `audit_pruned` event (through the gateway's writer).
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
