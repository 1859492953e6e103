/**
 * Instructions per statement of the audit write path (chain, canonical JSON, SHA-256, journal line and
 * write) for the two recording forms, counted with callgrind over the built dist/ (docs/benchmarks.md, "One
 * chained event per statement"):
 *
 *   pair:   each statement as two events, the previous result riding with the next operation, as before
 *   folded: each statement as one operation carrying the previous result (audit/folded-result.ts)
 *   record: as folded, the bodies built by the gateway's own builders (operationRecord, resultRecord) from one
 *           step and verdict object, as a repeated prepared statement has them (sealed fragments reused)
 *   fresh:  as record, a new step object per statement, as a simple-mode statement with its own literal has
 *
 * record and fresh follow a session_start the gateway noted, so their policyInput leaves the session's facts
 * out (version 2, audit/session-facts.ts); BENCH_FULL_INPUT=1 writes the full version 1 input instead.
 *
 *   npm run build
 *   valgrind --tool=callgrind node --single-threaded bench/audit-chain-loop.mjs record 2000   # and 10000
 *
 * The difference between the two loop lengths, divided by 8000, cancels start-up. Take lengths this far apart:
 * with 1000 and 3000, TurboFan still compiling in the longer run (GraphReducer, Scanner, ...) put 50-60k of
 * the ~196k "per statement" on the record path; with 2000 and 10000 it is 2-4k of ~140k. `callgrind_annotate`
 * of both outputs, subtracted per function, shows what moved.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// BENCH_DIST: another build's dist/src (e.g. of the commit before a change), for before/after counts.
const root = process.env.BENCH_DIST ?? new URL("../dist/src", import.meta.url).href;
const { AuditJournal } = await import(`${root}/store/audit-journal.js`);
const { GENESIS_HASH } = await import(`${root}/audit/event-hash.js`);
const { foldResult } = await import(`${root}/audit/folded-result.js`);
const { operationRecord, resultRecord } = await import(`${root}/pipeline/operation-record.js`);
const [mode, nArg] = process.argv.slice(2);
const n = Number(nArg);
const dir = mkdtempSync(join(tmpdir(), "cg-"));
const { journal } = AuditJournal.open(join(dir, "audit.journal"), { seq: 0, hash: GENESIS_HASH });
const sessionId = "3f6c1a52-8d0e-4b43-9a57-4c1f0e9b2d11";
// Bodies shaped like a pgbench -S statement's (operation-record.ts / recorded-input.ts), keys sorted.
const op = (i) => ({
  mode: "simple",
  operationId: `0b6f1c7e-1d2a-4c3b-8e9f-${String(100000000000 + i)}`,
  policyInput: {
    at: 1764626400000 + i,
    clientAddress: "127.0.0.1:51234",
    connection: { labels: {}, name: "bench" },
    groups: ["bench"],
    issuer: "latch-dev",
    steps: [{ action: "sql:select", resources: [{ kind: "Table", name: "public.pgbench_accounts" }] }],
    subject: "bench",
    v: 1,
  },
  statements: [
    {
      tablesRead: ["public.pgbench_accounts"],
      tablesWritten: [],
      text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${(i * 7919) % 100000};`,
      verb: "sql:select",
    },
  ],
  verdict: { decision: "allow", reason: "permitted by policy", rules: ["policies/bench.cedar#0"] },
});
const res = (i) => ({
  commandTags: ["SELECT 1"],
  durationMs: 0.412,
  operationId: `0b6f1c7e-1d2a-4c3b-8e9f-${String(100000000000 + i)}`,
  rows: 1,
});
// What the PostgreSQL session and the policy engine hand the builders for a pgbench -S statement.
const identity = { subject: "bench", issuer: "latch-dev", groups: ["bench"], claims: {} };
const context = { clientAddress: "127.0.0.1:51234", connectionLabels: {} };
const verdict = { decision: "allow", rules: ["bench.cedar:0"], reason: "allowed by policy bench.cedar:0" };
const stepOf = (i) => ({
  text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${i === 0 ? "$1" : (i * 7919) % 100000}`,
  action: "sql:select",
  accesses: [{ action: "sql:select", resource: { type: "Table", name: "public.pgbench_accounts" } }],
  facts: { readOnly: true, hasWhere: true, tableCount: 1, command: "" },
  recorded: { tablesRead: ["public.pgbench_accounts"], tablesWritten: [] },
});
const preparedStep = stepOf(0);
const operationOf = (i, step) => ({
  id: `0b6f1c7e-1d2a-4c3b-8e9f-${String(100000000000 + i)}`,
  sessionId,
  protocol: "postgres",
  connection: "bench",
  identity,
  mode: "extended",
  steps: [step],
  parameters: [[String((i * 7919) % 100000)]],
  receivedAt: 1764626400000 + i,
});
const result = { durationMs: 0.412, rows: 1, commandTags: ["SELECT 1"] };
// The session's durable session_start, as the gateway's pipeline notes it (audit/session-facts.ts), so its
// operations record policyInput version 2; a build from before that module records the full input.
const sessionStart = {
  protocol: "postgres",
  connection: "bench",
  subject: identity.subject,
  groups: identity.groups,
  issuer: identity.issuer,
  clientAddress: context.clientAddress,
  clientUser: "bench",
  tls: false,
};
journal.append([{ kind: "session_start", sessionId, data: sessionStart }]);
try {
  const { recordedSessionFacts } = await import(`${root}/audit/session-facts.js`);
  if (process.env.BENCH_FULL_INPUT !== "1")
    recordedSessionFacts.note({ kind: "session_start", sessionId, data: sessionStart });
} catch {
  // An older build: every operation carries its full policy input.
}
// BENCH_HEAP=1: V8 heap bytes allocated per statement over the loop (as bench/alloc-probe.mjs counts them).
const { GCProfiler, getHeapStatistics } = await import("node:v8");
const profiler = process.env.BENCH_HEAP === "1" ? new GCProfiler() : undefined;
profiler?.start();
const heapBefore = getHeapStatistics().used_heap_size;
for (let i = 1; i <= n; i++) {
  if (mode === "record" || mode === "fresh") {
    const step = mode === "record" ? preparedStep : stepOf(i);
    const previous = operationOf(i - 1, step);
    const body = operationRecord(operationOf(i, step), verdict, context);
    journal.append([
      { kind: "operation", sessionId, data: foldResult(body, resultRecord(previous, result)) },
    ]);
  } else if (mode === "pair")
    journal.append([
      { kind: "operation_result", sessionId, data: res(i - 1) },
      { kind: "operation", sessionId, data: op(i) },
    ]);
  else journal.append([{ kind: "operation", sessionId, data: foldResult(op(i), res(i - 1)) }]);
}
if (profiler !== undefined) {
  let freed = 0;
  for (const gc of profiler.stop()?.statistics ?? [])
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  const allocated = getHeapStatistics().used_heap_size + freed - heapBefore;
  console.log(JSON.stringify({ mode, statements: n, heapBytesPerStatement: Math.round(allocated / n) }));
}
journal.close();
rmSync(dir, { recursive: true, force: true });
