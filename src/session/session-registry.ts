import { LatchError } from "../errors.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { LiveSession } from "./live-session.js";

/** What listing a live session shows (admin API, `latch sessions list --live`). */
export interface LiveSessionSummary {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly clientAddress: string;
  /** ISO-8601. */
  readonly startedAt: string;
  readonly lastActivityAt: string;
}

/**
 * Every live session of every protocol on this gateway. Kill, principal block, grant revocation, policy
 * reload and shutdown act here, so they reach PostgreSQL, SSH and every protocol that follows alike; each
 * session is ended with its own protocol's error.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, LiveSession>();

  /** `observer`: told of every session added and removed (the store-wide directory, live-session-directory.ts). */
  constructor(private readonly observer?: { added(session: LiveSession): void; removed(id: string): void }) {}

  add(session: LiveSession): void {
    this.sessions.set(session.id, session);
    this.observer?.added(session);
  }

  remove(id: string): void {
    if (this.sessions.delete(id)) this.observer?.removed(id);
  }

  get(id: string): LiveSession | undefined {
    return this.sessions.get(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  list(): LiveSessionSummary[] {
    return [...this.sessions.values()].map((session) => ({
      id: session.id,
      protocol: session.protocol,
      connection: session.connection,
      subject: session.subject,
      groups: session.identity.groups,
      clientAddress: session.clientAddress,
      startedAt: new Date(session.startedAt).toISOString(),
      lastActivityAt: new Date(session.lastActivityAt).toISOString(),
    }));
  }

  /** Each session's last traffic (epoch ms), for the store-wide list. */
  activity(): Map<string, number> {
    return new Map([...this.sessions.values()].map((session) => [session.id, session.lastActivityAt]));
  }

  /** Ends every session `select` picks; returns their ids. */
  terminateWhere(select: (session: LiveSession) => boolean, error: LatchError, reason: string): string[] {
    const ended: string[] = [];
    for (const session of [...this.sessions.values()]) {
      if (!select(session)) continue;
      session.terminate(error, reason);
      ended.push(session.id);
    }
    return ended;
  }

  /**
   * Shutdown: every session ends as soon as nothing runs in it, and whatever still runs after `timeoutMs` is cut.
   * Resolves how many ended on their own and how many were cut.
   */
  async drain(
    error: LatchError,
    reason: string,
    timeoutMs: number,
  ): Promise<{ drained: number; cut: number }> {
    const total = this.sessions.size;
    for (const session of [...this.sessions.values()]) session.drain(error, reason);
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 25));
    const cut = this.terminateWhere(() => true, error, `${reason} (drain timeout)`).length;
    return { drained: total - cut, cut };
  }

  /** A policy reload: sessions whose recent operations the new policy denies are ended. Returns how many. */
  revalidate(policy: PolicyEngine): number {
    let ended = 0;
    for (const session of [...this.sessions.values()]) {
      const denied = session.deniedUnder(policy);
      if (denied === undefined) continue;
      session.terminate(
        new LatchError("session_terminated", {
          reason: `policies were reloaded and now deny it: ${denied.reason}`,
        }),
        "policy reload",
      );
      ended += 1;
    }
    return ended;
  }
}
