import { describe, expect, it } from "vitest";
import { LatchError } from "../../src/errors.js";
import type { Verdict } from "../../src/operation/operation.js";
import { SessionRegistry } from "../../src/session/session-registry.js";
import { FakeClock } from "../support/fake-clock.js";
import { liveSession, RecordingTerminator } from "../support/live-sessions.js";
import { allow, deny, FakePolicy, identity, step } from "../support/operation-fixtures.js";

function setup() {
  const clock = new FakeClock();
  const registry = new SessionRegistry();
  const open = (id: string, subject = "agent-7") => {
    const opened = liveSession(clock, {
      id,
      identity: { ...identity(subject, ["agents", "ci"]), expiresAt: clock.now() + 3_600_000 },
      onEnd: () => registry.remove(id),
    });
    const terminator = new RecordingTerminator(opened.session);
    opened.session.attach(terminator);
    registry.add(opened.session);
    return { ...opened, terminator };
  };
  return { clock, registry, open };
}

describe("SessionRegistry", () => {
  it("holds sessions until they end", () => {
    const { registry, open } = setup();
    const a = open("a");
    open("b");
    expect(registry.size).toBe(2);
    expect(registry.get("a")).toBe(a.session);
    a.session.end("client closed the connection");
    expect(registry.get("a")).toBeUndefined();
    expect(registry.size).toBe(1);
    registry.remove("b");
    expect(registry.size).toBe(0);
  });

  it("lists live sessions with ISO times", () => {
    const { clock, registry, open } = setup();
    const started = clock.now();
    const a = open("a");
    clock.advance(5_000);
    a.session.touch();
    expect(registry.list()).toEqual([
      {
        id: "a",
        protocol: "postgres",
        connection: "analytics",
        subject: "agent-7",
        groups: ["agents", "ci"],
        clientAddress: "10.0.0.9:51234",
        startedAt: new Date(started).toISOString(),
        lastActivityAt: new Date(started + 5_000).toISOString(),
      },
    ]);
  });

  it("terminateWhere ends exactly the sessions it picks, each told the error", () => {
    const { registry, open } = setup();
    const a = open("a", "agent-7");
    const b = open("b", "agent-9");
    const c = open("c", "agent-7");
    const blocked = new LatchError("principal_blocked");
    const ended = registry.terminateWhere((s) => s.subject === "agent-7", blocked, "principal blocked");
    expect(ended).toEqual(["a", "c"]);
    expect(a.terminator.told).toEqual([{ error: blocked, reason: "principal blocked" }]);
    expect(c.ends).toEqual(["principal blocked"]);
    expect(b.terminator.told).toEqual([]);
    expect(registry.list().map((s) => s.id)).toEqual(["b"]);
  });

  it("terminateWhere with nothing picked ends nothing", () => {
    const { registry, open } = setup();
    open("a");
    expect(registry.terminateWhere(() => false, new LatchError("gateway_shutting_down"), "shutdown")).toEqual(
      [],
    );
    expect(registry.size).toBe(1);
  });

  it("revalidate ends only the sessions whose recent steps the new policy denies", () => {
    const { registry, open } = setup();
    const reader = open("reader");
    const writer = open("writer");
    const idle = open("idle");
    reader.session.remember([step("SELECT * FROM items")]);
    writer.session.remember([step("SELECT 1"), step("DELETE FROM items WHERE id = 2", "sql:delete")]);
    const policy = new FakePolicy(
      (request): Verdict => (request.steps.some((s) => s.action === "sql:delete") ? deny : allow),
    );
    expect(registry.revalidate(policy)).toBe(1);
    expect(writer.terminator.told[0]?.error.code).toBe("session_terminated");
    expect(writer.terminator.told[0]?.error.message).toContain(
      `policies were reloaded and now deny it: ${deny.reason}`,
    );
    expect(writer.ends).toEqual(["policy reload"]);
    expect(reader.terminator.told).toEqual([]);
    expect(idle.terminator.told).toEqual([]);
    expect(registry.list().map((s) => s.id)).toEqual(["reader", "idle"]);
  });
});
