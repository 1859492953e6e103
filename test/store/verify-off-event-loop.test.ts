import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSqliteAuditQueries, openSqliteAuditReader } from "../../src/store/sqlite-audit-reader.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "./store-fixtures.js";

/**
 * `GET /api/audit/verify` (and `latch audit verify`) hash the whole chain. Done on the event loop it stalls
 * every session for as long as that takes; the reader runs it in a worker thread instead. The measure is
 * structural: the longest event-loop stall during the verification, against what the same verification costs
 * when run on the calling thread.
 */
const EVENTS = 200_000;

let dir: string;
let cleanup: () => void;
let file: string;

beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  file = path.join(dir, "latch.db");
  const store = createSqliteStore(file);
  store.append(sessionStart("s1"));
  const batch = Array.from({ length: 5_000 }, (_, k) => operation("s1", `SELECT ${k} FROM orders`));
  for (let written = 1; written < EVENTS; written += batch.length) store.appendMany(batch);
  store.close();
}, 120_000);
afterAll(() => cleanup());

describe("chain verification off the event loop", () => {
  it("keeps the event loop responsive while a 200k-event chain is verified", async () => {
    // What the verification costs when it blocks: the same work on this thread.
    const inThread = openSqliteAuditQueries(file);
    const started = performance.now();
    const blocking = inThread.verifyChain();
    const blockingMs = performance.now() - started;
    inThread.close();
    expect(blocking).toMatchObject({ ok: true });
    expect(blocking.events).toBeGreaterThanOrEqual(EVENTS);

    const reader = openSqliteAuditReader(file);
    // Two measures of the stall: the gaps between 5 ms ticks (from the call to its answer), and the
    // event-loop delay histogram.
    const delay = monitorEventLoopDelay({ resolution: 5 });
    const ticks: number[] = [];
    const ticker = setInterval(() => ticks.push(performance.now()), 5);
    let verifyMs: number;
    try {
      delay.enable();
      const from = performance.now();
      ticks.push(from);
      const report = await reader.verifyChain();
      ticks.push(performance.now());
      verifyMs = performance.now() - from;
      delay.disable();
      expect(report).toEqual(blocking);
    } finally {
      clearInterval(ticker);
      reader.close();
    }
    const maxGapMs = Math.max(...ticks.slice(1).map((at, i) => at - ticks[i]!));
    // On the event loop the stall would be the whole verification; in the worker it is a small fraction.
    expect(ticks.length).toBeGreaterThan(4);
    expect(maxGapMs).toBeLessThan(blockingMs / 3);
    expect(delay.max / 1e6).toBeLessThan(blockingMs / 3);
    expect(verifyMs).toBeGreaterThan(maxGapMs);
  }, 120_000);

  it("concurrent verifications share one worker run and agree", async () => {
    const reader = openSqliteAuditReader(file);
    try {
      const [a, b] = await Promise.all([reader.verifyChain(), reader.verifyChain()]);
      expect(a).toBe(b);
      expect(a.ok).toBe(true);
    } finally {
      reader.close();
    }
  }, 120_000);
});
