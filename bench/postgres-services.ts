import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type PgCluster, startPgCluster } from "../test/support/pg-cluster.js";
import { workersReady } from "./latch-workers.js";
import type { PgTarget } from "./pgbench.js";
import type { BenchTools } from "./required-tools.js";
import { type RunningLatch, startLatch } from "./start-latch.js";
import { type RunningNodeFloor, startNodeFloor } from "./start-node-floor.js";
import { type RunningPgBouncer, startPgBouncer } from "./start-pgbouncer.js";

const execFileAsync = promisify(execFile);
export const SCALE = 10;

/** Everything the PostgreSQL section measures against, and how to stop it all. */
export interface PostgresServices {
  cluster: PgCluster;
  /** The postmaster, whose tree (and reaped children) holds every backend's CPU time. */
  postmasterPid: number;
  pgbouncer: RunningPgBouncer;
  latch?: RunningLatch;
  latchError?: string;
  /** Latch replicas on the PostgreSQL store. */
  replicas: RunningLatch[];
  direct: PgTarget;
  targets: PgTarget[];
  /** `latch serve --workers N` on the PostgreSQL store (latch-pg-workers), when measured. */
  workers?: { latch: RunningLatch; count: number };
  /**
   * The bare Node.js relays in front of PostgreSQL (bench/node-floor.mjs): node-floor one process (`tcp`, and
   * `pg-tls` for the TLS rows, at the target's tlsPort), node-floor-workers the `tcp` relay with node:cluster.
   */
  floors: { name: "node-floor" | "node-floor-workers"; plain: RunningNodeFloor; tls?: RunningNodeFloor }[];
  /** latch-pg-x2: the same clients spread over both replicas. */
  spread: Map<string, PgTarget[]>;
  storeFor(cluster: PgCluster): { url: string; password: string };
  /** Another gateway like `latch`, fresh (nothing run through it yet), stopped with the rest. */
  startFreshLatch(): Promise<RunningLatch>;
  stop(): Promise<void>;
}

/** The shared store's database on the bench cluster (created before the first replica starts). */
const storeFor = (pg: PgCluster) => ({
  url: `postgres://${pg.appUser}@127.0.0.1:${pg.port}/latch_store`,
  password: pg.appPassword,
});

/**
 * How many workers the latch-pg-workers row runs: BENCH_WORKERS, else one per CPU in a full run (at least
 * two); a quick run has the row only when BENCH_WORKERS asks for it. 0: no row.
 */
export function benchWorkerCount(quick: boolean): number {
  const raw = process.env.BENCH_WORKERS;
  if (raw === undefined || raw === "") return quick ? 0 : Math.max(2, availableParallelism());
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 0)
    throw new Error(`BENCH_WORKERS must be a whole number, got ${raw}`);
  return count;
}

/** Workers of the node-floor-workers row: BENCH_FLOOR_WORKERS, default 2; 0: no such row. */
export function floorWorkerCount(): number {
  const raw = process.env.BENCH_FLOOR_WORKERS ?? "2";
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 0 || count === 1)
    throw new Error(`BENCH_FLOOR_WORKERS must be 0 or at least 2, got ${raw}`);
  return count;
}

export async function startPostgresServices(
  tools: BenchTools,
  options: { replicas: boolean; workers: number; floorWorkers: number; progress(message: string): void },
  register: (stop: () => Promise<void>) => void,
): Promise<PostgresServices> {
  const { progress } = options;
  let pgbouncer: RunningPgBouncer | undefined;
  let latch: RunningLatch | undefined;
  const replicas: RunningLatch[] = [];
  let workers: PostgresServices["workers"];
  const floors: PostgresServices["floors"] = [];
  /** Gateways started later (startFreshLatch). */
  const extras: RunningLatch[] = [];
  let cluster: PgCluster | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await latch?.stop().catch(() => {});
      await workers?.latch.stop(20_000).catch(() => {});
      for (const replica of [...replicas, ...extras]) await replica.stop().catch(() => {});
      for (const floor of floors.flatMap((f) => [f.plain, f.tls])) await floor?.stop().catch(() => {});
      await pgbouncer?.stop().catch(() => {});
      await cluster?.stop().catch(() => {});
    })();
    return stopped;
  };
  register(stop);

  progress("starting PostgreSQL 15 cluster (scram-sha-256)...");
  // Room for the whole scale-10 data set (every target reads the same warm buffers) and for the 1,000 idle
  // sessions, each of which holds an upstream connection.
  cluster = await startPgCluster({
    auth: "scram-sha-256",
    // TLS for the direct sslmode=require rows; every proxy's upstream leg stays plaintext.
    ssl: true,
    settings: { shared_buffers: "256MB", max_connections: "1300" },
  });
  const postmasterPid = Number(
    (await readFile(join(cluster.dataDir, "postmaster.pid"), "utf8")).split("\n")[0],
  );
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

  progress("starting pgbouncer (session mode, scram-sha-256, client TLS allowed)...");
  pgbouncer = await startPgBouncer({
    pgbouncerPath: tools.pgbouncer,
    upstreamPort: cluster.port,
    upstreamUser: cluster.appUser,
    upstreamPassword: cluster.appPassword,
    database: cluster.appDatabase,
    tls: true,
  });
  const targets: PgTarget[] = [direct, { ...direct, name: "pgbouncer", port: pgbouncer.port }];

  // Clients log in through the floors as they do directly: the relay sees the bytes, not the protocol.
  progress(
    `starting the bare Node.js relays (node-floor; node-floor-workers: ${options.floorWorkers} workers)...`,
  );
  const plain = await startNodeFloor("tcp", cluster.port);
  floors.push({ name: "node-floor", plain });
  const tls = await startNodeFloor("pg-tls", cluster.port);
  floors[0]!.tls = tls;
  targets.push({ ...direct, name: "node-floor", port: plain.port, tlsPort: tls.port });
  if (options.floorWorkers > 0) {
    const relays = await startNodeFloor("tcp", cluster.port, options.floorWorkers);
    floors.push({ name: "node-floor-workers", plain: relays });
    targets.push({ ...direct, name: "node-floor-workers", port: relays.port });
  }

  progress("starting latch...");
  const latchOptions = {
    upstreamPort: cluster.port,
    upstreamUser: cluster.appUser,
    upstreamPassword: cluster.appPassword,
    database: cluster.appDatabase,
    policyDir: join(cluster.dataDir, "..", "latch-policies"),
  };
  let latchError: string | undefined;
  try {
    latch = await startLatch(latchOptions);
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
  const pgStore = latch !== undefined && process.env.BENCH_SKIP_PG_STORE !== "1";
  if (pgStore && (options.replicas || options.workers > 0))
    await cluster.query(
      `CREATE DATABASE latch_store OWNER ${cluster.appUser} ENCODING 'UTF8' TEMPLATE template0`,
    );
  const replicaOptions = { ...latchOptions, store: storeFor(cluster) };
  if (pgStore && options.replicas) {
    progress("starting two latch replicas on a PostgreSQL store...");
    try {
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
  if (pgStore && options.workers > 0) {
    const count = options.workers;
    progress(`starting latch --workers ${count} on the PostgreSQL store...`);
    try {
      const ready = await workersReady(
        { port: cluster.port, user: cluster.appUser, password: cluster.appPassword, database: "latch_store" },
        count,
      );
      // Up once every worker has sent its first heartbeat: until then the cluster hands connections to fewer.
      const running = await startLatch({
        ...replicaOptions,
        serveArgs: ["--workers", String(count)],
        ready,
      });
      workers = { latch: running, count };
      targets.push({
        name: "latch-pg-workers",
        host: "127.0.0.1",
        port: running.port,
        user: "bench",
        database: "bench",
        password: running.token,
      });
    } catch (error) {
      console.error(`\nbench: the latch-pg-workers row is not measured: ${(error as Error).message}\n`);
    }
  }
  return {
    cluster,
    postmasterPid,
    ...(workers === undefined ? {} : { workers }),
    floors,
    pgbouncer,
    ...(latch === undefined ? {} : { latch }),
    ...(latchError === undefined ? {} : { latchError }),
    replicas,
    direct,
    targets,
    spread,
    storeFor,
    startFreshLatch: async () => {
      const fresh = await startLatch(latchOptions);
      extras.push(fresh);
      return fresh;
    },
    stop,
  };
}
