import { describe, expect, it } from "vitest";
import { type AuditAppender, AuditBatcher } from "../../src/pipeline/audit-batcher.js";
import type { AuditEventInput } from "../../src/store/store.js";
import { ManualTimers } from "../support/manual-timers.js";
import { failOnKinds, MemoryAuditLog } from "../support/memory-audit-log.js";

function event(name: string): AuditEventInput {
  return { kind: "operation", sessionId: "s1", data: { name } };
}

function namesOf(events: readonly AuditEventInput[]): unknown[] {
  return events.map((e) => e.data.name);
}

/** Lets promise callbacks run; no timers involved. */
async function microtasks(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

function setup(maxBatch = 512) {
  const log = new MemoryAuditLog();
  const timers = new ManualTimers();
  const batcher = new AuditBatcher(log, maxBatch, timers);
  const told: { name: string; error: unknown }[] = [];
  const append = (name: string) => batcher.append(event(name), (error) => told.push({ name, error }));
  return { log, timers, batcher, told, append };
}

describe("AuditBatcher: group commit", () => {
  it("writes everything appended during one turn with one append, at the end of the turn", () => {
    const { log, timers, told, append } = setup();
    append("a");
    append("b");
    append("c");
    expect(log.groups).toHaveLength(0);
    expect(told).toHaveLength(0); // never calls back synchronously
    expect(timers.turnsScheduled).toBe(1);
    timers.endTurn();
    expect(log.groups.map(namesOf)).toEqual([["a", "b", "c"]]);
    expect(told).toEqual([
      { name: "a", error: undefined },
      { name: "b", error: undefined },
      { name: "c", error: undefined },
    ]);
  });

  it("starts a new group in the next turn", () => {
    const { log, timers, append } = setup();
    append("a");
    timers.endTurn();
    append("b");
    append("c");
    timers.endTurn();
    expect(log.groups.map(namesOf)).toEqual([["a"], ["b", "c"]]);
    expect(timers.turnsScheduled).toBe(2);
  });

  it("reports a failed append to every caller of the group, and the next group is written", () => {
    const { log, timers, told, append } = setup();
    log.fail = failOnKinds("operation");
    append("a");
    append("b");
    timers.endTurn();
    expect(told.map((t) => t.name)).toEqual(["a", "b"]);
    for (const { error } of told) expect((error as Error).message).toContain("disk full");
    expect(log.events).toHaveLength(0);

    log.fail = undefined;
    append("c");
    timers.endTurn();
    expect(told[2]).toEqual({ name: "c", error: undefined });
    expect(namesOf(log.events)).toEqual(["c"]);
  });

  it("never reports success when the appender throws without an error", () => {
    const appender: AuditAppender = {
      append() {
        throw undefined;
      },
      flush: async () => {},
    };
    const timers = new ManualTimers();
    const batcher = new AuditBatcher(appender, 512, timers);
    const errors: unknown[] = [];
    batcher.append(event("a"), (error) => errors.push(error));
    timers.endTurn();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(Error);
    expect((errors[0] as Error).message).toBe("audit append failed");
  });

  it("appendDurably resolves once written and rejects when the write failed", async () => {
    const { log, timers, batcher } = setup();
    const written = batcher.appendDurably(event("a"));
    timers.endTurn();
    await expect(written).resolves.toBeUndefined();

    log.fail = failOnKinds("operation");
    const refused = batcher.appendDurably(event("b"));
    timers.endTurn();
    await expect(refused).rejects.toThrow("disk full");
  });

  it("flushes as soon as maxBatch events are queued, without waiting for the turn to end", async () => {
    const { log, timers, told, append } = setup(2);
    append("a");
    append("b");
    await microtasks(1);
    expect(log.groups.map(namesOf)).toEqual([["a", "b"]]);
    expect(told).toHaveLength(2);
    append("c");
    await microtasks();
    expect(log.groups).toHaveLength(1); // one event short of a batch: it waits for the turn
    timers.endTurn();
    expect(log.groups.map(namesOf)).toEqual([["a", "b"], ["c"]]);
  });
});

describe("AuditBatcher: lazy events", () => {
  it("writes a lazy event alone only after the delay", () => {
    const { log, timers, batcher } = setup();
    const told: unknown[] = [];
    batcher.appendLazy(event("result"), (error) => told.push(error));
    timers.endTurn();
    expect(timers.turnsScheduled).toBe(0);
    timers.advance(9);
    expect(log.groups).toHaveLength(0);
    timers.advance(1);
    expect(log.groups.map(namesOf)).toEqual([["result"]]);
    expect(told).toEqual([undefined]);
  });

  it("arms one timer for several lazy events", () => {
    const { log, timers, batcher } = setup();
    batcher.appendLazy(event("r1"));
    batcher.appendLazy(event("r2"));
    expect(timers.pendingTimeouts).toBe(1);
    timers.advance(10);
    expect(log.groups.map(namesOf)).toEqual([["r1", "r2"]]);
  });

  it("lets lazy events ride along with the next group, in queue order, and cancels their timer", () => {
    const { log, timers, batcher, append } = setup();
    batcher.appendLazy(event("result"));
    append("next");
    timers.endTurn();
    expect(log.groups.map(namesOf)).toEqual([["result", "next"]]);
    expect(timers.pendingTimeouts).toBe(0);
    timers.advance(100);
    expect(log.groups).toHaveLength(1);
  });
});

describe("AuditBatcher: asynchronous appends", () => {
  it("holds the next group until the append in flight is done, and keeps the order", async () => {
    const { log, timers, batcher } = setup();
    log.async = true;
    const first = batcher.appendDurably(event("a"));
    timers.endTurn();
    expect(log.pending).toBe(1);

    let secondDone = false;
    const second = batcher.appendDurably(event("b")).then(() => {
      secondDone = true;
    });
    batcher.append(event("c"));
    timers.endTurn();
    expect(log.groups).toHaveLength(1); // b and c wait for a

    log.settle();
    await first;
    await microtasks();
    expect(log.groups.map(namesOf)).toEqual([["a"], ["b", "c"]]);
    expect(secondDone).toBe(false); // b is not durable before its own append is

    log.settle();
    await second;
    expect(namesOf(log.events)).toEqual(["a", "b", "c"]);
  });

  it("reports a rejected append to every caller in its group, and goes on with the next", async () => {
    const { log, timers, told, append } = setup();
    log.async = true;
    append("a");
    append("b");
    timers.endTurn();
    append("c");
    timers.endTurn();
    log.reject(new Error("connection reset"));
    await microtasks();
    expect(told.map((t) => [t.name, (t.error as Error | undefined)?.message])).toEqual([
      ["a", "connection reset"],
      ["b", "connection reset"],
    ]);
    expect(log.pending).toBe(1);
    log.settle();
    await microtasks();
    expect(told[2]).toEqual({ name: "c", error: undefined });
    expect(namesOf(log.events)).toEqual(["c"]);
  });
});

describe("AuditBatcher.drain", () => {
  it("writes what is queued now, without waiting for the turn, and flushes the appender", async () => {
    const { log, batcher, told, append } = setup();
    append("a");
    batcher.appendLazy(event("lazy"));
    await batcher.drain();
    expect(log.groups.map(namesOf)).toEqual([["a", "lazy"]]);
    expect(told).toEqual([{ name: "a", error: undefined }]);
    expect(log.flushes).toBe(1);
  });

  it("waits for the append in flight and for the group queued behind it", async () => {
    const { log, timers, batcher, append } = setup();
    log.async = true;
    append("a");
    timers.endTurn();
    append("b");
    let drained = false;
    const draining = batcher.drain().then(() => {
      drained = true;
    });
    await microtasks();
    expect(drained).toBe(false);
    log.settle();
    await microtasks();
    expect(log.groups.map(namesOf)).toEqual([["a"], ["b"]]);
    expect(drained).toBe(false);
    log.settle();
    await draining;
    expect(namesOf(log.events)).toEqual(["a", "b"]);
    expect(log.flushes).toBe(1);
  });
});

describe("AuditBatcher: a session's result folded into its next operation", () => {
  const result = (sessionId: string, name: string): AuditEventInput => ({
    kind: "operation_result",
    sessionId,
    data: { name },
  });
  const op = (sessionId: string, name: string): AuditEventInput => ({
    kind: "operation",
    sessionId,
    data: { name },
  });

  it("writes a result nobody carries standalone once its own deadline passes, each on its own", () => {
    const { log, timers, batcher } = setup();
    batcher.appendResult(result("s1", "r1"));
    timers.advance(6);
    batcher.appendResult(result("s2", "r2"));
    timers.advance(4);
    expect(log.events.map((e) => e.data.name)).toEqual(["r1"]);
    timers.advance(5);
    expect(log.events.map((e) => e.data.name)).toEqual(["r1"]);
    timers.advance(1);
    expect(log.events.map((e) => e.data.name)).toEqual(["r1", "r2"]);
    expect(timers.pendingTimeouts).toBe(0);
  });

  it("writes the older of two results of one session standalone, first, and folds the newer", () => {
    const { log, timers, batcher } = setup();
    batcher.appendResult(result("s1", "r1"));
    batcher.appendResult(result("s1", "r2"));
    batcher.append(op("s1", "o3"));
    timers.endTurn();
    expect(log.groups).toHaveLength(1);
    expect(log.events.map((e) => [e.kind, e.data.name])).toEqual([
      ["operation_result", "r1"],
      ["operation", "o3"],
    ]);
    expect(log.events[1]!.data.priorResult).toEqual({ name: "r2" });
  });

  it("never folds into an event of another kind or another session, and drain writes what is held", async () => {
    const { log, timers, batcher } = setup();
    const told: unknown[] = [];
    batcher.appendResult(result("s1", "r1"), (error) => told.push(error));
    batcher.appendResult(result("s2", "r2"));
    batcher.append({ kind: "session_end", sessionId: "s1", data: { name: "end" } });
    batcher.append(op("s3", "o"));
    timers.endTurn();
    expect(log.events.map((e) => e.data.name)).toEqual(["r1", "end", "o"]);
    expect(told).toEqual([undefined]);
    await batcher.drain();
    expect(log.events.map((e) => e.data.name)).toEqual(["r1", "end", "o", "r2"]);
    expect(timers.pendingTimeouts).toBe(0);
  });

  it("tells a folded result's outcome with its carrier's: a failed carrier fails both", () => {
    const { log, timers, batcher } = setup();
    log.fail = failOnKinds("operation");
    const told: string[] = [];
    batcher.appendResult(result("s1", "r1"), (error) =>
      told.push(`r1 ${error === undefined ? "ok" : "failed"}`),
    );
    batcher.append(op("s1", "o2"), (error) => told.push(`o2 ${error === undefined ? "ok" : "failed"}`));
    timers.endTurn();
    expect(told).toEqual(["r1 failed", "o2 failed"]);
    expect(log.events).toHaveLength(0);
  });
});

describe("AuditBatcher: appendNow (the event a caller waits for)", () => {
  function setupNow() {
    const s = setup();
    const now = (name: string) => s.batcher.appendNow(event(name), (error) => s.told.push({ name, error }));
    return { ...s, now };
  }

  it("waits for the end of the turn until a group has shown the load is one event at a time", () => {
    const s = setupNow();
    s.now("first");
    expect(s.log.groups).toHaveLength(0); // nothing known about the appender or the load yet
    s.timers.endTurn();
    expect(s.log.groups.map(namesOf)).toEqual([["first"]]);
  });

  it("after a single-event group, writes in the caller's turn and tells the outcome before returning", () => {
    const s = setupNow();
    s.now("a");
    s.timers.endTurn();
    s.now("b");
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"]]);
    expect(s.told.map((t) => t.name)).toEqual(["a", "b"]);
  });

  it("still groups everything else appended in the same turn into one write at its end", () => {
    const s = setupNow();
    s.now("a");
    s.timers.endTurn();
    s.now("b");
    s.now("c");
    s.append("d");
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"]]);
    s.timers.endTurn();
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"], ["c", "d"]]);
    // The last group held two events: concurrent load, so the next turn's first waits for the turn's end too.
    s.now("e");
    expect(s.log.groups).toHaveLength(3);
    s.timers.endTurn();
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"], ["c", "d"], ["e"]]);
  });

  it("counts a same-turn write with the turn's group: two statements a turn is not one at a time", () => {
    const s = setupNow();
    s.now("a");
    s.timers.endTurn();
    s.now("b"); // written now
    s.now("c"); // waits for the end of the turn: a group of one, but the turn wrote two
    s.timers.endTurn();
    s.now("d");
    s.now("e");
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"], ["c"]]);
    s.timers.endTurn();
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"], ["c"], ["d", "e"]]);
  });

  it("waits behind events already queued in the turn, keeping their order", () => {
    const s = setupNow();
    s.now("a");
    s.timers.endTurn();
    s.append("b");
    s.now("c");
    expect(s.log.groups).toHaveLength(1);
    s.timers.endTurn();
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b", "c"]]);
  });

  it("reports a failed same-turn write to its caller, who then denies", () => {
    const s = setupNow();
    s.now("a");
    s.timers.endTurn();
    s.log.fail = failOnKinds("operation");
    s.now("b");
    expect(s.told.at(-1)?.name).toBe("b");
    expect(s.told.at(-1)?.error).toBeInstanceOf(Error);
  });

  it("never writes in the caller's turn on an asynchronous appender", async () => {
    const s = setupNow();
    s.log.async = true;
    s.now("a");
    s.timers.endTurn();
    s.log.settle();
    await microtasks();
    s.now("b");
    expect(s.log.groups).toHaveLength(1);
    s.timers.endTurn();
    expect(s.log.groups.map(namesOf)).toEqual([["a"], ["b"]]);
  });
});
