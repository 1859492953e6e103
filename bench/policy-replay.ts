/**
 * `npx tsx bench/policy-replay.ts [events] [principals]`: generates an audit history of `events` events
 * (default 1M: three operations to one operation_result, as a busy gateway records them) by `principals`
 * distinct callers (default 50; `all` gives every operation its own caller, the worst case for the report's
 * per-principal groups) in a fresh embedded SQLite store, then times `replayHistory` over it against two policy
 * sets and prints events/s, the RSS and heap in use when replay starts, and their peaks during replay
 * (sampled once per page of events). Not part of `npm run bench` (it measures replay, not the gateway's hot
 * path). Whether replay's memory is bounded shows as the peak staying put when `events` grows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import v8 from "node:v8";
import { createCedarPolicyEngine } from "../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../src/policy/load-policies.js";
import { REPLAY_CACHE_SIZE, replayHistory } from "../src/replay/replay-history.js";
import { openSqliteStores } from "../src/store/open-stores.js";
import { openSqliteAuditReader } from "../src/store/sqlite-audit-reader.js";
import type { AuditEventInput } from "../src/store/store.js";

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const PRINCIPALS = process.argv[3] === "all" ? Number.MAX_SAFE_INTEGER : Number(process.argv[3] ?? 50);
const CURRENT = `
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
permit(principal in Group::"writers", action in Action::"sql:write", resource in Connection::"app");
forbid(principal, action, resource == Table::"app/public.t0");
`;
const CANDIDATE = `
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app")
unless { context.time.hour < 6 };
permit(principal in Group::"writers", action == Action::"sql:insert", resource in Connection::"app");
forbid(principal, action, resource == Table::"app/public.t1");
`;
const ACTIONS = ["sql:select", "sql:select", "sql:select", "sql:insert", "sql:update"];

function operationEvent(index: number, at: number): AuditEventInput {
  const subject = `agent-${index % PRINCIPALS}`;
  const action = ACTIONS[index % ACTIONS.length]!;
  const table = `public.t${index % 20}`;
  const step = {
    action,
    accesses: [{ action, resource: { type: "Table", name: table } }],
    facts: { readOnly: action === "sql:select", hasWhere: true, tableCount: 1, command: "" },
  };
  return {
    kind: "operation",
    sessionId: `s-${index % 500}`,
    data: {
      operationId: `op-${index}`,
      mode: "extended",
      statements: [
        { text: `${action.slice(4)} ... ${table} -- ${index}`, verb: action, tablesRead: [table] },
      ],
      verdict: { decision: "allow", rules: ["p0"], reason: "allowed" },
      policyInput: {
        v: 1,
        subject,
        issuer: "https://issuer.test",
        groups: index % 3 === 0 ? ["agents", "writers"] : ["agents"],
        connection: "app",
        labels: { env: "prod" },
        clientAddress: "10.0.0.7",
        at,
        steps: [step],
      },
    },
  };
}

async function main(): Promise<void> {
  // As `latch policy replay` does: V8 may abort on a deopt of an inlined call into Cedar's Wasm (see the module).
  // Loading the engine turned inlining off (src/policy/wasm-call-inlining.ts); "1" turns it back on to show the crash.
  if (process.env.REPLAY_BENCH_WASM_INLINING === "1") v8.setFlagsFromString("--turbo-inline-js-wasm-calls");
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-replay-bench-"));
  try {
    const stores = await openSqliteStores(dir);
    const start = Date.UTC(2026, 10, 1);
    const written = Date.now();
    let batch: AuditEventInput[] = [];
    for (let index = 0; index < TOTAL; index += 1) {
      const at = start + index * 1000;
      batch.push(
        index % 4 === 3
          ? { kind: "operation_result", sessionId: "s-1", data: { operationId: `op-${index - 1}`, rows: 1 } }
          : operationEvent(index, at),
      );
      if (batch.length === 1000) {
        await stores.audit.append(batch);
        batch = [];
        // The index trails the journal; waiting for it now and then keeps the writer's queue (and memory) small.
        if ((index + 1) % 20_000 === 0) await stores.audit.flush();
      }
    }
    if (batch.length > 0) await stores.audit.append(batch);
    await stores.close();
    console.error(`generated ${TOTAL} events in ${((Date.now() - written) / 1000).toFixed(1)}s`);
    const reader = openSqliteAuditReader(path.join(dir, "latch.db"));
    const engines = [CURRENT, CANDIDATE].map((text) =>
      createCedarPolicyEngine(parsePolicySources([{ file: "p.cedar", text }]), {
        cacheSize: REPLAY_CACHE_SIZE,
      }),
    );
    // What replay adds is measured from here: the history's generation leaves its own garbage behind.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage();
    let pages = 0;
    let liveHeap = 0;
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const report = await replayHistory({
      reader,
      current: engines[0]!,
      candidate: engines[1]!,
      onProgress: () => {
        // With --expose-gc, every 50 pages: the heap that is live after a full collection, what must stay flat.
        pages += 1;
        if (gc !== undefined && pages % 50 === 0) {
          gc();
          liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed);
        }
        const usage = process.memoryUsage();
        peakRss = Math.max(peakRss, usage.rss);
        peakHeap = Math.max(peakHeap, usage.heapUsed);
      },
    });
    reader.close();
    const seconds = report.elapsedMs / 1000;
    console.log(
      JSON.stringify({
        events: report.events,
        operations: report.operations,
        seconds: Number(seconds.toFixed(2)),
        eventsPerSecond: Math.round(report.events / seconds),
        operationsPerSecond: Math.round(report.operations / seconds),
        newlyDenied: report.changes.newly_denied.count,
        regressions: report.regressions.count,
        principals: Math.min(PRINCIPALS, TOTAL),
        groups: report.changes.newly_denied.groups.length + report.changes.newly_allowed.groups.length,
        rssAtStartMiB: Math.round(before.rss / 2 ** 20),
        peakRssMiB: Math.round(peakRss / 2 ** 20),
        heapAtStartMiB: Math.round(before.heapUsed / 2 ** 20),
        peakHeapMiB: Math.round(peakHeap / 2 ** 20),
        ...(gc === undefined ? {} : { liveHeapMiB: Math.round(liveHeap / 2 ** 20) }),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
