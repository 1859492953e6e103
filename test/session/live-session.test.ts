import { describe, expect, it } from "vitest";
import { LatchError } from "../../src/errors.js";
import { FakeClock } from "../support/fake-clock.js";
import { liveSession, RecordingTerminator } from "../support/live-sessions.js";
import { deny, FakePolicy, identity, step } from "../support/operation-fixtures.js";

const killed = new LatchError("session_terminated", { reason: "killed by an administrator" });

describe("LiveSession: termination", () => {
  it("keeps a termination that lands before the protocol attached, and delivers it on attach", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock);
    session.terminate(killed, "killed");
    expect(session.signal.aborted).toBe(true); // held work is abandoned at once
    expect(session.terminatedBeforeAttach).toEqual({ error: killed, reason: "killed" });
    expect(ends).toEqual([]);

    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    expect(terminator.told).toEqual([{ error: killed, reason: "killed" }]);
    expect(session.isEnded).toBe(true);
    expect(ends).toEqual(["killed"]);
  });

  it("keeps the first of several terminations before attach", () => {
    const clock = new FakeClock();
    const { session } = liveSession(clock);
    session.terminate(killed, "killed");
    session.terminate(new LatchError("principal_blocked"), "blocked");
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    expect(terminator.told.map((t) => t.reason)).toEqual(["killed"]);
  });

  it("attaching with nothing pending tells the protocol nothing", () => {
    const clock = new FakeClock();
    const { session } = liveSession(clock);
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    expect(terminator.told).toEqual([]);
    expect(session.signal.aborted).toBe(false);
    expect(session.terminatedBeforeAttach).toBeUndefined();
  });

  it("ends the session after telling the protocol, even when the protocol does not end it", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock);
    const terminator = new RecordingTerminator(session, false);
    session.attach(terminator);
    session.terminate(killed);
    expect(terminator.told).toEqual([{ error: killed, reason: killed.message }]);
    expect(session.isEnded).toBe(true);
    expect(ends).toEqual([killed.message]);
    session.terminate(killed, "again");
    expect(terminator.told).toHaveLength(1);
  });

  it("runs onEnd once however many ends arrive, and aborts its signal", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock);
    session.attach(new RecordingTerminator(session));
    session.end("client closed the connection");
    session.end("upstream closed the connection");
    session.terminate(killed, "killed");
    expect(ends).toEqual(["client closed the connection"]);
    expect(session.signal.aborted).toBe(true);
    expect(session.isEnded).toBe(true);
  });
});

describe("LiveSession: lifetime", () => {
  it("ends when its token expires", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock, {
      identity: { ...identity(), expiresAt: clock.now() + 60_000 },
    });
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    clock.advance(59_999);
    expect(ends).toEqual([]);
    clock.advance(1);
    expect(terminator.told[0]?.error.code).toBe("session_token_expired");
    expect(ends).toEqual(["token expired"]);
    expect(session.signal.aborted).toBe(true);
  });

  it("ends at max_session", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock, { limits: { maxSession: { label: "30s", ms: 30_000 } } });
    session.attach(new RecordingTerminator(session));
    clock.advance(30_000);
    expect(ends).toEqual(["max_session reached"]);
  });

  it("measures idleness from the last touch()", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock, { limits: { idleTimeout: { label: "10s", ms: 10_000 } } });
    session.attach(new RecordingTerminator(session));
    clock.advance(9_000);
    session.touch();
    expect(session.lastActivityAt).toBe(clock.now());
    clock.advance(9_000);
    expect(ends).toEqual([]);
    clock.advance(1_000);
    expect(ends).toEqual(["idle_timeout reached"]);
  });

  it("does not outlive a grant it used", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock);
    session.attach(new RecordingTerminator(session));
    session.usedGrant(clock.now() + 5_000);
    clock.advance(5_000);
    expect(ends).toEqual(["grant expired"]);
  });

  it("stops its timers once ended", () => {
    const clock = new FakeClock();
    const { session } = liveSession(clock, {
      limits: { maxSession: { label: "1m", ms: 60_000 }, idleTimeout: { label: "1m", ms: 60_000 } },
    });
    session.usedGrant(clock.now() + 10_000);
    expect(clock.pending).toBe(4);
    session.end("client closed the connection");
    expect(clock.pending).toBe(0);
  });

  it("a termination before attach stops nothing until the end is delivered", () => {
    const clock = new FakeClock();
    const { session, ends } = liveSession(clock, { limits: { maxSession: { label: "1s", ms: 1_000 } } });
    session.terminate(killed, "killed");
    clock.advance(1_000); // the max_session timer fires into the pending end: the first reason stays
    expect(ends).toEqual([]);
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    expect(terminator.told.map((t) => t.reason)).toEqual(["killed"]);
  });
});

describe("LiveSession: what it did", () => {
  it("reports the new policy's denial of a remembered step, asked at the clock's time", () => {
    const clock = new FakeClock();
    const { session } = liveSession(clock);
    session.remember([step("SELECT * FROM items"), step("DELETE FROM items WHERE id = 1", "sql:delete")]);
    const policy = new FakePolicy((request) =>
      request.steps[0]?.action === "sql:delete" ? deny : { ...deny, decision: "allow" },
    );
    expect(session.deniedUnder(policy)).toBe(deny);
    expect(policy.requests.every((r) => r.now.getTime() === clock.now())).toBe(true);
    expect(policy.requests[0]).toMatchObject({
      connection: "analytics",
      connectionLabels: { env: "prod" },
      clientAddress: "10.0.0.9:51234",
    });
  });

  it("has nothing denied when it did nothing", () => {
    const clock = new FakeClock();
    const { session } = liveSession(clock);
    expect(session.deniedUnder(new FakePolicy(deny))).toBeUndefined();
  });

  it("takes its start and activity times from the clock", () => {
    const clock = new FakeClock();
    const started = clock.now();
    const { session } = liveSession(clock);
    clock.advance(1234);
    session.touch();
    expect(session.startedAt).toBe(started);
    expect(session.lastActivityAt).toBe(started + 1234);
    expect(session.subject).toBe("agent-7");
  });
});
