import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { HashedEvent } from "../../src/audit/event-hash.js";
import { type ChainHead, EMPTY_CHAIN_HEAD } from "../../src/audit/verify-chain.js";
import type { AuditIndexer } from "../../src/store/audit-indexer-thread.js";
import { openSqliteAuditSink } from "../../src/store/sqlite-audit-sink.js";
import type { AuditEventInput } from "../../src/store/store.js";
import { describeStoreFailure } from "../../src/store/store-file-health.js";

// Issue 10, recovery without a restart: a refused index write used to latch the sink shut until a restart.

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const event = (n: number): AuditEventInput => ({ kind: "protocol_error", sessionId: null, data: { n } });

/** An index in memory that refuses while `failWith` is set, and can "die" like a crashed thread. */
class FakeIndexer implements AuditIndexer {
  readonly indexed: HashedEvent[] = [];
  failWith: Error | undefined;
  dead = false;
  calls = 0;
  constructor(readonly openedAt: ChainHead = EMPTY_CHAIN_HEAD) {}
  async index(events: readonly HashedEvent[]): Promise<void> {
    this.calls += 1;
    if (this.dead) throw new Error("audit writer exited (1)");
    if (this.failWith !== undefined) throw this.failWith;
    const head = this.indexed.at(-1)?.seq ?? this.openedAt.seq;
    for (const e of events) if (e.seq > head) this.indexed.push(e);
  }
  async check(): Promise<void> {
    if (this.dead) throw new Error("audit writer exited (1)");
    if (this.failWith !== undefined) throw this.failWith;
  }
  isDead = () => this.dead;
  async close(): Promise<void> {}
}

const sqliteFull = () => Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });

async function openWith(indexers: FakeIndexer[]) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-sink-recovery-"));
  dirs.push(dir);
  const started: FakeIndexer[] = [];
  const sink = await openSqliteAuditSink(path.join(dir, "latch.db"), path.join(dir, "audit.journal"), {
    retry: { firstMs: 5, maxMs: 20 },
    startIndexer: async () => {
      const next = indexers.shift();
      if (next === undefined) throw new Error("no more indexers");
      started.push(next);
      return next;
    },
  });
  return { sink, started, journal: path.join(dir, "audit.journal") };
}

describe("SQLite audit sink: refusal and recovery", () => {
  it("refuses appends while the index refuses, then indexes the backlog and accepts again on its own", async () => {
    const indexer = new FakeIndexer();
    const { sink } = await openWith([indexer]);
    sink.append([event(1)]);
    await sink.flush();
    expect(sink.health()).toEqual({ state: "ok", refusedSeconds: 0 });

    indexer.failWith = sqliteFull();
    sink.append([event(2), event(3)]); // the journal takes them: durable, acknowledged
    await expect(sink.flush()).rejects.toThrow(/audit log could not be written/);
    await expect(sink.append([event(4)])).rejects.toMatchObject({ code: "audit_unavailable" });
    const refusing = sink.health();
    expect(refusing).toMatchObject({ state: "refusing", reason: "disk full (SQLITE_FULL)" });
    expect(Date.parse(refusing.since!)).toBeLessThanOrEqual(Date.now());
    await expect(sink.check()).rejects.toThrow();
    // Retries back off: a few in the first ~50 ms, not one per flush.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(indexer.calls).toBeGreaterThan(2);
    expect(indexer.calls).toBeLessThan(10);

    indexer.failWith = undefined; // space came back
    await vi.waitFor(() => expect(sink.health().state).toBe("ok"), { timeout: 2000, interval: 5 });
    expect(indexer.indexed.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(sink.health().refusedSeconds).toBeGreaterThan(0.05);
    sink.append([event(5)]);
    await sink.flush();
    await sink.check();
    expect(indexer.indexed.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    await sink.close();
  });

  it("starts a new index thread after the old one died, and gives it only what it lacks", async () => {
    const first = new FakeIndexer();
    // The new thread opens the SQLite file at event 3: it was committed, only the reply was lost with the thread.
    const second = new FakeIndexer({ seq: 3, hash: "h3" });
    const { sink, started } = await openWith([first, second]);
    sink.append([event(1), event(2)]);
    await sink.flush();
    first.dead = true;
    sink.append([event(3)]);
    await expect(sink.flush()).rejects.toThrow();
    await expect(sink.append([event(4)])).rejects.toMatchObject({ code: "audit_unavailable" });
    await vi.waitFor(() => expect(sink.health().state).toBe("ok"), { timeout: 2000, interval: 5 });
    expect(started).toEqual([first, second]);
    sink.append([event(4)]);
    await sink.flush();
    expect(second.indexed.map((e) => e.seq)).toEqual([4]);
    await sink.close();
  });

  it("reports a refused journal (ENOSPC) and clears it when a probe or the next append succeeds", async () => {
    const indexer = new FakeIndexer();
    const { sink, journal } = await openWith([indexer]);
    sink.append([event(1)]);
    await sink.flush();
    expect(describeStoreFailure(Object.assign(new Error("no space"), { code: "ENOSPC" }))).toBe(
      "disk full (ENOSPC)",
    );
    expect(
      describeStoreFailure(Object.assign(new Error("x"), { code: "EPERM", file: "/data/latch.db-shm" })),
    ).toBe("latch.db-shm is not writable (EPERM)");
    // A probe leaves the journal as it was.
    await sink.check();
    expect(readFileSync(journal, "utf8").trim().split("\n")).toHaveLength(1);
    await sink.close();
  });
});
