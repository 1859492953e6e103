import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { APPROVAL_POLICY, measureApprovalRelease } from "./approval-release.js";
import { measureConnectLatency } from "./connect-latency.js";
import { measureIdleSessions } from "./idle-sessions.js";
import { readLatencyLog } from "./latency-log.js";
import { runManyClients } from "./many-clients.js";
import { type PgTarget, runPgbench, runPgbenchSpread } from "./pgbench.js";
import { benchWorkerCount, floorWorkerCount, startPostgresServices } from "./postgres-services.js";
import { cpuDuring } from "./proc-cpu.js";
import {
  formatConnectTable,
  formatFailures,
  formatPgbenchTable,
  formatSingleClientTable,
  type MeasuredRun,
  MODES,
  type Outcome,
  type PostgresResults,
  REQUIRED_TARGETS,
  ratiosFor,
  VARIANTS,
} from "./report.js";
import { findBenchTools } from "./required-tools.js";
import type { BenchSection, SectionContext } from "./sections.js";
import { startLatch } from "./start-latch.js";

const execFileAsync = promisify(execFile);

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

async function attempt<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** Facts about the tools measured, for latest.json's environment. */
export const postgresFacts: Record<string, string> = {};

/**
 * pgbench select-only throughput with CPU per transaction (plaintext and TLS), `-c 1` latency, connect latency,
 * idle-session RSS, 128 concurrent clients, and the replica rows, against one throwaway PostgreSQL 15 cluster.
 */
export const postgresSection: BenchSection = {
  name: "postgres",
  title: "PostgreSQL: direct vs PgBouncer vs bare Node relay vs Latch",
  async run(ctx: SectionContext) {
    const found = findBenchTools();
    if ("missingPackages" in found) {
      const packages = found.missingPackages.join(" ");
      throw new Error(
        `missing Debian packages: ${packages}\n  install them with: apt-get install ${packages}`,
      );
    }
    const { tools } = found;
    const quick = ctx.quick;
    const seconds = positiveInteger("BENCH_SECONDS", quick ? 2 : 15);
    const singleSeconds = positiveInteger("BENCH_SINGLE_SECONDS", quick ? 2 : 10);
    const connectCount = positiveInteger("BENCH_CONNECTS", quick ? 30 : 200);
    const idleCount = positiveInteger("BENCH_IDLE_SESSIONS", quick ? 200 : 1000);
    const manyCount = positiveInteger("BENCH_MANY_CLIENTS", 128);
    const approvalCount = positiveInteger("BENCH_APPROVALS", 50);
    const { progress } = ctx;

    const services = await startPostgresServices(
      tools,
      { replicas: !quick, workers: benchWorkerCount(quick), floorWorkers: floorWorkerCount(), progress },
      ctx.onStop,
    );
    try {
      const { targets, spread, latch, pgbouncer, postmasterPid } = services;
      // The replicas listed before the approval run starts more: [0] serves latch-pg, both serve latch-pg-x2.
      const replicaPids = services.replicas.map((replica) => replica.pid);
      const proxyPids = (target: PgTarget): number[] => {
        if (target.name === "pgbouncer") return [pgbouncer.pid];
        // A floor's whole tree: with node:cluster, the primary (accepting, handing on) and every worker.
        const floor = services.floors.find((f) => f.name === target.name);
        if (floor !== undefined) return [(target.tls ? floor.tls : floor.plain)?.pid ?? floor.plain.pid];
        if (target.name === "latch") return latch === undefined ? [] : [latch.pid];
        if (target.name === "latch-pg") return replicaPids.slice(0, 1);
        if (target.name === "latch-pg-x2") return replicaPids;
        // The primary's tree: every worker process (and the primary, which accepts and hands connections on).
        if (target.name === "latch-pg-workers")
          return services.workers === undefined ? [] : [services.workers.latch.pid];
        return [];
      };

      // JIT and caches warm in every process before anything is timed (the replica rows excepted, for time).
      const warmed = (t: PgTarget) => !t.name.startsWith("latch-pg") || t.name === "latch-pg-workers";
      for (const target of targets.filter(warmed)) {
        progress(`warm-up: pgbench select-only ${target.name} ${quick ? 1 : 3}s...`);
        for (const mode of MODES)
          await runPgbench(tools.pgbench, target, mode, quick ? 1 : 3).catch(() => undefined);
      }

      const runs: PostgresResults["pgbench"]["runs"] = {};
      for (const variant of VARIANTS) {
        const byTarget: NonNullable<(typeof runs)[typeof variant.name]> = {};
        runs[variant.name] = byTarget;
        // The replica and cluster rows measure the store and the cores, not the transport: plaintext only.
        const measured = targets.filter((t) => !variant.tls || !onlyPlaintext(t));
        for (const plain of measured) {
          const target = { ...plain, tls: variant.tls };
          progress(`pgbench ${variant.name} ${target.name} ${seconds}s...`);
          const across = spread.get(target.name);
          const outcome = await attempt(async (): Promise<MeasuredRun> => {
            const { result, cpuSeconds } = await cpuDuring(
              { proxy: proxyPids(target), db: [postmasterPid] },
              () =>
                across === undefined
                  ? runPgbench(tools.pgbench, target, variant.mode, seconds)
                  : runPgbenchSpread(tools.pgbench, across, variant.mode, seconds),
            );
            const perTxn = (s: number | undefined) =>
              s === undefined || result.transactions === 0 ? null : (s * 1e6) / result.transactions;
            return {
              ...result,
              proxyCpuUsPerTxn: perTxn(cpuSeconds.proxy),
              dbCpuUsPerTxn: perTxn(cpuSeconds.db),
            };
          });
          byTarget[target.name] = outcome;
          progress(
            outcome.ok
              ? `  ${outcome.value.tps.toFixed(0)} TPS, proxy ${outcome.value.proxyCpuUsPerTxn?.toFixed(1) ?? "n/a"} µs CPU/txn`
              : `  failed: ${outcome.error}`,
          );
        }
        if (services.latchError) byTarget.latch = { ok: false, error: services.latchError };
      }

      const single: PostgresResults["singleClient"] = { seconds: singleSeconds, results: {} };
      const logDir = await mkdtemp(join(tmpdir(), "latch-bench-txlog-"));
      try {
        for (const mode of MODES) {
          const byTarget: NonNullable<(typeof single.results)[typeof mode]> = {};
          single.results[mode] = byTarget;
          for (const target of targets.filter((t) => !onlyPlaintext(t))) {
            progress(`pgbench -c 1 ${mode} ${target.name} ${singleSeconds}s, per-transaction log...`);
            const prefix = join(logDir, `${mode}-${target.name}`);
            byTarget[target.name] = await attempt(async () => {
              await runPgbench(tools.pgbench, target, mode, singleSeconds, 1, { logPrefix: prefix });
              return readLatencyLog(prefix);
            });
          }
        }
      } finally {
        await rm(logDir, { recursive: true, force: true });
      }

      const connect: PostgresResults["connect"] = { count: connectCount, results: {} };
      const connectTargets = targets.filter((t) => !["latch-pg-x2", "node-floor-workers"].includes(t.name));
      // Beside the pooled connection, the same gateway's connection without a pool: every session dials and
      // logs in upstream (what the goal's "upstream SCRAM" names), so both connect costs are on the table.
      const pooled = targets.find((t) => t.name === "latch");
      if (pooled !== undefined)
        connectTargets.splice(connectTargets.indexOf(pooled) + 1, 0, {
          ...pooled,
          name: "latch-nopool",
          database: "bench-nopool",
        });
      for (const target of connectTargets) {
        progress(`connect latency ${target.name}: ${connectCount} sequential connect + SELECT 1 + close...`);
        connect.results[target.name] = await attempt(() => measureConnectLatency(target, connectCount));
      }

      const results: PostgresResults = {
        pgbench: {
          command: `pgbench -n -S -c 8 -j 2 -T ${seconds} -M <mode> [sslmode=require]`,
          scale: 10,
          seconds,
          runs,
          ratios: Object.fromEntries(VARIANTS.map((v) => [v.name, ratiosFor(runs[v.name] ?? {})])),
        },
        singleClient: single,
        connect,
      };
      const latchTarget = targets.find((t) => t.name === "latch");
      if (latch !== undefined && latchTarget !== undefined) {
        const fdLimit = (await execFileAsync("sh", ["-c", "ulimit -n"])).stdout.trim();
        progress(
          `idle sessions: opening ${idleCount} authenticated sessions through a fresh latch (ulimit -n ${fdLimit})...`,
        );
        // A fresh gateway: one whose heap the load runs already grew would hide the sessions' memory.
        results.idleSessions = await attempt(async () => {
          const fresh = await services.startFreshLatch();
          const target = { ...latchTarget, port: fresh.port, password: fresh.token };
          return measureIdleSessions(target, fresh.pid, idleCount, fdLimit);
        });
        progress(`${manyCount} concurrent pgbench clients through latch...`);
        results.manyClients = await attempt(() =>
          runManyClients(tools.pgbench, latchTarget, manyCount, quick ? 3 : 10),
        );
      }

      // Approval through replica A releasing a statement held on replica B (own policy: writes need an approver).
      if (services.replicas.length === 2) {
        progress(`approval release across replicas: ${approvalCount} held statements...`);
        const { cluster } = services;
        results.approvalRelease = await attempt(async () => {
          const options = {
            upstreamPort: cluster.port,
            upstreamUser: cluster.appUser,
            upstreamPassword: cluster.appPassword,
            database: cluster.appDatabase,
            policyDir: join(cluster.dataDir, "..", "latch-approval-policies"),
            policy: APPROVAL_POLICY,
            store: services.storeFor(cluster),
          };
          const approvingA = await startLatch({ ...options, sameIssuerAs: services.replicas[0]!.dataDir });
          services.replicas.push(approvingA);
          const holdingB = await startLatch({ ...options, sameIssuerAs: services.replicas[0]!.dataDir });
          services.replicas.push(holdingB);
          return measureApprovalRelease(holdingB, approvingA, approvalCount);
        });
      }

      postgresFacts.pgbouncer =
        (await execFileAsync(tools.pgbouncer, ["--version"])).stdout.split("\n")[0] ?? "";
      postgresFacts.postgres = (await services.cluster.query("SHOW server_version")).rows[0]
        .server_version as string;
      return {
        text: formatPostgres(results, connectCount, services.workers?.count, floorWorkerCount()),
        json: results,
        complete: REQUIRED_TARGETS.every((t) => MODES.every((mode) => runs[mode]?.[t]?.ok)),
      };
    } finally {
      progress("stopping PostgreSQL services...");
      await services.stop();
    }
  },
};

/** Rows measured in plaintext only, at 8 clients only: the replicas and the clusters (store and cores, not TLS). */
const onlyPlaintext = (target: PgTarget) =>
  target.name.startsWith("latch-pg") || target.name === "node-floor-workers";

function formatPostgres(
  results: PostgresResults,
  connectCount: number,
  workers: number | undefined,
  floorWorkers: number,
): string {
  const parts = [
    `${results.pgbench.command}, scale 10; CPU per transaction from /proc (utime+stime)`,
    formatPgbenchTable(results.pgbench),
    "processes relaying: pgbouncer 1 (single-threaded); latch 1 event loop; node-floor 1 (bench/node-floor.mjs tcp, pg-tls for TLS: nothing but a socket pipe)" +
      (floorWorkers > 0
        ? `; node-floor-workers ${floorWorkers} (node:cluster workers, the primary hands each connection on; CPU summed over all)`
        : ""),
    ...(workers === undefined
      ? []
      : [
          `latch-pg-workers: Latch, ${workers} workers (PostgreSQL store), \`latch serve --workers ${workers}\`; its proxy CPU is summed over the primary and every worker process`,
        ]),
    `\n-c 1 per-transaction latency (pgbench -l), ${results.singleClient.seconds}s per run`,
    formatSingleClientTable(results.singleClient),
    `\nconnect + SELECT 1 + close, ${connectCount} sequential`,
    formatConnectTable(results.connect),
  ];
  const idle = results.idleSessions;
  if (idle?.ok) {
    const v = idle.value;
    parts.push(
      `\nidle sessions through a fresh latch: ${v.sessions} open, RSS ${v.rssBeforeMb.toFixed(0)} -> ${v.rssAfterMb.toFixed(0)} MB (+${v.growthMb.toFixed(0)} MB, ${v.perSessionKb.toFixed(0)} KiB/session; ulimit -n ${v.fdLimit})`,
    );
  }
  const many = results.manyClients;
  if (many?.ok) {
    const v = many.value;
    parts.push(
      `${v.clients} concurrent pgbench clients through latch, ${v.seconds}s: ${v.transactions} transactions, ${v.tps.toFixed(0)} TPS, ${v.errors} errors${v.firstErrors.length > 0 ? ` (${v.firstErrors.join("; ")})` : ""}`,
    );
  }
  const approval = results.approvalRelease;
  if (approval !== undefined) {
    parts.push(
      approval.ok
        ? `approval through replica A -> held statement's result on replica B, ${approval.value.count} times: p50 ${approval.value.p50Ms.toFixed(1)} ms, p99 ${approval.value.p99Ms.toFixed(1)} ms, max ${approval.value.maxMs.toFixed(1)} ms`
        : `approval release across replicas: not measured: ${approval.error}`,
    );
  }
  const failures = formatFailures(results);
  if (failures.length > 0) parts.push(`\nnot measured:\n${failures.map((line) => `  - ${line}`).join("\n")}`);
  return parts.join("\n");
}
