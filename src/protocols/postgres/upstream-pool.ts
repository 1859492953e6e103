import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import { type Clock, systemClock } from "../../session/clock.js";
import { encodeTerminate } from "./encode-frontend.js";
import type { UpstreamTarget } from "./upstream.js";

/** An authenticated upstream backend at ReadyForQuery 'I' with no session state, as its startup left it. */
export interface PooledUpstream {
  readonly socket: Duplex;
  /** The ParameterStatus set a new client must see, exactly as a fresh login would report it. */
  readonly parameters: ReadonlyMap<string, string>;
  readonly backendKey: { readonly processId: number; readonly secretKey: Buffer } | undefined;
  /** When the backend logged in (clock ms): max_lifetime counts from here, not from its last use. */
  readonly bornAt: number;
}

export interface UpstreamPoolSettings {
  readonly maxIdle: number;
  readonly idleTimeoutMs: number;
  readonly maxLifetimeMs: number;
}

/** What the pool reports, so the gateway's gauge follows it without the pool knowing about metrics. */
export interface UpstreamPoolEvents {
  idleChanged?(connectionName: string, idle: number): void;
}

interface IdleEntry {
  readonly upstream: PooledUpstream;
  readonly connectionName: string;
  readonly credential: string;
  readonly stopWatching: () => void;
}

/**
 * Everything that decides which backend a session gets and how it started: the connection, where and as whom
 * it logs in, TLS, and the startup parameters the client sent on (application_name, TimeZone, ...). RESET ALL
 * returns a backend to these startup values, so two sessions share a backend only when they agree on all of
 * them.
 */
export function upstreamPoolKey(
  target: UpstreamTarget,
  startupParameters: ReadonlyMap<string, string>,
): string {
  // Setting names are case-insensitive and the server applies them in order: the last one of a name wins.
  const effective = new Map<string, string>();
  for (const [name, value] of startupParameters) effective.set(name.toLowerCase(), value);
  const parameters = [...effective].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([
    target.connectionName,
    target.host,
    target.port,
    target.user,
    target.database,
    target.tls,
    target.caFile ?? null,
    parameters,
  ]);
}

/**
 * The credential a backend logged in with, as a digest: a rotated secret never reuses a backend the old one
 * opened (they are closed when next seen), and the secret itself is not kept.
 */
export function credentialFingerprint(password: string | undefined): string {
  return createHash("sha256")
    .update(password ?? "\u0000none")
    .digest("base64url");
}

/**
 * Idle authenticated upstream connections per key (upstreamPoolKey), most recently used first. An idle socket
 * is watched: an error, a close or any byte from the server (a notice, a shutdown message) discards it, and
 * so do idle_timeout and max_lifetime. At most maxIdle are kept per key; close() ends them all.
 */
export class UpstreamPool {
  private readonly idle = new Map<string, IdleEntry[]>();
  private readonly idlePerConnection = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly events: UpstreamPoolEvents = {},
  ) {}

  /** The pool's clock: a backend's bornAt is read from it. */
  now(): number {
    return this.clock.now();
  }

  /** Whether checkout() may find one (a cheap look before deciding to dial ahead). */
  hasIdle(key: string): boolean {
    return (this.idle.get(key)?.length ?? 0) > 0;
  }

  /** An idle backend for this key and credential, or undefined: the caller dials. */
  checkout(key: string, credential: string, settings: UpstreamPoolSettings): PooledUpstream | undefined {
    const entries = this.idle.get(key);
    while (entries !== undefined && entries.length > 0) {
      const entry = entries.shift()!;
      this.forget(key, entry, true);
      const { upstream } = entry;
      if (
        entry.credential !== credential ||
        upstream.socket.destroyed ||
        this.clock.now() - upstream.bornAt >= settings.maxLifetimeMs
      ) {
        closeUpstream(upstream.socket);
        continue;
      }
      return upstream;
    }
    return undefined;
  }

  /**
   * Keeps a reset backend for the next session. Returns false, having closed it, when the pool is closed or
   * full for this key, or the backend is past its lifetime.
   */
  release(
    key: string,
    connectionName: string,
    credential: string,
    upstream: PooledUpstream,
    settings: UpstreamPoolSettings,
  ): boolean {
    const age = this.clock.now() - upstream.bornAt;
    const entries = this.idle.get(key) ?? [];
    if (
      this.closed ||
      upstream.socket.destroyed ||
      age >= settings.maxLifetimeMs ||
      entries.length >= settings.maxIdle
    ) {
      closeUpstream(upstream.socket);
      return false;
    }
    let entry: IdleEntry | undefined;
    let discarded = false;
    const discard = () => {
      if (entry === undefined || discarded) return;
      discarded = true;
      const list = this.idle.get(key);
      const at = list?.indexOf(entry) ?? -1;
      if (at !== -1) list!.splice(at, 1);
      this.forget(key, entry, true);
      closeUpstream(upstream.socket);
    };
    const cancelTimer = this.clock.after(
      Math.min(settings.idleTimeoutMs, settings.maxLifetimeMs - age),
      discard,
    );
    // While idle nothing is expected from the server: whatever it sends means the backend is not reusable.
    const socket = upstream.socket;
    const onActivity = () => discard();
    socket.on("data", onActivity);
    socket.on("end", onActivity);
    socket.on("close", onActivity);
    socket.on("error", onActivity);
    entry = {
      upstream,
      connectionName,
      credential,
      stopWatching: () => {
        cancelTimer();
        socket.off("data", onActivity);
        socket.off("end", onActivity);
        socket.off("close", onActivity);
        socket.off("error", onActivity);
      },
    };
    entries.unshift(entry);
    this.idle.set(key, entries);
    this.count(connectionName, 1);
    return true;
  }

  /** Idle backends of every key (for tests and the gauge's first value). */
  get size(): number {
    let total = 0;
    for (const entries of this.idle.values()) total += entries.length;
    return total;
  }

  /** Module shutdown: every idle backend is ended; later releases close theirs. */
  close(): void {
    this.closed = true;
    for (const [key, entries] of this.idle) {
      for (const entry of entries.splice(0)) {
        this.forget(key, entry, true);
        closeUpstream(entry.upstream.socket);
      }
    }
    this.idle.clear();
  }

  /** Stops watching an entry already taken out of its list. */
  private forget(key: string, entry: IdleEntry, removeEmpty: boolean): void {
    entry.stopWatching();
    this.count(entry.connectionName, -1);
    if (removeEmpty && this.idle.get(key)?.length === 0) this.idle.delete(key);
  }

  private count(connectionName: string, delta: number): void {
    const idle = (this.idlePerConnection.get(connectionName) ?? 0) + delta;
    this.idlePerConnection.set(connectionName, idle);
    this.events.idleChanged?.(connectionName, idle);
  }
}

/** Ends a backend politely (the server logs a clean disconnect), and for certain a second later. */
export function closeUpstream(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.on("error", () => {}); // a reset while closing changes nothing
  socket.end(encodeTerminate());
  setTimeout(() => socket.destroy(), 1000).unref();
}
