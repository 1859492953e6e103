import { ApprovalError } from "./approval-errors.js";
import type { ApprovalAuditEvent, ApprovalOutcome, ApprovalUpdate } from "./approval-types.js";

export interface ApprovalLog {
  error(object: unknown, message: string): void;
  warn(object: unknown, message: string): void;
}

/**
 * What the approval service tells the world about a change: the audit record (through the gateway's one ordered
 * writer) and the update to subscribers (console, SSE, webhooks, revocation). Kept apart from the changes
 * themselves so that every change records and publishes the same way.
 */
export class ApprovalEvents {
  private readonly listeners = new Set<(update: ApprovalUpdate) => void>();

  constructor(
    private readonly options: {
      readonly audit: (event: ApprovalAuditEvent) => Promise<void>;
      /** Refuses the statements held on a request whose change could not be recorded. */
      readonly refuse: (requestId: string, outcome: ApprovalOutcome) => void;
      readonly log?: ApprovalLog;
    },
  ) {}

  record(
    kind: ApprovalAuditEvent["kind"],
    sessionId: string | null,
    data: Record<string, unknown>,
  ): Promise<void> {
    return this.options.audit({ kind, sessionId, data });
  }

  /** For a change not made yet: an event that cannot be written refuses the change (and the held statement). */
  async recordOrRefuse(
    requestId: string | null,
    kind: ApprovalAuditEvent["kind"],
    sessionId: string | null,
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.record(kind, sessionId, data);
    } catch (error) {
      if (requestId !== null) {
        this.options.refuse(requestId, {
          decision: "denied",
          requestId,
          reason: `audit log unavailable: ${describe(error)}`,
        });
      }
      throw new ApprovalError("store_unavailable", "the audit log is unavailable; nothing changed", {
        cause: error,
      });
    }
  }

  /** For events recording something already final in the store: a failure is logged, not undone. */
  async recordQuietly(
    kind: ApprovalAuditEvent["kind"],
    sessionId: string | null,
    data: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.record(kind, sessionId, data);
    } catch (error) {
      this.options.log?.error({ err: error, kind }, "approval audit event could not be written");
    }
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: (update: ApprovalUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(update: ApprovalUpdate): void {
    for (const listener of this.listeners) {
      try {
        listener(update);
      } catch (error) {
        this.options.log?.warn({ err: error }, "approval update listener threw");
      }
    }
  }
}

/** A store failure becomes `store_unavailable` (503), never a raw database error. */
export async function readStore<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new ApprovalError("store_unavailable", `the approval store is unavailable: ${describe(error)}`, {
      cause: error,
    });
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
