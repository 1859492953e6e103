import { canonicalJson } from "../audit/canonical-json.js";
import type { AuditEvent } from "../store/store.js";

/**
 * One destination of the audit export. Events reach it in chain order, each batch following the last; a sink
 * says how far delivery is known to have got, which is what the exporter saves as its cursor.
 */
export interface ExportSink {
  readonly name: string;
  /**
   * Sends `events` (possibly none: then it only reports progress). Resolves with the highest seq known
   * delivered, which may trail the batch (syslog over TCP has no acknowledgement). Rejects when delivery
   * failed: the exporter then sends again everything after the last seq known delivered.
   */
  send(events: readonly AuditEvent[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * An event as exported: every field the hash covers plus the hash, the body in canonical JSON (the bytes the
 * hash was computed over), so a receiver can recompute the chain (docs/audit.md).
 */
export function exportRecord(event: AuditEvent): string {
  return canonicalJson({
    seq: event.seq,
    ts: event.ts,
    kind: event.kind,
    sessionId: event.sessionId,
    data: event.data,
    prevHash: event.prevHash,
    hash: event.hash,
  });
}

/** A delivery failure whose message is safe to log: a status or an errno code, never a header or body. */
export class ExportFailure extends Error {}
