import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";

/** What the lifetime limits need from a session. */
export interface LimitedSession {
  readonly lastActivityAt: number;
  terminate(error: LatchError, reason?: string): void;
}

export interface SessionLimits {
  /** Longest the session may stay open, e.g. "8h"; absent: no limit. */
  readonly maxSession?: string | undefined;
  /** Longest the session may go without traffic in either direction, e.g. "15m"; absent: no limit. */
  readonly idleTimeout?: string | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Arms the per-connection max_session and idle_timeout timers; returns the function that disarms them (called
 * when the session closes). Idle means no bytes either way, so a statement that runs silently for longer than
 * the idle timeout ends the session too: set idle_timeout above the longest expected statement.
 */
export function armSessionLimits(session: LimitedSession, limits: SessionLimits): () => void {
  const timers = new Map<"max" | "idle", NodeJS.Timeout>();
  const arm = (which: "max" | "idle", ms: number, fire: () => void) => {
    const timer = setTimeout(fire, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
    timer.unref();
    timers.set(which, timer);
  };
  if (limits.maxSession !== undefined) {
    const label = limits.maxSession;
    arm("max", parseDuration(label), () =>
      session.terminate(
        new LatchError("session_terminated", {
          reason: `the connection's maximum session duration (${label}) was reached`,
        }),
        "max_session reached",
      ),
    );
  }
  if (limits.idleTimeout !== undefined) {
    const label = limits.idleTimeout;
    const idleMs = parseDuration(label);
    // Re-armed for the remaining idle budget instead of polling: one timer per session whatever its traffic.
    const check = () => {
      const idleFor = performance.now() - session.lastActivityAt;
      if (idleFor >= idleMs) {
        session.terminate(
          new LatchError("session_terminated", {
            reason: `idle for longer than the connection's idle timeout (${label})`,
          }),
          "idle_timeout reached",
        );
        return;
      }
      arm("idle", idleMs - idleFor, check);
    };
    arm("idle", idleMs, check);
  }
  return () => {
    for (const timer of timers.values()) clearTimeout(timer);
  };
}
