/**
 * Instructions per event of the audit index thread's work (src/store/audit-writer-worker.ts ->
 * SqliteStore.appendHashed: the sessions index's view of each body, one INSERT per event, the session counts
 * and the chain head, one transaction per group), counted with callgrind over the built dist/, run in the main
 * thread so callgrind sees it alone:
 *
 *   npm run build
 *   valgrind --tool=callgrind node --single-threaded bench/audit-index-loop.mjs 300    # and 900
 *
 * Groups of 8 pgbench -S shaped operations (a folded result each, policyInput version 2) after one
 * session_start; the difference between the two loop lengths, divided by 4,800 events, cancels start-up.
 * The hashes are stand-ins (appendHashed checks the links, not the hashes: the journal computed them).
 * It also prints the thread's own CPU time per event (process.cpuUsage, noisy on a loaded machine).
 *
 * `sink <groups>` measures the whole record path instead, both threads: the gateway's own body builders
 * (operationRecord, resultRecord, foldResult) and the real SqliteAuditSink (journal append on this thread, the
 * hand-off, the index thread's SQLite work), one event per append as a -c 1 session has them, the sink flushed
 * every 100 events (BENCH_BATCH) so the index thread gets batches of a fixed size. Per thread:
 *
 *   valgrind --tool=callgrind --separate-threads=yes node bench/audit-index-loop.mjs sink 30   # and 130
 *
 * (differences over 10,000 events); it also prints the journal and database bytes per event.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = process.env.BENCH_DIST ?? new URL("../dist/src", import.meta.url).href;
if (process.argv[2] === "sink") {
  await sinkLoop(Number(process.argv[3] ?? 30));
  process.exit(0);
}
const { createSqliteStore } = await import(`${root}/store/sqlite-store.js`);
const groups = Number(process.argv[2] ?? 300);
const GROUP = 8;
const dir = mkdtempSync(join(tmpdir(), "idx-"));
const store = createSqliteStore(join(dir, "latch.db"));
const sessionId = "3f6c1a52-8d0e-4b43-9a57-4c1f0e9b2d11";
const hashOf = (seq) => seq.toString(16).padStart(64, "0");
let seq = 0;
const event = (kind, dataJson) => {
  seq += 1;
  return {
    seq,
    ts: "2026-12-02T06:00:00.000Z",
    kind,
    sessionId,
    dataJson,
    prevHash: hashOf(seq - 1),
    hash: hashOf(seq),
  };
};
const start = `{"clientAddress":"127.0.0.1:51234","clientUser":"bench","connection":"bench","groups":["bench"],"issuer":"latch-dev","protocol":"postgres","subject":"bench","tls":false}`;
const body = (i) =>
  `{"mode":"simple","operationId":"0b6f1c7e-1d2a-4c3b-8e9f-${100000000000 + i}","policyInput":{"at":${1764626400000 + i},"labels":{},"steps":[{"accesses":[{"action":"sql:select","resource":{"name":"public.pgbench_accounts","type":"Table"}}],"action":"sql:select","facts":{"command":"","hasWhere":true,"readOnly":true,"tableCount":1}}],"v":2},"priorResult":{"commandTags":["SELECT 1"],"durationMs":0.412,"operationId":"0b6f1c7e-1d2a-4c3b-8e9f-${100000000000 + i - 1}","rows":1},"statements":[{"tablesRead":["public.pgbench_accounts"],"tablesWritten":[],"text":"SELECT abalance FROM pgbench_accounts WHERE aid = ${(i * 7919) % 100000};","verb":"sql:select"}],"verdict":{"decision":"${i % 50 === 0 ? "deny" : "allow"}","reason":"allowed by policy bench.cedar:0","rules":["bench.cedar:0"]}}`;
store.appendHashed([event("session_start", start)]);
const batches = [];
for (let g = 0; g < groups; g++) {
  const batch = [];
  for (let k = 0; k < GROUP; k++) batch.push(event("operation", body(g * GROUP + k)));
  batches.push(batch);
}
const before = process.cpuUsage();
for (const batch of batches) store.appendHashed(batch);
const used = process.cpuUsage(before);
const sessions = store.listSessions ? await store.listSessions({}) : [];
console.log(
  JSON.stringify({
    events: groups * GROUP,
    cpuMicrosPerEvent: Math.round(((used.user + used.system) / (groups * GROUP)) * 100) / 100,
    operations: sessions[0]?.operations,
    denied: sessions[0]?.denied,
  }),
);
store.close();
rmSync(dir, { recursive: true, force: true });

async function sinkLoop(hundreds) {
  const { openSqliteAuditSink } = await import(`${root}/store/sqlite-audit-sink.js`);
  const { foldResult } = await import(`${root}/audit/folded-result.js`);
  const { operationRecord, resultRecord } = await import(`${root}/pipeline/operation-record.js`);
  const { recordedSessionFacts } = await import(`${root}/audit/session-facts.js`);
  const { statSync } = await import("node:fs");
  const batch = Number(process.env.BENCH_BATCH ?? 100);
  const dir = mkdtempSync(join(tmpdir(), "sink-"));
  const sink = await openSqliteAuditSink(join(dir, "latch.db"), join(dir, "audit.journal"));
  const sessionId = "3f6c1a52-8d0e-4b43-9a57-4c1f0e9b2d11";
  const identity = { subject: "bench", issuer: "latch-dev", groups: ["bench"], claims: {} };
  const context = { clientAddress: "127.0.0.1:51234", connectionLabels: {} };
  const verdict = { decision: "allow", rules: ["bench.cedar:0"], reason: "allowed by policy bench.cedar:0" };
  const step = {
    text: "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
    action: "sql:select",
    accesses: [{ action: "sql:select", resource: { type: "Table", name: "public.pgbench_accounts" } }],
    facts: { readOnly: true, hasWhere: true, tableCount: 1, command: "" },
    recorded: { tablesRead: ["public.pgbench_accounts"], tablesWritten: [] },
  };
  const operationOf = (i) => ({
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
  const sessionStart = {
    protocol: "postgres",
    connection: "bench",
    subject: "bench",
    groups: ["bench"],
    issuer: "latch-dev",
    clientAddress: context.clientAddress,
    clientUser: "bench",
    tls: false,
  };
  const startEvent = { kind: "session_start", sessionId, data: sessionStart };
  recordedSessionFacts.note(startEvent);
  sink.append([startEvent]);
  await sink.flush();
  const sizes = () =>
    statSync(join(dir, "latch.db")).size +
    (statSync(join(dir, "latch.db-wal"), { throwIfNoEntry: false })?.size ?? 0);
  const dbBefore = sizes();
  let journalBytes = 0;
  const before = process.cpuUsage();
  for (let i = 1; i <= hundreds * 100; i++) {
    const body = operationRecord(operationOf(i), verdict, context);
    sink.append([
      { kind: "operation", sessionId, data: foldResult(body, resultRecord(operationOf(i - 1), result)) },
    ]);
    if (i % batch === 0) await sink.flush();
  }
  await sink.flush();
  const used = process.cpuUsage(before);
  journalBytes = statSync(join(dir, "audit.journal")).size;
  const events = hundreds * 100;
  console.log(
    JSON.stringify({
      events,
      journalBytesPerEvent: Math.round(journalBytes / (events + 1)),
      dbBytesPerEvent: Math.round((sizes() - dbBefore) / events),
      cpuMicrosPerEvent: Math.round(((used.user + used.system) / events) * 100) / 100,
    }),
  );
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
