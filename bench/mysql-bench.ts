/**
 * Issue 15 benchmark: sysbench `oltp_point_select` against MariaDB directly, through nginx's stream module as a
 * plain TCP relay (the cost floor of any proxy; worker_processes 1, the reference, and N), through a bare Node.js
 * relay (bench/node-floor.mjs tcp: the floor of any Node.js proxy; one process, and N with node:cluster) and
 * through Latch (policy and recording on; one process, and `latch serve --workers N` on a PostgreSQL store), in
 * one run. Text protocol everywhere (--db-ps-mode=disable, the classic point-select load), no TLS on any path
 * (tls.allow_plaintext for Latch), so they differ only in what sits in between.
 * Run: node --import tsx bench/mysql-bench.ts   (BENCH_MYSQL_SECONDS per target and round, default 5, and
 * BENCH_MYSQL_THREADS, default 4, to change the load; BENCH_MYSQL_ROUNDS, default 3, 1 with `--quick`;
 * BENCH_MYSQL_WORKERS, default 2, the N of the -workers rows, 0 for none)
 *
 * Each round runs every target in turn, so a load swing lands on all of them alike; a row is the median of its
 * rounds, and its ratio to nginx the median of the rounds' own ratios (one quiet full run read the Node relay at
 * 0.64x nginx and the next two, minutes later, at 0.99x and 0.74x).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../test/support/free-port.js";
import { median } from "./median.js";
import { startMysqlLatch, startNginxStream } from "./mysql-targets.js";
import { treeCpuSeconds } from "./proc-cpu.js";
import { startNodeFloor } from "./start-node-floor.js";

const run = promisify(execFile);

export interface MysqlBenchRow {
  /**
   * node-relay: a bare Node.js socket pipe (bench/node-floor.mjs), the floor any Node.js proxy starts from;
   * -workers: the same target with `workers` relaying processes (nginx worker_processes, node:cluster workers,
   * `latch serve --workers`).
   */
  readonly target:
    | "direct"
    | "nginx-stream"
    | "nginx-stream-workers"
    | "node-relay"
    | "node-relay-workers"
    | "latch"
    | "latch-workers";
  /** Processes that relay the connections (nginx: worker_processes; PgBouncer-like single loops: 1). */
  readonly workers: number | null;
  readonly tps: number;
  readonly p50Ms: number;
  /**
   * TPS relative to the nginx TCP relay with worker_processes 1 in the same round, the median over the rounds
   * (the target is >= 0.8 for Latch).
   */
  readonly vsRelay: number;
  /** How many rounds the medians are over (absent in results from before the rounds: one). */
  readonly rounds?: number;
  /** p50 latency added over direct MariaDB, in ms. */
  readonly addedP50Ms: number;
  /** Every proxy: its process tree's CPU (user + system, all workers) per transaction, in microseconds. */
  readonly gatewayCpuUsPerTx?: number;
}

const MARIADB_PORT = Number(process.env.BENCH_MYSQL_PORT ?? 3306);

async function sysbench(
  args: string[],
  port: number,
  user: string,
  password: string,
  db: string,
  seconds: number,
  threads: number,
) {
  const { stdout } = await run(
    "sysbench",
    [
      "oltp_point_select",
      "--db-driver=mysql",
      "--mysql-host=127.0.0.1",
      `--mysql-port=${port}`,
      `--mysql-user=${user}`,
      `--mysql-password=${password}`,
      `--mysql-db=${db}`,
      "--tables=1",
      "--table-size=10000",
      "--db-ps-mode=disable",
      `--threads=${threads}`,
      `--time=${seconds}`,
      "--percentile=50",
      ...args,
    ],
    { maxBuffer: 16 << 20 },
  ).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    // The password is a token (or the server's password): never in a printed error.
    const said = `${error.stderr ?? ""}${error.stdout ?? ""}`.split(password).join("***").trim();
    throw new Error(`sysbench ${args.join(" ")} on port ${port} failed: ${said.slice(-600) || "no output"}`);
  });
  return stdout;
}

function parseRun(stdout: string): { tps: number; p50Ms: number; transactions: number } {
  const transactions = Number(/transactions:\s+(\d+)/.exec(stdout)?.[1]);
  const tps = Number(/transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(stdout)?.[1]);
  const p50Ms = Number(/50th percentile:\s+([\d.]+)/.exec(stdout)?.[1]);
  if (!Number.isFinite(tps) || !Number.isFinite(p50Ms))
    throw new Error(`unexpected sysbench output:\n${stdout}`);
  return { tps, p50Ms, transactions };
}

/** BENCH_MYSQL_WORKERS: relaying processes of the -workers rows, default 2; 0: no such rows. */
function workerCount(): number {
  const raw = process.env.BENCH_MYSQL_WORKERS ?? "2";
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 0 || count === 1)
    throw new Error(`BENCH_MYSQL_WORKERS must be 0 or at least 2, got ${raw}`);
  return count;
}

export async function runMysqlBench(
  options: { seconds?: number; threads?: number; rounds?: number; log?: (line: string) => void } = {},
): Promise<MysqlBenchRow[]> {
  const seconds = options.seconds ?? Number(process.env.BENCH_MYSQL_SECONDS ?? 5);
  const rounds = options.rounds ?? Number(process.env.BENCH_MYSQL_ROUNDS ?? 3);
  const threads = options.threads ?? Number(process.env.BENCH_MYSQL_THREADS ?? 4);
  const log = options.log ?? (() => undefined);
  const workers = workerCount();
  const db = `latch_bench_${randomBytes(3).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "latch-mysql-bench-"));
  const root = (sql: string) =>
    run("mariadb", ["-h", "127.0.0.1", "-P", String(MARIADB_PORT), "-u", "root", "-e", sql]);
  await root(`CREATE DATABASE \`${db}\``);
  const services: { stop(): Promise<void> }[] = [];
  try {
    await sysbench(["prepare"], MARIADB_PORT, "root", "", db, seconds, 1);
    interface Target {
      target: MysqlBenchRow["target"];
      workers: number | null;
      port: number;
      pid?: number;
      user: string;
      password: string;
      db: string;
    }
    const asRoot = { user: "root", password: "", db };
    const targets: Target[] = [{ target: "direct", workers: null, port: MARIADB_PORT, ...asRoot }];
    for (const count of workers > 0 ? [1, workers] : [1]) {
      const port = await freePort();
      const nginx = await startNginxStream(dir, port, MARIADB_PORT, count);
      services.push(nginx);
      const target = count === 1 ? "nginx-stream" : "nginx-stream-workers";
      targets.push({ target, workers: count, port, pid: nginx.child.pid!, ...asRoot });
    }
    for (const count of workers > 0 ? [1, workers] : [1]) {
      const relay = await startNodeFloor("tcp", MARIADB_PORT, count);
      services.push(relay);
      const target = count === 1 ? "node-relay" : "node-relay-workers";
      targets.push({ target, workers: count, port: relay.port, pid: relay.pid, ...asRoot });
    }
    for (const count of workers > 0 ? [1, workers] : [1]) {
      log(`starting latch${count > 1 ? ` --workers ${count} on a PostgreSQL store` : ""}...`);
      const latch = await startMysqlLatch(dir, { port: MARIADB_PORT, database: db }, count);
      services.push(latch);
      const target = count === 1 ? "latch" : "latch-workers";
      const pid = latch.service.child.pid!;
      targets.push({
        target,
        workers: count,
        port: latch.port,
        pid,
        user: "sysbench",
        password: latch.token,
        db: "sb",
      });
    }

    const measured = targets.map(() => [] as RoundResult[]);
    for (let round = 1; round <= rounds; round++) {
      for (const [i, t] of targets.entries()) {
        const label = rounds > 1 ? ` (round ${round}/${rounds})` : "";
        log(`sysbench oltp_point_select ${t.target} ${seconds}s${label}...`);
        // A short warm-up before the first round: connections, JIT and caches in every process.
        if (round === 1)
          await sysbench(["run"], t.port, t.user, t.password, t.db, 1, threads).catch(() => undefined);
        let before = 0;
        const timed = () => {
          before = t.pid === undefined ? 0 : treeCpuSeconds(t.pid);
          return sysbench(["run"], t.port, t.user, t.password, t.db, seconds, threads);
        };
        // libmariadb's threads sometimes race loading mysql_clear_password ("it is already loaded") as they
        // connect: that run never started, so it is run again, once.
        const output = await timed().catch((error: Error) => {
          if (!error.message.includes("already loaded")) throw error;
          return timed();
        });
        const result = parseRun(output);
        const cpu = t.pid === undefined ? undefined : treeCpuSeconds(t.pid) - before;
        const cpuUs = cpu === undefined ? undefined : (cpu * 1e6) / Math.max(1, result.transactions);
        measured[i]!.push({ tps: result.tps, p50Ms: result.p50Ms, cpuUs });
        log(`  ${result.tps.toFixed(0)} TPS${cpuUs === undefined ? "" : `, ${cpuUs.toFixed(0)} µs CPU/txn`}`);
      }
    }
    return mysqlRows(targets, measured);
  } finally {
    for (const service of services.reverse()) await service.stop();
    await root(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** One target's figures in one round. */
interface RoundResult {
  readonly tps: number;
  readonly p50Ms: number;
  readonly cpuUs: number | undefined;
}

/**
 * The rows from every round's results (targets in order, direct first): each figure the median of its rounds,
 * the added p50 over the same round's direct, the ratio to nginx-stream the median of the rounds' own ratios.
 */
export function mysqlRows(
  targets: readonly { readonly target: MysqlBenchRow["target"]; readonly workers: number | null }[],
  measured: readonly (readonly RoundResult[])[],
): MysqlBenchRow[] {
  const direct = measured[0] ?? [];
  const relay = measured[targets.findIndex((t) => t.target === "nginx-stream")] ?? [];
  return targets.map((t, i) => {
    const results = measured[i]!;
    const cpu = results.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
    const ratios = results.flatMap((r, round) =>
      relay[round] !== undefined && relay[round]!.tps > 0 ? [r.tps / relay[round]!.tps] : [],
    );
    const added = results.map((r, round) => r.p50Ms - (direct[round]?.p50Ms ?? r.p50Ms));
    return {
      target: t.target,
      workers: t.workers,
      tps: Math.round(median(results.map((r) => r.tps))),
      p50Ms: median(results.map((r) => r.p50Ms)),
      vsRelay: Math.round(100 * median(ratios)) / 100,
      addedP50Ms: Math.round(median(added) * 100) / 100,
      rounds: results.length,
      ...(cpu.length === 0 ? {} : { gatewayCpuUsPerTx: Math.round(median(cpu)) }),
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runMysqlBench();
  console.table(rows);
}
