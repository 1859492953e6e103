import type { LatchError } from "../../src/errors.js";
import type { Identity } from "../../src/identity/identity.js";
import { LiveSession } from "../../src/session/live-session.js";
import type { LifetimeLimits } from "../../src/session/session-lifetime.js";
import type { FakeClock } from "./fake-clock.js";
import { identity as defaultIdentity } from "./operation-fixtures.js";

/** A protocol's terminator as a test sees it: what it was told, and (like the real ones) it ends the session. */
export class RecordingTerminator {
  readonly told: { error: LatchError; reason: string }[] = [];

  constructor(
    private readonly session?: LiveSession,
    private readonly endsSession = true,
  ) {}

  terminate(error: LatchError, reason: string): void {
    this.told.push({ error, reason });
    if (this.endsSession) this.session?.end(reason);
  }
}

let sessions = 0;

/** A LiveSession on a FakeClock, with its onEnd calls kept; `limits` defaults to the token's own expiry. */
export function liveSession(
  clock: FakeClock,
  options: {
    id?: string;
    identity?: Identity;
    limits?: Partial<LifetimeLimits>;
    onEnd?: (reason: string) => void;
  } = {},
) {
  sessions += 1;
  const ends: string[] = [];
  const identity = options.identity ?? { ...defaultIdentity(), expiresAt: clock.now() + 3_600_000 };
  const session = new LiveSession({
    id: options.id ?? `live-${sessions}`,
    protocol: "postgres",
    connection: "analytics",
    connectionLabels: { env: "prod" },
    identity,
    clientAddress: "10.0.0.9:51234",
    credential: { password: "upstream-secret" },
    limits: { tokenExpiresAt: identity.expiresAt, ...options.limits },
    clock,
    onEnd: (reason) => {
      ends.push(reason);
      options.onEnd?.(reason);
    },
  });
  return { session, ends };
}
