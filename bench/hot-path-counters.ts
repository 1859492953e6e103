import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { PG_BIN_DIR, type PgCluster, startPgCluster } from "../test/support/pg-cluster.js";
import { type PgTarget, type QueryMode, runPgbench } from "./pgbench.js";
import { type RunningLatch, startLatch } from "./start-latch.js";

const execFileAsync = promisify(execFile);

/**
 * Deterministic counts per statement on the relay hot path, for the regression guard (bench/hot-path-guard):
 * `latch serve` (the compiled CLI) in front of a throwaway cluster, a fixed sequential workload
 * (`pgbench -S -c 1 -t N`, one statement per transaction), and per transaction:
 * - system calls of the whole gateway process, every thread, counted by `strace -f -c` attached after warm-up
 *   (writeSyscalls: write/writev/sendmsg/sendto, i.e. sockets and the audit journal; readSyscalls likewise;
 *   pwrite64/pread64 are the SQLite indexer's and depend on timing, so they are only in the breakdown);
 * - heap bytes the main isolate allocated (bench/alloc-probe.mjs preloaded, read on SIGUSR2);
 * - syscr/syscw/wchar from /proc/<pid>/io (these include SQLite's timing-dependent writes: reported only);
 * - chained audit events and their canonical JSON bytes, read from the store's latch.db once the index has
 *   caught up (auditEvents is guarded: it moves only when the recording format does).
 */
export interface HotPathCounts {
  transactions: number;
  /** Per mode: counter name -> count per transaction. */
  perTransaction: Record<QueryMode, Record<string, number>>;
  /** Per mode: the strace breakdown per transaction (syscalls with at least 0.05 per transaction). */
  syscalls: Record<QueryMode, Record<string, number>>;
}

export interface HotPathRig {
  cluster: PgCluster;
  latch: RunningLatch;
  target: PgTarget;
  /** Where bench/alloc-probe.mjs inside the gateway writes its allocation counter on SIGUSR2. */
  probeFile: string;
  stop(): Promise<void>;
}

export const STRACE = "/usr/bin/strace";
/** Transactions per mode in the guard's workload: enough that one connect (token, SCRAM) is noise. */
export const GUARD_TRANSACTIONS = 2000;
const PGBENCH = join(PG_BIN_DIR, "pgbench");
const ALLOC_PROBE = fileURLToPath(new URL("./alloc-probe.mjs", import.meta.url));

/** Bytes the gateway's main isolate allocated so far, read through the preloaded probe. */
async function allocatedBytes(rig: HotPathRig): Promise<number> {
  const read = () => {
    try {
      return JSON.parse(readFileSync(rig.probeFile, "utf8")) as { sequence: number; allocatedBytes: number };
    } catch {
      return { sequence: 0, allocatedBytes: 0 };
    }
  };
  const before = read().sequence;
  process.kill(rig.latch.pid, "SIGUSR2");
  for (let i = 0; i < 400; i++) {
    const now = read();
    if (now.sequence > before) return now.allocatedBytes;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("the allocation probe in latch serve did not answer SIGUSR2");
}

export async function startHotPathRig(): Promise<HotPathRig> {
  const probeDir = await mkdtemp(join(tmpdir(), "latch-alloc-probe-"));
  const probeFile = join(probeDir, "allocated.json");
  const cluster = await startPgCluster({ auth: "scram-sha-256" });
  try {
    await execFileAsync(
      PGBENCH,
      [
        "-i",
        "-q",
        "-s",
        "1",
        "-h",
        cluster.host,
        "-p",
        String(cluster.port),
        "-U",
        cluster.appUser,
        cluster.appDatabase,
      ],
      { env: { ...process.env, PGPASSWORD: cluster.appPassword } },
    );
    const latch = await startLatch({
      nodeArgs: ["--import", ALLOC_PROBE],
      env: { LATCH_ALLOC_PROBE_FILE: probeFile },
      upstreamPort: cluster.port,
      upstreamUser: cluster.appUser,
      upstreamPassword: cluster.appPassword,
      database: cluster.appDatabase,
      policyDir: join(cluster.dataDir, "..", "latch-policies"),
    });
    const target: PgTarget = {
      name: "latch",
      host: "127.0.0.1",
      port: latch.port,
      user: "bench",
      database: "bench",
      password: latch.token,
    };
    return {
      cluster,
      latch,
      target,
      probeFile,
      stop: async () => {
        await latch.stop().catch(() => undefined);
        await cluster.stop().catch(() => undefined);
        await rm(probeDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

function procIo(pid: number): Record<string, number> {
  const io: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/io`, "utf8").split("\n")) {
    const [key, value] = line.split(":");
    if (key && value) io[key.trim()] = Number(value.trim());
  }
  return io;
}

/** Reads `strace -c` summary lines ("% time seconds usecs/call calls [errors] syscall") into calls per syscall. */
export function parseStraceSummary(text: string): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^[\d.]+$/.test(fields[0]!) || fields.at(-1) === "total") continue;
    const name = fields.at(-1)!;
    const count = Number(fields[3]);
    if (Number.isInteger(count)) calls[name] = (calls[name] ?? 0) + count;
  }
  return calls;
}

function allTasksTraced(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) => {
    try {
      return !/^TracerPid:\s+0$/m.test(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8"));
    } catch {
      return true; // the thread ended
    }
  });
}

export async function traced<T>(pid: number, work: () => Promise<T>): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), "latch-strace-"));
  const output = join(dir, "summary");
  const strace: ChildProcess = spawn(STRACE, ["-f", "-c", "-qq", "-o", output, "-p", String(pid)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  strace.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => strace.once("exit", () => resolve()));
  try {
    // Counting starts once every thread is attached, so no statement of the workload is missed.
    for (let i = 0; !allTasksTraced(pid); i++) {
      if (strace.exitCode !== null || i > 200)
        throw new Error(`strace could not attach to ${pid}: ${stderr.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await work();
  } finally {
    strace.kill("SIGINT");
    await exited;
  }
  const summary = await readFile(output, "utf8").catch(() => "");
  await rm(dir, { recursive: true, force: true });
  const calls = parseStraceSummary(summary);
  if (Object.keys(calls).length === 0) throw new Error(`strace wrote no summary: ${stderr.trim()}`);
  return calls;
}

/** Chained events and data bytes in the store so far, once the audit index has stopped moving. */
/** Events and bytes in the audit index under `dataDir`, once latch serve's index worker has caught up. */
export async function auditTotals(dataDir: string): Promise<{ events: number; bytes: number }> {
  const db = new Database(join(dataDir, "latch.db"), { readonly: true, fileMustExist: true });
  try {
    const read = () =>
      db
        .prepare("SELECT count(*) AS events, coalesce(sum(length(data)), 0) AS bytes FROM audit_events")
        .get() as { events: number; bytes: number };
    let last = read();
    for (let i = 0; i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      const now = read();
      if (now.events === last.events) return now;
      last = now;
    }
    throw new Error("the audit index of latch serve did not settle");
  } finally {
    db.close();
  }
}

/** Counts per transaction for `transactions` sequential select-only transactions in each mode. */
export async function countHotPath(rig: HotPathRig, transactions: number): Promise<HotPathCounts> {
  const pid = rig.latch.pid;
  const run = (mode: QueryMode, n: number) =>
    runPgbench(PGBENCH, rig.target, mode, 0, 1, { transactionsPerClient: n });
  const perTransaction = {} as HotPathCounts["perTransaction"];
  const syscalls = {} as HotPathCounts["syscalls"];
  for (const mode of ["simple", "prepared"] as const) {
    await run(mode, Math.min(500, transactions)); // warm-up: JIT, caches
    // One measured run: strace counts the calls, the probe the heap bytes, /proc/<pid>/io the rest.
    const before = procIo(pid);
    const auditBefore = await auditTotals(rig.latch.dataDir);
    const allocatedBefore = await allocatedBytes(rig);
    const calls = await traced(pid, () => run(mode, transactions));
    const allocatedAfter = await allocatedBytes(rig);
    const after = procIo(pid);
    const auditAfter = await auditTotals(rig.latch.dataDir);
    const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
    const per = (n: number) => n / transactions;
    perTransaction[mode] = {
      syscalls: per(total),
      writeSyscalls: per(["write", "writev", "sendmsg", "sendto"].reduce((s, k) => s + (calls[k] ?? 0), 0)),
      readSyscalls: per(["read", "readv", "recvmsg", "recvfrom"].reduce((s, k) => s + (calls[k] ?? 0), 0)),
      procSyscr: per(after.syscr! - before.syscr!),
      procSyscw: per(after.syscw! - before.syscw!),
      bytesWritten: per(after.wchar! - before.wchar!),
      heapBytesAllocated: per(allocatedAfter - allocatedBefore),
      auditEvents: per(auditAfter.events - auditBefore.events),
      auditBytes: per(auditAfter.bytes - auditBefore.bytes),
    };
    syscalls[mode] = Object.fromEntries(
      Object.entries(calls)
        .map(([name, n]) => [name, per(n)] as const)
        .filter(([, n]) => n >= 0.05)
        .sort((a, b) => b[1] - a[1]),
    );
  }
  return { transactions, perTransaction, syscalls };
}
