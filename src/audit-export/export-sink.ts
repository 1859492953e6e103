import { canonicalJson } from "../audit/canonical-json.js";
import type { SessionFacts } from "../audit/session-facts.js";
import type { AuditEvent } from "../store/store.js";

/**
 * An event as the exporter hands it to a sink: the stored event, plus the facts of its session (subject, issuer,
 * groups, connection, client address) read from that session's `session_start`, so every record stands on its
 * own in a SIEM although an operation records only what differs from them (policyInput version 2). The facts are
 * not covered by the event's hash: the `session_start` record that holds them is.
 */
export interface ExportedEvent extends AuditEvent {
  readonly session?: SessionFacts;
}

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
  send(events: readonly ExportedEvent[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * An event as exported: every field the hash covers plus the hash, the body in canonical JSON (the bytes the
 * hash was computed over), so a receiver can recompute the chain (docs/audit.md); and `session`, its session's
 * facts, outside what the hash covers.
 */
export function exportRecord(event: ExportedEvent): string {
  return canonicalJson({
    seq: event.seq,
    ts: event.ts,
    kind: event.kind,
    sessionId: event.sessionId,
    data: event.data,
    prevHash: event.prevHash,
    hash: event.hash,
    ...(event.session === undefined ? {} : { session: event.session }),
  });
}

/** A delivery failure whose message is safe to log: a status or an errno code, never a header or body. */
export class ExportFailure extends Error {}
