/**
 * Instructions of the pipeline's authorize step for pgbench -S statements from several sessions of one token
 * (they share one Identity object and one classified step, and differ in client port), for callgrind:
 *
 *   npm run build
 *   valgrind --tool=callgrind node --single-threaded bench/hot-path-authorize.mjs 20000
 *   valgrind --tool=callgrind node --single-threaded bench/hot-path-authorize.mjs 100000
 *
 * (instructions of the second minus the first) / 80000 = per statement; start-up and JIT compilation cancel.
 * BENCH_DIST=<other build>/dist/src measures another build; BENCH_SESSIONS (default 8) interleaved sessions.
 */
const dist = process.env.BENCH_DIST ?? new URL("../dist/src", import.meta.url).pathname;
const { createCedarPolicyEngine } = await import(`${dist}/policy/create-cedar-engine.js`);
const { parsePolicySources } = await import(`${dist}/policy/load-policies.js`);
const { createStatementClassifier } = await import(`${dist}/sql/postgres/create-classifier.js`);
const { loadSqlParser } = await import(`${dist}/sql/postgres/load-parser.js`);
await loadSqlParser();

const iterations = Number(process.argv[2] ?? 20000);
const sessions = Number(process.env.BENCH_SESSIONS ?? 8);
const engine = createCedarPolicyEngine(
  parsePolicySources([
    {
      file: "bench.cedar",
      text: 'permit(principal in Group::"bench", action, resource in Connection::"bench");\n',
    },
  ]),
);
const classified = createStatementClassifier().classify(
  "SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
);
if (!classified.ok) throw new Error(classified.reason);
const steps = classified.statements.map((statement) => statement.step);
const identity = {
  subject: "bench",
  issuer: "https://issuer.test",
  groups: ["bench"],
  expiresAt: Date.now() + 3.6e6,
};
const connectionLabels = {};
const clients = Array.from({ length: sessions }, (_, i) => `127.0.0.1:${40000 + i}`);
const now = new Date();

let allowed = 0;
const run = (count) => {
  for (let i = 0; i < count; i++) {
    // The request object as the pipeline builds it per statement.
    const verdict = engine.authorize({
      identity,
      connection: "bench",
      connectionLabels,
      steps,
      clientAddress: clients[i % sessions],
      now,
    });
    if (verdict.decision === "allow") allowed++;
  }
};
run(3000);
run(iterations);
if (allowed !== 3000 + iterations) throw new Error(`expected every statement allowed, got ${allowed}`);
console.log(`authorized ${iterations} statements from ${sessions} sessions`);
