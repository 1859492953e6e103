import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LatchError } from "../../../src/errors.js";
import { armSessionLimits } from "../../../src/protocols/postgres/session-lifetime.js";

function fakeSession() {
  const ended: LatchError[] = [];
  return {
    lastActivityAt: performance.now(),
    ended,
    terminate(error: LatchError) {
      ended.push(error);
    },
  };
}

describe("armSessionLimits", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] }));
  afterEach(() => vi.useRealTimers());

  it("ends the session at max_session whatever its traffic", () => {
    const session = fakeSession();
    armSessionLimits(session, { maxSession: "2s" });
    vi.advanceTimersByTime(1999);
    expect(session.ended).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(session.ended[0]?.code).toBe("session_terminated");
    expect(session.ended[0]?.message).toContain("(2s)");
  });

  it("measures idleness from the last traffic", () => {
    const session = fakeSession();
    armSessionLimits(session, { idleTimeout: "1s" });
    vi.advanceTimersByTime(800);
    session.lastActivityAt = performance.now();
    vi.advanceTimersByTime(800);
    expect(session.ended).toHaveLength(0);
    vi.advanceTimersByTime(200);
    expect(session.ended[0]?.message).toContain("idle timeout (1s)");
  });

  it("does nothing once disarmed", () => {
    const session = fakeSession();
    const disarm = armSessionLimits(session, { maxSession: "1s", idleTimeout: "1s" });
    disarm();
    vi.advanceTimersByTime(5000);
    expect(session.ended).toHaveLength(0);
  });
});
