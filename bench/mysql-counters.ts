/**
 * Deterministic counts per statement on the MySQL relay hot path, the MySQL counterpart of
 * bench/hot-path-counters.ts: the compiled `latch serve` in front of the machine's MariaDB with the policy and
 * recording of bench/mysql-bench.ts, a fixed sequential workload over one mysql2 connection (sysbench's
 * oltp_point_select statement, `SELECT c FROM sbtest1 WHERE id=<n>`, ids from a fixed sequence), and per
 * statement:
 * - system calls of the whole gateway process, every thread (`strace -f -c` attached after the warm-up);
 * - heap bytes the main isolate allocated (bench/alloc-probe.mjs preloaded, read on SIGUSR2);
 * - chained audit events and their canonical JSON bytes (latch.db once the index settled);
 * - with BENCH_MYSQL_CALLGRIND=1 instead: instructions of the whole gateway process (every thread) and of its
 *   main thread alone (`--separate-threads=yes`) under `valgrind --tool=callgrind`, instrumentation switched
 *   on after the warm-up (BENCH_MYSQL_WARMUP statements, default 3000: TurboFan compiles on the main thread)
 *   and dumped after the measured statements (callgrind_control), so start-up and JIT warm-up are not in it.
 *   Load on the machine changes how long that takes, not the count (timers that fire per second of wall time,
 *   like the live-session heartbeat, add a little: compare runs of equal length). One mode per run
 *   (BENCH_MYSQL_MODE): a second measured window in the same process reads garbage counts.
 *   BENCH_MYSQL_CALLGRIND_KEEP=<dir> keeps the measured dumps for callgrind_annotate.
 * Run (after `npm run build`): node --import tsx bench/mysql-counters.ts [statements]   (default 2000)
 *   BENCH_MYSQL_MODE=text|prepared|both (default both; text is sysbench's --db-ps-mode=disable)
 *   BENCH_LATCH_CLI=<dist/src/cli/main.js of another build> to count another commit;
 *   BENCH_MYSQL_CPU=1: instead, CPU µs per statement of each gateway thread, no strace (wall-clock dependent);
 *   BENCH_LATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=<dir>" for a profile of the gateway.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { freePort } from "../test/support/free-port.js";
import { rootConnection } from "../test/support/mariadb.js";
import { auditTotals, traced } from "./hot-path-counters.js";
import { type ServiceProcess, spawnService, waitForPort } from "./service-process.js";
import { LATCH_CLI } from "./start-latch.js";

const run = promisify(execFile);
const ALLOC_PROBE = fileURLToPath(new URL("./alloc-probe.mjs", import.meta.url));
const ROWS = 10_000;

export type MysqlMode = "text" | "prepared";

export interface MysqlRig {
  readonly port: number;
  readonly token: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly probeFile: string;
  readonly callgrindOut?: string;
  stop(): Promise<void>;
}

/** A scratch database with sysbench's sbtest1 (id, k, c, pad) and `latch serve` in front of it. */
export async function startMysqlRig(options: { callgrind?: boolean } = {}): Promise<MysqlRig> {
  const dir = await mkdtemp(join(tmpdir(), "latch-mysql-counters-"));
  const db = `latch_counters_${Math.random().toString(16).slice(2, 8)}`;
  const root = await rootConnection();
  await root.query(
    `CREATE DATABASE \`${db}\`; USE \`${db}\`;
     CREATE TABLE sbtest1 (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL);
     INSERT INTO sbtest1 SELECT seq, seq % 997, REPEAT(CONCAT(seq, '-'), 12), REPEAT('p', 60) FROM seq_1_to_${ROWS};`,
  );
  await root.end();
  const services: ServiceProcess[] = [];
  const stop = async () => {
    for (const service of services.reverse()) await service.stop(options.callgrind ? 60_000 : 3000);
    const c = await rootConnection();
    await c.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined);
    await c.end();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    await mkdir(join(dir, "policies"));
    await writeFile(
      join(dir, "policies", "bench.cedar"),
      `permit(principal in Group::"bench", action in [Action::"sql:select", Action::"sql:session", Action::"sql:set"], resource in Connection::"sb");\n`,
    );
    const config = join(dir, "latch.yaml");
    await writeFile(
      config,
      `listen: { mysql: "127.0.0.1:${port}", admin: "127.0.0.1:${await freePort()}" }
data_dir: ${dir}/data
tls: { allow_plaintext: true }
${options.callgrind ? "limits: { startup_timeout: 10m }\n" : ""}identity: { dev_issuer: true }
policies: ${dir}/policies
log_level: warn
connections:
  sb: { type: mysql, upstream: "mysql://root@127.0.0.1:3306/${db}" }
`,
    );
    const probeFile = join(dir, "allocated.json");
    const callgrindOut = options.callgrind ? join(dir, "callgrind.out") : undefined;
    // BENCH_LATCH_NODE_ARGS: extra Node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const extra = (process.env.BENCH_LATCH_NODE_ARGS ?? "").split(/\s+/).filter((arg) => arg !== "");
    const node = [
      process.execPath,
      ...extra,
      "--import",
      ALLOC_PROBE,
      LATCH_CLI,
      "serve",
      "--config",
      config,
    ];
    const [command, ...args] =
      callgrindOut === undefined
        ? node
        : [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            // One dump per thread: the main loop's count apart from the audit indexer's and libuv's threads.
            "--separate-threads=yes",
            `--callgrind-out-file=${callgrindOut}`,
            node[0]!,
            "--single-threaded",
            ...node.slice(1),
          ];
    const latch = spawnService(command!, args, {
      env: { ...process.env, LATCH_ALLOC_PROBE_FILE: probeFile },
    });
    services.push(latch);
    await waitForPort(port, latch, callgrindOut === undefined ? 120_000 : 900_000);
    const { stdout } = await run(process.execPath, [
      LATCH_CLI,
      "token",
      "--config",
      config,
      "--sub",
      "counter",
      "--group",
      "bench",
      "--ttl",
      "2h",
    ]);
    return {
      port,
      token: stdout.trim(),
      pid: latch.child.pid!,
      dataDir: join(dir, "data"),
      probeFile,
      ...(callgrindOut === undefined ? {} : { callgrindOut }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `n` point selects over one connection, ids from a fixed sequence (the same texts on every run). */
export async function pointSelects(rig: MysqlRig, mode: MysqlMode, n: number, seed = 1): Promise<void> {
  const connection = await mysql.createConnection({
    host: "127.0.0.1",
    port: rig.port,
    user: "counter",
    password: rig.token,
    database: "sb",
    enableCleartextPlugin: true,
    // Under callgrind the gateway's first handshake runs cold code tens of times slower.
    connectTimeout: rig.callgrindOut === undefined ? 10_000 : 600_000,
  });
  try {
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const id = 1 + (x % ROWS);
      if (mode === "text") await connection.query(`SELECT c FROM sbtest1 WHERE id=${id}`);
      else await connection.execute("SELECT c FROM sbtest1 WHERE id=?", [id]);
    }
  } finally {
    await connection.end();
  }
}

async function allocatedBytes(rig: MysqlRig): Promise<number> {
  const read = () => {
    try {
      return JSON.parse(readFileSync(rig.probeFile, "utf8")) as { sequence: number; allocatedBytes: number };
    } catch {
      return { sequence: 0, allocatedBytes: 0 };
    }
  };
  const before = read().sequence;
  process.kill(rig.pid, "SIGUSR2");
  for (let i = 0; i < 1000; i++) {
    const now = read();
    if (now.sequence > before) return now.allocatedBytes;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the allocation probe in latch serve did not answer SIGUSR2");
}

/** Per statement: syscalls (strace), heap bytes (probe), audit events and bytes. */
export async function countMysqlHotPath(
  rig: MysqlRig,
  mode: MysqlMode,
  statements: number,
): Promise<{ perStatement: Record<string, number>; syscalls: Record<string, number> }> {
  await pointSelects(rig, mode, 500, 7); // warm-up: JIT, caches
  const auditBefore = await auditTotals(rig.dataDir);
  const allocatedBefore = await allocatedBytes(rig);
  const calls = await traced(rig.pid, () => pointSelects(rig, mode, statements));
  const allocatedAfter = await allocatedBytes(rig);
  const auditAfter = await auditTotals(rig.dataDir);
  const per = (n: number) => Math.round((n / statements) * 1000) / 1000;
  const sum = (names: string[]) => names.reduce((s, k) => s + (calls[k] ?? 0), 0);
  return {
    perStatement: {
      syscalls: per(Object.values(calls).reduce((s, n) => s + n, 0)),
      writeSyscalls: per(sum(["write", "writev", "sendmsg", "sendto"])),
      readSyscalls: per(sum(["read", "readv", "recvmsg", "recvfrom"])),
      heapBytesAllocated: Math.round((allocatedAfter - allocatedBefore) / statements),
      auditEvents: per(auditAfter.events - auditBefore.events),
      auditBytes: Math.round((auditAfter.bytes - auditBefore.bytes) / statements),
    },
    syscalls: Object.fromEntries(
      Object.entries(calls)
        .map(([name, n]) => [name, per(n)] as const)
        .filter(([, n]) => n >= 0.05)
        .sort((a, b) => b[1] - a[1]),
    ),
  };
}

/** User and system CPU ticks of each thread of a process (/proc/<pid>/task/<tid>/stat), by "tid:name". */
function threadTicks(pid: number): Map<string, [number, number]> {
  const ticks = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(`${tid}:${stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))}`, [
      Number(fields[11]),
      Number(fields[12]),
    ]);
  }
  return ticks;
}

/**
 * CPU µs per statement of the gateway, by thread (main loop, V8's helper threads, the audit indexer), without
 * strace attached. Wall-clock dependent (scheduler ticks of 10 ms, load on the machine): indicative, for
 * seeing where the CPU goes, never a guard.
 */
export async function cpuByThread(
  rig: MysqlRig,
  mode: MysqlMode,
  statements: number,
): Promise<Record<string, { user: number; system: number }>> {
  await pointSelects(rig, mode, 500, 7);
  const before = threadTicks(rig.pid);
  await pointSelects(rig, mode, statements);
  const after = threadTicks(rig.pid);
  const perStatement = (ticks: number) => Math.round((ticks * 10_000) / statements);
  const out: Record<string, { user: number; system: number }> = {};
  let user = 0;
  let system = 0;
  for (const [thread, [u, s]] of after) {
    const [u0, s0] = before.get(thread) ?? [0, 0];
    user += u - u0;
    system += s - s0;
    if (u - u0 + s - s0 > 0) out[thread] = { user: perStatement(u - u0), system: perStatement(s - s0) };
  }
  out.total = { user: perStatement(user), system: perStatement(system) };
  return out;
}

/**
 * Instructions per statement of the gateway under callgrind (the rig started with `callgrind: true`): every
 * thread together, and the main thread (the event loop: protocol, pipeline, audit record) alone, whose count
 * the other threads' scheduling does not move.
 */
export async function countMysqlInstructions(
  rig: MysqlRig,
  mode: MysqlMode,
  statements: number,
): Promise<{ instructionsPerStatement: number; mainThreadPerStatement: number }> {
  const out = rig.callgrindOut;
  if (out === undefined) throw new Error("the rig does not run under callgrind");
  // Warm-up: JIT and caches. With --single-threaded TurboFan compiles on the main thread, so a short warm-up
  // leaves compilations in the measured window (300 statements left ~15% of it in the compiler).
  await pointSelects(rig, mode, Number(process.env.BENCH_MYSQL_WARMUP ?? 3000), 7);
  await run("callgrind_control", ["-i", "on", String(rig.pid)]);
  await pointSelects(rig, mode, statements);
  await run("callgrind_control", ["-d", String(rig.pid)]);
  await run("callgrind_control", ["-i", "off", String(rig.pid)]);
  const dir = join(out, "..");
  // With --separate-threads: callgrind.out.<dump>-<thread>, thread 01 the main one.
  const dumps = (await readdir(dir)).filter((f) => /^callgrind\.out\.\d+-\d+$/.test(f));
  const dumpOf = (f: string) => Number(f.slice("callgrind.out.".length).split("-")[0]);
  const latest = Math.max(...dumps.map(dumpOf));
  if (!Number.isFinite(latest)) throw new Error("callgrind wrote no dump");
  let total = 0;
  let main = 0;
  for (const dump of dumps.filter((f) => dumpOf(f) === latest)) {
    const summary = /^summary:\s+(\d+)/m.exec(await readFile(join(dir, dump), "utf8"));
    if (summary === null) throw new Error(`no summary line in ${dump}`);
    total += Number(summary[1]);
    if (dump.endsWith("-01")) main = Number(summary[1]);
  }
  // BENCH_MYSQL_CALLGRIND_KEEP=<dir>: the measured dumps are kept there (callgrind_annotate), per mode.
  const keep = process.env.BENCH_MYSQL_CALLGRIND_KEEP;
  if (keep !== undefined) {
    await mkdir(keep, { recursive: true });
    for (const dump of dumps.filter((f) => dumpOf(f) === latest))
      await copyFile(join(dir, dump), join(keep, `${mode}.${dump}`));
  }
  for (const dump of await readdir(dir)) if (dump.startsWith("callgrind.out.")) await rm(join(dir, dump));
  return {
    instructionsPerStatement: Math.round(total / statements),
    mainThreadPerStatement: Math.round(main / statements),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const statements = Number(process.argv[2] ?? 2000);
  const modes: MysqlMode[] =
    process.env.BENCH_MYSQL_MODE === "text" || process.env.BENCH_MYSQL_MODE === "prepared"
      ? [process.env.BENCH_MYSQL_MODE]
      : ["text", "prepared"];
  const callgrind = process.env.BENCH_MYSQL_CALLGRIND === "1";
  const rig = await startMysqlRig({ callgrind });
  try {
    for (const mode of modes) {
      if (callgrind) console.log(mode, await countMysqlInstructions(rig, mode, statements));
      else if (process.env.BENCH_MYSQL_CPU === "1")
        console.log(mode, "CPU µs per statement", await cpuByThread(rig, mode, statements));
      else console.log(mode, await countMysqlHotPath(rig, mode, statements));
    }
  } finally {
    await rig.stop();
  }
}
