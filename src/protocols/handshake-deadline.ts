import type { Logger } from "pino";
import { LatchError } from "../errors.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { Metrics } from "../observability/metrics.js";
import type { ConnectionTicket } from "./connection-limits.js";

/** Why a handshake ended before the client was logged in, as `latch_handshakes_abandoned_total` labels it. */
export type AbandonReason = "closed" | "timeout";

export interface HandshakeDeadlineOptions {
  readonly protocol: string;
  /** limits.startup_timeout as written in the config (quoted to the client). */
  readonly timeout: string;
  /** Where the handshake starts, for the debug line. */
  readonly stage: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The listener's admission of this connection: told when the handshake is over. */
  readonly ticket?: ConnectionTicket | undefined;
  /** The deadline passed: answer the client in its protocol and close (already counted and logged). */
  readonly onExpire: (error: LatchError) => void;
}

/**
 * One deadline for a client's whole handshake (limits.startup_timeout), whatever the client sends, and the one
 * place a handshake that ends early is accounted for: a client that hung up or stalled is counted in
 * latch_handshakes_abandoned_total and logged at debug, once (a probe or a scanner as often as a real client,
 * not an error worth a stack trace).
 */
export class HandshakeDeadline {
  /** What the handshake is doing now (startup, authentication, ...), for the debug line. */
  stage: string;
  private readonly endsAt: number;
  private readonly timer: NodeJS.Timeout;
  private over = false;
  private accounted = false;
  private timedOut = false;

  constructor(private readonly options: HandshakeDeadlineOptions) {
    const timeoutMs = parseDuration(options.timeout);
    this.stage = options.stage;
    this.endsAt = performance.now() + timeoutMs;
    this.timer = setTimeout(() => {
      if (this.over) return;
      this.timedOut = true;
      this.abandoned("timeout", `no complete handshake within ${options.timeout}`);
      options.onExpire(this.timeoutError());
    }, timeoutMs);
    this.timer.unref();
  }

  /** Milliseconds the handshake has left (what each read may wait). */
  remaining(): number {
    return Math.max(0, this.endsAt - performance.now());
  }

  /** The deadline passed and the client was answered: nothing else should be said or counted. */
  get expired(): boolean {
    return this.timedOut;
  }

  /** True once `done()` was called: the client logged in, or was refused. */
  get finished(): boolean {
    return this.over;
  }

  timeoutError(): LatchError {
    return new LatchError("protocol_violation", {
      reason: `the handshake did not complete within ${this.options.timeout}`,
    });
  }

  /** The handshake is over (logged in, or refused): the clock stops and the per-address slot is free. */
  done(): void {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.timer);
    this.options.ticket?.handshakeDone();
  }

  /** The client hung up or stalled before the end of its handshake: counted and logged at debug, once. */
  abandoned(reason: AbandonReason, detail: string = reason): void {
    if (this.over || this.accounted) return;
    this.accounted = true;
    this.options.metrics.handshakesAbandoned.inc({ protocol: this.options.protocol, reason });
    this.options.log.debug({ stage: this.stage, reason: detail }, "handshake abandoned");
  }
}
