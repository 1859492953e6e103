/**
 * Connect latency only (issue 12's connect goal), for working on it: one throwaway SCRAM cluster, PgBouncer
 * and one or two Latch builds, connect + SELECT 1 + close cycles interleaved round-robin over the targets (so
 * load from other processes hits every target alike), wall-clock p50/p99 per target and the CPU time each
 * proxy process spent per connect (utime + stime from /proc, the figure noise disturbs least).
 *
 *   npx tsx bench/connect-probe.ts                        # this worktree's dist
 *   BENCH_LATCH_CLI_BEFORE=<other dist>/src/cli/main.js npx tsx bench/connect-probe.ts   # adds "latch-before"
 *   BENCH_PROBE_NOPOOL=0 drops the "latch-nopool" row (this build without `pool:`, every session dials upstream)
 *   BENCH_CONNECTS=400 (default 300) BENCH_PROBE_ROUNDS=3 (default 1)
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { startPgCluster } from "../test/support/pg-cluster.js";
import { percentile } from "./connect-latency.js";
import type { PgTarget } from "./pgbench.js";
import { treeCpuSeconds } from "./proc-cpu.js";
import { findBenchTools } from "./required-tools.js";
import { LATCH_CLI, type RunningLatch, startLatch } from "./start-latch.js";
import { startPgBouncer } from "./start-pgbouncer.js";

const count = Number(process.env.BENCH_CONNECTS ?? 300);
const rounds = Number(process.env.BENCH_PROBE_ROUNDS ?? 1);

async function connectOnce(target: PgTarget): Promise<number> {
  const started = performance.now();
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    ssl: false,
  });
  await client.connect();
  try {
    await client.query("SELECT 1");
  } finally {
    await client.end();
  }
  return performance.now() - started;
}

async function main(): Promise<void> {
  const found = findBenchTools();
  if ("missingPackages" in found) throw new Error(`missing ${found.missingPackages.join(" ")}`);
  const cluster = await startPgCluster({ auth: "scram-sha-256", settings: { max_connections: "200" } });
  const gateways: RunningLatch[] = [];
  const stops: Array<() => Promise<void>> = [() => cluster.stop()];
  try {
    const pgbouncer = await startPgBouncer({
      pgbouncerPath: found.tools.pgbouncer,
      upstreamPort: cluster.port,
      upstreamUser: cluster.appUser,
      upstreamPassword: cluster.appPassword,
      database: cluster.appDatabase,
    });
    stops.unshift(() => pgbouncer.stop());
    const direct: PgTarget = {
      name: "direct",
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      database: cluster.appDatabase,
      password: cluster.appPassword,
    };
    const targets: Array<{ target: PgTarget; pid?: number; adminPort?: number }> = [
      { target: direct },
      { target: { ...direct, name: "pgbouncer", port: pgbouncer.port }, pid: pgbouncer.pid },
    ];
    const builds: Array<[string, string, boolean]> = [["latch", LATCH_CLI, true]];
    if (process.env.BENCH_PROBE_NOPOOL !== "0") builds.push(["latch-nopool", LATCH_CLI, false]);
    const before = process.env.BENCH_LATCH_CLI_BEFORE;
    if (before !== undefined && before !== "") builds.unshift(["latch-before", before, true]);
    for (const [name, cli, pooled] of builds) {
      const latch = await startLatch({
        cli,
        ...(pooled ? {} : { pool: false as const }),
        upstreamPort: cluster.port,
        upstreamUser: cluster.appUser,
        upstreamPassword: cluster.appPassword,
        database: cluster.appDatabase,
        policyDir: `${cluster.dataDir}/../policies-${name}`,
      });
      gateways.push(latch);
      stops.unshift(() => latch.stop());
      targets.push({
        target: {
          // PgTarget names the bench's fixed rows; this probe's second build is an extra one.
          name: name as PgTarget["name"],
          host: "127.0.0.1",
          port: latch.port,
          user: "bench",
          database: "bench",
          password: latch.token,
        },
        pid: latch.pid,
        adminPort: latch.adminPort,
      });
    }
    for (const { target } of targets) for (let i = 0; i < 30; i++) await connectOnce(target); // warm-up
    for (let round = 0; round < rounds; round++) {
      const samples = new Map<string, number[]>(targets.map(({ target }) => [target.name, []]));
      const cpuBefore = targets.map(({ pid }) => (pid === undefined ? 0 : treeCpuSeconds(pid)));
      // CLOCK_MONOTONIC in µs, the clock of a --cpu-prof profile's timestamps: to cut it to the measured part.
      const mark = () => (process.hrtime.bigint() / 1000n).toString();
      const startedAt = mark();
      for (let i = 0; i < count; i++)
        for (const { target } of targets) samples.get(target.name)!.push(await connectOnce(target));
      console.log(`measured between monotonic ${startedAt} and ${mark()} µs`);
      const cpuAfter = targets.map(({ pid }) => (pid === undefined ? 0 : treeCpuSeconds(pid)));
      const p50 = (name: string) =>
        percentile(
          samples.get(name)!.sort((a, b) => a - b),
          0.5,
        );
      console.log(`round ${round + 1}: ${count} connect + SELECT 1 + close per target, interleaved`);
      console.log("target          p50 ms  p99 ms  proxy CPU µs/connect  p50 ÷ pgbouncer");
      targets.forEach(({ target, pid }, i) => {
        const sorted = samples.get(target.name)!;
        const cpu = pid === undefined ? "" : (((cpuAfter[i]! - cpuBefore[i]!) * 1e6) / count).toFixed(0);
        console.log(
          `${target.name.padEnd(14)} ${p50(target.name).toFixed(2).padStart(7)} ${percentile(sorted, 0.99)
            .toFixed(2)
            .padStart(
              7,
            )} ${cpu.padStart(21)} ${(p50(target.name) / p50("pgbouncer")).toFixed(2).padStart(15)}x`,
        );
      });
      // How many connects the pool served (counted since start, warm-up included): a count, not a timing.
      for (const { target, adminPort } of targets) {
        if (adminPort === undefined) continue;
        const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
        const count = (result: string) =>
          metrics
            .split("\n")
            .find((line) =>
              line.startsWith(`latch_upstream_pool_checkouts_total{connection="bench",result="${result}"}`),
            )
            ?.split(" ")
            .pop() ?? "0";
        console.log(`${target.name}: pool checkouts hit ${count("hit")} miss ${count("miss")}`);
      }
    }
  } finally {
    for (const stop of stops) await stop().catch(() => {});
  }
}

await main();
