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
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = process.env.BENCH_DIST ?? new URL("../dist/src", import.meta.url).href;
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
