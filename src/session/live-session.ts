import type { LatchError } from "../errors.js";
import type { Identity } from "../identity/identity.js";
import type { OperationStep, Verdict } from "../operation/operation.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { Clock } from "./clock.js";
import { type LifetimeLimits, SessionLifetime } from "./session-lifetime.js";
import { SessionRecheck } from "./session-recheck.js";

/** How the protocol ends its own connection: the client hears `error` in the protocol's own form. */
export interface SessionTerminator {
  terminate(error: LatchError, reason: string): void;
  /**
   * Ends the session as soon as nothing runs in it (shutdown drain): a statement already forwarded completes and
   * its result reaches the client first. Without it, drain is terminate.
   */
  drain?(error: LatchError, reason: string): void;
}

export interface LiveSessionInit<Credential> {
  readonly id: string;
  readonly protocol: string;
  /** The connection's name in the config. */
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  readonly identity: Identity;
  readonly clientAddress: string;
  readonly credential: Credential;
  readonly limits: LifetimeLimits;
  readonly clock: Clock;
  /** Runs once when the session ends, however it ends (the gate's bookkeeping: record, unregister, revoke). */
  readonly onEnd: (reason: string) => void;
}

/**
 * One live session of any protocol, as the gate opened it. The protocol attaches its terminator once its
 * connection is up, reports traffic (`touch`), grants it used and steps it forwarded, and ends the session
 * when its connection closes. Kill, block, revocation, policy reload and the lifetime timers reach the
 * session through `terminate`, which works before the protocol attached too (the end is then delivered on
 * attach), so nothing that lands during the upstream connect is lost.
 */
export class LiveSession<Credential = unknown> {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  readonly identity: Identity;
  readonly clientAddress: string;
  readonly credential: Credential;
  /** Epoch ms. */
  readonly startedAt: number;
  lastActivityAt: number;
  private readonly lifetime: SessionLifetime;
  private readonly recheck: SessionRecheck;
  private readonly ended = new AbortController();
  private terminator: SessionTerminator | undefined;
  private pendingEnd: { error: LatchError; reason: string } | undefined;
  private endReason: string | undefined;

  constructor(private readonly init: LiveSessionInit<Credential>) {
    this.id = init.id;
    this.protocol = init.protocol;
    this.connection = init.connection;
    this.connectionLabels = init.connectionLabels;
    this.identity = init.identity;
    this.clientAddress = init.clientAddress;
    this.credential = init.credential;
    this.startedAt = init.clock.now();
    this.lastActivityAt = this.startedAt;
    this.lifetime = new SessionLifetime(this, init.limits, init.clock);
    this.recheck = new SessionRecheck({
      identity: init.identity,
      connection: init.connection,
      connectionLabels: init.connectionLabels,
      clientAddress: init.clientAddress,
    });
    this.lifetime.arm();
  }

  /** The principal this session serves. */
  get subject(): string {
    return this.identity.subject;
  }

  /** Aborted when the session ends: held operations are abandoned, upstream work is cancelled. */
  get signal(): AbortSignal {
    return this.ended.signal;
  }

  get isEnded(): boolean {
    return this.endReason !== undefined;
  }

  /** The protocol's connection is up; a termination that arrived meanwhile is delivered now. */
  attach(terminator: SessionTerminator): void {
    this.terminator = terminator;
    const pending = this.pendingEnd;
    if (pending === undefined) return;
    terminator.terminate(pending.error, pending.reason);
    // As in terminate(): the session ends whether or not the protocol ended it from its terminator.
    this.end(pending.reason);
  }

  /** Traffic in either direction (what idle_timeout measures). Cheap: called for every chunk. */
  touch(): void {
    this.lastActivityAt = this.init.clock.now();
  }

  /** An operation ran on a grant: the session ends when the earliest such grant does. */
  usedGrant(expiresAt: number): void {
    this.lifetime.endWithGrant(expiresAt);
  }

  /** Steps that were allowed and forwarded, for re-asking policy on reload. */
  remember(steps: readonly OperationStep[]): void {
    this.recheck.remember(steps);
  }

  /** The new policy's verdict on what the session recently did, when it denies any of it. */
  deniedUnder(policy: PolicyEngine): Verdict | undefined {
    return this.recheck.deniedUnder(policy, new Date(this.init.clock.now()));
  }

  /** Ends the session from the gateway side; the protocol tells its client `error`. */
  terminate(error: LatchError, reason: string = error.message): void {
    if (this.endReason !== undefined) return;
    if (this.terminator !== undefined) {
      this.terminator.terminate(error, reason);
      // A protocol that does not end the session from its terminator is ended here: terminate always ends.
      this.end(reason);
      return;
    }
    if (this.pendingEnd === undefined) {
      this.pendingEnd = { error, reason };
      this.ended.abort();
    }
  }

  /** Ends the session once what runs in it finished (see SessionTerminator.drain); terminate() still cuts it. */
  drain(error: LatchError, reason: string = error.message): void {
    if (this.endReason !== undefined) return;
    if (this.terminator?.drain === undefined) {
      this.terminate(error, reason);
      return;
    }
    this.terminator.drain(error, reason);
  }

  /** The error a termination before attach left for the protocol, if any. */
  get terminatedBeforeAttach(): { error: LatchError; reason: string } | undefined {
    return this.pendingEnd;
  }

  /** The session is over (idempotent): timers stop, held work is abandoned, the gate's bookkeeping runs. */
  end(reason: string): void {
    if (this.endReason !== undefined) return;
    this.endReason = reason;
    this.lifetime.disarm();
    this.ended.abort();
    this.init.onEnd(reason);
  }
}
