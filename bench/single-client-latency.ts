/**
 * `-c 1` added latency only, interleaved: `node --import tsx bench/single-client-latency.ts [rounds] [seconds]`
 * (after `npm run build`). Starts the PostgreSQL section's services (cluster, PgBouncer, the bare Node relay,
 * `latch serve`), then per round runs `pgbench -n -S -c 1 -T <seconds> -l` against direct, pgbouncer,
 * node-floor and latch in turn, simple and prepared, and prints each target's p50 and p50 added over direct of
 * that round, and the median over the rounds of each ratio to PgBouncer's added p50. Rounds interleave the
 * targets so a load swing hits all of them; the full bench's `-c 1` row measures each target once.
 * BENCH_LATCH_CLI measures another build; BENCH_LATCH_CLI_BEFORE adds a second gateway of another build (e.g. a
 * copy of the previous commit's dist/) as target "latch-before", measured in the same rounds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLatencyLog } from "./latency-log.js";
import { median } from "./median.js";
import { type QueryMode, runPgbench } from "./pgbench.js";
import { startPostgresServices } from "./postgres-services.js";
import { findBenchTools } from "./required-tools.js";
import { startLatch } from "./start-latch.js";

const rounds = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 3);
const found = findBenchTools();
if ("missingPackages" in found) throw new Error(`missing: ${found.missingPackages.join(" ")}`);
const { tools } = found;
const stops: (() => Promise<void>)[] = [];
const services = await startPostgresServices(
  tools,
  { replicas: false, workers: 0, floorWorkers: 0, progress: (m) => console.error(m) },
  (stop) => stops.push(stop),
);
const dir = await mkdtemp(join(tmpdir(), "latch-c1-"));
const beforeCli = process.env.BENCH_LATCH_CLI_BEFORE;
if (beforeCli !== undefined && beforeCli !== "") {
  const { cluster } = services;
  const base = await startLatch({
    cli: beforeCli,
    upstreamPort: cluster.port,
    upstreamUser: cluster.appUser,
    upstreamPassword: cluster.appPassword,
    database: cluster.appDatabase,
    policyDir: join(cluster.dataDir, "..", "latch-policies-before"),
  });
  stops.push(() => base.stop());
  services.targets.push({
    name: "latch-before",
    host: "127.0.0.1",
    port: base.port,
    user: "bench",
    database: "bench",
    password: base.token,
  });
}
try {
  const targets = services.targets.filter((t) =>
    ["direct", "pgbouncer", "node-floor", "latch", "latch-before"].includes(t.name),
  );
  const modes: QueryMode[] = ["simple", "prepared"];
  for (const target of targets) for (const mode of modes) await runPgbench(tools.pgbench, target, mode, 1, 1);
  const ratios: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const p50: Record<string, number> = {};
      for (const target of targets) {
        const prefix = join(dir, `${round}-${mode}-${target.name}`);
        await runPgbench(tools.pgbench, target, mode, seconds, 1, { logPrefix: prefix });
        p50[target.name] = (await readLatencyLog(prefix)).p50Ms * 1000;
      }
      const added = (name: string) => p50[name]! - p50.direct!;
      const line = targets.map((t) => `${t.name} ${p50[t.name]!.toFixed(0)}`).join("  ");
      const parts: string[] = [];
      for (const name of targets.map((t) => t.name).filter((n) => n !== "direct" && n !== "pgbouncer")) {
        const ratio = added(name) / added("pgbouncer");
        const key = `${mode} ${name}`;
        ratios[key] = [...(ratios[key] ?? []), ratio];
        parts.push(`${name} +${added(name).toFixed(0)} (${ratio.toFixed(2)}x)`);
      }
      console.log(
        `round ${round} ${mode.padEnd(8)} p50 µs: ${line} | added: pgbouncer +${added("pgbouncer").toFixed(0)} ${parts.join(" ")} | load ${(await import("node:os")).loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
  for (const [key, values] of Object.entries(ratios))
    console.log(`median added ÷ pgbouncer, ${key}: ${median(values).toFixed(2)}x`);
} finally {
  await rm(dir, { recursive: true, force: true });
  for (const stop of stops) await stop();
}
