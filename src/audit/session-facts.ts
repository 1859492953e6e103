/**
 * The facts of a session that every policy question of that session repeats: who (subject, issuer, groups),
 * to which connection, from where. `session_start` records them once, durably, before the session exists
 * (session/session-gate.ts), so an `operation` whose question shares them leaves them out of its `policyInput`
 * (policy/recorded-input.ts, version 2) and replay reads them back from its session's `session_start`
 * (replay/session-facts.ts). About 150 of a pgbench statement's ~850 body bytes: fewer bytes to encode, hash,
 * journal and index on every statement.
 */

export interface SessionFacts {
  readonly subject: string;
  readonly issuer: string;
  readonly groups: readonly string[];
  readonly connection: string;
  readonly clientAddress: string;
}

/** The facts a `session_start` body records, or undefined when one of them is absent or mistyped. */
export function sessionFactsOf(data: unknown): SessionFacts | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const d = data as Record<string, unknown>;
  const { subject, issuer, groups, connection, clientAddress } = d;
  if (
    typeof subject !== "string" ||
    typeof issuer !== "string" ||
    typeof connection !== "string" ||
    typeof clientAddress !== "string" ||
    !Array.isArray(groups) ||
    !groups.every((group) => typeof group === "string")
  ) {
    return undefined;
  }
  return { subject, issuer, groups: groups as string[], connection, clientAddress };
}

/** Same groups, in the same order: usually the very same array (the session's identity's). */
export function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Session id -> the facts its `session_start` recorded, for the sessions of this gateway. Bounded: past
 * `limit` sessions the oldest is forgotten, and its operations record their full policy input again (as
 * version 1 did), which replay reads without any lookup. Forgetting can only make a record larger, never wrong.
 */
export class SessionFactsLedger {
  private readonly facts = new Map<string, SessionFacts>();

  constructor(private readonly limit = 16_384) {}

  /** Called with every event the gateway's ordered writer is handed: session starts and ends. */
  note(event: { readonly kind: string; readonly sessionId: string | null; readonly data: unknown }): void {
    const sessionId = event.sessionId;
    if (sessionId === null) return;
    if (event.kind === "session_end") {
      this.facts.delete(sessionId);
      return;
    }
    if (event.kind !== "session_start") return;
    const facts = sessionFactsOf(event.data);
    if (facts === undefined) return;
    if (this.facts.size >= this.limit) {
      const oldest = this.facts.keys().next();
      if (!oldest.done) this.facts.delete(oldest.value);
    }
    this.facts.set(sessionId, facts);
  }

  get(sessionId: string): SessionFacts | undefined {
    return this.facts.size === 0 ? undefined : this.facts.get(sessionId);
  }

  get size(): number {
    return this.facts.size;
  }
}

/** The gateway's one ledger (one per isolate: a session stays on one event loop). */
export const recordedSessionFacts = new SessionFactsLedger();
