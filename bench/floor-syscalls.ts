/**
 * System calls per transaction of PgBouncer, the bare Node.js relay (bench/node-floor.mjs tcp) and Latch, for
 * the same fixed sequential workload (`pgbench -n -S -c 1 -t 2000`, simple and prepared, after a 500-transaction
 * warm-up), counted by `strace -f -c` attached to each proxy (every thread): what the load of a shared machine
 * does not move, unlike TPS; and CPU per transaction from /proc over a second, untraced run of 5x the
 * transactions. Standalone, after `npm run build`:  node --import tsx bench/floor-syscalls.ts
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { PG_BIN_DIR, startPgCluster } from "../test/support/pg-cluster.js";
import { traced } from "./hot-path-counters.js";
import { type PgTarget, type QueryMode, runPgbench } from "./pgbench.js";
import { processTree, treeCpuSeconds } from "./proc-cpu.js";
import { formatTable } from "./report.js";
import { startLatch } from "./start-latch.js";
import { startNodeFloor } from "./start-node-floor.js";
import { startPgBouncer } from "./start-pgbouncer.js";

const run = promisify(execFile);
const PGBENCH = join(PG_BIN_DIR, "pgbench");
const TRANSACTIONS = Number(process.env.BENCH_FLOOR_TRANSACTIONS ?? 2000);
const WRITES = ["write", "writev", "sendmsg", "sendto"];
const READS = ["read", "readv", "recvmsg", "recvfrom"];

const cluster = await startPgCluster({ auth: "scram-sha-256" });
const stops: (() => Promise<void>)[] = [() => cluster.stop()];
try {
  const direct: PgTarget = {
    name: "direct",
    host: "127.0.0.1",
    port: cluster.port,
    user: cluster.appUser,
    database: cluster.appDatabase,
    password: cluster.appPassword,
  };
  await run(
    PGBENCH,
    [
      "-i",
      "-q",
      "-s",
      "1",
      "-h",
      "127.0.0.1",
      "-p",
      String(cluster.port),
      "-U",
      direct.user,
      direct.database,
    ],
    {
      env: { ...process.env, PGPASSWORD: direct.password },
    },
  );
  const upstream = {
    upstreamPort: cluster.port,
    upstreamUser: cluster.appUser,
    upstreamPassword: cluster.appPassword,
    database: cluster.appDatabase,
  };
  const bouncer = await startPgBouncer({ pgbouncerPath: "/usr/sbin/pgbouncer", ...upstream });
  stops.push(bouncer.stop);
  const floor = await startNodeFloor("tcp", cluster.port);
  stops.push(floor.stop);
  const latch = await startLatch({ ...upstream, policyDir: join(cluster.dataDir, "..", "floor-policies") });
  stops.push(latch.stop);
  // As root PgBouncer runs under runuser: trace the PgBouncer process itself, the tree's last member.
  const targets: [PgTarget, number][] = [
    [{ ...direct, name: "pgbouncer", port: bouncer.port }, processTree(bouncer.pid).at(-1)!],
    [{ ...direct, name: "node-floor", port: floor.port }, floor.pid],
    [
      {
        name: "latch",
        host: "127.0.0.1",
        port: latch.port,
        user: "bench",
        database: "bench",
        password: latch.token,
      },
      latch.pid,
    ],
  ];
  const rows: string[][] = [
    ["mode", "target", "writes/txn", "reads/txn", "epoll/txn", "all syscalls/txn", "CPU µs/txn"],
  ];
  for (const mode of ["simple", "prepared"] as QueryMode[]) {
    for (const [target, pid] of targets) {
      const pgbench = (n: number) => runPgbench(PGBENCH, target, mode, 0, 1, { transactionsPerClient: n });
      await pgbench(500);
      const calls = await traced(pid, () => pgbench(TRANSACTIONS));
      // CPU from /proc over a second, untraced and 5x longer run (strace slows every system call; /proc counts
      // in 10 ms ticks).
      const before = treeCpuSeconds(pid);
      await pgbench(5 * TRANSACTIONS);
      const cpuUs = ((treeCpuSeconds(pid) - before) * 1e6) / (5 * TRANSACTIONS);
      const per = (names: string[]) =>
        (names.reduce((sum, name) => sum + (calls[name] ?? 0), 0) / TRANSACTIONS).toFixed(2);
      rows.push([
        mode,
        target.name,
        per(WRITES),
        per(READS),
        per(["epoll_wait", "epoll_pwait", "epoll_pwait2"]),
        per(Object.keys(calls)),
        cpuUs.toFixed(1),
      ]);
      console.error(`[floor-syscalls] ${mode} ${target.name}: ${JSON.stringify(calls)}`);
    }
  }
  console.log(
    `pgbench -n -S -c 1 -t ${TRANSACTIONS}, strace -f -c per proxy (every thread), per transaction`,
  );
  console.log(formatTable(rows));
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}
