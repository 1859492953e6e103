/**
 * `npm run bench`: pgbench select-only throughput and connect latency, direct vs PgBouncer vs Latch, against
 * one throwaway PostgreSQL 15 cluster with SCRAM. See bench/README.md for what the numbers mean.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type PgCluster, startPgCluster } from "../test/support/pg-cluster.js";
import { APPROVAL_POLICY, type ApprovalRelease, measureApprovalRelease } from "./approval-release.js";
import { measureConnectLatency } from "./connect-latency.js";
import { type PgTarget, runPgbench, runPgbenchSpread } from "./pgbench.js";
import {
  type BenchResults,
  formatConnectTable,
  formatFailures,
  formatPgbenchTable,
  MODES,
  type Outcome,
  REQUIRED_TARGETS,
  ratiosFor,
} from "./report.js";
import { findBenchTools } from "./required-tools.js";
import { type RunningLatch, startLatch } from "./start-latch.js";
import { type RunningPgBouncer, startPgBouncer } from "./start-pgbouncer.js";

const execFileAsync = promisify(execFile);
const SCALE = 10;
const RESULTS_FILE = fileURLToPath(new URL("./results/latest.json", import.meta.url));

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  return value;
}

/** Set on Ctrl-C: services are being stopped, so later failures are expected and not reported. */
let interrupted = false;

function progress(message: string): void {
  if (interrupted) return;
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function attempt<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (interrupted) throw error;
    return { ok: false, error: (error as Error).message };
  }
}

const found = findBenchTools();
if ("missingPackages" in found) {
  const packages = found.missingPackages.join(" ");
  console.error(
    `bench: missing Debian packages: ${packages}\n  install them with: apt-get install ${packages}`,
  );
  process.exit(1);
}
const { tools } = found;
const seconds = positiveInteger("BENCH_SECONDS", 15);
const connectCount = positiveInteger("BENCH_CONNECTS", 200);
const approvalCount = positiveInteger("BENCH_APPROVALS", 50);

/** The shared store's database on the bench cluster (created before the first replica starts). */
const storeFor = (pg: PgCluster) => ({
  url: `postgres://${pg.appUser}@127.0.0.1:${pg.port}/latch_store`,
  password: pg.appPassword,
});

let cluster: PgCluster | undefined;
let pgbouncer: RunningPgBouncer | undefined;
let latch: RunningLatch | undefined;
/** Latch replicas on the PostgreSQL store. */
const replicas: RunningLatch[] = [];
let cleanedUp: Promise<void> | undefined;
const cleanup = () => {
  cleanedUp ??= (async () => {
    await latch?.stop().catch(() => {});
    for (const replica of replicas) await replica.stop().catch(() => {});
    await pgbouncer?.stop().catch(() => {});
    await cluster?.stop().catch(() => {});
  })();
  return cleanedUp;
};
process.once("SIGINT", () => {
  progress("interrupted: stopping services...");
  interrupted = true;
  void cleanup().finally(() => process.exit(130));
});

try {
  progress("starting PostgreSQL 15 cluster (scram-sha-256)...");
  // Room for the whole scale-10 data set, so every target reads from the same warm buffers.
  cluster = await startPgCluster({ auth: "scram-sha-256", settings: { shared_buffers: "256MB" } });
  const direct: PgTarget = {
    name: "direct",
    host: cluster.host,
    port: cluster.port,
    user: cluster.appUser,
    database: cluster.appDatabase,
    password: cluster.appPassword,
  };

  progress(`pgbench -i -s ${SCALE}...`);
  await execFileAsync(
    tools.pgbench,
    [
      "-i",
      "-q",
      "-s",
      String(SCALE),
      "-h",
      direct.host,
      "-p",
      String(direct.port),
      "-U",
      direct.user,
      direct.database,
    ],
    { env: { ...process.env, PGPASSWORD: direct.password } },
  );

  progress("starting pgbouncer (session mode, scram-sha-256)...");
  pgbouncer = await startPgBouncer({
    pgbouncerPath: tools.pgbouncer,
    upstreamPort: cluster.port,
    upstreamUser: cluster.appUser,
    upstreamPassword: cluster.appPassword,
    database: cluster.appDatabase,
  });
  const targets: PgTarget[] = [direct, { ...direct, name: "pgbouncer", port: pgbouncer.port }];

  progress("starting latch...");
  let latchError: string | undefined;
  try {
    latch = await startLatch({
      upstreamPort: cluster.port,
      upstreamUser: cluster.appUser,
      upstreamPassword: cluster.appPassword,
      database: cluster.appDatabase,
      policyDir: join(cluster.dataDir, "..", "latch-policies"),
    });
    targets.push({
      name: "latch",
      host: "127.0.0.1",
      port: latch.port,
      user: "bench",
      database: "bench",
      password: latch.token,
    });
  } catch (error) {
    latchError = `not measured: ${(error as Error).message}`;
    console.error(
      `\nbench: LATCH NOT MEASURED. ${(error as Error).message}\n(continuing with direct and pgbouncer)\n`,
    );
  }

  // The same gateway on the shared PostgreSQL store (issue 11): one replica, then two sharing 8 clients.
  const spread = new Map<string, PgTarget[]>();
  if (latch !== undefined && process.env.BENCH_SKIP_PG_STORE !== "1") {
    progress("starting two latch replicas on a PostgreSQL store...");
    try {
      await cluster.query(
        `CREATE DATABASE latch_store OWNER ${cluster.appUser} ENCODING 'UTF8' TEMPLATE template0`,
      );
      const store = storeFor(cluster);
      const replicaOptions = {
        upstreamPort: cluster.port,
        upstreamUser: cluster.appUser,
        upstreamPassword: cluster.appPassword,
        database: cluster.appDatabase,
        policyDir: join(cluster.dataDir, "..", "latch-policies"),
        store,
      };
      const first = await startLatch(replicaOptions);
      replicas.push(first);
      replicas.push(await startLatch({ ...replicaOptions, sameIssuerAs: first.dataDir }));
      const viaReplica = (replica: RunningLatch): PgTarget => ({
        name: "latch-pg",
        host: "127.0.0.1",
        port: replica.port,
        user: "bench",
        database: "bench",
        password: first.token,
      });
      targets.push(viaReplica(first));
      const x2: PgTarget = { ...viaReplica(first), name: "latch-pg-x2" };
      targets.push(x2);
      spread.set(x2.name, replicas.map(viaReplica));
    } catch (error) {
      console.error(`\nbench: the PostgreSQL-store rows are not measured: ${(error as Error).message}\n`);
    }
  }

  progress("warm-up: pgbench select-only direct 3s...");
  await runPgbench(tools.pgbench, direct, "simple", 3);

  const runs: BenchResults["pgbench"]["runs"] = { simple: {}, prepared: {} };
  for (const mode of MODES) {
    for (const target of targets) {
      progress(`pgbench ${mode} ${target.name} ${seconds}s...`);
      const across = spread.get(target.name);
      const outcome = await attempt(() =>
        across === undefined
          ? runPgbench(tools.pgbench, target, mode, seconds)
          : runPgbenchSpread(tools.pgbench, across, mode, seconds),
      );
      runs[mode][target.name] = outcome;
      progress(
        outcome.ok
          ? `  ${outcome.value.tps.toFixed(0)} TPS, ${outcome.value.latencyMs.toFixed(3)} ms average latency`
          : `  failed: ${outcome.error}`,
      );
    }
    if (latchError) runs[mode].latch = { ok: false, error: latchError };
  }

  const connectResults: BenchResults["connect"]["results"] = {};
  for (const target of targets.filter((t) => t.name !== "latch-pg-x2")) {
    progress(`connect latency ${target.name}: ${connectCount} sequential connect + SELECT 1 + close...`);
    connectResults[target.name] = await attempt(() => measureConnectLatency(target, connectCount));
  }
  if (latchError) connectResults.latch = { ok: false, error: latchError };

  // Approval through replica A releasing a statement held on replica B (own policy: writes need an approver).
  let approvalRelease: Outcome<ApprovalRelease> | undefined;
  if (replicas.length === 2) {
    progress(`approval release across replicas: ${approvalCount} held statements...`);
    approvalRelease = await attempt(async () => {
      const replicaOptions = {
        upstreamPort: cluster!.port,
        upstreamUser: cluster!.appUser,
        upstreamPassword: cluster!.appPassword,
        database: cluster!.appDatabase,
        policyDir: join(cluster!.dataDir, "..", "latch-approval-policies"),
        policy: APPROVAL_POLICY,
        store: storeFor(cluster!),
      };
      const approvingA = await startLatch({ ...replicaOptions, sameIssuerAs: replicas[0]!.dataDir });
      replicas.push(approvingA);
      const holdingB = await startLatch({ ...replicaOptions, sameIssuerAs: replicas[0]!.dataDir });
      replicas.push(holdingB);
      return measureApprovalRelease(holdingB, approvingA, approvalCount);
    });
  }

  const pgbouncerVersion = (await execFileAsync(tools.pgbouncer, ["--version"])).stdout.split("\n")[0] ?? "";
  const serverVersion = (await cluster.query("SHOW server_version")).rows[0].server_version as string;
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    pgbench: {
      command: `pgbench -n -S -c 8 -j 2 -T ${seconds} -M <mode>`,
      scale: SCALE,
      seconds,
      runs,
      ratios: { simple: ratiosFor(runs.simple), prepared: ratiosFor(runs.prepared) },
    },
    connect: { count: connectCount, results: connectResults },
    ...(approvalRelease === undefined ? {} : { approvalRelease }),
    environment: {
      node: process.version,
      os: `${process.platform} ${release()}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      postgres: serverVersion,
      pgbouncer: pgbouncerVersion,
    },
  };

  console.log(`\n${results.pgbench.command}, scale ${SCALE}, ${results.environment.cpus} CPUs\n`);
  console.log(formatPgbenchTable(results.pgbench));
  console.log(`\nconnect + SELECT 1 + close, ${connectCount} sequential\n`);
  console.log(formatConnectTable(results.connect));
  if (approvalRelease !== undefined) {
    console.log(
      approvalRelease.ok
        ? `\napproval through replica A -> held statement's result on replica B, ${approvalRelease.value.count} times: p50 ${approvalRelease.value.p50Ms.toFixed(1)} ms, p99 ${approvalRelease.value.p99Ms.toFixed(1)} ms, max ${approvalRelease.value.maxMs.toFixed(1)} ms`
        : `\napproval release across replicas: not measured: ${approvalRelease.error}`,
    );
  }
  const failures = formatFailures(results);
  if (failures.length > 0)
    console.log(`\nnot measured:\n${failures.map((line) => `  - ${line}`).join("\n")}`);

  await mkdir(join(RESULTS_FILE, ".."), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${RESULTS_FILE}`);
  // A benchmark that could not measure a target did not do its job: say so in the exit code too.
  process.exitCode = REQUIRED_TARGETS.every((t) => runs.simple[t]?.ok && runs.prepared[t]?.ok) ? 0 : 2;
} catch (error) {
  if (!interrupted) console.error(`bench: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  progress("stopping services...");
  await cleanup();
}
