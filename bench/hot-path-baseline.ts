/**
 * `npm run bench:baseline`: measures the hot-path counters (bench/hot-path-counters.ts) a few times on the
 * compiled `latch serve` and writes their medians to bench/baseline/hot-path.json, the numbers the CI guard
 * (test/bench/hot-path-guard.test.ts) compares against. Run it deliberately, after `npm run build`, when a
 * change is meant to move the counters, and commit the file with the reason.
 *
 *   npm run build && npm run bench:baseline [-- --runs 3]
 */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { countHotPath, GUARD_TRANSACTIONS, startHotPathRig } from "./hot-path-counters.js";
import { BASELINE_FILE, flattenCounts, type HotPathBaseline, readBaseline } from "./hot-path-guard.js";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg === -1 ? 3 : Number(process.argv[runsArg + 1]);
if (!Number.isInteger(runs) || runs < 1) {
  console.error("usage: npm run bench:baseline [-- --runs <n>]   (n >= 1, default 3)");
  process.exit(1);
}

const samples: Record<string, number[]> = {};
const rig = await startHotPathRig();
try {
  for (let i = 0; i < runs; i++) {
    console.log(
      `[baseline] run ${i + 1} of ${runs}: pgbench -S -c 1 -t ${GUARD_TRANSACTIONS}, simple and prepared...`,
    );
    const counts = await countHotPath(rig, GUARD_TRANSACTIONS);
    for (const [name, value] of Object.entries(flattenCounts(counts))) {
      samples[name] = [...(samples[name] ?? []), value];
    }
    console.log(JSON.stringify(counts.syscalls));
  }
} finally {
  await rig.stop();
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number) => Math.round(value * 1000) / 1000;
let previous: HotPathBaseline | undefined;
try {
  previous = readBaseline();
} catch {
  previous = undefined;
}
const baseline: HotPathBaseline = {
  about:
    "Per-transaction counts on the relay hot path of the compiled latch serve; the CI guard fails when one rises by more than `tolerance`. Update deliberately: npm run build && npm run bench:baseline",
  workload: `pgbench -n -S -c 1 -t ${GUARD_TRANSACTIONS} -M simple|prepared through latch serve (embedded store, allow-all policy), after a warm-up`,
  tolerance: previous?.tolerance ?? 0.2,
  updatedAt: new Date().toISOString(),
  gitCommit: execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8" }).trim(),
  counters: Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [name, round(median(values))]),
  ),
  spread: Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [
      name,
      { min: round(Math.min(...values)), max: round(Math.max(...values)) },
    ]),
  ),
};
await mkdir(dirname(BASELINE_FILE), { recursive: true });
await writeFile(BASELINE_FILE, `${JSON.stringify(baseline, null, 2)}\n`);
for (const [name, value] of Object.entries(baseline.counters)) {
  const was = previous?.counters[name];
  console.log(`${name}: ${value}${was === undefined ? "" : ` (was ${was})`}`);
}
console.log(`wrote ${BASELINE_FILE}: commit it with the reason for the change`);
