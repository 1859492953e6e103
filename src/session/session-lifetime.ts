import { LatchError } from "../errors.js";
import type { Clock } from "./clock.js";

/** How long a session may live, whatever its protocol. Absent limits do not apply. */
export interface LifetimeLimits {
  /** Epoch ms: a session does not outlive the token it was opened with. */
  readonly tokenExpiresAt: number;
  /** max_session as configured ("8h"), and in ms. */
  readonly maxSession?: { readonly label: string; readonly ms: number };
  /** idle_timeout as configured ("15m"), and in ms. */
  readonly idleTimeout?: { readonly label: string; readonly ms: number };
}

/** What the lifetime needs from its session. */
export interface Expirable {
  /** Epoch ms of the last traffic in either direction. */
  readonly lastActivityAt: number;
  terminate(error: LatchError, reason: string): void;
}

/**
 * The timers that end a session: token expiry, max_session, idle_timeout, and the deadline of the earliest
 * grant the session used. Idle means no traffic either way, so a statement that runs silently for longer
 * than the idle timeout ends the session too: set idle_timeout above the longest expected statement.
 */
export class SessionLifetime {
  private readonly cancels = new Map<"token" | "max" | "idle" | "grant", () => void>();
  private grantDeadline: number | undefined;

  constructor(
    private readonly session: Expirable,
    private readonly limits: LifetimeLimits,
    private readonly clock: Clock,
  ) {}

  arm(): void {
    const { tokenExpiresAt, maxSession, idleTimeout } = this.limits;
    this.set("token", tokenExpiresAt - this.clock.now(), () =>
      this.session.terminate(new LatchError("session_token_expired"), "token expired"),
    );
    if (maxSession !== undefined) {
      this.set("max", maxSession.ms, () =>
        this.session.terminate(
          new LatchError("session_terminated", {
            reason: `the connection's maximum session duration (${maxSession.label}) was reached`,
          }),
          "max_session reached",
        ),
      );
    }
    if (idleTimeout !== undefined) {
      // Re-armed for the remaining idle budget instead of polling: one timer per session whatever its traffic.
      const check = () => {
        const idleFor = this.clock.now() - this.session.lastActivityAt;
        if (idleFor < idleTimeout.ms) return this.set("idle", idleTimeout.ms - idleFor, check);
        this.session.terminate(
          new LatchError("session_terminated", {
            reason: `idle for longer than the connection's idle timeout (${idleTimeout.label})`,
          }),
          "idle_timeout reached",
        );
      };
      this.set("idle", idleTimeout.ms, check);
    }
  }

  /** A session that used a grant does not outlive it: it ends when the earliest grant it used expires. */
  endWithGrant(expiresAt: number): void {
    if (this.grantDeadline !== undefined && this.grantDeadline <= expiresAt) return;
    this.grantDeadline = expiresAt;
    this.set("grant", expiresAt - this.clock.now(), () =>
      this.session.terminate(
        new LatchError("session_terminated", { reason: "the grant this session used has expired" }),
        "grant expired",
      ),
    );
  }

  disarm(): void {
    for (const cancel of this.cancels.values()) cancel();
    this.cancels.clear();
  }

  private set(which: "token" | "max" | "idle" | "grant", ms: number, fire: () => void): void {
    this.cancels.get(which)?.();
    this.cancels.set(which, this.clock.after(ms, fire));
  }
}
