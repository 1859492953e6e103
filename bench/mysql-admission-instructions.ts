/**
 * Instructions of one MySQL point select's classification and policy decision in process, the part of a
 * statement's admission that depends on its text: `classify()` of sysbench's `SELECT c FROM sbtest1 WHERE id=N`
 * then `authorize()` of its steps on the Cedar engine with bench/mysql-counters.ts' policy, as the session runs
 * them. Three workloads: the same text again (exact-cache hit), a cycle of 20,000 texts over 10,000 ids, and
 * every id new (no exact hit possible: the shape cache and the admission memo must answer).
 * Deterministic under callgrind, which counts only what runs between two `os.loadavg()` calls:
 *   valgrind --tool=callgrind --dump-before=uv_loadavg --callgrind-out-file=/tmp/adm.%p \
 *     node --single-threaded --import tsx bench/mysql-admission-instructions.ts [repeat|cycle|fresh]
 * then `callgrind_annotate` of the second dump (or read its `summary:` line) / 10,000 statements.
 * BENCH_LATCH_DIST=<dist of another build> counts another commit (default: this tree's dist/, `npm run build`).
 * Without valgrind it prints µs per statement (wall time: indicative only).
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const dist =
  process.env.BENCH_LATCH_DIST ?? fileURLToPath(new URL("../dist/", import.meta.url).href).replace(/\/$/, "");
const load = async (path: string) => import(pathToFileURL(join(dist, path)).href);
const { createMysqlClassifier, loadMysqlParser } = await load("src/sql/mysql/create-classifier.js");
const { createCedarPolicyEngine } = await load("src/policy/create-cedar-engine.js");
const { parsePolicySources } = await load("src/policy/load-policies.js");

const POLICY = `permit(principal in Group::"bench", action in [Action::"sql:select", Action::"sql:session", Action::"sql:set"], resource in Connection::"sb");`;
const workload = process.argv[2] ?? "fresh";
const WARM = 20_000;
const COUNTED = 10_000;

await loadMysqlParser();
const classifier = createMysqlClassifier();
const engine = createCedarPolicyEngine(parsePolicySources([{ file: "bench.cedar", text: POLICY }]));
const identity = { subject: "counter", issuer: "dev", groups: ["bench"], expiresAt: Date.now() + 7_200_000 };
const labels = {};
const now = new Date();

const idOf = (i: number): number => {
  if (workload === "repeat") return 42;
  if (workload === "cycle") return 1 + ((i * 7919) % 10_000);
  return 1 + i; // fresh: every id new
};

let denied = 0;
function admit(i: number): void {
  const result = classifier.classify(`SELECT c FROM sbtest1 WHERE id=${idOf(i)}`, "sbtest");
  if (!result.ok) throw new Error(result.reason);
  const verdict = engine.authorize({
    identity,
    connection: "sb",
    connectionLabels: labels,
    steps: result.statements.map((s: { step: unknown }) => s.step),
    clientAddress: "127.0.0.1",
    now,
  });
  if (verdict.decision !== "allow") denied++;
}

/** `count` admissions from the `from`th: one function for the warm-up and the counted part (see
 * bench/mysql-session-instructions.ts: a loop at module level is recompiled inside the counted window). */
function run(from: number, count: number): void {
  for (let i = from; i < from + count; i++) admit(i);
}

run(0, WARM);
const started = performance.now();
loadavg(); // callgrind dumps here (--dump-before=uv_loadavg): the counted part starts
run(WARM, COUNTED);
loadavg(); // and ends here
const micros = ((performance.now() - started) * 1000) / COUNTED;
if (denied > 0) throw new Error(`${denied} point selects were denied`);
console.log(`${workload}: ${COUNTED} statements counted, ${micros.toFixed(2)} µs each (wall time)`);
