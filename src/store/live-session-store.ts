/**
 * Which sessions are live on which gateway, store-wide: with several gateways on one store, `latch sessions
 * list` on any of them shows all of them, and the sessions of a gateway that stopped sending heartbeats can be
 * found and ended. The sessions index of the audit log says what happened; this says what is open now.
 */

export interface LiveSessionRecord {
  readonly id: string;
  /** The gateway (replica) serving the session (credentials/gateway-id.ts). */
  readonly gatewayId: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly clientAddress: string;
  /** ISO-8601 UTC. */
  readonly startedAt: string;
  /** ISO-8601 UTC: the last heartbeat of its gateway (startedAt until the first one). */
  readonly lastSeen: string;
  /** ISO-8601 UTC: its last traffic as its gateway reported it with a heartbeat (startedAt until then). */
  readonly lastActivityAt: string;
}

export type NewLiveSession = Omit<LiveSessionRecord, "lastSeen" | "lastActivityAt">;

export interface LiveSessionFilter {
  readonly gatewayId?: string;
  readonly subject?: string;
  readonly connection?: string;
}

/** Every method returns a Promise and rejects on a store failure. */
export interface LiveSessionStore {
  /** Registers a session; rejects if a session with this id is already live. */
  add(session: NewLiveSession): Promise<void>;
  /** Resolves false when no such session was live. */
  remove(id: string): Promise<boolean>;
  /** Oldest first (startedAt, then id). */
  list(filter?: LiveSessionFilter): Promise<LiveSessionRecord[]>;
  /**
   * Marks the gateway itself and every live session of it as seen at `at` (epoch ms), never backwards, and
   * records each listed session's last activity (epoch ms, never backwards); resolves how many sessions it
   * touched.
   */
  heartbeat(gatewayId: string, at: number, activity?: ReadonlyMap<string, number>): Promise<number>;
  /**
   * Gateways this store has heard from whose last heartbeat is before `before` (epoch ms): they died or were
   * stopped. Only gateways that ever sent a heartbeat to this store are listed, so another deployment's
   * gateways (same upstream, another store) are never taken for dead ones of this one.
   */
  staleGateways(before: number): Promise<string[]>;
  /**
   * Removes the sessions last seen before `before` (epoch ms): their gateway stopped sending heartbeats (it
   * died). Resolves what it removed, so the caller can record their end.
   */
  removeStale(before: number): Promise<LiveSessionRecord[]>;
}
