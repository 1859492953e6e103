/**
 * Issue 15 benchmark: sysbench `oltp_point_select` against MariaDB directly, through nginx's stream module as a
 * plain TCP relay (the cost floor of any proxy) and through Latch (policy and recording on), in one run.
 * Text protocol everywhere (--db-ps-mode=disable, the classic point-select load), no
 * TLS on any path (tls.allow_plaintext for Latch), so the three differ only in what sits in between.
 * Run: node --import tsx bench/mysql-bench.ts   (BENCH_MYSQL_SECONDS, BENCH_MYSQL_THREADS to change the load)
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "../test/support/free-port.js";
import { CLK_TCK, processTicks } from "./proc-cpu.js";
import { spawnService, waitForPort } from "./service-process.js";
import { LATCH_CLI } from "./start-latch.js";

/** A bare Node.js relay (the floor any Node.js gateway starts from), run beside nginx's. */
const NODE_FLOOR = fileURLToPath(new URL("./node-floor.mjs", import.meta.url));

const run = promisify(execFile);

export interface MysqlBenchRow {
  /** node-relay: a bare Node.js socket pipe (bench/node-floor.mjs), the floor any Node.js proxy starts from. */
  readonly target: "direct" | "nginx-stream" | "node-relay" | "latch";
  readonly tps: number;
  readonly p50Ms: number;
  /** TPS relative to the nginx TCP relay (the target is >= 0.8 for Latch). */
  readonly vsRelay: number;
  /** p50 latency added over direct MariaDB, in ms. */
  readonly addedP50Ms: number;
  /** Latch and the Node relay: the process's CPU (user + system) per transaction, in microseconds. */
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

export async function runMysqlBench(
  options: { seconds?: number; threads?: number } = {},
): Promise<MysqlBenchRow[]> {
  const seconds = options.seconds ?? Number(process.env.BENCH_MYSQL_SECONDS ?? 10);
  const threads = options.threads ?? Number(process.env.BENCH_MYSQL_THREADS ?? 4);
  const db = `latch_bench_${randomBytes(3).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), "latch-mysql-bench-"));
  const root = (sql: string) =>
    run("mariadb", ["-h", "127.0.0.1", "-P", String(MARIADB_PORT), "-u", "root", "-e", sql]);
  await root(`CREATE DATABASE \`${db}\``);
  const services: { stop(): Promise<void> }[] = [];
  try {
    await sysbench(["prepare"], MARIADB_PORT, "root", "", db, seconds, 1);

    const relayPort = await freePort();
    await writeFile(
      join(dir, "nginx.conf"),
      `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 1024; }
stream { server { listen 127.0.0.1:${relayPort}; proxy_pass 127.0.0.1:${MARIADB_PORT}; } }
`,
    );
    const nginx = spawnService("nginx", [
      "-c",
      join(dir, "nginx.conf"),
      "-p",
      dir,
      "-e",
      join(dir, "nginx-error.log"),
    ]);
    services.push(nginx);
    await waitForPort(relayPort, nginx, 10_000);
    const nodeRelayPort = await freePort();
    const nodeRelay = spawnService(process.execPath, [
      NODE_FLOOR,
      "tcp",
      String(nodeRelayPort),
      String(MARIADB_PORT),
    ]);
    services.push(nodeRelay);
    await waitForPort(nodeRelayPort, nodeRelay, 10_000);

    const latchPort = await freePort();
    await mkdir(join(dir, "policies"));
    await writeFile(
      join(dir, "policies", "bench.cedar"),
      `permit(principal in Group::"bench", action in [Action::"sql:select", Action::"sql:session", Action::"sql:set"], resource in Connection::"sb");\n`,
    );
    const config = join(dir, "latch.yaml");
    await writeFile(
      config,
      `listen: { mysql: "127.0.0.1:${latchPort}", admin: "127.0.0.1:${await freePort()}" }
data_dir: ${dir}/data
tls: { allow_plaintext: true }
identity: { dev_issuer: true }
policies: ${dir}/policies
log_level: warn
connections:
  sb: { type: mysql, upstream: "mysql://root@127.0.0.1:${MARIADB_PORT}/${db}" }
`,
    );
    // BENCH_MYSQL_CPU_PROF=<dir>: the gateway writes a V8 CPU profile there when it stops.
    const profile = process.env.BENCH_MYSQL_CPU_PROF;
    const nodeArgs = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
    const latch = spawnService(process.execPath, [...nodeArgs, LATCH_CLI, "serve", "--config", config]);
    services.push(latch);
    await waitForPort(latchPort, latch, 30_000);
    const token = (
      await run(process.execPath, [
        LATCH_CLI,
        "token",
        "--config",
        config,
        "--sub",
        "sysbench",
        "--group",
        "bench",
        "--ttl",
        "1h",
      ])
    ).stdout.trim();

    const direct = parseRun(await sysbench(["run"], MARIADB_PORT, "root", "", db, seconds, threads));
    const relay = parseRun(await sysbench(["run"], relayPort, "root", "", db, seconds, threads));
    const nodeTicksBefore = processTicks(nodeRelay.child.pid!);
    const bare = parseRun(await sysbench(["run"], nodeRelayPort, "root", "", db, seconds, threads));
    const nodeRelayCpuUs = ((processTicks(nodeRelay.child.pid!) - nodeTicksBefore) * 1e6) / CLK_TCK;
    const ticksBefore = processTicks(latch.child.pid!);
    const gated = parseRun(await sysbench(["run"], latchPort, "sysbench", token, "sb", seconds, threads));
    const gatewayCpuUs = ((processTicks(latch.child.pid!) - ticksBefore) * 1e6) / CLK_TCK;
    const row = (target: MysqlBenchRow["target"], r: { tps: number; p50Ms: number }): MysqlBenchRow => ({
      target,
      tps: Math.round(r.tps),
      p50Ms: r.p50Ms,
      vsRelay: Math.round((100 * r.tps) / relay.tps) / 100,
      addedP50Ms: Math.round((r.p50Ms - direct.p50Ms) * 100) / 100,
    });
    return [
      row("direct", direct),
      row("nginx-stream", relay),
      { ...row("node-relay", bare), gatewayCpuUsPerTx: Math.round(nodeRelayCpuUs / bare.transactions) },
      { ...row("latch", gated), gatewayCpuUsPerTx: Math.round(gatewayCpuUs / gated.transactions) },
    ];
  } finally {
    for (const service of services.reverse()) await service.stop();
    await root(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await runMysqlBench();
  console.table(rows);
}
