import { isDeniedOperation, readSessionStart } from "./event-data.js";

/**
 * The sessions index (who, to what, from where, how many operations) is derived from chained events, never
 * written on its own: this file says how, once, for the store that keeps it and for the verification that
 * rebuilds it from the chain and compares. Search and the API show these fields, so an edit to the index alone
 * (mallory's sessions relabelled alice) must fail verification like an edit to an event.
 */

/** One session as the index shows it. */
export interface IndexedSession {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly clientAddress: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly endReason: string | null;
  readonly operations: number;
  readonly denied: number;
}

/** What one event does to the index. */
export type SessionIndexChange =
  | { readonly kind: "start"; readonly session: IndexedSession }
  | { readonly kind: "end"; readonly id: string; readonly endedAt: string; readonly endReason: string | null }
  | { readonly kind: "operation"; readonly id: string; readonly denied: boolean };

/** The change an event makes to the sessions index, if any; throws on a session_start it cannot index. */
export function sessionIndexChange(
  kind: string,
  sessionId: string | null,
  ts: string,
  data: Readonly<Record<string, unknown>>,
): SessionIndexChange | undefined {
  if (kind === "session_start") {
    if (sessionId === null) throw new TypeError("a session_start event needs a sessionId");
    const start = readSessionStart(data);
    return {
      kind: "start",
      session: {
        id: sessionId,
        protocol: start.protocol,
        connection: start.connection,
        subject: start.subject,
        groups: start.groups,
        clientAddress: start.clientAddress,
        startedAt: ts,
        endedAt: null,
        endReason: null,
        operations: 0,
        denied: 0,
      },
    };
  }
  if (sessionId === null) return undefined;
  if (kind === "session_end") {
    const reason = data.reason;
    return { kind: "end", id: sessionId, endedAt: ts, endReason: typeof reason === "string" ? reason : null };
  }
  if (kind === "operation") return { kind: "operation", id: sessionId, denied: isDeniedOperation(data) };
  return undefined;
}

/** The kinds of event that change the index: only these need their body parsed while rebuilding it. */
export const SESSION_INDEX_KINDS: ReadonlySet<string> = new Set([
  "session_start",
  "session_end",
  "operation",
]);

/** Rebuilds the index in memory from events in chain order, applying changes as the store does. */
export class SessionIndexRebuild {
  private readonly sessions = new Map<string, IndexedSession>();

  add(kind: string, sessionId: string | null, ts: string, dataJson: string): void {
    if (!SESSION_INDEX_KINDS.has(kind)) return;
    let change: SessionIndexChange | undefined;
    try {
      change = sessionIndexChange(kind, sessionId, ts, JSON.parse(dataJson) as Record<string, unknown>);
    } catch {
      return; // the store refused to index such an event too
    }
    if (change === undefined) return;
    if (change.kind === "start") {
      if (!this.sessions.has(change.session.id)) this.sessions.set(change.session.id, change.session);
      return;
    }
    const session = this.sessions.get(change.id);
    if (session === undefined) return;
    if (change.kind === "end") {
      if (session.endedAt === null)
        this.sessions.set(change.id, { ...session, endedAt: change.endedAt, endReason: change.endReason });
    } else {
      this.sessions.set(change.id, {
        ...session,
        operations: session.operations + 1,
        denied: session.denied + (change.denied ? 1 : 0),
      });
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The rebuilt sessions, in the order their session_start events came. */
  entries(): IterableIterator<IndexedSession> {
    return this.sessions.values();
  }

  /**
   * Compares the stored index with the rebuilt one; returns the first difference in words, or undefined.
   * Consumes the rebuild (matched sessions are dropped as they are seen, to bound memory on the way).
   */
  compare(stored: Iterable<IndexedSession>): string | undefined {
    for (const row of stored) {
      const expected = this.sessions.get(row.id);
      if (expected === undefined)
        return `session ${row.id} is in the sessions index but no session_start event records it`;
      const field = firstDifference(expected, row);
      if (field !== undefined) {
        return `session ${row.id}: the sessions index says ${field} is ${show(row[field])} but its events say ${show(expected[field])}`;
      }
      this.sessions.delete(row.id);
    }
    const [missing] = this.sessions.keys();
    if (missing !== undefined)
      return `session ${missing} has a session_start event but is missing from the sessions index`;
    return undefined;
  }
}

const FIELDS = [
  "protocol",
  "connection",
  "subject",
  "groups",
  "clientAddress",
  "startedAt",
  "endedAt",
  "endReason",
  "operations",
  "denied",
] as const satisfies readonly (keyof IndexedSession)[];

function firstDifference(
  expected: IndexedSession,
  stored: IndexedSession,
): (typeof FIELDS)[number] | undefined {
  for (const field of FIELDS) {
    if (JSON.stringify(expected[field]) !== JSON.stringify(stored[field])) return field;
  }
  return undefined;
}

function show(value: unknown): string {
  return JSON.stringify(value);
}
