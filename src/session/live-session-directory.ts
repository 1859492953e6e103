import type { LiveSessionRecord, LiveSessionStore } from "../store/live-session-store.js";
import type { Clock } from "./clock.js";
import type { LiveSession } from "./live-session.js";

export interface LiveSessionDirectoryOptions {
  readonly store: LiveSessionStore;
  readonly gatewayId: string;
  readonly clock: Clock;
  /** How often this gateway says it is alive. */
  readonly heartbeatMs?: number;
  /** Silence after which a gateway counts as gone (its sessions ended, its upstream roles reaped). */
  readonly staleAfterMs?: number;
  /** Sessions of a gone gateway this one removed (once store-wide): the caller records their end. */
  readonly onStaleSessions: (sessions: readonly LiveSessionRecord[]) => void;
  readonly onError: (error: unknown, what: string) => void;
  /** This gateway's sessions' last traffic (epoch ms), reported with each heartbeat. */
  readonly activity?: () => ReadonlyMap<string, number>;
}

export const DEFAULT_HEARTBEAT_MS = 5_000;
export const DEFAULT_STALE_AFTER_MS = 30_000;

/**
 * This gateway's entry in the store-wide list of live sessions: each session is added when it opens and
 * removed when it ends, a heartbeat says the gateway is alive, and the same beat removes the sessions of
 * gateways that stopped beating (whichever replica notices first reports them, once). The store is not on the
 * session's path: a store that is down delays the listing, it does not refuse or end sessions (the audit log,
 * which does fail closed, records every start and end).
 */
export class LiveSessionDirectory {
  /** Per session, its store writes in order: a remove never overtakes its add. */
  private readonly writes = new Map<string, Promise<unknown>>();
  private cancelBeat: (() => void) | undefined;
  private readonly goneListeners = new Set<(gone: ReadonlySet<string>) => void>();
  private knownGone = new Set<string>();
  private stopped = false;
  private readonly heartbeatMs: number;
  readonly staleAfterMs: number;

  constructor(private readonly options: LiveSessionDirectoryOptions) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  }

  added(session: LiveSession): void {
    this.inOrder(session.id, () =>
      this.options.store.add({
        id: session.id,
        gatewayId: this.options.gatewayId,
        protocol: session.protocol,
        connection: session.connection,
        subject: session.subject,
        groups: session.identity.groups,
        clientAddress: session.clientAddress,
        startedAt: new Date(session.startedAt).toISOString(),
      }),
    );
  }

  removed(id: string): void {
    this.inOrder(id, () => this.options.store.remove(id));
  }

  /** Beats now and then every heartbeatMs, until stop(). */
  start(): Promise<void> {
    const beat = async () => {
      await this.beat();
      if (!this.stopped) this.cancelBeat = this.options.clock.after(this.heartbeatMs, () => void beat());
    };
    return beat();
  }

  /** One heartbeat and one sweep for gone gateways (exposed for tests driving a fake clock). */
  async beat(): Promise<void> {
    const now = this.options.clock.now();
    try {
      await this.options.store.heartbeat(this.options.gatewayId, now, this.options.activity?.());
      const stale = await this.options.store.removeStale(now - this.staleAfterMs);
      if (stale.length > 0) this.options.onStaleSessions(stale);
      if (this.goneListeners.size > 0) {
        const gone = await this.staleGateways();
        const news = [...gone].some((id) => !this.knownGone.has(id));
        this.knownGone = new Set(gone);
        if (news) for (const listener of this.goneListeners) listener(gone);
      }
    } catch (error) {
      this.options.onError(error, "heartbeat");
    }
  }

  /** Told on the beat that first finds a gateway gone (e.g. to reap its upstream roles at once). */
  onGatewaysGone(listener: (gone: ReadonlySet<string>) => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  /** Gateways silent for longer than staleAfterMs, never this one. */
  async staleGateways(): Promise<ReadonlySet<string>> {
    const ids = await this.options.store.staleGateways(this.options.clock.now() - this.staleAfterMs);
    return new Set(ids.filter((id) => id !== this.options.gatewayId));
  }

  /** Stops beating and waits for the writes in flight (sessions ended at shutdown are removed first). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelBeat?.();
    await Promise.allSettled([...this.writes.values()]);
  }

  private inOrder(id: string, write: () => Promise<unknown>): void {
    const previous = this.writes.get(id) ?? Promise.resolve();
    const next = previous
      .then(write)
      .catch((error: unknown) => this.options.onError(error, `live session ${id}`))
      .finally(() => {
        if (this.writes.get(id) === next) this.writes.delete(id);
      });
    this.writes.set(id, next);
  }
}
