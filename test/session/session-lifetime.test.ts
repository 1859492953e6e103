import { describe, expect, it } from "vitest";
import type { LatchError } from "../../src/errors.js";
import { SessionLifetime } from "../../src/session/session-lifetime.js";
import { FakeClock } from "../support/fake-clock.js";

function fakeSession(clock: FakeClock) {
  const ended: { error: LatchError; reason: string }[] = [];
  return {
    lastActivityAt: clock.now(),
    ended,
    terminate(error: LatchError, reason: string) {
      ended.push({ error, reason });
    },
  };
}

const HOUR = 3_600_000;

describe("SessionLifetime", () => {
  it("ends the session when its token expires", () => {
    const clock = new FakeClock();
    const session = fakeSession(clock);
    new SessionLifetime(session, { tokenExpiresAt: clock.now() + 5000 }, clock).arm();
    clock.advance(4999);
    expect(session.ended).toHaveLength(0);
    clock.advance(1);
    expect(session.ended[0]?.error.code).toBe("session_token_expired");
    expect(session.ended[0]?.reason).toBe("token expired");
  });

  it("ends the session at max_session whatever its traffic", () => {
    const clock = new FakeClock();
    const session = fakeSession(clock);
    const limits = { tokenExpiresAt: clock.now() + HOUR, maxSession: { label: "2s", ms: 2000 } };
    new SessionLifetime(session, limits, clock).arm();
    clock.advance(1999);
    session.lastActivityAt = clock.now();
    expect(session.ended).toHaveLength(0);
    clock.advance(1);
    expect(session.ended[0]?.error.code).toBe("session_terminated");
    expect(session.ended[0]?.error.message).toContain("(2s)");
  });

  it("measures idleness from the last traffic", () => {
    const clock = new FakeClock();
    const session = fakeSession(clock);
    const limits = { tokenExpiresAt: clock.now() + HOUR, idleTimeout: { label: "1s", ms: 1000 } };
    new SessionLifetime(session, limits, clock).arm();
    clock.advance(800);
    session.lastActivityAt = clock.now();
    clock.advance(800);
    expect(session.ended).toHaveLength(0);
    clock.advance(200);
    expect(session.ended[0]?.error.message).toContain("idle timeout (1s)");
    expect(session.ended[0]?.reason).toBe("idle_timeout reached");
  });

  it("ends with the earliest grant the session used", () => {
    const clock = new FakeClock();
    const session = fakeSession(clock);
    const lifetime = new SessionLifetime(session, { tokenExpiresAt: clock.now() + HOUR }, clock);
    lifetime.arm();
    lifetime.endWithGrant(clock.now() + 10_000);
    lifetime.endWithGrant(clock.now() + 60_000); // a later grant does not extend the session
    lifetime.endWithGrant(clock.now() + 5_000); // an earlier one shortens it
    clock.advance(5_000);
    expect(session.ended.map((e) => e.reason)).toEqual(["grant expired"]);
    expect(session.ended[0]?.error.message).toContain("grant this session used has expired");
  });

  it("does nothing once disarmed", () => {
    const clock = new FakeClock();
    const session = fakeSession(clock);
    const lifetime = new SessionLifetime(
      session,
      {
        tokenExpiresAt: clock.now() + 1000,
        maxSession: { label: "1s", ms: 1000 },
        idleTimeout: { label: "1s", ms: 1000 },
      },
      clock,
    );
    lifetime.arm();
    lifetime.endWithGrant(clock.now() + 500);
    lifetime.disarm();
    clock.advance(5000);
    expect(session.ended).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });
});
